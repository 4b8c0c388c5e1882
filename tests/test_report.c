/*
 * Tests for report.c's -M output against perfSONAR twping 5.2.3's own, in
 * tests/data/interop/twping-M-open.txt (verbatim stdout of the open-mode
 * capture): a session built to have the same delays (to the bucket) must
 * print twping's keys in twping's order, its MEDIAN and PDV figures and its
 * <BUCKETS> and <TTLBUCKETS> blocks line for line; ours follow.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntptime.h"
#include "report.h"
#include "session.h"
#include "stats.h"

#define CAPTURE "tests/data/interop/twping-M-open.txt"
#define T0 (1795766684LL * NS_PER_SEC)

/* delays of the capture's packets, ns: see test_stats.c hist_twping_capture */
static const int64_t fwd[10] = { 50000, 50000, 50000, 50000, 250000, 350000, 350000, 495000, 550000, 1310000 };
static const int64_t bck[10] = { 5000, 5000, 5000, 5000, 5000, 5000, 5000, 10000, 5000, 5000 };

static char *machine_output(uint32_t received, double width)
{
	static struct stats st;
	static struct stats_summary sum;
	static struct session_info in;
	static struct session_params p;
	struct report r = { .info = &in, .params = &p, .st = &st, .sum = &sum,
			    .from_host = "localhost", .to_host = "127.0.0.1", .bucket_width = width };
	struct sockaddr_in *a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	memset(&in, 0, sizeof(in));
	session_params_default(&p);
	p.count = 10;
	in.padding = 27;
	in.ctl_mode = 1; /* open */
	a = (struct sockaddr_in *)&in.local_test;
	a->sin_family = AF_INET;
	a->sin_port = htons(9103);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in.remote_test = in.local_test;
	((struct sockaddr_in *)&in.remote_test)->sin_port = htons(18778);
	cr_assert_eq(stats_init(&st, 10, 2 * NS_PER_SEC), 0);
	for (uint32_t i = 0; i < 10; i++) {
		int64_t t1 = T0 + (int64_t)i * 100 * NS_PER_MS;
		struct stats_reflection rf = {
			.sender_seq = i, .rseq = i, .t2 = t1 + fwd[i], .t3 = t1 + fwd[i] + 3000,
			.t4 = t1 + fwd[i] + 3000 + bck[i], .err2 = 1, .err3 = 1, .err4 = 1,
			.ttl_fwd = 255, .ttl_bck = 255, .tos_fwd = -1, .tos_bck = -1,
		};

		stats_sent(&st, i, t1, 1);
		if (i < received)
			cr_assert_eq(stats_reflected(&st, &rf), STATS_RX_OK);
	}
	cr_assert_eq(stats_summarize(&st, &sum), 0);
	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	report_machine(f, &r);
	fclose(f);
	stats_free(&st);
	return buf;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: missing", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* The key of each line (up to the tab; a <TAG> line is its own key; rows ""), one per line. */
static size_t keys_of(const char *text, char keys[][64], size_t cap)
{
	size_t n = 0;

	for (const char *l = text; *l && n < cap;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		size_t k = strcspn(l, "\t\n");

		if (l[0] != '\t' && k < len && k < 64) {
			memcpy(keys[n], l, k);
			keys[n++][k] = 0;
		} else if (l[0] == '<') {
			snprintf(keys[n++], 64, "%.*s", (int)(len < 63 ? len : 63), l);
		}
		l = e ? e + 1 : l + len;
	}
	return n;
}

/* The line that starts with "KEY\t", as a string (static). */
static const char *line_of(const char *text, const char *key)
{
	static char out[256];
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == '\t') {
			size_t len = strcspn(l, "\n");

			snprintf(out, sizeof(out), "%.*s", (int)len, l);
			return out;
		}
	return NULL;
}

/* The text from the line "<TAG>" to "</TAG>\n" inclusive (malloc'ed), NULL if absent. */
static char *block_of(const char *text, const char *tag)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>\n", tag);
	snprintf(close, sizeof(close), "</%s>\n", tag);
	a = strstr(text, open);
	b = a ? strstr(a, close) : NULL;
	return b ? strndup(a, (size_t)(b - a) + strlen(close)) : NULL;
}

