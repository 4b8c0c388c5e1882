/*
 * Tests for encode.c: the seed-compatible JSON object key for key (parsed
 * back with json-c in strict UTF-8 mode), the short key set of an
 * unreachable target, nulls, hostile strings in both formats, and the Influx
 * line protocol checked by a small parser written here from the
 * line-protocol rules (escapes per position, field types by suffix), which
 * also checks that each field keeps one type over many random records.
 */
#include <criterion/criterion.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "ntptime.h"
#include "record.h"
#include "version.h"

#define T0 1795766684123456789LL   /* 2026-11-27T08:04:44.123456789Z */
#define MS NS_PER_MS

static struct ebuf eb;

static void teardown_eb(void)
{
	ebuf_free(&eb);
}

static void dist(struct stats_dist *d, int64_t min, int64_t median, int64_t max)
{
	memset(d, 0, sizeof(*d));
	d->valid = true;
	d->n = 98;
	d->min = min;
	d->median = median;
	d->max = max;
	d->p90 = median + (max - median) / 2;
	d->p95 = median + (max - median) * 3 / 4;
	d->p99 = max - 1;
	d->mean = (double)median + 1000.5;
	d->pdv = d->p95 - d->median;
	d->jitter = 12345.0;
}

static struct record *reachable_record(void)
{
	struct record *r = record_new(RECORD_TARGET);

	cr_assert_not_null(r);
	r->timestamp = T0;
	record_set(&r->from_host, "probe-1");
	record_set(&r->from_addr, "192.0.2.1");
	record_set(&r->to_host, "target.example.net");
	record_set(&r->to_addr, "198.51.100.7");
	r->to_port = 862;
	r->dscp = 46;
	r->mode = "control";
	r->security = "authenticated";
	r->reachable = true;
	r->has_late = true;
	r->send_late_p99 = 37500;
	record_set(&r->custom_comment, "core-router-a");
	record_set(&r->custom_id, "id-17");
	record_set(&r->description, "Core router A");
	record_set(&r->tags, "core east");
	record_set(&r->probe_description, "Probe one");
	record_set(&r->probe_tags, "lab");
	r->has_geo = true;
	r->latitude = 48.8566;
	r->longitude = 2.3522;
	r->sum.sent = 100;
	r->sum.received = 98;
	r->sum.lost = 2;
	r->sum.dups_fwd = 1;
	r->sum.dups_bck = 4;
	r->sum.reordered = 3;
	r->foreign_pkt = 7;
	r->sum.loss_ratio = 0.02;
	dist(&r->sum.rtt, 1500 * NS_PER_US, 2 * MS, 9 * MS);
	dist(&r->sum.fwd, 700 * NS_PER_US, 1 * MS, 4 * MS);
	dist(&r->sum.bck, 800 * NS_PER_US, 1 * MS, 5 * MS);
	r->sum.ttl_fwd_min = 250;
	r->sum.ttl_fwd_max = 252;
	r->sum.ttl_bck_min = 60;
	r->sum.ttl_bck_max = 64;
	r->sum.dscp_tx = 46;
	r->sum.dscp_fwd = 10;
	r->sum.dscp_bck = 46;
	r->sum.ecn_tx = 2;
	r->sum.ecn_fwd = 2;
	r->sum.ecn_bck = 3;
	r->sum.ce_fwd = 0;
	r->sum.ce_bck = 98;
	r->sum.dscp_remarked = true;
	r->sum.sync = true;
	r->sum.maxerr = 0.000123;
	r->sum.maxerr_fwd = 0.00006;
	r->sum.maxerr_bck = 0.000063;
	r->timestamp_source = "kernel";
	r->clock_sync = true;
	return r;
}

static struct record *unreachable_record(void)
{
	struct record *r = record_new(RECORD_TARGET);

	cr_assert_not_null(r);
	r->timestamp = T0;
	record_set(&r->from_host, "probe-1");
	record_set(&r->to_host, "gone.example.net");
	r->dscp = 0;
	r->mode = "light";
	r->reachable = false;
	record_set(&r->error, "timeout");
	r->sum.ttl_fwd_min = r->sum.ttl_fwd_max = -1;
	r->sum.ttl_bck_min = r->sum.ttl_bck_max = -1;
	r->sum.maxerr = r->sum.maxerr_fwd = r->sum.maxerr_bck = -1;
	return r;
}

/* Parse strictly (RFC 8259 and valid UTF-8), the whole text. */
static json_object *parse_strict(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	cr_assert_not_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	cr_assert_eq(json_tokener_get_error(tok), json_tokener_success, "JSON error: %s in %s",
		     json_tokener_error_desc(json_tokener_get_error(tok)), text);
	cr_assert_eq((size_t)json_tokener_get_parse_end(tok), len, "trailing bytes after JSON");
	json_tokener_free(tok);
	return o;
}

static json_object *encode_parse(const struct record *r)
{
	ebuf_reset(&eb);
	encode_json(&eb, r);
	cr_assert_not(eb.failed);
	cr_assert_eq(strlen(eb.data), eb.len);
	return parse_strict(eb.data, eb.len);
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "key %s missing", k);
	return v;
}

static void expect_type(json_object *o, const char *k, json_type t)
{
	json_object *v = key(o, k);

	cr_assert_eq(json_object_get_type(v), t, "key %s: type %s, expected %s", k,
		     json_type_to_name(json_object_get_type(v)), json_type_to_name(t));
}

