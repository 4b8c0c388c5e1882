/*
 * Integration tests of the measurement engine: our client against our
 * responder, in-process, over real sockets on 127.0.0.1 and ::1.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntptime.h"
#include "reflector.h"
#include "session.h"
#include "tsock.h"
#include "util/runsession.h"
#include "wire.h"

static struct responder *start_responder(struct refl_config *c, const char *ip, bool light)
{
	struct responder *r;

	c->nlisten = 1;
	run_addr(&c->listen[0], ip, 0);
	if (light) {
		c->nlight = 1;
		run_addr(&c->light[0], ip, 0);
	}
	r = responder_start(c);
	cr_assert_not_null(r, "responder_start failed on %s", ip);
	return r;
}

static void base_params(struct session_params *p, const char *ip, unsigned port,
			enum session_mode mode, unsigned count)
{
	session_params_default(p);
	p->mode = mode;
	p->count = count;
	p->interval = 2 * NS_PER_MS;
	p->loss_timeout = 500 * NS_PER_MS;
	p->ctl_timeout = 2 * NS_PER_SEC;
	run_addr(&p->server, ip, port);
}

static void ping_ok(const char *ip, enum session_mode mode)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	refl_config_default(&c);
	c.nworkers = 2;
	r = start_responder(&c, ip, mode != SESSION_CONTROL);
	base_params(&p, ip, mode == SESSION_CONTROL ? responder_port(r, 0) : responder_light_port(r, 0),
		    mode, 50);
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s: %s", session_status_name(res.info->status),
		     res.info->error);
	cr_assert_eq(res.sum.sent, 50);
	cr_assert_eq(res.sum.lost, 0);
	cr_assert_eq(res.sum.received, 50);
	cr_assert_eq(res.sum.dups_fwd + res.sum.dups_bck, 0);
	cr_assert(res.sum.rtt.valid && res.sum.rtt.min > 0 && res.sum.rtt.max < 500 * NS_PER_MS);
	cr_assert(res.sum.proc_valid && res.sum.proc_min >= 0);
	cr_assert_eq(res.sum.ttl_fwd_min, 255);
	cr_assert_eq(res.sum.ttl_bck_max, 255);
	cr_assert_eq(res.info->have_sid, mode == SESSION_CONTROL);
	/* default padding makes both directions the same size (42: RFC 7750's octet) */
	cr_assert_eq(res.info->packet_len, mode == SESSION_STAMP ? 44u : mode == SESSION_LIGHT ? 41u : 42u);
	/* the session ends when the last reflection arrives, maybe before the
	 * responder's thread has counted its send: give it a moment */
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.reflected >= 50)
			break;
		usleep(10 * 1000);
	}
	cr_assert_eq(k.rx, 50);
	cr_assert_eq(k.reflected, 50);
	cr_assert_eq(k.sessions, mode == SESSION_CONTROL ? 1u : 0u);
	run_result_free(&res);
	responder_stop(r);
}

Test(engine, control_ipv4) { ping_ok("127.0.0.1", SESSION_CONTROL); }
Test(engine, control_ipv6) { ping_ok("::1", SESSION_CONTROL); }
Test(engine, light_ipv4) { ping_ok("127.0.0.1", SESSION_LIGHT); }
Test(engine, light_ipv6) { ping_ok("::1", SESSION_LIGHT); }
Test(engine, stamp_ipv4) { ping_ok("127.0.0.1", SESSION_STAMP); }
Test(engine, stamp_ipv6) { ping_ok("::1", SESSION_STAMP); }

Test(engine, dscp_reaches_the_responder)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	refl_config_default(&c);
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
	p.dscp = 34; /* AF41 */
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	responder_counters(r, &k);
	cr_assert_eq(k.dscp_seen, 1ULL << 34, "DSCP bits seen: %llx", (unsigned long long)k.dscp_seen);
	run_result_free(&res);
	responder_stop(r);
}

/* LOST must equal exactly what the responder dropped. */
Test(engine, loss_matches_responder_drops)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	refl_config_default(&c);
	c.imp.loss = 10;
	c.imp.seed = 42;
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 400);
	p.interval = 500 * NS_PER_US;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	responder_counters(r, &k);
	cr_assert_gt(k.dropped_loss, 10, "10%% of 400 should drop dozens, dropped %llu",
		     (unsigned long long)k.dropped_loss);
	cr_assert_lt(k.dropped_loss, 80);
	cr_assert_eq(res.sum.lost, k.dropped_loss);
	cr_assert_eq(res.sum.sent, 400);
	cr_assert_eq(res.sum.received + res.sum.lost, 400);
	run_result_free(&res);
	responder_stop(r);
}

