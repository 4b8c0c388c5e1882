/*
 * influx_feed: the sender half of tests/influx.sh.
 *
 *   influx_feed URL SPOOLDIR
 *
 * Builds 200 RECORD_TARGET records with to_host "t000".."t199" and values
 * the script knows (see value_* below; every 50th record, t049, t099, t149,
 * t199, is unreachable with error "timeout"), plus one RECORD_PROBE record,
 * sends them through a sender with one influx-format destination URL
 * (batches of 50), waits until the destination acknowledged all of them and
 * stops the sender.  Exit status 0 when all 201 were delivered.
 *
 * measurement_error_fwd_seconds is unknown (omitted) for odd i.
 * Timestamps: BASE_NS + i * STEP_NS for record i, so the script can check
 * that nanoseconds survive.  Record t007 carries hostile strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "ntptime.h"
#include "record.h"
#include "sender.h"

#define NREC 200
#define BASE_NS 1767225600000000000LL   /* 2026-01-01T00:00:00Z */
#define STEP_NS 1000000007LL

static struct record *make(int i)
{
	struct record *r = record_new(RECORD_TARGET);
	char host[16];

	if (!r)
		exit(2);
	snprintf(host, sizeof(host), "t%03d", i);
	r->timestamp = BASE_NS + i * STEP_NS;
	record_set(&r->from_host, "feed-probe");
	record_set(&r->to_host, host);
	r->dscp = i % 64;
	r->mode = "control";
	r->sum.ttl_fwd_min = r->sum.ttl_fwd_max = r->sum.ttl_bck_min = r->sum.ttl_bck_max = -1;
	r->sum.maxerr = r->sum.maxerr_fwd = r->sum.maxerr_bck = -1;
	if (i == 7) {
		record_set(&r->custom_comment, "a, b=c \"d\" e");
		record_set(&r->description, "tab\there, new\nline, back\\slash");
	}
	if (i % 50 == 49) {
		r->reachable = false;
		record_set(&r->error, i == 49 ? "timeout \"quoted\" \\ back" : "timeout");
		return r;
	}
	r->reachable = true;
	record_set(&r->from_addr, "192.0.2.1");
	record_set(&r->to_addr, "198.51.100.1");
	r->sum.sent = 100;
	r->sum.lost = (uint32_t)(i % 5);
	r->sum.loss_ratio = (double)(i % 5) / 100.0;
	r->sum.dups_fwd = (uint32_t)(i % 2);
	r->sum.rtt.valid = r->sum.fwd.valid = r->sum.bck.valid = true;
	r->sum.rtt.min = (1000 + i) * NS_PER_US;      /* min_rtt_seconds = 0.001 + i us */
	r->sum.rtt.median = 2 * NS_PER_MS;
	r->sum.rtt.max = 1 * NS_PER_SEC;              /* a whole second: still a float */
	r->sum.rtt.p95 = 3 * NS_PER_MS;
	r->sum.rtt.pdv = r->sum.rtt.p95 - r->sum.rtt.median;
	r->sum.rtt.mean = 2.5e6;
	r->sum.fwd.min = r->sum.bck.min = 400 * NS_PER_US;
	r->sum.ttl_fwd_min = 250;                     /* max_hops_fwd = 5 */
	r->sum.ttl_fwd_max = 255;                     /* min_hops_fwd = 0 */
	r->sum.ttl_bck_min = r->sum.ttl_bck_max = 60;
	r->sum.maxerr = 0.0002;
	r->sum.maxerr_fwd = i % 2 ? -1 : 0.0001;     /* unknown for odd i: field omitted */
	r->timestamp_source = "kernel";
	r->clock_sync = i % 2 == 0;
	r->has_late = true;
	r->send_late_p99 = 1000 + i;
	return r;
}

int main(int argc, char **argv)
{
	struct config_destination d = {
		.format = CONFIG_FMT_INFLUX,
		.batch_size = 50,
		.flush_interval = 100 * NS_PER_MS,
	};
	struct sender_stats st;
	struct sender *s;
	struct record *p;
	uint64_t lost;
	int i, waited;

	if (argc != 3) {
		fprintf(stderr, "usage: influx_feed URL SPOOLDIR\n");
		return 2;
	}
	d.url = argv[1];
	s = sender_start(&d, 1, argv[2], 64 << 20, stdout);
	if (!s)
		return 1;
	for (i = 0; i < NREC; i++)
		sender_submit(s, make(i));
	p = record_new(RECORD_PROBE);
	p->timestamp = BASE_NS;
	record_set(&p->from_host, "feed-probe");
	p->probe.cycle = 1;
	p->probe.targets = NREC;
	p->probe.ok = NREC - 4;
	p->probe.failed = 4;
	p->probe.duration = 12 * NS_PER_SEC + 345 * NS_PER_MS;
	sender_submit(s, p);

	for (waited = 0; waited < 20000; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		sender_get_stats(s, &st);
		if (st.delivered + st.rejected + st.dropped >= NREC + 1)
			break;
		nanosleep(&ts, NULL);
	}
	lost = sender_stop(s, ntptime_now() + 5 * NS_PER_SEC);
	printf("influx_feed: submitted %llu, delivered %llu, rejected %llu, failures %llu, lost %llu\n",
	       (unsigned long long)st.submitted, (unsigned long long)st.delivered,
	       (unsigned long long)st.rejected, (unsigned long long)st.failures,
	       (unsigned long long)lost);
	return st.delivered == NREC + 1 && lost == 0 ? 0 : 1;
}