static void expect_double(json_object *o, const char *k, double want)
{
	json_object *v = key(o, k);

	cr_assert_eq(json_object_get_type(v), json_type_double, "key %s not a float", k);
	cr_assert(fabs(json_object_get_double(v) - want) <= fabs(want) * 1e-9 + 1e-15,
		  "key %s: %.12g, expected %.12g", k, json_object_get_double(v), want);
}

static void expect_int(json_object *o, const char *k, int64_t want)
{
	json_object *v = key(o, k);

	cr_assert_eq(json_object_get_type(v), json_type_int, "key %s not an integer", k);
	cr_assert_eq(json_object_get_int64(v), want, "key %s: %lld, expected %lld", k,
		     (long long)json_object_get_int64(v), (long long)want);
}

static void expect_string(json_object *o, const char *k, const char *want)
{
	json_object *v = key(o, k);

	cr_assert_eq(json_object_get_type(v), json_type_string, "key %s not a string", k);
	cr_assert_str_eq(json_object_get_string(v), want, "key %s", k);
}

static void expect_keys(json_object *o, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		key(o, keys[i]);
	cr_assert_eq((size_t)json_object_object_length(o), n, "%d keys, expected %zu: %s",
		     json_object_object_length(o), n, json_object_to_json_string(o));
}

/* The seed table of original-behaviour.md. */
static const char *const seed_keys[] = {
	"measurement_name", "from_host", "from_addr", "to_host", "to_addr", "dscp_dec",
	"sent_pkt", "lost_pkt", "duplicates_fwd_pkt", "duplicates_bck_pkt",
	"min_rtt_seconds", "median_rtt_seconds", "max_rtt_seconds",
	"min_latency_fwd_seconds", "median_latency_fwd_seconds", "max_latency_fwd_seconds",
	"min_latency_bck_seconds", "median_latency_bck_seconds", "max_latency_bck_seconds",
	"jitter_rt_seconds", "jitter_fwd_seconds", "jitter_bck_seconds",
	"measurement_error_rtt_seconds", "measurement_error_fwd_seconds",
	"measurement_error_bck_seconds",
	"min_hops_fwd", "max_hops_fwd", "min_hops_bck", "max_hops_bck",
	"reachable_bool", "custom_comment", "custom_id", "geo_lon", "geo_lat",
};
#define NSEED (sizeof(seed_keys) / sizeof(seed_keys[0]))

/* Ours, from encode.h. */
static const char *const new_keys[] = {
	"timestamp", "loss_ratio", "mean_rtt_seconds", "p95_rtt_seconds", "p99_rtt_seconds",
	"reorder_pkt", "foreign_pkt", "mode", "security", "timestamp_source", "clock_sync", "clock_stepped", "error", "description", "tags",
	"probe_description", "probe_tags", "send_lateness_p99_seconds",
	"dscp_tx", "dscp_rx_fwd", "dscp_rx_bck", "dscp_remarked", "ecn_tx", "ecn_rx_fwd", "ecn_rx_bck",
	"ecn_ce_fwd", "ecn_ce_bck",
};
#define NNEW (sizeof(new_keys) / sizeof(new_keys[0]))

static const char *const seconds_keys[] = {
	"min_rtt_seconds", "median_rtt_seconds", "max_rtt_seconds",
	"min_latency_fwd_seconds", "median_latency_fwd_seconds", "max_latency_fwd_seconds",
	"min_latency_bck_seconds", "median_latency_bck_seconds", "max_latency_bck_seconds",
	"jitter_rt_seconds", "jitter_fwd_seconds", "jitter_bck_seconds",
	"measurement_error_rtt_seconds", "measurement_error_fwd_seconds",
	"measurement_error_bck_seconds", "mean_rtt_seconds", "p95_rtt_seconds", "p99_rtt_seconds",
	"send_lateness_p99_seconds",
};
#define NSECONDS (sizeof(seconds_keys) / sizeof(seconds_keys[0]))

TestSuite(encode_json, .fini = teardown_eb);

