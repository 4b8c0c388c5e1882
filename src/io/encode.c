/*
 * encode: the metric encoders (see include/encode.h for the formats).
 *
 * Why hand-written rather than json-c: a record becomes one object that is
 * appended to a batch buffer; building a json-c tree would allocate one node
 * per field and then serialize it again.  Here every field is appended in
 * place, and the only allocation is the growth of the batch buffer.
 *
 * Strings come from configuration files and DNS names, so they are treated
 * as hostile: invalid UTF-8 becomes U+FFFD (the output is always valid
 * UTF-8), JSON escapes quotes, backslashes and every control character, and
 * the line protocol gets its own escaping per position (measurement, tag
 * key/value, string field).  Control characters cannot be escaped in line
 * protocol at all (a newline ends the point), so there they become spaces.
 *
 * Numbers: times are seconds as floats printed with %.9g (nanosecond
 * resolution up to ~1 s, nine significant digits beyond), always with a '.'
 * or an exponent so a JSON reader never mistakes a time for an integer;
 * counts are integers.  A value that could not be computed is null in JSON
 * and an omitted field in line protocol (never NaN, which neither format
 * has).  Each line-protocol field has one type for every record, fixed by
 * the code below: the field name decides the type, never the value.
 */
#include "encode.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntptime.h"
#include "version.h"

#define EBUF_MIN_CAP 4096

/* ---- growable buffer ------------------------------------------------- */