Test(report, machine_keys_in_twpings_order)
{
	static char want[128][64], got[256][64];
	char *cap = slurp(CAPTURE), *out = machine_output(10, 0);
	size_t nw = keys_of(cap, want, 128), ng = keys_of(out, got, 256);

	cr_assert_gt(nw, 40, "the capture has twping's keys");
	cr_assert_geq(ng, nw);
	/* twping's keys first, each present, in the same order; ours after */
	for (size_t i = 0; i < nw; i++)
		cr_assert_str_eq(got[i], want[i], "key %zu: twping has %s, we print %s", i, want[i], got[i]);
	for (size_t i = nw; i < ng; i++)
		for (size_t j = 0; j < nw; j++)
			cr_assert_str_neq(got[i], want[j], "our key %s repeats one of twping's", got[i]);
	free(cap);
	free(out);
}

Test(report, machine_median_pdv_buckets_as_twping)
{
	static const char *const same[] = {
		"BUCKET_WIDTH", "MEDIAN", "MEDIAN_FWD", "MEDIAN_BCK", "PDV", "PDV_FWD", "PDV_BCK",
		"SENT", "LOST", "DUPS_FWD", "DUPS_BCK", "PACKET_PADDING", "SESSION_PACKET_COUNT",
		"SAMPLE_PACKET_COUNT", "MINTTL_FWD", "MAXTTL_BCK", "FROM_HOST", "TO_HOST",
		"FROM_PORT", "TO_PORT", "DSCP", "SUMMARY",
	};
	char *cap = slurp(CAPTURE), *out = machine_output(10, 0);
	char *bc = block_of(cap, "BUCKETS"), *bo = block_of(out, "BUCKETS");
	char *tc = block_of(cap, "TTLBUCKETS"), *to = block_of(out, "TTLBUCKETS");

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		const char *c = line_of(cap, same[i]);
		char w[256];

		cr_assert_not_null(c, "%s not in the capture", same[i]);
		snprintf(w, sizeof(w), "%s", c);
		cr_assert_not_null(line_of(out, same[i]), "%s missing", same[i]);
		cr_assert_str_eq(line_of(out, same[i]), w);
	}
	cr_assert_not_null(bo);
	cr_assert_str_eq(bo, bc);
	cr_assert_not_null(to);
	cr_assert_str_eq(to, tc);
	/* our exact figures under our own keys: the 5th smallest RTT, 255 us */
	cr_assert_str_eq(line_of(out, "MEDIAN_EXACT"), "MEDIAN_EXACT\t0.000255");
	cr_assert_str_eq(line_of(out, "SECURITY"), "SECURITY\topen");
	free(bc);
	free(bo);
	free(tc);
	free(to);
	free(cap);
	free(out);
}

Test(report, machine_width_and_loss)
{
	/* -b 0.001: every delay of the capture in bucket 1 or 2 */
	char *out = machine_output(10, 0.001);

	cr_assert_str_eq(line_of(out, "BUCKET_WIDTH"), "BUCKET_WIDTH\t0.001");
	cr_assert_str_eq(line_of(out, "MEDIAN"), "MEDIAN\t0.001");
	cr_assert_str_eq(line_of(out, "PDV"), "PDV\t0.001");
	free(out);
	/* 4 of 10 back: no MEDIAN (the lost are infinitely late), as twping */
	out = machine_output(4, 0);
	cr_assert_null(line_of(out, "MEDIAN"));
	cr_assert_null(line_of(out, "PDV"));
	cr_assert_str_eq(line_of(out, "LOST"), "LOST\t6");
	cr_assert_not_null(strstr(out, "<BUCKETS>\n\t1\t4\t4\t4\n</BUCKETS>\n"));
	cr_assert_not_null(line_of(out, "MEDIAN_EXACT"));
	free(out);
}