Test(encode_json, reachable_has_every_seed_key_with_its_type_and_value)
{
	struct record *r = reachable_record();
	json_object *o = encode_parse(r);
	const char *all[NSEED + NNEW];
	size_t i;

	for (i = 0; i < NSEED; i++)
		all[i] = seed_keys[i];
	for (i = 0; i < NNEW; i++)
		all[NSEED + i] = new_keys[i];
	expect_keys(o, all, NSEED + NNEW);

	expect_string(o, "measurement_name", "twamp_twping1");
	expect_string(o, "from_host", "probe-1");
	expect_string(o, "from_addr", "192.0.2.1");
	expect_string(o, "to_host", "target.example.net");
	expect_string(o, "to_addr", "198.51.100.7");
	expect_int(o, "dscp_dec", 46);
	expect_int(o, "sent_pkt", 100);
	expect_int(o, "lost_pkt", 2);
	expect_int(o, "duplicates_fwd_pkt", 1);
	expect_int(o, "duplicates_bck_pkt", 4);
	expect_double(o, "min_rtt_seconds", 0.0015);
	expect_double(o, "median_rtt_seconds", 0.002);
	expect_double(o, "max_rtt_seconds", 0.009);
	expect_double(o, "min_latency_fwd_seconds", 0.0007);
	expect_double(o, "median_latency_fwd_seconds", 0.001);
	expect_double(o, "max_latency_fwd_seconds", 0.004);
	expect_double(o, "min_latency_bck_seconds", 0.0008);
	expect_double(o, "median_latency_bck_seconds", 0.001);
	expect_double(o, "max_latency_bck_seconds", 0.005);
	expect_double(o, "jitter_rt_seconds", ntptime_to_sec(r->sum.rtt.pdv));
	expect_double(o, "jitter_fwd_seconds", ntptime_to_sec(r->sum.fwd.pdv));
	expect_double(o, "jitter_bck_seconds", ntptime_to_sec(r->sum.bck.pdv));
	expect_double(o, "measurement_error_rtt_seconds", 0.000123);
	expect_double(o, "measurement_error_fwd_seconds", 0.00006);
	expect_double(o, "measurement_error_bck_seconds", 0.000063);
	expect_int(o, "min_hops_fwd", 3);     /* 255 - max TTL 252 */
	expect_int(o, "max_hops_fwd", 5);     /* 255 - min TTL 250 */
	expect_int(o, "min_hops_bck", 191);
	expect_int(o, "max_hops_bck", 195);
	expect_int(o, "reachable_bool", 1);
	expect_string(o, "custom_comment", "core-router-a");
	expect_string(o, "custom_id", "id-17");
	expect_double(o, "geo_lon", 2.3522);
	expect_double(o, "geo_lat", 48.8566);

	expect_double(o, "timestamp", 1795766684.123456789);
	expect_double(o, "loss_ratio", 0.02);
	expect_double(o, "mean_rtt_seconds", r->sum.rtt.mean / 1e9);
	expect_double(o, "p95_rtt_seconds", ntptime_to_sec(r->sum.rtt.p95));
	expect_double(o, "p99_rtt_seconds", ntptime_to_sec(r->sum.rtt.p99));
	expect_double(o, "send_lateness_p99_seconds", ntptime_to_sec(r->send_late_p99));
	expect_int(o, "reorder_pkt", 3);
	expect_int(o, "foreign_pkt", 7);
	expect_string(o, "mode", "control");
	expect_string(o, "security", "authenticated");
	expect_string(o, "timestamp_source", "kernel");
	expect_type(o, "clock_sync", json_type_boolean);
	cr_assert(json_object_get_boolean(key(o, "clock_sync")));
	expect_type(o, "clock_stepped", json_type_boolean);
	cr_assert(!json_object_get_boolean(key(o, "clock_stepped")));
	expect_type(o, "error", json_type_null);
	expect_string(o, "description", "Core router A");
	expect_string(o, "tags", "core east");
	expect_string(o, "probe_description", "Probe one");
	expect_string(o, "probe_tags", "lab");
	/* RFC 7750 monitoring */
	expect_int(o, "dscp_tx", 46);
	expect_int(o, "dscp_rx_fwd", 10);
	expect_int(o, "dscp_rx_bck", 46);
	expect_type(o, "dscp_remarked", json_type_boolean);
	cr_assert(json_object_get_boolean(key(o, "dscp_remarked")));
	expect_int(o, "ecn_tx", 2);
	expect_int(o, "ecn_rx_fwd", 2);
	expect_int(o, "ecn_rx_bck", 3);
	expect_int(o, "ecn_ce_fwd", 0);
	expect_int(o, "ecn_ce_bck", 98);

	/* the timestamp keeps its nanoseconds in the text */
	cr_assert(strstr(eb.data, "\"timestamp\":1795766684.123456789,"), "%s", eb.data);
	json_object_put(o);
	record_free(r);
}

Test(encode_json, unreachable_has_the_short_key_set)
{
	static const char *const keys[] = {
		"measurement_name", "from_host", "to_host", "reachable_bool", "custom_comment",
		"custom_id", "geo_lon", "geo_lat", "timestamp", "dscp_dec", "mode", "security", "error",
	};
	struct record *r = unreachable_record();
	json_object *o = encode_parse(r);

	expect_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	expect_string(o, "measurement_name", "twamp_twping1");
	expect_string(o, "from_host", "probe-1");
	expect_string(o, "to_host", "gone.example.net");
	expect_int(o, "reachable_bool", 0);
	expect_type(o, "custom_comment", json_type_null);
	expect_type(o, "custom_id", json_type_null);
	expect_type(o, "geo_lon", json_type_null);
	expect_type(o, "geo_lat", json_type_null);
	expect_string(o, "mode", "light");
	expect_type(o, "security", json_type_null);  /* never got as far as a mode */
	expect_string(o, "error", "timeout");
	expect_type(o, "timestamp", json_type_double);
	json_object_put(o);

	/* with comment, id and location */
	record_set(&r->custom_comment, "c");
	record_set(&r->custom_id, "7");
	r->has_geo = true;
	r->latitude = -33.5;
	r->longitude = 151.25;
	o = encode_parse(r);
	expect_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	expect_string(o, "custom_comment", "c");
	expect_string(o, "custom_id", "7");
	expect_double(o, "geo_lat", -33.5);
	expect_double(o, "geo_lon", 151.25);
	json_object_put(o);
	record_free(r);
}

