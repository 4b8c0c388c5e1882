/*
 * bench_report: the table on the terminal, the closing lines, CSV and JSON.
 * Figures come from bench.c; nothing is computed here but unit conversions.
 * Times are printed in milliseconds with microsecond resolution.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

void bench_table_header(FILE *f)
{
	fprintf(f, "# times in ms; loss and cpu in %%; cpu: the client's user+sys CPU over the step "
		   "(100 = one core)\n");
	fprintf(f, "%4s %8s %10s %10s %7s %5s %8s %8s %8s %8s %8s %8s %8s %8s %7s %6s %5s\n", "step",
		"sessions", "offered/s", "achieved/s", "loss", "dups", "rtt_p50", "rtt_p99", "rtt_p99.9",
		"proc_p50", "proc_p99", "proc_p99.9", "setup_50", "setup_99", "refused", "failed", "cpu");
}

static void cell_ms(FILE *f, bool valid, int64_t ns)
{
	if (valid)
		fprintf(f, " %8.3f", ms(ns));
	else
		fprintf(f, " %8s", "-");
}

void bench_table_row(FILE *f, const struct bench_step *s)
{
	fprintf(f, "%4u %8u %10.0f %10.0f %7.3f %5llu", s->index, s->sessions, s->offered_pps, s->achieved_pps,
		s->loss_pct, (unsigned long long)s->dups);
	cell_ms(f, s->rtt_valid, s->rtt_p50);
	cell_ms(f, s->rtt_valid, s->rtt_p99);
	cell_ms(f, s->rtt_valid, s->rtt_p999);
	cell_ms(f, s->proc_valid, s->proc_p50);
	cell_ms(f, s->proc_valid, s->proc_p99);
	cell_ms(f, s->proc_valid, s->proc_p999);
	cell_ms(f, s->setup_valid, s->setup_p50);
	cell_ms(f, s->setup_valid, s->setup_p99);
	fprintf(f, " %7u %6u %5.0f\n", s->refused, s->failed, s->cpu_pct);
}

void bench_summary(FILE *f, const struct bench_result *r)
{
	fprintf(f, "stopped: %s\n", r->stop_reason[0] ? r->stop_reason : "no step ran");
	if (r->sustained < 0) {
		fprintf(f, "sustained capacity: 0 sessions, 0 packets/s (no step met the thresholds)\n");
		return;
	}
	{
		const struct bench_step *s = &r->steps[r->sustained];

		fprintf(f, "sustained capacity: %u session%s, %.0f packets/s (step %u: offered %.0f/s, loss %.3f%%, "
			"rtt p99 %.3f ms)\n", s->sessions, log_s(s->sessions), s->achieved_pps, s->index, s->offered_pps, s->loss_pct,
			ms(s->rtt_p99));
	}
}

/* path can be written: created and removed again when it did not exist, never truncated */
static int check_out(const char *opt, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);

	if (fd >= 0) {
		close(fd);
		unlink(path);
		return 0;
	}
	if (errno == EEXIST)
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO must not block */
	if (fd < 0) {
		fprintf(stderr, "twamp-client bench: %s %s: cannot write: %s\n", opt, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int bench_check_outputs(const struct bench_opts *o)
{
	char plot[4200];

	if (o->csv && check_out("--csv", o->csv) < 0)
		return -1;
	if (o->json && check_out("--json", o->json) < 0)
		return -1;
	if (o->plot && check_out("--plot", bench_plot_file(o->plot, plot, sizeof(plot))) < 0)
		return -1;
	return 0;
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "twamp-client bench: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "twamp-client bench: error writing %s\n", path);
		return -1;
	}
	return 0;
}

static void csv_ms(FILE *f, bool valid, int64_t ns)
{
	if (valid)
		fprintf(f, ",%.6f", ms(ns));
	else
		fputs(",", f);
}

/* A CSV field in quotes, doubling the quotes inside. */
static void csv_str(FILE *f, const char *s)
{
	fputs(",\"", f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int bench_write_csv(const char *path, const struct bench_result *r)
{
	FILE *f = open_out(path);

	if (!f)
		return -1;
	fputs("step,sessions,packets_per_session,interval_ms,offered_pps,sent_pps,achieved_pps,"
	      "sent,received,lost,late,loss_pct,duplicates,rtt_p50_ms,rtt_p99_ms,rtt_p999_ms,rtt_max_ms,"
	      "proc_p50_ms,proc_p99_ms,proc_p999_ms,setup_p50_ms,setup_p99_ms,setup_max_ms,"
	      "ok,refused,failed,client_cpu_pct,client_user_s,client_sys_s,start_unix,end_unix,"
	      "complete,met,sustained,reason\n", f);
	for (uint32_t i = 0; i < r->nsteps; i++) {
		const struct bench_step *s = &r->steps[i];

		fprintf(f, "%u,%u,%u,%.6f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%llu,%.6f,%llu", s->index, s->sessions,
			s->count, ms(s->interval), s->offered_pps, s->sent_pps, s->achieved_pps,
			(unsigned long long)s->sent, (unsigned long long)s->received, (unsigned long long)s->lost,
			(unsigned long long)s->late, s->loss_pct, (unsigned long long)s->dups);
		csv_ms(f, s->rtt_valid, s->rtt_p50);
		csv_ms(f, s->rtt_valid, s->rtt_p99);
		csv_ms(f, s->rtt_valid, s->rtt_p999);
		csv_ms(f, s->rtt_valid, s->rtt_max);
		csv_ms(f, s->proc_valid, s->proc_p50);
		csv_ms(f, s->proc_valid, s->proc_p99);
		csv_ms(f, s->proc_valid, s->proc_p999);
		csv_ms(f, s->setup_valid, s->setup_p50);
		csv_ms(f, s->setup_valid, s->setup_p99);
		csv_ms(f, s->setup_valid, s->setup_max);
		fprintf(f, ",%u,%u,%u,%.1f,%.3f,%.3f,%.3f,%.3f,%d,%d,%d", s->ok, s->refused, s->failed, s->cpu_pct,
			s->cpu_user, s->cpu_sys, s->t_start / 1e9, s->t_end / 1e9, s->complete, s->met,
			(int)i == r->sustained);
		csv_str(f, s->met ? "" : s->reason);
		fputc('\n', f);
	}
	return close_out(f, path);
}

static json_object *jms(bool valid, int64_t ns)
{
	return valid ? json_object_new_double(ms(ns)) : NULL;
}

static json_object *jpct3(bool valid, int64_t p50, int64_t p99, int64_t p999)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "p50", jms(valid, p50));
	json_object_object_add(o, "p99", jms(valid, p99));
	json_object_object_add(o, "p99.9", jms(valid, p999));
	return o;
}

const char *bench_mode_name(enum session_mode m)
{
	return m == SESSION_LIGHT ? "light" : m == SESSION_STAMP ? "stamp" : "control";
}

int bench_write_json(const char *path, const struct bench_opts *o, const struct bench_result *r)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	json_object *th = json_object_new_object(), *tg = json_object_new_array();
	FILE *f;
	int rc;

	json_object_object_add(root, "mode", json_object_new_string(bench_mode_name(o->tmpl.mode)));
	for (int i = 0; i < o->ntargets; i++)
		json_object_array_add(tg, json_object_new_string(o->target_name[i]));
	json_object_object_add(root, "targets", tg);
	json_object_object_add(root, "hold_s", json_object_new_double(o->hold / 1e9));
	json_object_object_add(th, "max_loss_pct", json_object_new_double(o->max_loss));
	json_object_object_add(th, "max_inflation",
			       o->max_inflation > 0 ? json_object_new_double(o->max_inflation) : NULL);
	json_object_object_add(th, "max_p99_ms", o->max_p99 ? json_object_new_double(ms(o->max_p99)) : NULL);
	json_object_object_add(th, "baseline_rtt_ms", r->baseline ? json_object_new_double(ms(r->baseline)) : NULL);
	json_object_object_add(root, "thresholds", th);
	for (uint32_t i = 0; i < r->nsteps; i++) {
		const struct bench_step *s = &r->steps[i];
		json_object *j = json_object_new_object(), *setup = json_object_new_object();

		json_object_object_add(j, "step", json_object_new_int((int)s->index));
		json_object_object_add(j, "sessions", json_object_new_int64(s->sessions));
		json_object_object_add(j, "packets_per_session", json_object_new_int64(s->count));
		json_object_object_add(j, "interval_ms", json_object_new_double(ms(s->interval)));
		json_object_object_add(j, "offered_pps", json_object_new_double(s->offered_pps));
		json_object_object_add(j, "sent_pps", json_object_new_double(s->sent_pps));
		json_object_object_add(j, "achieved_pps", json_object_new_double(s->achieved_pps));
		json_object_object_add(j, "sent", json_object_new_int64((int64_t)s->sent));
		json_object_object_add(j, "received", json_object_new_int64((int64_t)s->received));
		json_object_object_add(j, "lost", json_object_new_int64((int64_t)s->lost));
		json_object_object_add(j, "late", json_object_new_int64((int64_t)s->late));
		json_object_object_add(j, "loss_pct", json_object_new_double(s->loss_pct));
		json_object_object_add(j, "duplicates", json_object_new_int64((int64_t)s->dups));
		json_object_object_add(j, "rtt_ms", jpct3(s->rtt_valid, s->rtt_p50, s->rtt_p99, s->rtt_p999));
		json_object_object_add(json_object_object_get(j, "rtt_ms"), "max", jms(s->rtt_valid, s->rtt_max));
		json_object_object_add(j, "proc_ms", jpct3(s->proc_valid, s->proc_p50, s->proc_p99, s->proc_p999));
		json_object_object_add(setup, "p50", jms(s->setup_valid, s->setup_p50));
		json_object_object_add(setup, "p99", jms(s->setup_valid, s->setup_p99));
		json_object_object_add(setup, "max", jms(s->setup_valid, s->setup_max));
		json_object_object_add(j, "setup_ms", setup);
		json_object_object_add(j, "ok", json_object_new_int64(s->ok));
		json_object_object_add(j, "refused", json_object_new_int64(s->refused));
		json_object_object_add(j, "failed", json_object_new_int64(s->failed));
		json_object_object_add(j, "first_error", s->first_error[0] ? json_object_new_string(s->first_error) : NULL);
		json_object_object_add(j, "client_cpu_pct", json_object_new_double(s->cpu_pct));
		json_object_object_add(j, "client_user_s", json_object_new_double(s->cpu_user));
		json_object_object_add(j, "client_sys_s", json_object_new_double(s->cpu_sys));
		json_object_object_add(j, "start_unix", json_object_new_double(s->t_start / 1e9));
		json_object_object_add(j, "end_unix", json_object_new_double(s->t_end / 1e9));
		json_object_object_add(j, "complete", json_object_new_boolean(s->complete));
		json_object_object_add(j, "met", json_object_new_boolean(s->met));
		json_object_object_add(j, "reason", s->met ? NULL : json_object_new_string(s->reason));
		json_object_array_add(arr, j);
	}
	json_object_object_add(root, "steps", arr);
	json_object_object_add(root, "stop_reason", json_object_new_string(r->stop_reason));
	if (r->sustained >= 0) {
		const struct bench_step *s = &r->steps[r->sustained];
		json_object *su = json_object_new_object();

		json_object_object_add(su, "step", json_object_new_int((int)s->index));
		json_object_object_add(su, "sessions", json_object_new_int64(s->sessions));
		json_object_object_add(su, "packets_per_s", json_object_new_double(s->achieved_pps));
		json_object_object_add(su, "offered_pps", json_object_new_double(s->offered_pps));
		json_object_object_add(root, "sustained", su);
	} else {
		json_object_object_add(root, "sustained", NULL);
	}
	f = open_out(path);
	if (!f) {
		json_object_put(root);
		return -1;
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	rc = close_out(f, path);
	return rc;
}
