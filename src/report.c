/*
 * report: output formats of a finished session.  Figures come from
 * stats_summarize(); nothing is computed here but unit conversions.
 */
#include "report.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <string.h>

#include "log.h"
#include "ntptime.h"
#include "tsock.h"
#include "wire.h"

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static double sec(int64_t ns)
{
	return (double)ns / 1e9;
}

static void sid_hex(const struct session_info *in, char out[33])
{
	for (size_t i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", in->have_sid ? in->sid[i] : 0);
}

static const char *mode_name(enum session_mode m)
{
	return m == SESSION_LIGHT ? "light" : m == SESSION_STAMP ? "stamp" : "control";
}

static void dist_line(FILE *f, const char *what, const struct stats_dist *d, double err)
{
	if (!d->valid) {
		fprintf(f, "%s min/median/max = nan/nan/nan ms\n", what);
		return;
	}
	fprintf(f, "%s min/median/max = %.3g/%.3g/%.3g ms, (err=%.3g ms)\n", what, ms(d->min),
		ms(d->median), ms(d->max), err * 1e3);
}

static void hops_line(FILE *f, const char *what, int lo, int hi)
{
	if (lo < 0)
		fprintf(f, "%s = unknown\n", what);
	else if (lo == hi)
		fprintf(f, "%s = %d (consistently)\n", what, 255 - lo);
	else
		fprintf(f, "%s takes %d values; min hops = %d, max hops = %d\n", what, hi - lo + 1,
			255 - hi, 255 - lo);
}

static const char *ecn_name(int ecn)
{
	static const char *const n[] = { "not-ECT", "ECT(1)", "ECT(0)", "CE" };

	return ecn >= 0 && ecn < 4 ? n[ecn] : "?";
}

/* RFC 7750: the DS field each way, and whether the network changed it. */
static void dscp_line(FILE *f, const struct stats_summary *s)
{
	if (s->dscp_bck < 0 && s->dscp_fwd < 0)
		return;
	fprintf(f, "DSCP sent %d, seen by the reflector ", s->dscp_tx);
	if (s->dscp_fwd >= 0)
		fprintf(f, "%d", s->dscp_fwd);
	else
		fprintf(f, "(not reported)");
	if (s->dscp_bck >= 0)
		fprintf(f, ", received back %d", s->dscp_bck);
	fprintf(f, "%s\n", s->dscp_remarked ? ": RE-MARKED on the way" : "");
	fprintf(f, "ECN sent %s", ecn_name(s->ecn_tx));
	if (s->ecn_fwd >= 0)
		fprintf(f, ", seen by the reflector %s (%u CE)", ecn_name(s->ecn_fwd), s->ce_fwd);
	if (s->ecn_bck >= 0)
		fprintf(f, ", received back %s (%u CE)", ecn_name(s->ecn_bck), s->ce_bck);
	fprintf(f, "\n");
}

void report_text(FILE *f, const struct report *r)
{
	const struct stats_summary *s = r->sum;
	char a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN], sid[33], t1[40], t2[40];

	sid_hex(r->info, sid);
	fprintf(f, "\n--- twamp-client statistics from [%s]:%u to [%s]:%u (%s) ---\n",
		tsock_addr_str(&r->info->local_test, a1, sizeof(a1)), tsock_addr_port(&r->info->local_test),
		tsock_addr_str(&r->info->remote_test, a2, sizeof(a2)), tsock_addr_port(&r->info->remote_test),
		mode_name(r->params->mode));
	if (r->info->have_sid)
		fprintf(f, "SID:\t%s\n", sid);
	if (s->sent) {
		ntptime_format_iso(s->first_send, t1, sizeof(t1));
		ntptime_format_iso(s->last_send, t2, sizeof(t2));
		fprintf(f, "first:\t%s\nlast:\t%s\n", t1, t2);
	}
	fprintf(f, "%u sent, %u lost (%.3f%%), %u send duplicates, %u reflect duplicates, %u reordered\n",
		s->sent, s->lost, 100.0 * s->loss_ratio, s->dups_fwd, s->dups_bck, s->reordered);
	dist_line(f, "round-trip time", &s->rtt, s->maxerr);
	dist_line(f, "send time", &s->fwd, s->maxerr_fwd);
	dist_line(f, "reflect time", &s->bck, s->maxerr_bck);
	if (s->proc_valid)
		fprintf(f, "reflector processing time min/max = %.3g/%.3g ms\n", ms(s->proc_min),
			ms(s->proc_max));
	if (s->rtt.valid) {
		fprintf(f, "round-trip time mean/p90/p95/p99 = %.3g/%.3g/%.3g/%.3g ms\n",
			s->rtt.mean / 1e6, ms(s->rtt.p90), ms(s->rtt.p95), ms(s->rtt.p99));
		fprintf(f, "two-way jitter = %.3g ms (P95-P50), %.3g ms (RFC 3550)\n", ms(s->rtt.pdv),
			s->rtt.jitter / 1e6);
		fprintf(f, "send jitter = %.3g ms (P95-P50), %.3g ms (RFC 3550)\n", ms(s->fwd.pdv),
			s->fwd.jitter / 1e6);
		fprintf(f, "reflect jitter = %.3g ms (P95-P50), %.3g ms (RFC 3550)\n", ms(s->bck.pdv),
			s->bck.jitter / 1e6);
	}
	hops_line(f, "send hops", s->ttl_fwd_min, s->ttl_fwd_max);
	hops_line(f, "reflect hops", s->ttl_bck_min, s->ttl_bck_max);
	dscp_line(f, s);
	if (s->clock_stepped)
		fprintf(f, "clock stepped during the session: delays are not reported (loss is)\n");
	if (!s->sync && s->received)
		fprintf(f, "clocks: not synchronized (one-way times are unreliable)\n");
	if (r->info->malformed)
		fprintf(f, "%u malformed reflection%s dropped\n", r->info->malformed, log_s(r->info->malformed));
	if (r->info->foreign)
		fprintf(f, "%u datagram%s from other addresses or ports than the reflector's dropped\n",
			r->info->foreign, log_s(r->info->foreign));
	if (r->info->port_unreach)
		fprintf(f, "%u ICMP port unreachable%s (nothing listening at times)\n", r->info->port_unreach,
			log_s(r->info->port_unreach));
}