Test(encode_json, what_could_not_be_computed_is_null)
{
	struct record *r = reachable_record();
	json_object *o;
	size_t i;

	r->sum.rtt.valid = r->sum.fwd.valid = r->sum.bck.valid = false;
	r->sum.maxerr = r->sum.maxerr_fwd = r->sum.maxerr_bck = -1;
	r->sum.ttl_fwd_min = r->sum.ttl_fwd_max = -1;
	r->sum.ttl_bck_min = r->sum.ttl_bck_max = -1;
	r->has_geo = false;
	r->has_late = false;
	record_set(&r->custom_comment, NULL);
	record_set(&r->custom_id, NULL);
	record_set(&r->from_addr, NULL);
	record_set(&r->to_addr, NULL);
	r->timestamp_source = NULL;
	o = encode_parse(r);
	for (i = 0; i < NSECONDS; i++)
		expect_type(o, seconds_keys[i], json_type_null);
	expect_type(o, "min_hops_fwd", json_type_null);
	expect_type(o, "max_hops_fwd", json_type_null);
	expect_type(o, "min_hops_bck", json_type_null);
	expect_type(o, "max_hops_bck", json_type_null);
	expect_type(o, "geo_lon", json_type_null);
	expect_type(o, "geo_lat", json_type_null);
	expect_type(o, "custom_comment", json_type_null);
	expect_type(o, "custom_id", json_type_null);
	expect_type(o, "from_addr", json_type_null);
	expect_type(o, "to_addr", json_type_null);
	expect_type(o, "timestamp_source", json_type_null);
	expect_int(o, "sent_pkt", 100);
	json_object_put(o);

	/* NaN and infinities are never written */
	r->sum.rtt.valid = true;
	r->sum.rtt.mean = NAN;
	r->sum.loss_ratio = INFINITY;
	o = encode_parse(r);
	expect_type(o, "mean_rtt_seconds", json_type_null);
	expect_type(o, "loss_ratio", json_type_null);
	expect_type(o, "min_rtt_seconds", json_type_double);
	json_object_put(o);
	record_free(r);
}

/* The wall clock stepped mid-session: clock_stepped true, every delay null, loss kept. */
Test(encode_json, clock_stepped_nulls_the_delays_keeps_the_loss)
{
	struct record *r = reachable_record();
	json_object *o;
	size_t i;

	stats_summary_clock_stepped(&r->sum);
	o = encode_parse(r);
	expect_type(o, "clock_stepped", json_type_boolean);
	cr_assert(json_object_get_boolean(key(o, "clock_stepped")));
	for (i = 0; i < NSECONDS; i++)
		if (strncmp(seconds_keys[i], "measurement_error", 17) && strncmp(seconds_keys[i], "send_", 5))
			expect_type(o, seconds_keys[i], json_type_null);
	expect_int(o, "sent_pkt", 100);
	expect_int(o, "lost_pkt", 2);
	json_object_put(o);
	record_free(r);
}

Test(encode_json, whole_seconds_still_read_as_floats)
{
	struct record *r = reachable_record();
	json_object *o;

	dist(&r->sum.rtt, 0, 1 * NS_PER_SEC, 2 * NS_PER_SEC);
	r->sum.loss_ratio = 0;
	r->timestamp = 1795766684LL * NS_PER_SEC;
	o = encode_parse(r);
	expect_double(o, "min_rtt_seconds", 0);
	expect_double(o, "median_rtt_seconds", 1);
	expect_double(o, "max_rtt_seconds", 2);
	expect_double(o, "loss_ratio", 0);
	expect_double(o, "timestamp", 1795766684.0);
	json_object_put(o);
	record_free(r);
}

/*
 * Record times past 2038-01-19T03:14:07Z (a 32-bit time_t's end), in 2040
 * and at 2^32 s (2106): the JSON seconds keep every digit and nanosecond.
 */
Test(encode_json, timestamps_after_2038)
{
	static const struct {
		int64_t ns;
		const char *text;
	} t[] = {
		{ 2147483647999999999LL, "\"timestamp\":2147483647.999999999," },
		{ 2147483648000000001LL, "\"timestamp\":2147483648.000000001," },
		{ 2214129600123456789LL, "\"timestamp\":2214129600.123456789," },
		{ 4294967296000000007LL, "\"timestamp\":4294967296.000000007," },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct record *r = reachable_record();
		json_object *o;

		r->timestamp = t[i].ns;
		o = encode_parse(r);
		cr_assert(strstr(eb.data, t[i].text), "want %s in %s", t[i].text, eb.data);
		expect_double(o, "timestamp", (double)t[i].ns / 1e9);
		json_object_put(o);
		record_free(r);
	}
}