/* Room for `need` more bytes plus the terminating NUL. */
static int ebuf_room(struct ebuf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (b->cap && need < b->cap - b->len)
		return 0;
	cap = b->cap ? b->cap : EBUF_MIN_CAP;
	while (need >= cap - b->len) {
		if (cap > SIZE_MAX / 2) {
			b->failed = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static void put(struct ebuf *b, const char *s, size_t n)
{
	if (ebuf_room(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void puts_(struct ebuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putch(struct ebuf *b, char c)
{
	put(b, &c, 1);
}

void ebuf_put(struct ebuf *b, const void *data, size_t n)
{
	put(b, data, n);
}

void ebuf_reset(struct ebuf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ebuf_free(struct ebuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 when it is not one.
 * p is NUL-terminated, and NUL is never a continuation byte, so this never
 * reads past the end.
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static const char utf8_replacement[] = "\xef\xbf\xbd";   /* U+FFFD */

/* ---- numbers ------------------------------------------------------------- */

/* %.9g, with ".0" added when the result would read as an integer. */
static void put_float(struct ebuf *b, double v)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.9g", v);

	if (n <= 0 || (size_t)n >= sizeof(tmp))
		return;
	put(b, tmp, (size_t)n);
	if (!strpbrk(tmp, ".eE"))
		put(b, ".0", 2);
}

static void put_int(struct ebuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	put(b, tmp, (size_t)n);
}

/* Influx integers are signed 64-bit: larger counters saturate. */
static int64_t clamp_u64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Unix seconds with the full nanosecond fraction: 1795766684.123456789 */
static void put_unix_seconds(struct ebuf *b, int64_t ns)
{
	struct timespec ts = ntptime_to_timespec(ns);
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%lld.%09ld", (long long)ts.tv_sec, (long)ts.tv_nsec);

	put(b, tmp, (size_t)n);
}

static double sec(int64_t ns)
{
	return ntptime_to_sec(ns);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_string(struct ebuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	if (!s) {
		put(b, "null", 4);
		return;
	}
	putch(b, '"');
	run = p;
	while (*p) {
		unsigned char c = *p;
		const char *esc = NULL;
		char u[8];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0x80) {
			n = utf8_len(p);
			if (n) {
				p += n;
				continue;
			}
		}
		put(b, (const char *)run, (size_t)(p - run));
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			} else {
				esc = utf8_replacement;
			}
		}
		puts_(b, esc);
		p++;
		run = p;
	}
	put(b, (const char *)run, (size_t)(p - run));
	putch(b, '"');
}

/* An object being written: adds the separators. */
struct jw {
	struct ebuf *b;
	int n;
};

static void jkey(struct jw *w, const char *key)
{
	if (w->n++)
		putch(w->b, ',');
	putch(w->b, '"');
	puts_(w->b, key);   /* our own key names: nothing to escape */
	put(w->b, "\":", 2);
}

static void jstr(struct jw *w, const char *key, const char *v)
{
	jkey(w, key);
	json_string(w->b, v);
}

static void jint(struct jw *w, const char *key, int64_t v)
{
	jkey(w, key);
	put_int(w->b, v);
}

static void jnull(struct jw *w, const char *key)
{
	jkey(w, key);
	put(w->b, "null", 4);
}

static void jfloat(struct jw *w, const char *key, bool known, double v)
{
	if (!known || !isfinite(v)) {
		jnull(w, key);
		return;
	}
	jkey(w, key);
	put_float(w->b, v);
}

static void jbool(struct jw *w, const char *key, bool v)
{
	jkey(w, key);
	puts_(w->b, v ? "true" : "false");
}

static void jgeo(struct jw *w, const struct record *r)
{
	jfloat(w, "geo_lon", r->has_geo, r->longitude);
	jfloat(w, "geo_lat", r->has_geo, r->latitude);
}

/* min/max hops from the TTLs: hops = 255 - TTL, so the minimum hop count comes from the maximum TTL. */
static void jhops(struct jw *w, const char *min_key, const char *max_key, int ttl_min, int ttl_max)
{
	if (ttl_max >= 0 && ttl_max <= 255)
		jint(w, min_key, 255 - ttl_max);
	else
		jnull(w, min_key);
	if (ttl_min >= 0 && ttl_min <= 255)
		jint(w, max_key, 255 - ttl_min);
	else
		jnull(w, max_key);
}

/* RFC 7750 monitoring: what we sent and what each end received; null when unknown. */
static void jint_known(struct jw *w, const char *key, bool known, int64_t v)
{
	if (known)
		jint(w, key, v);
	else
		jnull(w, key);
}

static void jdscp(struct jw *w, const struct stats_summary *s)
{
	jint_known(w, "dscp_tx", s->dscp_tx >= 0, s->dscp_tx);
	jint_known(w, "dscp_rx_fwd", s->dscp_fwd >= 0, s->dscp_fwd);
	jint_known(w, "dscp_rx_bck", s->dscp_bck >= 0, s->dscp_bck);
	jbool(w, "dscp_remarked", s->dscp_remarked);
	jint_known(w, "ecn_tx", s->ecn_tx >= 0, s->ecn_tx);
	jint_known(w, "ecn_rx_fwd", s->ecn_fwd >= 0, s->ecn_fwd);
	jint_known(w, "ecn_rx_bck", s->ecn_bck >= 0, s->ecn_bck);
	jint_known(w, "ecn_ce_fwd", s->ecn_fwd >= 0, s->ce_fwd);
	jint_known(w, "ecn_ce_bck", s->ecn_bck >= 0, s->ce_bck);
}

static void json_target(struct jw *w, const struct record *r)
{
	const struct stats_summary *s = &r->sum;

	jstr(w, "measurement_name", "twamp_twping1");
	jkey(w, "timestamp");
	put_unix_seconds(w->b, r->timestamp);
	if (r->record_id[0])
		jstr(w, "record_id", r->record_id);
	jstr(w, "from_host", r->from_host);
	if (!r->reachable) {
		/* the seed's short key set, plus timestamp, dscp_dec (which class of
		 * a DSCP list failed), mode, security and error */
		jstr(w, "to_host", r->to_host);
		jint(w, "dscp_dec", r->dscp);
		jstr(w, "mode", r->mode);
		jstr(w, "security", r->security);
		jint(w, "reachable_bool", 0);
		jstr(w, "error", r->error);
		jstr(w, "custom_comment", r->custom_comment);
		jstr(w, "custom_id", r->custom_id);
		jgeo(w, r);
		return;
	}
	jstr(w, "from_addr", r->from_addr);
	jstr(w, "to_host", r->to_host);
	jstr(w, "to_addr", r->to_addr);
	jint(w, "dscp_dec", r->dscp);
	jstr(w, "mode", r->mode);
	jstr(w, "security", r->security);
	jint(w, "reachable_bool", 1);

	jint(w, "sent_pkt", s->sent);
	jint(w, "lost_pkt", s->lost);
	jfloat(w, "loss_ratio", true, s->loss_ratio);
	jint(w, "duplicates_fwd_pkt", s->dups_fwd);
	jint(w, "duplicates_bck_pkt", s->dups_bck);
	jint(w, "reorder_pkt", s->reordered);
	jint(w, "foreign_pkt", r->foreign_pkt);

	jfloat(w, "min_rtt_seconds", s->rtt.valid, sec(s->rtt.min));
	jfloat(w, "median_rtt_seconds", s->rtt.valid, sec(s->rtt.median));
	jfloat(w, "max_rtt_seconds", s->rtt.valid, sec(s->rtt.max));
	jfloat(w, "mean_rtt_seconds", s->rtt.valid, s->rtt.mean / 1e9);
	jfloat(w, "p95_rtt_seconds", s->rtt.valid, sec(s->rtt.p95));
	jfloat(w, "p99_rtt_seconds", s->rtt.valid, sec(s->rtt.p99));
	jfloat(w, "min_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.min));
	jfloat(w, "median_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.median));
	jfloat(w, "max_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.max));
	jfloat(w, "min_latency_bck_seconds", s->bck.valid, sec(s->bck.min));
	jfloat(w, "median_latency_bck_seconds", s->bck.valid, sec(s->bck.median));
	jfloat(w, "max_latency_bck_seconds", s->bck.valid, sec(s->bck.max));
	jfloat(w, "jitter_rt_seconds", s->rtt.valid, sec(s->rtt.pdv));
	jfloat(w, "jitter_fwd_seconds", s->fwd.valid, sec(s->fwd.pdv));
	jfloat(w, "jitter_bck_seconds", s->bck.valid, sec(s->bck.pdv));
	jfloat(w, "measurement_error_rtt_seconds", s->maxerr >= 0, s->maxerr);
	jfloat(w, "measurement_error_fwd_seconds", s->maxerr_fwd >= 0, s->maxerr_fwd);
	jfloat(w, "measurement_error_bck_seconds", s->maxerr_bck >= 0, s->maxerr_bck);
	jhops(w, "min_hops_fwd", "max_hops_fwd", s->ttl_fwd_min, s->ttl_fwd_max);
	jhops(w, "min_hops_bck", "max_hops_bck", s->ttl_bck_min, s->ttl_bck_max);
	jdscp(w, s);

	jfloat(w, "send_lateness_p99_seconds", r->has_late, sec(r->send_late_p99));
	jstr(w, "timestamp_source", r->timestamp_source);
	jbool(w, "clock_sync", r->clock_sync);
	jbool(w, "clock_stepped", s->clock_stepped);
	jstr(w, "error", r->error);
	jstr(w, "custom_comment", r->custom_comment);
	jstr(w, "custom_id", r->custom_id);
	jstr(w, "description", r->description);
	jstr(w, "tags", r->tags);
	jstr(w, "probe_description", r->probe_description);
	jstr(w, "probe_tags", r->probe_tags);
	jgeo(w, r);
}

static void json_probe(struct jw *w, const struct record *r)
{
	const struct record_probe *p = &r->probe;

	jstr(w, "measurement_name", "twamp_probe");
	jkey(w, "timestamp");
	put_unix_seconds(w->b, r->timestamp);
	if (r->record_id[0])
		jstr(w, "record_id", r->record_id);
	jstr(w, "from_host", r->from_host);
	jint(w, "cycle", clamp_u64(p->cycle));
	jint(w, "targets", p->targets);
	jint(w, "ok", p->ok);
	jint(w, "failed", p->failed);
	jint(w, "skipped", p->skipped);
	jfloat(w, "duration_seconds", true, sec(p->duration));
	jint(w, "queue_depth", clamp_u64(p->queue_depth));
	jint(w, "spool_bytes", clamp_u64(p->spool_bytes));
	jint(w, "dropped", clamp_u64(p->dropped));
	jint(w, "config_errors", clamp_u64(p->config_errors));
	jstr(w, "version", twamp_version);
	jstr(w, "probe_description", r->probe_description);
	jstr(w, "probe_tags", r->probe_tags);
	jgeo(w, r);
}

void encode_json(struct ebuf *b, const struct record *r)
{
	struct jw w = { .b = b, .n = 0 };

	putch(b, '{');
	if (r->kind == RECORD_PROBE)
		json_probe(&w, r);
	else
		json_target(&w, r);
	putch(b, '}');
}

void encode_json_batch(struct ebuf *b, struct record *const *recs, size_t n)
{
	size_t i;

	putch(b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			putch(b, ',');
		encode_json(b, recs[i]);
	}
	putch(b, ']');
}

/* ---- Influx line protocol ------------------------------------------------ */

/*
 * Tag keys, tag values and field keys: ',', '=' and ' ' are escaped, and so
 * is '\' (doubled), so that a value ending in a backslash cannot escape the
 * separator after it.  Control characters become an escaped space.
 */
static void influx_escaped(struct ebuf *b, const char *s, bool is_field_string)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	while (*p) {
		unsigned char c = *p;
		const char *rep;
		size_t n;

		if (c >= 0x80) {
			n = utf8_len(p);
			if (n) {
				p += n;
				continue;
			}
			rep = utf8_replacement;
		} else if (c < 0x20 || c == 0x7f) {
			rep = is_field_string ? " " : "\\ ";
		} else if (c == '\\') {
			rep = "\\\\";
		} else if (is_field_string ? c == '"' : (c == ',' || c == '=' || c == ' ')) {
			char e[3] = { '\\', (char)c, '\0' };

			put(b, (const char *)run, (size_t)(p - run));
			put(b, e, 2);
			run = ++p;
			continue;
		} else {
			p++;
			continue;
		}
		put(b, (const char *)run, (size_t)(p - run));
		puts_(b, rep);
		run = ++p;
	}
	put(b, (const char *)run, (size_t)(p - run));
}

/* A tag; omitted when the value is NULL or empty (line protocol has no empty tag values). */
static void itag(struct ebuf *b, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	putch(b, ',');
	puts_(b, key);
	putch(b, '=');
	influx_escaped(b, v, false);
}

/* Fields being written: adds the separators. */
struct iw {
	struct ebuf *b;
	int n;
};

static void ikey(struct iw *w, const char *key)
{
	putch(w->b, w->n++ ? ',' : ' ');
	puts_(w->b, key);
	putch(w->b, '=');
}

static void iint(struct iw *w, const char *key, int64_t v)
{
	ikey(w, key);
	put_int(w->b, v);
	putch(w->b, 'i');
}

static void ifloat(struct iw *w, const char *key, bool known, double v)
{
	if (!known || !isfinite(v))
		return;
	ikey(w, key);
	put_float(w->b, v);
}

static void ibool(struct iw *w, const char *key, bool v)
{
	ikey(w, key);
	puts_(w->b, v ? "true" : "false");
}

static void idscp(struct iw *w, const struct stats_summary *s)
{
	if (s->dscp_tx >= 0)
		iint(w, "dscp_tx", s->dscp_tx);
	if (s->dscp_fwd >= 0)
		iint(w, "dscp_rx_fwd", s->dscp_fwd);
	if (s->dscp_bck >= 0)
		iint(w, "dscp_rx_bck", s->dscp_bck);
	ibool(w, "dscp_remarked", s->dscp_remarked);
	if (s->ecn_tx >= 0)
		iint(w, "ecn_tx", s->ecn_tx);
	if (s->ecn_fwd >= 0) {
		iint(w, "ecn_rx_fwd", s->ecn_fwd);
		iint(w, "ecn_ce_fwd", s->ce_fwd);
	}
	if (s->ecn_bck >= 0) {
		iint(w, "ecn_rx_bck", s->ecn_bck);
		iint(w, "ecn_ce_bck", s->ce_bck);
	}
}

static void istr(struct iw *w, const char *key, const char *v)
{
	if (!v)
		return;
	ikey(w, key);
	putch(w->b, '"');
	influx_escaped(w->b, v, true);
	putch(w->b, '"');
}

static void ihops(struct iw *w, const char *min_key, const char *max_key, int ttl_min, int ttl_max)
{
	if (ttl_max >= 0 && ttl_max <= 255)
		iint(w, min_key, 255 - ttl_max);
	if (ttl_min >= 0 && ttl_min <= 255)
		iint(w, max_key, 255 - ttl_min);
}

static void influx_target(struct ebuf *b, const struct record *r)
{
	const struct stats_summary *s = &r->sum;
	struct iw w = { .b = b, .n = 0 };
	char dscp[16];

	/* tags in key order (what InfluxDB stores, so it need not sort them) */
	puts_(b, "twamp");
	itag(b, "custom_comment", r->custom_comment);
	itag(b, "custom_id", r->custom_id);
	itag(b, "description", r->description);
	snprintf(dscp, sizeof(dscp), "%d", r->dscp);
	itag(b, "dscp", dscp);
	itag(b, "from_addr", r->from_addr);
	itag(b, "from_host", r->from_host);
	itag(b, "mode", r->mode);
	itag(b, "probe_description", r->probe_description);
	itag(b, "probe_tags", r->probe_tags);
	itag(b, "tags", r->tags);
	itag(b, "to_addr", r->to_addr);
	itag(b, "to_host", r->to_host);

	ibool(&w, "reachable_bool", r->reachable);
	istr(&w, "error", r->error);
	istr(&w, "security", r->security);
	if (r->record_id[0])
		istr(&w, "record_id", r->record_id);
	ifloat(&w, "geo_lat", r->has_geo, r->latitude);
	ifloat(&w, "geo_lon", r->has_geo, r->longitude);
	if (r->reachable) {
		iint(&w, "sent_pkt", s->sent);
		iint(&w, "lost_pkt", s->lost);
		ifloat(&w, "loss_ratio", true, s->loss_ratio);
		iint(&w, "duplicates_fwd_pkt", s->dups_fwd);
		iint(&w, "duplicates_bck_pkt", s->dups_bck);
		iint(&w, "reorder_pkt", s->reordered);
		iint(&w, "foreign_pkt", r->foreign_pkt);
		ifloat(&w, "min_rtt_seconds", s->rtt.valid, sec(s->rtt.min));
		ifloat(&w, "median_rtt_seconds", s->rtt.valid, sec(s->rtt.median));
		ifloat(&w, "max_rtt_seconds", s->rtt.valid, sec(s->rtt.max));
		ifloat(&w, "mean_rtt_seconds", s->rtt.valid, s->rtt.mean / 1e9);
		ifloat(&w, "p95_rtt_seconds", s->rtt.valid, sec(s->rtt.p95));
		ifloat(&w, "p99_rtt_seconds", s->rtt.valid, sec(s->rtt.p99));
		ifloat(&w, "min_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.min));
		ifloat(&w, "median_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.median));
		ifloat(&w, "max_latency_fwd_seconds", s->fwd.valid, sec(s->fwd.max));
		ifloat(&w, "min_latency_bck_seconds", s->bck.valid, sec(s->bck.min));
		ifloat(&w, "median_latency_bck_seconds", s->bck.valid, sec(s->bck.median));
		ifloat(&w, "max_latency_bck_seconds", s->bck.valid, sec(s->bck.max));
		ifloat(&w, "jitter_rt_seconds", s->rtt.valid, sec(s->rtt.pdv));
		ifloat(&w, "jitter_fwd_seconds", s->fwd.valid, sec(s->fwd.pdv));
		ifloat(&w, "jitter_bck_seconds", s->bck.valid, sec(s->bck.pdv));
		ifloat(&w, "measurement_error_rtt_seconds", s->maxerr >= 0, s->maxerr);
		ifloat(&w, "measurement_error_fwd_seconds", s->maxerr_fwd >= 0, s->maxerr_fwd);
		ifloat(&w, "measurement_error_bck_seconds", s->maxerr_bck >= 0, s->maxerr_bck);
		ihops(&w, "min_hops_fwd", "max_hops_fwd", s->ttl_fwd_min, s->ttl_fwd_max);
		ihops(&w, "min_hops_bck", "max_hops_bck", s->ttl_bck_min, s->ttl_bck_max);
		idscp(&w, s);
		ifloat(&w, "send_lateness_p99_seconds", r->has_late, sec(r->send_late_p99));
		istr(&w, "timestamp_source", r->timestamp_source);
		ibool(&w, "clock_sync", r->clock_sync);
		ibool(&w, "clock_stepped", s->clock_stepped);
	}
}

static void influx_probe(struct ebuf *b, const struct record *r)
{
	const struct record_probe *p = &r->probe;
	struct iw w = { .b = b, .n = 0 };

	puts_(b, "twamp_probe");
	itag(b, "from_host", r->from_host);
	itag(b, "probe_description", r->probe_description);
	itag(b, "probe_tags", r->probe_tags);

	iint(&w, "cycle", clamp_u64(p->cycle));
	iint(&w, "targets", p->targets);
	iint(&w, "ok", p->ok);
	iint(&w, "failed", p->failed);
	iint(&w, "skipped", p->skipped);
	ifloat(&w, "duration_seconds", true, sec(p->duration));
	iint(&w, "queue_depth", clamp_u64(p->queue_depth));
	iint(&w, "spool_bytes", clamp_u64(p->spool_bytes));
	iint(&w, "dropped", clamp_u64(p->dropped));
	iint(&w, "config_errors", clamp_u64(p->config_errors));
	istr(&w, "version", twamp_version);
	ifloat(&w, "geo_lat", r->has_geo, r->latitude);
	ifloat(&w, "geo_lon", r->has_geo, r->longitude);
	if (r->record_id[0])
		istr(&w, "record_id", r->record_id);
}

void encode_influx(struct ebuf *b, const struct record *r)
{
	if (r->kind == RECORD_PROBE)
		influx_probe(b, r);
	else
		influx_target(b, r);
	putch(b, ' ');
	put_int(b, r->timestamp);
	putch(b, '\n');
}

void encode_influx_batch(struct ebuf *b, struct record *const *recs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		encode_influx(b, recs[i]);
}
