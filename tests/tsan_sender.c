/*
 * The sender under ThreadSanitizer, without Criterion (whose start-up fails
 * under TSan on this machine: "Could not initialize inheritable arena").
 *
 * Reuses the HTTP sink and helpers of tests/test_sender.c (SINK_ONLY) and
 * drives the sender from several submitting threads while another thread
 * reads the statistics and changes the destination settings, against two
 * sinks of which one fails with 5xx and then goes down for a while.  Then a
 * stop with a sink down and a restart on the same spool.  Exit status 0 when
 * every record reached each destination exactly once, 1 otherwise.
 *
 * Build: cc -fsanitize=thread ... tests/tsan_sender.c src/io/{sender,spool,encode}.c
 *        src/record.c src/log.c src/ntptime.c $(pkg-config --libs json-c libcurl) -lpthread -lm
 */
#define SINK_ONLY
#include "test_sender.c"

#include <stdatomic.h>

#define NTHREADS 4
#define PER_THREAD 250
#define NREC (NTHREADS * PER_THREAD)

static int failures;

#define CHECK(cond, ...)                                         \
	do {                                                     \
		if (!(cond)) {                                   \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);            \
			fputc('\n', stderr);                     \
			failures++;                              \
		}                                                \
	} while (0)

struct submitter {
	struct sender *s;
	int from, to;
};

static void *submitter_main(void *arg)
{
	struct submitter *a = arg;
	int i;

	for (i = a->from; i < a->to; i++) {
		sender_submit(a->s, make_rec(i));
		if (i % 25 == 0)
			sleep_ms(1);
	}
	return NULL;
}

struct watcher {
	struct sender *s;
	struct config_destination *d;
	atomic_bool stop;
	uint64_t max_seen;
};

/* Reads the statistics and re-applies the destinations with other batch sizes. */
static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct config_destination d[2];
	int round = 0;

	while (!atomic_load(&w->stop)) {
		struct sender_stats st;

		sender_get_stats(w->s, &st);
		if (st.delivered > w->max_seen)
			w->max_seen = st.delivered;
		if (++round % 10 == 0) {
			memcpy(d, w->d, sizeof(d));
			d[0].batch_size = 5 + (uint32_t)(round % 20);
			d[1].batch_size = 7 + (uint32_t)(round % 13);
			sender_set_destinations(w->s, d, 2);
		}
		sleep_ms(3);
	}
	return NULL;
}

static void check_exact(struct sink *k, int n, const char *what)
{
	static struct tally t;
	char why[256];

	tally_sink(k, &t);
	CHECK(tally_exact(&t, n, why, sizeof(why)) == 0, "%s: %s", what, why);
}

int main(void)
{
	static const int script[] = { 500, 503, 429, 500 };
	char tmp[] = "/tmp/tsan_sender.XXXXXX", spool[128], cmd[160];
	struct sink a, b;
	struct config_destination d[2];
	struct submitter sub[NTHREADS];
	struct watcher w;
	pthread_t th[NTHREADS], wt;
	struct sender *s;
	struct sender_stats st;
	int i;

	setenv("TWAMP_SENDER_BACKOFF_MS", "10", 1);
	log_set_level(LOGL_ERR);
	if (!mkdtemp(tmp) || sink_start(&a) < 0 || sink_start(&b) < 0) {
		perror("setup");
		return 1;
	}
	snprintf(spool, sizeof(spool), "%s/spool", tmp);
	d[0] = dest_for(&a, "/json", "dGVzdA==");
	d[1] = dest_for(&b, "/write?db=x", NULL);
	d[1].format = CONFIG_FMT_INFLUX;
	sink_script(&b, script, 4, 0);

	/* phase 1: concurrent submitters, failures and an outage of b */
	s = sender_start(d, 2, spool, 64 << 20, stdout);
	CHECK(s != NULL, "sender_start");
	if (!s)
		return 1;
	w = (struct watcher){ .s = s, .d = d };
	pthread_create(&wt, NULL, watcher_main, &w);
	for (i = 0; i < NTHREADS; i++) {
		sub[i] = (struct submitter){ s, i * PER_THREAD, (i + 1) * PER_THREAD };
		pthread_create(&th[i], NULL, submitter_main, &sub[i]);
	}
	sleep_ms(30);
	sink_set_down(&b, true);
	sleep_ms(150);
	sink_set_down(&b, false);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(wait_all(&a, NREC, 15000), "a: not everything arrived");
	CHECK(wait_all(&b, NREC, 15000), "b: not everything arrived");
	atomic_store(&w.stop, true);
	pthread_join(wt, NULL);
	for (i = 0; i < 400; i++) {   /* the sender counts after the sink answered */
		sender_get_stats(s, &st);
		if (st.delivered == 2 * NREC)
			break;
		sleep_ms(5);
	}
	CHECK(st.submitted == NREC, "submitted %llu", (unsigned long long)st.submitted);
	CHECK(st.delivered == 2 * NREC, "delivered %llu", (unsigned long long)st.delivered);
	CHECK(st.failures >= 4, "failures %llu", (unsigned long long)st.failures);
	CHECK(sender_stop(s, ntptime_now() + NS_PER_SEC) == 0, "records lost");
	check_exact(&a, NREC, "a");
	check_exact(&b, NREC, "b");

	/* phase 2: stop while a is down, restart on the same spool */
	sink_set_down(&a, true);
	s = sender_start(d, 2, spool, 64 << 20, stdout);
	CHECK(s != NULL, "sender_start 2");
	if (!s)
		return 1;
	for (i = 0; i < NTHREADS; i++) {
		sub[i] = (struct submitter){ s, NREC + i * 25, NREC + (i + 1) * 25 };
		pthread_create(&th[i], NULL, submitter_main, &sub[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(sender_stop(s, ntptime_now() + 2 * NS_PER_SEC) == 0, "records lost at stop");
	sink_set_down(&a, false);
	s = sender_start(d, 2, spool, 64 << 20, stdout);
	CHECK(s != NULL, "sender_start 3");
	if (!s)
		return 1;
	CHECK(wait_all(&a, NREC + 100, 10000), "a: spool not replayed after restart");
	CHECK(wait_all(&b, NREC + 100, 10000), "b: not everything arrived");
	CHECK(sender_stop(s, ntptime_now() + NS_PER_SEC) == 0, "records lost");
	check_exact(&a, NREC + 100, "a after restart");
	check_exact(&b, NREC + 100, "b after restart");

	sink_stop(&a);
	sink_stop(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	printf("tsan_sender: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