/* Hostile strings: each goes in as from_host and must come back as `want`. */
static const struct {
	const char *in, *want;
} hostile[] = {
	{ "plain", "plain" },
	{ "quote\"inside", "quote\"inside" },
	{ "back\\slash\\", "back\\slash\\" },
	{ "new\nline\r\ttab", "new\nline\r\ttab" },
	{ "ctl\x01\x02\x1f\x7f", "ctl\x01\x02\x1f\x7f" },
	{ "\b\f", "\b\f" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e" },
	{ "bad\xff", "bad\xef\xbf\xbd" },
	{ "trunc\xe2\x82", "trunc\xef\xbf\xbd\xef\xbf\xbd" },
	{ "overlong\xc0\xaf", "overlong\xef\xbf\xbd\xef\xbf\xbd" },
	{ "surrogate\xed\xa0\x80", "surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "big\xf4\x90\x80\x80", "big\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "</script>,a=b c", "</script>,a=b c" },
	{ "", "" },
};
#define NHOSTILE (sizeof(hostile) / sizeof(hostile[0]))

Test(encode_json, hostile_strings_are_escaped_and_valid_utf8)
{
	struct record *r = reachable_record();
	size_t i;

	for (i = 0; i < NHOSTILE; i++) {
		json_object *o;

		record_set(&r->from_host, hostile[i].in);
		record_set(&r->custom_comment, hostile[i].in);
		o = encode_parse(r);
		expect_string(o, "from_host", hostile[i].want);
		expect_string(o, "custom_comment", hostile[i].want);
		json_object_put(o);
		/* no raw control character survives */
		for (size_t k = 0; k < eb.len; k++)
			cr_assert_geq((unsigned char)eb.data[k], 0x20, "raw control char in %s", eb.data);
	}
	record_free(r);
}

Test(encode_json, batch_is_an_array_of_n_objects)
{
	struct record *recs[37];
	json_object *a;
	size_t i, n;

	for (i = 0; i < 37; i++) {
		char host[16];

		recs[i] = (i % 5 == 4) ? unreachable_record() : reachable_record();
		snprintf(host, sizeof(host), "t%zu", i);
		record_set(&recs[i]->to_host, host);
	}
	for (n = 0; n <= 37; n += 37) {
		ebuf_reset(&eb);
		encode_json_batch(&eb, recs, n);
		a = parse_strict(eb.data, eb.len);
		cr_assert_eq(json_object_get_type(a), json_type_array);
		cr_assert_eq(json_object_array_length(a), n);
		for (i = 0; i < n; i++) {
			char host[16];

			snprintf(host, sizeof(host), "t%zu", i);
			expect_string(json_object_array_get_idx(a, i), "to_host", host);
		}
		json_object_put(a);
	}
	for (i = 0; i < 37; i++)
		record_free(recs[i]);
}

Test(encode_json, probe_record)
{
	static const char *const keys[] = {
		"measurement_name", "timestamp", "from_host", "cycle", "targets", "ok", "failed",
		"skipped", "duration_seconds", "queue_depth", "spool_bytes", "dropped",
		"config_errors", "version", "probe_description", "probe_tags", "geo_lon", "geo_lat",
	};
	struct record *r = record_new(RECORD_PROBE);
	json_object *o;

	r->timestamp = T0;
	record_set(&r->from_host, "probe-1");
	r->probe.cycle = 12;
	r->probe.targets = 30;
	r->probe.ok = 28;
	r->probe.failed = 1;
	r->probe.skipped = 1;
	r->probe.duration = 12500 * MS;
	r->probe.queue_depth = 5;
	r->probe.spool_bytes = 4096;
	r->probe.dropped = UINT64_MAX;
	r->probe.config_errors = 2;
	o = encode_parse(r);
	expect_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	expect_string(o, "measurement_name", "twamp_probe");
	expect_int(o, "cycle", 12);
	expect_int(o, "targets", 30);
	expect_int(o, "ok", 28);
	expect_int(o, "failed", 1);
	expect_int(o, "skipped", 1);
	expect_double(o, "duration_seconds", 12.5);
	expect_int(o, "queue_depth", 5);
	expect_int(o, "spool_bytes", 4096);
	expect_int(o, "dropped", INT64_MAX);   /* saturates rather than wraps */
	expect_int(o, "config_errors", 2);
	expect_string(o, "version", twamp_version);
	cr_assert(twamp_version[0], "an empty version");
	expect_type(o, "probe_description", json_type_null);
	json_object_put(o);
	record_free(r);
}

/* ---- line protocol ----------------------------------------------------------- */

struct lp_kv {
	char key[64];
	char val[512];
	char type;   /* tags: 't'; fields: 'i' integer, 'f' float, 'b' boolean, 's' string */
};

struct lp_point {
	char meas[64];
	struct lp_kv tags[32], fields[64];
	int ntags, nfields;
	long long ts;
};

/*
 * Read up to an unescaped stop character.  esc: the characters a backslash
 * may escape here (a backslash before anything else is literal).
 */
static const char *lp_token(const char *p, const char *stops, const char *esc, char *out, size_t len)
{
	size_t n = 0;

	while (*p && !strchr(stops, *p)) {
		char c = *p++;

		if ((unsigned char)c < 0x20)
			return NULL;
		if (c == '\\' && *p && strchr(esc, *p))
			c = *p++;
		if (n + 1 >= len)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p;
}

/* One line (with its '\n'); 0, or -1 when it breaks the rules. */
static int lp_parse(const char *line, struct lp_point *pt)
{
	const char *p = line;
	char *end;

	memset(pt, 0, sizeof(*pt));
	if (!(p = lp_token(p, ", \n", ", \\", pt->meas, sizeof(pt->meas))) || !pt->meas[0])
		return -1;
	while (*p == ',') {
		struct lp_kv *kv = &pt->tags[pt->ntags++];

		if (pt->ntags > 32)
			return -1;
		if (!(p = lp_token(p + 1, "=, \n", ",= \\", kv->key, sizeof(kv->key))) || *p != '=')
			return -1;
		if (!(p = lp_token(p + 1, "=, \n", ",= \\", kv->val, sizeof(kv->val))) || !kv->val[0])
			return -1;
		if (*p == '=')
			return -1;
		kv->type = 't';
	}
	if (*p != ' ')
		return -1;
	do {
		struct lp_kv *kv = &pt->fields[pt->nfields++];

		if (pt->nfields > 64)
			return -1;
		p++;
		if (!(p = lp_token(p, "=, \n", ",= \\", kv->key, sizeof(kv->key))) || *p != '=' ||
		    !kv->key[0])
			return -1;
		p++;
		if (*p == '"') {
			size_t n = 0;

			for (p++; *p != '"'; p++) {
				if (!*p || *p == '\n' || (unsigned char)*p < 0x20)
					return -1;
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (n + 1 >= sizeof(kv->val))
					return -1;
				kv->val[n++] = *p;
			}
			kv->val[n] = '\0';
			p++;
			kv->type = 's';
		} else {
			size_t n = strcspn(p, ", \n");

			if (n == 0 || n >= sizeof(kv->val))
				return -1;
			memcpy(kv->val, p, n);
			kv->val[n] = '\0';
			p += n;
			if (!strcmp(kv->val, "true") || !strcmp(kv->val, "false")) {
				kv->type = 'b';
			} else if (kv->val[n - 1] == 'i') {
				strtoll(kv->val, &end, 10);
				if (end != kv->val + n - 1)
					return -1;
				kv->type = 'i';
			} else {
				double v = strtod(kv->val, &end);

				if (*end || !isfinite(v) || strpbrk(kv->val, "nN"))
					return -1;
				kv->type = 'f';
			}
		}
	} while (*p == ',');
	if (*p != ' ')
		return -1;
	pt->ts = strtoll(p + 1, &end, 10);
	if (end == p + 1 || *end != '\n' || end[1] != '\0')
		return -1;
	return 0;
}

static const struct lp_kv *lp_get(const struct lp_kv *kv, int n, const char *k)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(kv[i].key, k))
			return &kv[i];
	return NULL;
}