/* twping prints a delay's MIN or MAX only when some packet came back */
static void m_minmax(FILE *f, const char *key, const char *suffix, const struct stats_dist *d, bool max)
{
	if (d->valid)
		fprintf(f, "%s%s\t%g\n", key, suffix, sec(max ? d->max : d->min));
}

/*
 * twping's keys in twping's order (owamp 5.2.3 OWPStatsPrintMachine, two-way),
 * with its meanings: MEDIAN and PDV from the histogram (stats_hist), then
 * ours.  A key twping prints only when defined (MIN with no packet back,
 * MEDIAN with more than half lost) is left out as twping leaves it out.
 */
void report_machine(FILE *f, const struct report *r)
{
	const struct stats_summary *s = r->sum;
	const struct session_info *in = r->info;
	char a1[INET6_ADDRSTRLEN], a2[INET6_ADDRSTRLEN], sid[33];
	const struct stats_dist *dd[3] = { &s->rtt, &s->fwd, &s->bck };
	const char *sfx[3] = { "", "_FWD", "_BCK" };
	const char *sec_name = session_security_name(in, r->params->mode);
	double w = r->bucket_width > 0 ? r->bucket_width : STATS_BUCKET_WIDTH_DEFAULT;
	struct stats_hist h;
	bool have_hist = stats_hist(r->st, w, &h) == 0;
	/* a stepped clock leaves no delay known: the histogram's are not printed either */
	bool delays = have_hist && !s->clock_stepped;

	if (!have_hist)
		log_err("out of memory: -M without MEDIAN, PDV and the histograms");
	sid_hex(in, sid);
	fprintf(f, "SUMMARY\t3.00\n");
	fprintf(f, "SID\t%s\n", sid);
	fprintf(f, "FROM_HOST\t%s\n", r->from_host);
	fprintf(f, "FROM_ADDR\t%s\n", tsock_addr_str(&in->local_test, a1, sizeof(a1)));
	fprintf(f, "FROM_PORT\t%u\n", tsock_addr_port(&in->local_test));
	fprintf(f, "TO_HOST\t%s\n", r->to_host);
	fprintf(f, "TO_ADDR\t%s\n", tsock_addr_str(&in->remote_test, a2, sizeof(a2)));
	fprintf(f, "TO_PORT\t%u\n", tsock_addr_port(&in->remote_test));
	fprintf(f, "START_TIME\t%llu\n", (unsigned long long)ntptime_to_ntp(s->sent ? s->first_send : in->start_time));
	fprintf(f, "END_TIME\t%llu\n", (unsigned long long)ntptime_to_ntp(s->sent ? s->last_send : in->end_time));
	fprintf(f, "DSCP\t0x%02x\n", r->params->dscp);
	fprintf(f, "LOSS_TIMEOUT\t%llu\n", (unsigned long long)ntptime_dur_to_ntp(r->params->loss_timeout));
	fprintf(f, "PACKET_PADDING\t%u\n", in->padding);
	fprintf(f, "SESSION_PACKET_COUNT\t%u\n", r->params->count);
	fprintf(f, "SAMPLE_PACKET_COUNT\t%u\n", s->sent);
	fprintf(f, "BUCKET_WIDTH\t%g\n", w);
	fprintf(f, "SESSION_FINISHED\t1\n");
	fprintf(f, "SENT\t%u\n", s->sent);
	fprintf(f, "SYNC\t%d\n", s->sync ? 1 : 0);
	if (s->received)
		fprintf(f, "MAXERR\t%g\nMAXERR_FWD\t%g\nMAXERR_BCK\t%g\n", s->maxerr, s->maxerr_fwd,
			s->maxerr_bck);
	else
		fprintf(f, "MAXERR\tnan\nMAXERR_FWD\tnan\nMAXERR_BCK\tnan\n");
	fprintf(f, "DUPS_FWD\t%u\nDUPS_BCK\t%u\nLOST\t%u\n", s->dups_fwd, s->dups_bck, s->lost);
	for (int i = 0; i < 3; i++)
		m_minmax(f, "MIN", sfx[i], dd[i], false);
	if (s->proc_valid)
		fprintf(f, "MIN_PROC\t%g\n", sec(s->proc_min));
	for (int i = 0; delays && i < 3; i++)
		if (h.median_valid[i])
			fprintf(f, "MEDIAN%s\t%g\n", sfx[i], (double)h.median[i] * w);
	for (int i = 0; i < 3; i++)
		m_minmax(f, "MAX", sfx[i], dd[i], true);
	if (s->proc_valid)
		fprintf(f, "MAX_PROC\t%g\n", sec(s->proc_max));
	for (int i = 0; delays && i < 3; i++)
		if (h.median_valid[i] && h.p95_valid[i])
			fprintf(f, "PDV%s\t%g\n", sfx[i], (double)h.p95[i] * w - (double)h.median[i] * w);
	if (delays && s->received) {
		fprintf(f, "<BUCKETS>\n");
		for (uint32_t i = 0; i < h.nb; i++)
			fprintf(f, "\t%lld\t%u\t%u\t%u\n", (long long)h.b[i].index, h.b[i].n[STATS_RTT],
				h.b[i].n[STATS_FWD], h.b[i].n[STATS_BCK]);
		fprintf(f, "</BUCKETS>\n");
	}
	if (s->ttl_fwd_min >= 0)
		fprintf(f, "MINTTL_FWD\t%d\nMAXTTL_FWD\t%d\n", s->ttl_fwd_min, s->ttl_fwd_max);
	if (s->ttl_bck_min >= 0)
		fprintf(f, "MINTTL_BCK\t%d\nMAXTTL_BCK\t%d\n", s->ttl_bck_min, s->ttl_bck_max);
	if (have_hist && (s->ttl_fwd_min >= 0 || s->ttl_bck_min >= 0)) {
		fprintf(f, "<TTLBUCKETS>\n");
		for (int t = 0; t < 256; t++)
			if (h.ttl[t][0] || h.ttl[t][1])
				fprintf(f, "\t%d\t%u\t%u\n", t, h.ttl[t][0], h.ttl[t][1]);
		fprintf(f, "</TTLBUCKETS>\n");
	}
	if (have_hist)
		stats_hist_free(&h);
	/* our additions, after twping's keys so that its parsers are unaffected */
	for (int i = 0; i < 3; i++)
		if (dd[i]->valid)
			fprintf(f, "MEDIAN_EXACT%s\t%g\n", sfx[i], sec(dd[i]->median));
	for (int i = 0; i < 3; i++)
		if (dd[i]->valid)
			fprintf(f, "PDV_EXACT%s\t%g\n", sfx[i], sec(dd[i]->pdv));
	fprintf(f, "REORDERED\t%u\n", s->reordered);
	if (s->dscp_tx >= 0)
		fprintf(f, "DSCP_TX\t%d\nECN_TX\t%d\n", s->dscp_tx, s->ecn_tx);
	if (s->dscp_fwd >= 0)
		fprintf(f, "DSCP_RX_FWD\t%d\nECN_RX_FWD\t%d\nECN_CE_FWD\t%u\n", s->dscp_fwd, s->ecn_fwd,
			s->ce_fwd);
	if (s->dscp_bck >= 0)
		fprintf(f, "DSCP_RX_BCK\t%d\nECN_RX_BCK\t%d\nECN_CE_BCK\t%u\n", s->dscp_bck, s->ecn_bck,
			s->ce_bck);
	fprintf(f, "DSCP_REMARKED\t%d\n", s->dscp_remarked);
	fprintf(f, "LOSS_RATIO\t%g\n", s->loss_ratio);
	for (int i = 0; i < 3; i++) {
		if (!dd[i]->valid)
			continue;
		fprintf(f, "MEAN%s\t%g\nP90%s\t%g\nP95%s\t%g\nP99%s\t%g\nJITTER_RFC3550%s\t%g\n",
			sfx[i], dd[i]->mean / 1e9, sfx[i], sec(dd[i]->p90), sfx[i], sec(dd[i]->p95),
			sfx[i], sec(dd[i]->p99), sfx[i], dd[i]->jitter / 1e9);
	}
	fprintf(f, "PORT_UNREACHABLE\t%u\n", in->port_unreach);
	if (sec_name)
		fprintf(f, "SECURITY\t%s\n", sec_name);
	if (s->clock_stepped) /* last: only when it happened */
		fprintf(f, "CLOCK_STEPPED\t1\n");
}