Test(engine, duplicates_and_reordering_counted)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	refl_config_default(&c);
	c.imp.duplicate = 10;
	c.imp.reorder = 10;
	c.imp.seed = 7;
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 300);
	p.interval = 1 * NS_PER_MS;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	responder_counters(r, &k);
	cr_assert_gt(k.duplicated, 5);
	cr_assert_gt(k.reordered, 5);
	/* the responder duplicates its reflections: the copies come back with the same reflector seq */
	cr_assert_eq(res.sum.dups_bck, k.duplicated);
	cr_assert_eq(res.sum.dups_fwd, 0);
	cr_assert_eq(res.sum.lost, 0);
	/* a held packet is overtaken by the next one: each is seen as reordered */
	cr_assert_eq(res.sum.reordered, k.reordered);
	run_result_free(&res);
	responder_stop(r);
}

Test(engine, delay_shows_in_rtt_not_processing)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;

	refl_config_default(&c);
	c.imp.delay = 20 * NS_PER_MS;
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 20);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_geq(res.sum.rtt.min, 20 * NS_PER_MS);
	cr_assert_lt(res.sum.rtt.max, 200 * NS_PER_MS);
	cr_assert_lt(res.sum.proc_max, 10 * NS_PER_MS);
	run_result_free(&res);
	responder_stop(r);
}

Test(engine, exponential_spacing_is_seeded)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;

	refl_config_default(&c);
	r = start_responder(&c, "127.0.0.1", true);
	base_params(&p, "127.0.0.1", responder_light_port(r, 0), SESSION_LIGHT, 200);
	p.exponential = true;
	p.interval = 1 * NS_PER_MS;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.sum.lost, 0);
	/* 200 gaps of mean 1 ms: about 200 ms, far from the fixed 199 ms exactly */
	{
		int64_t span = res.sum.last_send - res.sum.first_send;
		const struct stats *st = session_stats(res.s);
		int64_t mn = INT64_MAX, mx = 0;

		for (uint32_t i = 1; i < st->npackets; i++) {
			int64_t g = st->pkt[i].t1 - st->pkt[i - 1].t1;

			mn = g < mn ? g : mn;
			mx = g > mx ? g : mx;
		}
		cr_assert(span > 100 * NS_PER_MS && span < 400 * NS_PER_MS, "span %lld", (long long)span);
		cr_assert_lt(mn, 300 * NS_PER_US, "an exponential draw below 0.3 ms is expected");
		cr_assert_gt(mx, 3 * NS_PER_MS, "an exponential draw above 3 ms is expected");
	}
	run_result_free(&res);
	responder_stop(r);
}

Test(engine, padding_sizes)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;

	refl_config_default(&c);
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
	p.padding = 1000;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->packet_len, 1014);
	cr_assert_eq(res.sum.lost, 0);
	run_result_free(&res);
	/* padding 0: the 14-octet packets are answered padded to 41 octets, as twampd does */
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
	p.padding = 0;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->packet_len, 14);
	cr_assert_eq(res.sum.lost, 0);
	cr_assert_eq(res.sum.received, 5);
	{
		struct refl_counters k;

		responder_counters(r, &k);
		cr_assert_eq(k.malformed, 0);
	}
	run_result_free(&res);
	responder_stop(r);
}

/* ---- failures: each a clear status, never a hang ---------------------- */

static unsigned closed_tcp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd); /* bound, never listened: connections are refused */
	return port;
}

Test(engine_errors, connection_refused)
{
	struct session_params p;
	struct run_result res;

	base_params(&p, "127.0.0.1", closed_tcp_port(), SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_REFUSED, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "refused"), "%s", res.info->error);
	cr_assert_eq(res.sum.sent, 0);
	run_result_free(&res);
}

/* A scripted server: sends `greeting` bytes (if any), then stalls or closes. */
struct fake_server {
	int lfd;
	unsigned port;
	uint8_t greeting[WIRE_GREETING_LEN];
	size_t glen;
	uint8_t after[WIRE_CONTROL_MAX_LEN]; /* sent after reading a Set-Up-Response */
	size_t alen;
	int close_after;   /* close right after sending */
	int read_total;    /* bytes read from the client */
	pthread_t th;
};