static void encode_line(const struct record *r, struct lp_point *pt)
{
	ebuf_reset(&eb);
	encode_influx(&eb, r);
	cr_assert_not(eb.failed);
	cr_assert_eq(strchr(eb.data, '\n'), eb.data + eb.len - 1, "one line: %s", eb.data);
	cr_assert_eq(lp_parse(eb.data, pt), 0, "bad line protocol: %s", eb.data);
}

static void expect_field(const struct lp_point *pt, const char *k, char type, const char *val)
{
	const struct lp_kv *kv = lp_get(pt->fields, pt->nfields, k);

	cr_assert_not_null(kv, "field %s missing", k);
	cr_assert_eq(kv->type, type, "field %s: type %c, expected %c", k, kv->type, type);
	if (val)
		cr_assert_str_eq(kv->val, val, "field %s", k);
}

static void expect_tag(const struct lp_point *pt, const char *k, const char *val)
{
	const struct lp_kv *kv = lp_get(pt->tags, pt->ntags, k);

	if (!val) {
		cr_assert_null(kv, "tag %s present", k);
		return;
	}
	cr_assert_not_null(kv, "tag %s missing", k);
	cr_assert_str_eq(kv->val, val, "tag %s", k);
}

TestSuite(encode_influx, .fini = teardown_eb);

Test(encode_influx, reachable_line)
{
	struct record *r = reachable_record();
	struct lp_point pt;
	int i;

	encode_line(r, &pt);
	cr_assert_str_eq(pt.meas, "twamp");
	cr_assert_eq(pt.ts, T0);
	expect_tag(&pt, "from_host", "probe-1");
	expect_tag(&pt, "from_addr", "192.0.2.1");
	expect_tag(&pt, "to_host", "target.example.net");
	expect_tag(&pt, "to_addr", "198.51.100.7");
	expect_tag(&pt, "dscp", "46");
	expect_tag(&pt, "mode", "control");
	expect_tag(&pt, "custom_comment", "core-router-a");
	expect_tag(&pt, "tags", "core east");
	for (i = 1; i < pt.ntags; i++)
		cr_assert_lt(strcmp(pt.tags[i - 1].key, pt.tags[i].key), 0, "tags not sorted");
	expect_field(&pt, "reachable_bool", 'b', "true");
	expect_field(&pt, "clock_sync", 'b', "true");
	expect_field(&pt, "clock_stepped", 'b', "false");
	expect_field(&pt, "sent_pkt", 'i', "100i");
	expect_field(&pt, "lost_pkt", 'i', "2i");
	expect_field(&pt, "duplicates_fwd_pkt", 'i', "1i");
	expect_field(&pt, "duplicates_bck_pkt", 'i', "4i");
	expect_field(&pt, "reorder_pkt", 'i', "3i");
	expect_field(&pt, "foreign_pkt", 'i', "7i");
	expect_field(&pt, "min_hops_fwd", 'i', "3i");
	expect_field(&pt, "max_hops_bck", 'i', "195i");
	expect_field(&pt, "min_rtt_seconds", 'f', "0.0015");
	expect_field(&pt, "median_latency_fwd_seconds", 'f', "0.001");
	expect_field(&pt, "loss_ratio", 'f', "0.02");
	expect_field(&pt, "geo_lat", 'f', "48.8566");
	expect_field(&pt, "timestamp_source", 's', "kernel");
	expect_field(&pt, "security", 's', "authenticated");
	expect_field(&pt, "dscp_rx_fwd", 'i', "10i");
	expect_field(&pt, "dscp_remarked", 'b', "true");
	expect_field(&pt, "ecn_ce_bck", 'i', "98i");
	cr_assert_null(lp_get(pt.fields, pt.nfields, "error"));
	record_free(r);
}