static json_object *jdist(const struct stats_dist *d)
{
	json_object *o;

	if (!d->valid)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "min", json_object_new_double(sec(d->min)));
	json_object_object_add(o, "median", json_object_new_double(sec(d->median)));
	json_object_object_add(o, "max", json_object_new_double(sec(d->max)));
	json_object_object_add(o, "mean", json_object_new_double(d->mean / 1e9));
	json_object_object_add(o, "p90", json_object_new_double(sec(d->p90)));
	json_object_object_add(o, "p95", json_object_new_double(sec(d->p95)));
	json_object_object_add(o, "p99", json_object_new_double(sec(d->p99)));
	json_object_object_add(o, "pdv", json_object_new_double(sec(d->pdv)));
	json_object_object_add(o, "jitter_rfc3550", json_object_new_double(d->jitter / 1e9));
	return o;
}

static json_object *jint_or_null(int v)
{
	return v < 0 ? NULL : json_object_new_int(v);
}

/* The extension bits in use, by name (RFC 5938, 6038, 7750). */
static json_object *jext(uint32_t ext)
{
	json_object *a = json_object_new_array();

	if (ext & WIRE_MODE_INDIV_SESSION)
		json_object_array_add(a, json_object_new_string("individual-session-control"));
	if (ext & WIRE_MODE_REFLECT_OCTETS)
		json_object_array_add(a, json_object_new_string("reflect-octets"));
	if (ext & WIRE_MODE_SYMMETRICAL)
		json_object_array_add(a, json_object_new_string("symmetrical-size"));
	if (ext & WIRE_MODE_DSCP_ECN)
		json_object_array_add(a, json_object_new_string("dscp-ecn"));
	return a;
}

