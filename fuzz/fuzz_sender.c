/*
 * fuzz_sender: HTTP responses as the result sender sees them (src/io/sender.c:
 * libcurl multi, status classes, Retry-After, the response body logged on a
 * rejection, spool and reject folder).  A real sender thread posts one batch
 * to a loopback server that answers with the fuzz input, verbatim, and is
 * then stopped.
 *
 * Input: octet 0 (bit 0: Influx line protocol instead of JSON; bit 1: token
 * instead of Basic authentication; bit 2: a second batch, so a failure is
 * followed by a replay attempt), then the raw HTTP response.  Nothing may be
 * lost: sender_stop() must report no dropped record, and every record must
 * end delivered, rejected or spooled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "ntptime.h"
#include "record.h"
#include "sender.h"

static struct record *make_record(int i)
{
	struct record *r = record_new(RECORD_TARGET);

	if (!r)
		abort();
	r->timestamp = ntptime_now();
	r->mode = "control";
	r->to_port = 862;
	r->reachable = i % 2;
	if (record_set(&r->from_host, "fuzz-probe") || record_set(&r->to_host, "127.0.0.1") ||
	    record_set(&r->error, r->reachable ? NULL : "timeout"))
		abort();
	r->timestamp_source = "user";
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char spool[512], url[128];
	struct fz f = { data, size };
	uint8_t flags = fz_u8(&f, 0);
	struct config_destination d = {
		.url = url,
		.format = flags & 1 ? CONFIG_FMT_INFLUX : CONFIG_FMT_JSON,
		.batch_size = 1,
		.flush_interval = 1000000,
	};
	struct sender_stats st;
	struct sender *s;
	uint64_t dropped;
	int n = flags & 4 ? 2 : 1;

	if (!url[0]) {
		fz_quiet();
		setenv("TWAMP_SENDER_BACKOFF_MS", "1", 1);
		snprintf(spool, sizeof(spool), "%s/spool", fz_tmpdir());
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/write?db=twamp", fz_http_start());
	}
	if (flags & 2) {
		d.token = "fuzz-token";
	} else {
		d.user = "probe";
		d.password = "secret";
	}
	fz_rmtree(spool);
	fz_http_set(f.p, f.n);
	if (!(s = sender_start(&d, 1, spool, 1 << 20, stdout)))
		abort();
	for (int i = 0; i < n; i++) {
		/* the first answer comes at once; a second batch may meet a back-off */
		int64_t until = ntptime_now() + (i ? 50 : 2000) * NS_PER_MS;

		sender_submit(s, make_record(i));
		/* wait for the answer to this batch (or give up: stop spools it) */
		while (fz_http_served() < (unsigned)i + 1 && ntptime_now() < until)
			usleep(200);
	}
	sender_get_stats(s, &st);
	dropped = sender_stop(s, ntptime_now() + 2 * NS_PER_SEC);
	if (dropped) {
		fprintf(stderr, "fuzz_sender: %llu records lost\n", (unsigned long long)dropped);
		abort();
	}
	if (st.submitted != (uint64_t)n) {
		fprintf(stderr, "fuzz_sender: %llu records counted, %d submitted\n",
			(unsigned long long)st.submitted, n);
		abort();
	}
	return 0;
}
