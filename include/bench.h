/*
 * bench: `twamp-client bench TARGET...`, a load ramp against one or more
 * reflectors, measured with the same engine as ping and the daemon.
 *
 * DESIGN
 * The calling thread owns the ramp: it plans each step (concurrent sessions S,
 * offered rate R packets/s, held for H seconds), hands the step's sessions to
 * a fixed pool of workers (started once, not pinned: run the command under
 * taskset to place it), waits, then computes the step's figures and decides
 * whether to go on.  A step is S ordinary client sessions (session.c), each
 * sending round(R*H/S) packets at a fixed interval, their start times spread
 * over one interval so the S streams interleave into a smooth R packets/s.
 * Session i runs on worker i mod W against target i mod T.
 *
 * Ownership: a step's slots (one per session) are allocated by the ramp
 * thread before the step; slot i belongs to its worker from the job that arms
 * its start timer until its on_done callback, which copies the session's
 * samples into the slot's own range of the step's sample arrays and counts
 * the slot done under the step's mutex.  The ramp thread reads slots only
 * after every slot is done, then frees the sessions through one job per
 * worker (a session may not be freed from inside its own callback).  The
 * sample arrays grow when a step needs more room, at most once per step:
 * nothing is allocated per packet.
 *
 * Per step: offered and achieved packets/s, loss, duplicates, RTT and
 * reflector processing time (T3 - T2) percentiles over every packet of every
 * session (nearest rank, as stats.c), control-connection setup time (connect
 * to Start-Ack), refused and failed sessions, the client's CPU.  The ramp
 * stops at the first step over a threshold (loss, p99 RTT inflation over the
 * baseline, absolute p99 RTT, any refused or failed session), at
 * --max-seconds, or when the ramp reaches its caps; the sustained capacity is
 * the last step that met every threshold.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "session.h"

#define BENCH_MAX_TARGETS 64
/* Below this a first step's p99 is scheduling noise, not a baseline. */
#define BENCH_BASELINE_FLOOR (100 * 1000LL)   /* ns */

struct bench_opts {
	struct session_params tmpl;     /* mode, padding, DSCP, timeouts, source... */
	struct sockaddr_storage target[BENCH_MAX_TARGETS];
	char target_name[BENCH_MAX_TARGETS][256];
	int ntargets;

	uint32_t sessions, sessions_step, max_sessions;
	double rate, rate_step, max_rate;     /* packets/s, all sessions together */
	double growth;                        /* > 1: multiply each step instead of adding */
	int64_t hold;                         /* ns per step */
	uint32_t max_steps;                   /* 0: no limit */
	int64_t max_time;                     /* ns, whole run */

	double max_loss;                      /* percent */
	double max_inflation;                 /* p99 / baseline; 0: off */
	int64_t baseline_rtt;                 /* ns; 0: the first step's p99 */
	int64_t max_p99;                      /* ns; 0: off */

	int nworkers;                         /* 0: the CPUs we may run on */
	int64_t spin;                         /* wk_set_spin */
	const char *csv, *json, *plot;
	bool quiet;                           /* no progress line */
};

void bench_opts_default(struct bench_opts *o);

/* One step's figures.  Times in ns; *_valid false when there was no sample. */
struct bench_step {
	uint32_t index;                       /* 1-based */
	uint32_t sessions, count;             /* count: packets per session */
	int64_t interval;                     /* ns between a session's packets */
	double offered_pps, sent_pps, achieved_pps;
	int64_t t_start, t_end;               /* wall clock, ns */
	uint64_t planned, sent, received, lost, dups;
	uint64_t late;                        /* of lost: a reply came, after the loss timeout */
	double loss_pct;
	bool rtt_valid, proc_valid, setup_valid;
	int64_t rtt_p50, rtt_p99, rtt_p999, rtt_max;
	int64_t proc_p50, proc_p99, proc_p999;
	int64_t setup_p50, setup_p99, setup_max;
	uint32_t ok, refused, failed;
	char first_error[300];
	double cpu_user, cpu_sys, cpu_pct;    /* client process, seconds and % of one CPU */
	bool complete;                        /* every session ran to its end */
	bool met;                             /* every threshold held */
	char reason[400];                     /* why not met */
};

struct bench_result {
	struct bench_step *steps;
	uint32_t nsteps;
	int sustained;                        /* index into steps, -1 none */
	int64_t baseline;                     /* ns, the inflation baseline used; 0 none */
	char stop_reason[440];
};

/* Runs the ramp and writes every output.  Exit status: 0 ran, 1 could not. */
int bench_run(const struct bench_opts *o);

/* ---- outputs (bench_report.c) ---- */
const char *bench_mode_name(enum session_mode m);   /* "control", "light", "stamp" */
void bench_table_header(FILE *f);
void bench_table_row(FILE *f, const struct bench_step *s);
void bench_summary(FILE *f, const struct bench_result *r);
int bench_write_csv(const char *path, const struct bench_result *r);
int bench_write_json(const char *path, const struct bench_opts *o, const struct bench_result *r);
/*
 * Before the ramp: every file --csv, --json and --plot will write (the plot's
 * as bench_plot_file() names it) can be opened for writing.  A file that did
 * not exist is created and removed again; an existing one is not truncated.
 * 0, or -1 with "twamp-client bench: --csv PATH: cannot write: REASON" on
 * stderr for the first that cannot.
 */
int bench_check_outputs(const struct bench_opts *o);

/* ---- the picture (bench_plot.c) ---- */
/*
 * Latency and loss against offered load.  A PNG through gnuplot when it is
 * on PATH and the name does not end in .html, .htm or .svg; otherwise an HTML
 * page with an inline SVG drawn here (written to PATH with its extension
 * replaced by .html when PATH asked for a PNG), or the bare SVG for a name
 * ending in .svg.  The name written goes to *written.
 */
int bench_plot(const char *path, const struct bench_opts *o, const struct bench_result *r,
	       char *written, size_t cap);
/* The file bench_plot() writes for path, into written (returned). */
const char *bench_plot_file(const char *path, char *written, size_t cap);
/* The HTML page with the inline SVG, to f. */
void bench_plot_html(FILE *f, const struct bench_opts *o, const struct bench_result *r);

#endif