static void *fake_main(void *arg)
{
	struct fake_server *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	uint8_t buf[512];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (fd < 0)
		return NULL;
	if (f->glen)
		send(fd, f->greeting, f->glen, MSG_NOSIGNAL);
	if (f->alen) {
		size_t got = 0;

		while (got < WIRE_SETUP_LEN && poll(&pfd, 1, 3000) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		f->read_total = (int)got;
		send(fd, f->after, f->alen, MSG_NOSIGNAL);
	}
	if (!f->close_after) {
		/* stall: read until the client gives up */
		while (poll(&pfd, 1, 5000) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			f->read_total += (int)n;
		}
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake_server *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(f->lfd, 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(f->lfd, 4);
	getsockname(f->lfd, (struct sockaddr *)&a, &len);
	f->port = ntohs(a.sin_port);
	pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(struct fake_server *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static void greeting(struct fake_server *f, uint32_t modes)
{
	struct wire_greeting g = { .modes = modes, .count = 1024 };

	f->glen = wire_encode_greeting(f->greeting, &g);
}

Test(engine_errors, stalled_server_times_out)
{
	struct fake_server f = { 0 };
	struct session_params p;
	struct run_result res;
	int64_t t0 = ntptime_now();

	fake_start(&f); /* sends nothing at all */
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	p.ctl_timeout = 300 * NS_PER_MS;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_TIMEOUT, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "Server Greeting"), "%s", res.info->error);
	cr_assert_lt(ntptime_now() - t0, 3 * NS_PER_SEC);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, server_offers_no_open_mode)
{
	struct fake_server f = { .close_after = 1 };
	struct session_params p;
	struct run_result res;

	greeting(&f, WIRE_MODE_AUTH | WIRE_MODE_ENCRYPTED);
	fake_start(&f);
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_MODE, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "unauthenticated"), "%s", res.info->error);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, server_offers_nothing)
{
	struct fake_server f = { .close_after = 1 };
	struct session_params p;
	struct run_result res;

	greeting(&f, 0);
	fake_start(&f);
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_DENIED, "%s", res.info->error);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, server_denies_access)
{
	struct fake_server f = { .close_after = 1 };
	struct wire_server_start ss = { .accept = WIRE_ACCEPT_FAILURE };
	struct session_params p;
	struct run_result res;

	greeting(&f, WIRE_MODE_OPEN);
	f.alen = wire_encode_server_start(f.after, &ss);
	fake_start(&f);
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_DENIED, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "denied"), "%s", res.info->error);
	cr_assert_eq(f.read_total, WIRE_SETUP_LEN);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, truncated_greeting_then_close)
{
	struct fake_server f = { .close_after = 1 };
	struct session_params p;
	struct run_result res;

	greeting(&f, WIRE_MODE_OPEN);
	f.glen = 30;
	fake_start(&f);
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_CLOSED, "%s", res.info->error);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, garbage_after_setup)
{
	struct fake_server f = { .close_after = 1 };
	struct session_params p;
	struct run_result res;

	greeting(&f, WIRE_MODE_OPEN);
	memset(f.after, 0xff, WIRE_SERVER_START_LEN);  /* Accept = 255 */
	f.alen = WIRE_SERVER_START_LEN;
	fake_start(&f);
	base_params(&p, "127.0.0.1", f.port, SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_ERR_DENIED, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "unknown Accept value"), "%s", res.info->error);
	run_result_free(&res);
	fake_stop(&f);
}

Test(engine_errors, session_refused_by_limit)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	refl_config_default(&c);
	c.port_lo = 1;   /* a range where binding needs privileges we drop below */
	c.port_hi = 1;
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
	run_session(&p, &res);
	/* as root port 1 binds, so accept either outcome but demand consistency */
	responder_counters(r, &k);
	if (res.info->status == SESSION_OK) {
		cr_assert_eq(k.sessions, 1);
	} else {
		cr_assert_eq(res.info->status, SESSION_ERR_SESSION, "%s", res.info->error);
		cr_assert(strstr(res.info->error, "resource"), "%s", res.info->error);
		cr_assert_eq(k.refused, 1);
	}
	run_result_free(&res);
	responder_stop(r);

	refl_config_default(&c);
	c.max_sessions = 1;
	c.refwait = 5 * NS_PER_SEC;
	r = start_responder(&c, "127.0.0.1", false);
	/* hold the only session place with a raw client, then ask for another */
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_storage a;
		uint8_t buf[WIRE_CONTROL_MAX_LEN];
		struct wire_setup su = { .mode = WIRE_MODE_OPEN };
		struct wire_request rq = { .ipvn = 4, .sender_port = 9, .timeout = NS_PER_SEC };
		struct wire_accept_session as;

		run_addr(&a, "127.0.0.1", responder_port(r, 0));
		cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
		cr_assert_eq(recv(fd, buf, WIRE_GREETING_LEN, MSG_WAITALL), WIRE_GREETING_LEN);
		send(fd, buf, wire_encode_setup(buf, &su), 0);
		cr_assert_eq(recv(fd, buf, WIRE_SERVER_START_LEN, MSG_WAITALL), WIRE_SERVER_START_LEN);
		send(fd, buf, wire_encode_request(buf, &rq), 0);
		cr_assert_eq(recv(fd, buf, WIRE_ACCEPT_SESSION_LEN, MSG_WAITALL), WIRE_ACCEPT_SESSION_LEN);
		cr_assert_eq(wire_decode_accept_session(buf, WIRE_ACCEPT_SESSION_LEN, &as), 0);
		cr_assert_eq(as.accept, WIRE_ACCEPT_OK);

		base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
		run_session(&p, &res);
		cr_assert_eq(res.info->status, SESSION_ERR_SESSION, "%s", res.info->error);
		cr_assert(strstr(res.info->error, "temporary"), "%s", res.info->error);
		run_result_free(&res);
		close(fd);
	}
	/* the place is given back when the holder goes: a new session runs */
	usleep(100 * 1000);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 5);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	run_result_free(&res);
	responder_stop(r);
}