/* The line's timestamp is the int64 of ns: 2038, 2040 and 2106 as they are. */
Test(encode_influx, timestamps_after_2038)
{
	static const int64_t t[] = { 2147483648000000001LL, 2214129600123456789LL,
				     4294967296000000007LL };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct record *r = reachable_record();
		struct lp_point pt;

		r->timestamp = t[i];
		encode_line(r, &pt);
		cr_assert_eq(pt.ts, (long long)t[i], "%s", eb.data);
		record_free(r);
	}
}

Test(encode_influx, clock_stepped_field_and_no_delays)
{
	struct record *r = reachable_record();
	struct lp_point pt;

	stats_summary_clock_stepped(&r->sum);
	encode_line(r, &pt);
	expect_field(&pt, "clock_stepped", 'b', "true");
	expect_field(&pt, "lost_pkt", 'i', "2i");
	cr_assert_null(lp_get(pt.fields, pt.nfields, "min_rtt_seconds"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "median_latency_fwd_seconds"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "jitter_bck_seconds"));
	record_free(r);
}

Test(encode_influx, unreachable_line_and_omitted_values)
{
	struct record *r = unreachable_record();
	struct lp_point pt;

	record_set(&r->custom_comment, "");
	encode_line(r, &pt);
	cr_assert_str_eq(pt.meas, "twamp");
	expect_field(&pt, "reachable_bool", 'b', "false");
	expect_field(&pt, "error", 's', "timeout");
	cr_assert_null(lp_get(pt.fields, pt.nfields, "security"));  /* unknown: omitted */
	cr_assert_null(lp_get(pt.fields, pt.nfields, "sent_pkt"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "geo_lat"));
	expect_tag(&pt, "custom_comment", NULL);   /* empty: omitted */
	expect_tag(&pt, "from_addr", NULL);        /* NULL: omitted */
	expect_tag(&pt, "to_addr", NULL);
	expect_tag(&pt, "dscp", "0");
	cr_assert_null(strstr(eb.data, "nan"));
	record_free(r);

	r = reachable_record();
	r->sum.rtt.valid = false;
	r->sum.maxerr = -1;
	r->sum.ttl_fwd_min = r->sum.ttl_fwd_max = -1;
	r->sum.fwd.mean = NAN;
	r->sum.loss_ratio = NAN;
	encode_line(r, &pt);
	cr_assert_null(lp_get(pt.fields, pt.nfields, "min_rtt_seconds"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "jitter_rt_seconds"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "measurement_error_rtt_seconds"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "min_hops_fwd"));
	cr_assert_null(lp_get(pt.fields, pt.nfields, "loss_ratio"));
	expect_field(&pt, "min_hops_bck", 'i', "191i");
	expect_field(&pt, "min_latency_fwd_seconds", 'f', NULL);
	cr_assert_null(strstr(eb.data, "nan"));
	record_free(r);
}

/* What a tag value / string field should read as after parsing. */
static void sanitized(const char *want, char *out, size_t len, bool is_tag)
{
	size_t i;

	(void)is_tag;
	snprintf(out, len, "%s", want);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
}

Test(encode_influx, hostile_strings_in_tags_and_string_fields)
{
	struct record *r = unreachable_record();
	struct lp_point pt;
	char want[256];
	size_t i;

	for (i = 0; i < NHOSTILE; i++) {
		record_set(&r->to_host, hostile[i].in);
		record_set(&r->error, hostile[i].in);
		encode_line(r, &pt);
		sanitized(hostile[i].want, want, sizeof(want), true);
		if (hostile[i].in[0])
			expect_tag(&pt, "to_host", want);
		else
			expect_tag(&pt, "to_host", NULL);
		expect_field(&pt, "error", 's', want);
		for (size_t k = 0; k + 1 < eb.len; k++)
			cr_assert_geq((unsigned char)eb.data[k], 0x20, "raw control char in %s", eb.data);
	}
	/* a value ending in a backslash must not escape the separator after it */
	record_set(&r->to_host, "x\\");
	record_set(&r->to_addr, "y");
	encode_line(r, &pt);
	expect_tag(&pt, "to_host", "x\\");
	expect_tag(&pt, "to_addr", "y");
	record_free(r);
}