void report_json(FILE *f, const struct report *r)
{
	const struct stats_summary *s = r->sum;
	const struct session_info *in = r->info;
	json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN], sid[33];

	sid_hex(in, sid);
	json_object_object_add(o, "mode", json_object_new_string(mode_name(r->params->mode)));
	json_object_object_add(o, "security", session_security_name(in, r->params->mode)
						      ? json_object_new_string(session_security_name(in, r->params->mode))
						      : NULL);
	json_object_object_add(o, "sid", in->have_sid ? json_object_new_string(sid) : NULL);
	json_object_object_add(o, "from_host", json_object_new_string(r->from_host));
	json_object_object_add(o, "from_addr", json_object_new_string(tsock_addr_str(&in->local_test, a, sizeof(a))));
	json_object_object_add(o, "from_port", json_object_new_int(tsock_addr_port(&in->local_test)));
	json_object_object_add(o, "to_host", json_object_new_string(r->to_host));
	json_object_object_add(o, "to_addr", json_object_new_string(tsock_addr_str(&in->remote_test, a, sizeof(a))));
	json_object_object_add(o, "to_port", json_object_new_int(tsock_addr_port(&in->remote_test)));
	json_object_object_add(o, "start_time", json_object_new_double(sec(s->sent ? s->first_send : in->start_time)));
	json_object_object_add(o, "end_time", json_object_new_double(sec(s->sent ? s->last_send : in->end_time)));
	json_object_object_add(o, "dscp", json_object_new_int(r->params->dscp));
	json_object_object_add(o, "loss_timeout", json_object_new_double(sec(r->params->loss_timeout)));
	json_object_object_add(o, "padding", json_object_new_int((int)in->padding));
	json_object_object_add(o, "packet_size", json_object_new_int((int)in->packet_len));
	json_object_object_add(o, "sent", json_object_new_int((int)s->sent));
	json_object_object_add(o, "received", json_object_new_int((int)s->received));
	json_object_object_add(o, "lost", json_object_new_int((int)s->lost));
	json_object_object_add(o, "loss_ratio", json_object_new_double(s->loss_ratio));
	json_object_object_add(o, "dups_fwd", json_object_new_int((int)s->dups_fwd));
	json_object_object_add(o, "dups_bck", json_object_new_int((int)s->dups_bck));
	json_object_object_add(o, "reordered", json_object_new_int((int)s->reordered));
	json_object_object_add(o, "malformed", json_object_new_int((int)in->malformed));
	json_object_object_add(o, "foreign", json_object_new_int((int)in->foreign));
	json_object_object_add(o, "port_unreachable", json_object_new_int((int)in->port_unreach));
	json_object_object_add(o, "sync", json_object_new_boolean(s->sync));
	json_object_object_add(o, "clock_stepped", json_object_new_boolean(s->clock_stepped));
	json_object_object_add(o, "maxerr", s->received ? json_object_new_double(s->maxerr) : NULL);
	json_object_object_add(o, "maxerr_fwd", s->received ? json_object_new_double(s->maxerr_fwd) : NULL);
	json_object_object_add(o, "maxerr_bck", s->received ? json_object_new_double(s->maxerr_bck) : NULL);
	json_object_object_add(o, "rtt", jdist(&s->rtt));
	json_object_object_add(o, "fwd", jdist(&s->fwd));
	json_object_object_add(o, "bck", jdist(&s->bck));
	json_object_object_add(o, "proc_min", s->proc_valid ? json_object_new_double(sec(s->proc_min)) : NULL);
	json_object_object_add(o, "proc_max", s->proc_valid ? json_object_new_double(sec(s->proc_max)) : NULL);
	json_object_object_add(o, "ttl_fwd_min", jint_or_null(s->ttl_fwd_min));
	json_object_object_add(o, "ttl_fwd_max", jint_or_null(s->ttl_fwd_max));
	json_object_object_add(o, "ttl_bck_min", jint_or_null(s->ttl_bck_min));
	json_object_object_add(o, "ttl_bck_max", jint_or_null(s->ttl_bck_max));
	json_object_object_add(o, "dscp_tx", jint_or_null(s->dscp_tx));
	json_object_object_add(o, "dscp_rx_fwd", jint_or_null(s->dscp_fwd));
	json_object_object_add(o, "dscp_rx_bck", jint_or_null(s->dscp_bck));
	json_object_object_add(o, "dscp_remarked", json_object_new_boolean(s->dscp_remarked));
	json_object_object_add(o, "ecn_tx", jint_or_null(s->ecn_tx));
	json_object_object_add(o, "ecn_rx_fwd", jint_or_null(s->ecn_fwd));
	json_object_object_add(o, "ecn_rx_bck", jint_or_null(s->ecn_bck));
	json_object_object_add(o, "ecn_ce_fwd", s->ecn_fwd >= 0 ? json_object_new_int((int)s->ce_fwd) : NULL);
	json_object_object_add(o, "ecn_ce_bck", s->ecn_bck >= 0 ? json_object_new_int((int)s->ce_bck) : NULL);
	json_object_object_add(o, "extensions", jext(in->ctl_ext));
	json_object_object_add(o, "reflect_mismatch", json_object_new_int((int)in->reflect_mismatch));
	json_object_object_add(o, "send_late_p50", json_object_new_double(sec(in->late_p50)));
	json_object_object_add(o, "send_late_p99", json_object_new_double(sec(in->late_p99)));
	json_object_object_add(o, "send_late_max", json_object_new_double(sec(in->late_max)));
	json_object_object_add(o, "timestamp_source_tx",
			       json_object_new_string(in->hw_tx ? "hw" : in->kernel_tx ? "kernel" : "user"));
	json_object_object_add(o, "timestamp_source_rx",
			       json_object_new_string(in->hw_rx ? "hw" : in->kernel_rx ? "kernel" : "user"));
	json_object_object_add(o, "timestamps_rejected", json_object_new_int((int)in->ts_rejected));
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