/* A reflector that answers with garbage, wrong sizes, unknown sequence numbers. */
static void *bad_reflector(void *arg)
{
	int fd = *(int *)arg;
	uint8_t buf[2048];
	struct sockaddr_storage from;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (int i = 0; i < 10 && poll(&pfd, 1, 2000) > 0; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		struct wire_test_sender s;
		struct wire_test_reflect r = { 0 };

		if (n <= 0)
			break;
		wire_decode_test_sender(buf, (size_t)n, WIRE_TEST_OPEN, &s);
		/* 1: garbage of 10 octets, 2: 40 octets, 3: unknown seq, then good */
		sendto(fd, "0123456789", 10, 0, (struct sockaddr *)&from, fl);
		memset(buf, 0xab, 40);
		sendto(fd, buf, 40, 0, (struct sockaddr *)&from, fl);
		r.seq = (uint32_t)i;
		r.sender_seq = s.seq + 1000000;
		r.sender_ts = s.ts;
		r.rx_ts = r.ts = ntptime_now();
		r.sender_ttl = 255;
		wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_OPEN, &r);
		sendto(fd, buf, 41, 0, (struct sockaddr *)&from, fl);
		r.sender_seq = s.seq;
		wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_OPEN, &r);
		sendto(fd, buf, 41, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

Test(engine_errors, bad_reflections_are_counted_and_dropped)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct session_params p;
	struct run_result res;
	pthread_t th;

	cr_assert_eq(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(u, (struct sockaddr *)&a, &len);

	pthread_create(&th, NULL, bad_reflector, &u);
	base_params(&p, "127.0.0.1", ntohs(a.sin_port), SESSION_LIGHT, 10);
	run_session(&p, &res);
	pthread_join(th, NULL);
	close(u);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->malformed, 20, "10 garbage + 10 short: %u", res.info->malformed);
	cr_assert_eq(res.sum.unknown_seq, 10);
	cr_assert_eq(res.sum.received, 10);
	cr_assert_eq(res.sum.lost, 0);
	run_result_free(&res);
}

/*
 * A scripted server that plays a good open-mode exchange up to a chosen step
 * and then misbehaves there: the client must end with a clear status.
 */
struct script_server {
	int lfd;
	unsigned port;
	int bad_step;            /* 1: Server-Start, 2: Accept-Session, 3: Start-Ack */
	uint8_t bad[64];
	size_t bad_len;
	bool stall;              /* after the bad bytes: keep the connection open */
	pthread_t th;
};

static bool read_n(int fd, size_t n)
{
	uint8_t buf[256];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (n > 0 && poll(&pfd, 1, 3000) > 0) {
		ssize_t r = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), 0);

		if (r <= 0)
			return false;
		n -= (size_t)r;
	}
	return n == 0;
}