Test(encode_influx, field_types_never_change)
{
	struct lp_kv seen[128];
	int nseen = 0;
	unsigned seed = 12345;
	int i, j;

	for (i = 0; i < 2000; i++) {
		struct record *r;
		struct lp_point pt;

		if (rand_r(&seed) % 10 == 0) {
			r = record_new(RECORD_PROBE);
			record_set(&r->from_host, "p");
			r->probe.cycle = (uint64_t)rand_r(&seed);
			r->probe.duration = rand_r(&seed) % 3 ? rand_r(&seed) : 0;
		} else {
			r = rand_r(&seed) % 4 ? reachable_record() : unreachable_record();
			r->sum.rtt.valid = rand_r(&seed) % 5;
			r->sum.fwd.valid = rand_r(&seed) % 5;
			/* whole numbers of seconds, zeros, negatives (unsynchronised clocks) */
			r->sum.fwd.min = (int64_t)(rand_r(&seed) % 3 - 1) * NS_PER_SEC;
			r->sum.rtt.max = (int64_t)(rand_r(&seed) % 3) * NS_PER_SEC;
			r->sum.loss_ratio = rand_r(&seed) % 2 ? 0 : 1;
			r->sum.maxerr = rand_r(&seed) % 3 ? -1 : rand_r(&seed) % 3;
			r->sum.ttl_fwd_max = rand_r(&seed) % 3 ? -1 : 255;
			r->has_geo = rand_r(&seed) % 2;
			r->latitude = (double)(rand_r(&seed) % 3);
			r->timestamp_source = rand_r(&seed) % 2 ? "user" : NULL;
		}
		r->timestamp = T0 + i;
		encode_line(r, &pt);
		cr_assert_eq(pt.ts, T0 + i);
		for (j = 0; j < pt.nfields; j++) {
			const struct lp_kv *k = lp_get(seen, nseen, pt.fields[j].key);

			if (!k) {
				cr_assert_lt(nseen, 128);
				seen[nseen++] = pt.fields[j];
			} else {
				cr_assert_eq(k->type, pt.fields[j].type, "field %s was %c, now %c: %s",
					     k->key, k->type, pt.fields[j].type, eb.data);
			}
		}
		record_free(r);
	}
	/* and the types are the designed ones */
	cr_assert_eq(lp_get(seen, nseen, "sent_pkt")->type, 'i');
	cr_assert_eq(lp_get(seen, nseen, "min_rtt_seconds")->type, 'f');
	cr_assert_eq(lp_get(seen, nseen, "reachable_bool")->type, 'b');
	cr_assert_eq(lp_get(seen, nseen, "cycle")->type, 'i');
	cr_assert_eq(lp_get(seen, nseen, "duration_seconds")->type, 'f');
}

Test(encode_influx, batch_is_n_lines_and_probe_record)
{
	struct record *recs[10];
	struct lp_point pt;
	const char *p;
	size_t i, lines = 0;

	for (i = 0; i < 10; i++)
		recs[i] = i % 3 ? reachable_record() : unreachable_record();
	encode_influx_batch(&eb, recs, 10);
	for (p = eb.data; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 10);
	cr_assert_eq(eb.data[eb.len - 1], '\n');
	for (i = 0; i < 10; i++)
		record_free(recs[i]);

	recs[0] = record_new(RECORD_PROBE);
	recs[0]->timestamp = T0;
	record_set(&recs[0]->from_host, "probe 1");
	recs[0]->probe.targets = 3;
	recs[0]->probe.duration = 1500 * MS;
	encode_line(recs[0], &pt);
	cr_assert_str_eq(pt.meas, "twamp_probe");
	expect_tag(&pt, "from_host", "probe 1");
	expect_field(&pt, "targets", 'i', "3i");
	expect_field(&pt, "duration_seconds", 'f', "1.5");
	expect_field(&pt, "dropped", 'i', "0i");
	expect_field(&pt, "version", 's', twamp_version);
	record_free(recs[0]);
}

Test(encode_influx, buffer_is_reused)
{
	struct record *r = reachable_record();
	char *before;
	size_t cap;

	encode_influx(&eb, r);
	before = eb.data;
	cap = eb.cap;
	ebuf_reset(&eb);
	cr_assert_eq(eb.len, 0);
	encode_influx(&eb, r);
	cr_assert_eq(eb.data, before);
	cr_assert_eq(eb.cap, cap);
	record_free(r);
}

/*
 * record_id (set by the sender) in both formats, for every kind of record: a
 * JSON string key, an Influx string FIELD (a tag would make every record its
 * own series); absent when unset.
 */
Test(encode_json, record_id_when_set)
{
	struct record *r[3] = { reachable_record(), unreachable_record(), record_new(RECORD_PROBE) };
	json_object *o;
	size_t i;

	for (i = 0; i < 3; i++) {
		r[i]->timestamp = T0;
		o = encode_parse(r[i]);
		cr_assert_null(json_object_object_get(o, "record_id"), "record %zu: record_id unset", i);
		json_object_put(o);
		snprintf(r[i]->record_id, sizeof(r[i]->record_id), "0123456789abcdef-%zu", i + 41);
		o = encode_parse(r[i]);
		expect_string(o, "record_id", r[i]->record_id);
		json_object_put(o);
		record_free(r[i]);
	}
}

Test(encode_influx, record_id_is_a_string_field_not_a_tag)
{
	struct record *r[3] = { reachable_record(), unreachable_record(), record_new(RECORD_PROBE) };
	struct lp_point pt;
	char want[64];
	size_t i;

	for (i = 0; i < 3; i++) {
		r[i]->timestamp = T0;
		encode_line(r[i], &pt);
		cr_assert_null(lp_get(pt.fields, pt.nfields, "record_id"), "record %zu", i);
		snprintf(r[i]->record_id, sizeof(r[i]->record_id), "fedcba9876543210-%zu", i + 7);
		encode_line(r[i], &pt);
		snprintf(want, sizeof(want), "%s", r[i]->record_id);
		expect_field(&pt, "record_id", 's', want);
		expect_tag(&pt, "record_id", NULL);
		record_free(r[i]);
	}
}