void report_json_error(FILE *f, const char *prefix, int dscp, const char *error, const char *reason)
{
	json_object *o = json_object_new_object();

	if (dscp >= 0)
		json_object_object_add(o, "dscp", json_object_new_int(dscp));
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	fprintf(f, "%s%s\n", prefix, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

void report_raw(FILE *f, const struct report *r)
{
	const struct stats *st = r->st;

	fprintf(f, "# seq t1 t2 t3 t4 (ns since the Unix epoch; 0 = lost) ttl_fwd ttl_bck\n");
	for (uint32_t i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];

		if (!p->sent)
			continue;
		if (!p->received)
			fprintf(f, "%u %lld 0 0 0 -1 -1\n", i, (long long)p->t1);
		else
			fprintf(f, "%u %lld %lld %lld %lld %d %d\n", i, (long long)p->t1, (long long)p->t2,
				(long long)p->t3, (long long)p->t4, p->ttl_fwd, p->ttl_bck);
	}
}

void report_packets(FILE *f, const struct report *r)
{
	const struct stats *st = r->st;

	for (uint32_t i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];

		if (!p->sent)
			continue;
		if (!p->received) {
			fprintf(f, "seq_no=%u %s\n", i, p->late ? "*LATE* (counted lost)" : "*LOST*");
			continue;
		}
		fprintf(f, "seq_no=%u delay=%.3f ms fwd=%.3f ms bck=%.3f ms proc=%.3f ms ttl=%d/%d\n", i,
			ms((p->t4 - p->t1) - (p->t3 - p->t2)), ms(p->t2 - p->t1), ms(p->t4 - p->t3),
			ms(p->t3 - p->t2), p->ttl_fwd, p->ttl_bck);
	}
}