static void *script_main(void *arg)
{
	struct script_server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	uint8_t out[WIRE_CONTROL_MAX_LEN];
	struct wire_greeting g = { .modes = WIRE_MODE_OPEN, .count = 1024 };
	struct wire_server_start ss = { 0 };
	struct wire_accept_session as = { .port = 9 };
	struct wire_start_ack ack = { 0 };
	const size_t reads[] = { WIRE_SETUP_LEN, WIRE_REQUEST_LEN, WIRE_START_SESSIONS_LEN };
	size_t good_len[3];
	uint8_t good[3][WIRE_CONTROL_MAX_LEN];

	if (fd < 0)
		return NULL;
	good_len[0] = wire_encode_server_start(good[0], &ss);
	good_len[1] = wire_encode_accept_session(good[1], &as);
	good_len[2] = wire_encode_start_ack(good[2], &ack);
	send(fd, out, wire_encode_greeting(out, &g), MSG_NOSIGNAL);
	for (int step = 1; step <= 3; step++) {
		if (!read_n(fd, reads[step - 1]))
			break;
		if (step == s->bad_step) {
			send(fd, s->bad, s->bad_len, MSG_NOSIGNAL);
			break;
		}
		send(fd, good[step - 1], good_len[step - 1], MSG_NOSIGNAL);
	}
	if (s->stall) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t junk[256];

		while (poll(&pfd, 1, 5000) > 0 && recv(fd, junk, sizeof(junk), 0) > 0)
			;
	}
	close(fd);
	return NULL;
}

static void script_run(struct script_server *s, enum session_status want, const char *text)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct session_params p;
	struct run_result res;

	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(s->lfd, 4);
	getsockname(s->lfd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, script_main, s);
	base_params(&p, "127.0.0.1", s->port, SESSION_CONTROL, 5);
	p.ctl_timeout = 300 * NS_PER_MS;
	run_session(&p, &res);
	pthread_join(s->th, NULL);
	close(s->lfd);
	cr_assert_eq(res.info->status, want, "step %d: got %s: %s", s->bad_step,
		     session_status_name(res.info->status), res.info->error);
	cr_assert(strstr(res.info->error, text), "step %d: '%s' lacks '%s'", s->bad_step,
		  res.info->error, text);
	cr_assert_eq(res.sum.sent, 0);
	run_result_free(&res);
}

Test(engine_errors, truncated_message_at_every_step)
{
	const char *names[] = { NULL, "Server-Start", "Accept-Session", "Start-Ack" };

	for (int step = 1; step <= 3; step++) {
		struct script_server s = { .bad_step = step, .bad_len = 7 };

		memset(s.bad, 0, sizeof(s.bad));
		script_run(&s, SESSION_ERR_CLOSED, names[step]);
	}
}

Test(engine_errors, stall_at_every_step)
{
	const char *names[] = { NULL, "Server-Start", "Accept-Session", "Start-Ack" };

	for (int step = 1; step <= 3; step++) {
		struct script_server s = { .bad_step = step, .bad_len = 0, .stall = true };

		script_run(&s, SESSION_ERR_TIMEOUT, names[step]);
	}
}

Test(engine_errors, refusals_become_clear_messages)
{
	struct wire_accept_session as = { .accept = WIRE_ACCEPT_PERMANENT_LIMIT, .port = 9 };
	struct wire_start_ack ack = { .accept = WIRE_ACCEPT_UNSUPPORTED };
	struct script_server s1 = { .bad_step = 2 }, s2 = { .bad_step = 3 }, s3 = { .bad_step = 2 };

	s1.bad_len = wire_encode_accept_session(s1.bad, &as);
	script_run(&s1, SESSION_ERR_SESSION, "permanent");
	s2.bad_len = wire_encode_start_ack(s2.bad, &ack);
	script_run(&s2, SESSION_ERR_SESSION, "not supported");
	as.accept = 0;
	as.port = 0;
	s3.bad_len = wire_encode_accept_session(s3.bad, &as);
	script_run(&s3, SESSION_ERR_PROTOCOL, "port 0");
}

/* Kernel timestamps where the kernel delivers them, user-space ones when asked. */
Test(engine, timestamp_provenance)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	const struct tsock_caps *caps = tsock_probe(false);

	cr_assert(caps->probed);
	refl_config_default(&c);
	r = start_responder(&c, "127.0.0.1", false);
	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 30);
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->kernel_rx, caps->rx_sw ? res.sum.received : 0u,
		     "kernel RX timestamps on %u of %u reflections (%u lost, %u rejected)", res.info->kernel_rx,
		     res.sum.received, res.sum.lost, res.info->ts_rejected);
	cr_assert_eq(res.info->kernel_tx, caps->tx_sw ? 30u : 0u, "kernel TX timestamps on %u of 30",
		     res.info->kernel_tx);
	cr_assert_eq(res.info->ts_rejected, 0);
	cr_assert_eq(res.sum.lost, 0);
	run_result_free(&res);

	base_params(&p, "127.0.0.1", responder_port(r, 0), SESSION_CONTROL, 30);
	p.user_timestamps = true;
	run_session(&p, &res);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->kernel_rx, 0);
	cr_assert_eq(res.info->kernel_tx, 0);
	cr_assert_eq(res.sum.lost, 0);
	run_result_free(&res);
	responder_stop(r);
}
