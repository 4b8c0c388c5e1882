/*
 * The TWAMP security modes end to end: our client against our responder in
 * the open, authenticated, encrypted and mixed modes over 127.0.0.1, mode
 * negotiation, denial (wrong secret, unknown KeyID), the keys file, and a
 * scripted reflector that tampers with its reflections.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "ctlchan.h"
#include "ntptime.h"
#include "reflector.h"
#include "session.h"
#include "tsock.h"
#include "util/runsession.h"
#include "wire.h"

#define KEYS "tests/data/keys/test.pfs"
static const uint8_t PROBE_SECRET[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
#define ALL_MODES (WIRE_MODE_OPEN | WIRE_MODE_AUTH | WIRE_MODE_ENCRYPTED | WIRE_MODE_MIXED)

static struct refl_key *g_keys;
static size_t g_nkeys;

static struct responder *start_secure(uint32_t modes)
{
	struct refl_config c;
	struct responder *r;
	char err[256];

	cr_assert_eq(refl_keys_load(KEYS, &g_keys, &g_nkeys, err, sizeof(err)), 0, "%s", err);
	refl_config_default(&c);
	c.nlisten = 1;
	run_addr(&c.listen[0], "127.0.0.1", 0);
	c.modes = modes;
	c.keys = g_keys;
	c.nkeys = g_nkeys;
	r = responder_start(&c);
	cr_assert_not_null(r);
	return r;
}

static void stop_secure(struct responder *r)
{
	responder_stop(r);
	refl_keys_free(g_keys, g_nkeys);
	g_keys = NULL;
}

static void params(struct session_params *p, unsigned port, uint32_t allowed, const char *keyid,
		   const uint8_t *secret, size_t secret_len)
{
	session_params_default(p);
	p->count = 20;
	p->interval = 2 * NS_PER_MS;
	p->loss_timeout = 500 * NS_PER_MS;
	p->ctl_timeout = 2 * NS_PER_SEC;
	run_addr(&p->server, "127.0.0.1", port);
	p->allowed_modes = allowed;
	snprintf(p->keyid, sizeof(p->keyid), "%s", keyid);
	p->secret = secret;
	p->secret_len = secret_len;
}

static void mode_ok(uint32_t mode, size_t want_len)
{
	struct responder *r = start_secure(0);
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	params(&p, responder_port(r, 0), mode, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s: %s", session_status_name(res.info->status),
		     res.info->error);
	cr_assert_eq(res.info->ctl_mode, mode);
	cr_assert_eq(res.sum.sent, 20);
	cr_assert_eq(res.sum.received, 20);
	cr_assert_eq(res.sum.lost, 0);
	cr_assert_eq(res.info->malformed, 0);
	cr_assert_eq(res.info->packet_len, want_len);
	cr_assert(res.sum.rtt.valid && res.sum.rtt.min > 0);
	responder_counters(r, &k);
	cr_assert_eq(k.malformed, 0);
	cr_assert_eq(k.protocol_errors, 0);
	cr_assert_eq(k.denied, 0);
	run_result_free(&res);
	stop_secure(r);
}

/* 42: DSCP and ECN monitoring (RFC 7750) adds its octet to the reflection */
Test(secure, open) { mode_ok(WIRE_MODE_OPEN, 42); }
Test(secure, authenticated) { mode_ok(WIRE_MODE_AUTH, 112); }
Test(secure, encrypted) { mode_ok(WIRE_MODE_ENCRYPTED, 112); }
Test(secure, mixed) { mode_ok(WIRE_MODE_MIXED, 42); }

Test(secure, client_prefers_strongest)
{
	struct responder *r = start_secure(WIRE_MODE_OPEN | WIRE_MODE_AUTH);
	struct session_params p;
	struct run_result res;

	params(&p, responder_port(r, 0), ALL_MODES, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->ctl_mode, WIRE_MODE_AUTH);
	cr_assert_eq(res.sum.received, 20);
	run_result_free(&res);
	stop_secure(r);
}

Test(secure, no_common_mode)
{
	struct responder *r = start_secure(WIRE_MODE_OPEN);
	struct session_params p;
	struct run_result res;

	params(&p, responder_port(r, 0), WIRE_MODE_AUTH, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_ERR_MODE);
	cr_assert(strstr(res.info->error, "unauthenticated") && strstr(res.info->error, "authenticated"), "%s",
		  res.info->error);
	run_result_free(&res);
	stop_secure(r);
}

static void denied(const char *keyid, const uint8_t *secret, size_t len)
{
	struct responder *r = start_secure(0);
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	params(&p, responder_port(r, 0), WIRE_MODE_ENCRYPTED, keyid, secret, len);
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_ERR_DENIED, "%s: %s",
		     session_status_name(res.info->status), res.info->error);
	cr_assert(strstr(res.info->error, "denied"), "%s", res.info->error);
	cr_assert_eq(res.sum.sent, 0);
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.denied)
			break;
		usleep(10000);
	}
	cr_assert_eq(k.denied, 1);
	cr_assert_eq(k.sessions, 0);
	run_result_free(&res);
	stop_secure(r);
}

Test(secure, wrong_secret)
{
	static const uint8_t wrong[16] = { 1 };

	denied("probe", wrong, sizeof(wrong));
}

Test(secure, unknown_keyid) { denied("nobody", PROBE_SECRET, sizeof(PROBE_SECRET)); }

/*
 * 58-octet authenticated packets (padding 10): answered with 112 octets, as
 * twampd does; the control peer asked for them, so nothing is amplified
 * toward a stranger.
 */
Test(secure, short_packets_padded)
{
	struct responder *r = start_secure(0);
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	params(&p, responder_port(r, 0), WIRE_MODE_AUTH, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	p.padding = 10;
	p.count = 5;
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->packet_len, 58);
	cr_assert_eq(res.sum.received, 5);
	cr_assert_eq(res.sum.lost, 0);
	responder_counters(r, &k);
	cr_assert_eq(k.malformed, 0);
	cr_assert_eq(k.reflected, 5);
	run_result_free(&res);
	stop_secure(r);
}

Test(secure, keys_file)
{
	struct refl_key *k;
	size_t n;
	char err[256];

	cr_assert_eq(refl_keys_load(KEYS, &k, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(k[0].keyid, "probe");
	cr_assert_eq(k[0].secret_len, 16);
	cr_assert_arr_eq(k[0].secret, PROBE_SECRET, 16);
	cr_assert_str_eq(k[1].keyid, "other");
	cr_assert_eq(k[1].secret_len, 20);
	refl_keys_free(k, n);
	cr_assert_eq(refl_keys_load("tests/data/keys/bad.pfs", &k, &n, err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 1"), "%s", err);
	cr_assert(!strstr(err, "0011223344"), "secret in the error: %s", err);
	cr_assert_eq(refl_keys_load("tests/data/keys/none.pfs", &k, &n, err, sizeof(err)), -1);
	cr_assert(strstr(err, "none.pfs"), "%s", err);
}

/*
 * A scripted TWAMP server in authenticated mode whose reflector flips one bit
 * of the HMAC of every other reflection: the client must count those
 * malformed and drop them.
 */
struct tamper {
	int lfd, ufd;
	uint16_t tport, uport;
	int reflected;
};

static int recv_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static void *tamper_thread(void *arg)
{
	struct tamper *t = arg;
	struct ctlchan ch;
	struct ctlchan_test tt;
	struct ctlchan_test_keys k;
	struct wire_server_start ss = { .accept = 0 };
	struct wire_accept_session as = { .accept = 0 };
	struct wire_start_ack ack = { .accept = 0 };
	uint8_t buf[256], sid[16] = { 0x7f, 0, 0, 1, 9, 9, 9, 9 };
	int fd = accept(t->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	ctlchan_init(&ch, CTLCHAN_SERVER);
	ctlchan_server_greeting(&ch, WIRE_MODE_AUTH, 1024, buf);
	send(fd, buf, WIRE_GREETING_LEN, MSG_NOSIGNAL);
	if (recv_all(fd, buf, WIRE_SETUP_LEN) < 0 ||
	    ctlchan_server_setup(&ch, buf, WIRE_SETUP_LEN, PROBE_SECRET, sizeof(PROBE_SECRET)) < 0)
		goto out;
	ss.start_time = ntptime_now();
	wire_encode_server_start(buf, &ss);
	ctlchan_server_start(&ch, buf, WIRE_SERVER_START_LEN, NULL);
	send(fd, buf, WIRE_SERVER_START_LEN, MSG_NOSIGNAL);
	if (recv_all(fd, buf, WIRE_REQUEST_LEN) < 0 || ctlchan_open(&ch, buf, WIRE_REQUEST_LEN) < 0)
		goto out;
	as.port = t->uport;
	memcpy(as.sid, sid, 16);
	wire_encode_accept_session(buf, &as);
	ctlchan_seal(&ch, buf, WIRE_ACCEPT_SESSION_LEN);
	send(fd, buf, WIRE_ACCEPT_SESSION_LEN, MSG_NOSIGNAL);
	if (recv_all(fd, buf, WIRE_START_SESSIONS_LEN) < 0 ||
	    ctlchan_open(&ch, buf, WIRE_START_SESSIONS_LEN) < 0)
		goto out;
	ctlchan_test_keys(&ch, sid, &k);
	ctlchan_test_init(&tt, WIRE_MODE_AUTH, &k);
	wire_encode_start_ack(buf, &ack);
	ctlchan_seal(&ch, buf, WIRE_START_ACK_LEN);
	send(fd, buf, WIRE_START_ACK_LEN, MSG_NOSIGNAL);
	for (;;) {
		struct pollfd pf = { .fd = t->ufd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct wire_test_reflect r = { .seq = (uint32_t)t->reflected };
		ssize_t n;

		if (poll(&pf, 1, 1000) <= 0)
			break;
		n = recvfrom(t->ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n < WIRE_TEST_AUTH_REFLECT_LEN ||
		    ctlchan_test_open(&tt, CTLCHAN_PKT_SENDER, buf, (size_t)n) < 0)
			continue;
		r.rx_ts = ntptime_now();
		wire_reflect_prepare_auth(buf, (size_t)n, &r);
		wire_reflect_stamp_auth(buf, ntptime_now());
		ctlchan_test_seal(&tt, CTLCHAN_PKT_REFLECT, buf, (size_t)n);
		if (t->reflected++ % 2 == 0)
			buf[WIRE_TEST_AUTH_REFLECT_HMAC + 3] ^= 0x10;
		sendto(t->ufd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
	}
	ctlchan_test_fini(&tt);
out:
	ctlchan_fini(&ch);
	close(fd);
	return NULL;
}

static int bound_socket(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		cr_assert_eq(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(secure, tampered_reflections_dropped, .timeout = 20)
{
	struct tamper t = { 0 };
	pthread_t th;
	struct session_params p;
	struct run_result res;

	t.lfd = bound_socket(SOCK_STREAM, &t.tport);
	t.ufd = bound_socket(SOCK_DGRAM, &t.uport);
	cr_assert_eq(pthread_create(&th, NULL, tamper_thread, &t), 0);
	params(&p, t.tport, WIRE_MODE_AUTH | WIRE_MODE_OPEN, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	p.count = 10;
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.info->ctl_mode, WIRE_MODE_AUTH);
	cr_assert_eq(res.sum.sent, 10);
	cr_assert_eq(res.sum.received, 5);
	cr_assert_eq(res.info->malformed, 5);
	pthread_join(th, NULL);
	cr_assert_eq(t.reflected, 10);
	run_result_free(&res);
	close(t.lfd);
	close(t.ufd);
}

/* A client whose Request-TW-Session arrives altered: the responder closes. */
Test(secure, tampered_control_message_closes, .timeout = 20)
{
	struct responder *r = start_secure(0);
	struct sockaddr_storage ss;
	struct ctlchan ch;
	struct wire_greeting g;
	struct wire_server_start st;
	struct wire_request rq = { .ipvn = 4, .sender_port = 9, .receiver_port = 9, .padding = 64 };
	struct refl_counters k;
	uint8_t buf[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	run_addr(&ss, "127.0.0.1", responder_port(r, 0));
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	ctlchan_init(&ch, CTLCHAN_CLIENT);
	cr_assert_eq(recv_all(fd, buf, WIRE_GREETING_LEN), 0);
	cr_assert_eq(wire_decode_greeting(buf, WIRE_GREETING_LEN, &g), 0);
	cr_assert_eq(g.modes, ALL_MODES | REFL_EXTENSIONS);
	cr_assert_eq(ctlchan_client_setup(&ch, &g, WIRE_MODE_ENCRYPTED, "probe", PROBE_SECRET,
					  sizeof(PROBE_SECRET), NULL, buf), 0);
	send(fd, buf, WIRE_SETUP_LEN, MSG_NOSIGNAL);
	cr_assert_eq(recv_all(fd, buf, WIRE_SERVER_START_LEN), 0);
	cr_assert_eq(ctlchan_client_server_start(&ch, buf, WIRE_SERVER_START_LEN), 0);
	cr_assert_eq(wire_decode_server_start(buf, WIRE_SERVER_START_LEN, &st), 0);
	cr_assert_eq(st.accept, 0);
	rq.start_time = ntptime_now();
	wire_encode_request(buf, &rq);
	cr_assert_eq(ctlchan_seal(&ch, buf, WIRE_REQUEST_LEN), 0);
	buf[WIRE_REQUEST_LEN - 1] ^= 1; /* the HMAC */
	send(fd, buf, WIRE_REQUEST_LEN, MSG_NOSIGNAL);
	cr_assert_eq(recv(fd, buf, sizeof(buf), 0), 0, "connection not closed");
	close(fd);
	ctlchan_fini(&ch);
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.protocol_errors)
			break;
		usleep(10000);
	}
	cr_assert_eq(k.protocol_errors, 1);
	cr_assert_eq(k.sessions, 0);
	stop_secure(r);
}

/* A client choosing a mode the greeting did not offer is disconnected. */
Test(secure, mode_not_offered_closes, .timeout = 20)
{
	struct responder *r = start_secure(WIRE_MODE_OPEN | WIRE_MODE_AUTH);
	struct sockaddr_storage ss;
	struct wire_setup su = { .mode = WIRE_MODE_ENCRYPTED };
	struct refl_counters k;
	uint8_t buf[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	run_addr(&ss, "127.0.0.1", responder_port(r, 0));
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	cr_assert_eq(recv_all(fd, buf, WIRE_GREETING_LEN), 0);
	cr_assert_eq(buf[15], (WIRE_MODE_OPEN | WIRE_MODE_AUTH | REFL_EXTENSIONS) & 0xff,
		     "greeting advertises exactly O and A, and the extensions");
	cr_assert_eq(buf[14], REFL_EXTENSIONS >> 8);
	snprintf((char *)su.keyid, sizeof(su.keyid), "probe");
	wire_encode_setup(buf, &su);
	send(fd, buf, WIRE_SETUP_LEN, MSG_NOSIGNAL);
	cr_assert_eq(recv(fd, buf, sizeof(buf), 0), 0, "connection not closed");
	close(fd);
	for (int i = 0; i < 100; i++) {
		responder_counters(r, &k);
		if (k.protocol_errors)
			break;
		usleep(10000);
	}
	cr_assert_eq(k.protocol_errors, 1);
	cr_assert_eq(k.denied, 0);
	stop_secure(r);
}

/*
 * Forged reflections (control mode): a responder that drops every test
 * packet (--loss 100) while forgers send well-formed reflections of every
 * sequence number to the client's test port, from another loopback address
 * and from another port of the server's address.  The session must report
 * every packet lost and count the forgeries as foreign.
 */
struct forger {
	struct sockaddr_storage to;       /* the client's test socket */
	const char *from[2];              /* source addresses; NULL: none */
	atomic_bool stop;
	unsigned sent;
};

static void *forger_thread(void *arg)
{
	struct forger *f = arg;
	int fds[2] = { -1, -1 };
	uint32_t seq = 0;

	for (int i = 0; i < 2 && f->from[i]; i++) {
		struct sockaddr_storage a;

		run_addr(&a, f->from[i], 0);
		fds[i] = socket(a.ss_family, SOCK_DGRAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, tsock_addr_len(&a)) < 0) {
			perror("forger bind");
			return NULL;
		}
	}
	while (!atomic_load(&f->stop)) {
		uint8_t buf[64] = { 0 };
		struct wire_test_reflect r = { .seq = seq, .sender_seq = seq % 20, .ttl_known = true,
					       .sender_ttl = 255 };
		size_t n;

		r.ts = r.rx_ts = r.sender_ts = ntptime_now() - NS_PER_MS;
		n = wire_encode_test_reflect(buf, sizeof(buf), WIRE_TEST_OPEN, &r);
		n += 1; /* the RFC 7750 DSCP/ECN octet, negotiated by default */
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0 &&
			    sendto(fds[i], buf, n, 0, (struct sockaddr *)&f->to, tsock_addr_len(&f->to)) > 0)
				f->sent++;
		seq++;
		usleep(500);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/* A UDP port free on addr just now (the client binds it next). */
static uint16_t free_udp_port(const char *addr)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int fd;
	uint16_t port;

	run_addr(&a, addr, 0);
	fd = socket(a.ss_family, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)), 0, "bind %s: %m", addr);
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = tsock_addr_port(&a);
	close(fd);
	return port;
}

static void forged(const char *listen, const char *server, const char *client_test,
		   const char *from1, const char *from2)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;
	struct forger f = { .from = { from1, from2 } };
	struct refl_counters k;
	pthread_t th;
	uint16_t port = free_udp_port(client_test);

	refl_config_default(&c);
	c.nlisten = 1;
	run_addr(&c.listen[0], listen, 0);
	c.imp.loss = 100;
	r = responder_start(&c);
	cr_assert_not_null(r);
	params(&p, 0, WIRE_MODE_OPEN, "", NULL, 0);
	run_addr(&p.server, server, responder_port(r, 0));
	p.count = 20;
	p.interval = 10 * NS_PER_MS;
	p.port_lo = p.port_hi = port;
	run_addr(&f.to, client_test, port);
	cr_assert_eq(pthread_create(&th, NULL, forger_thread, &f), 0);
	cr_assert_eq(run_session(&p, &res), 0);
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(tsock_addr_port(&res.info->local_test), port);
	cr_assert_gt(f.sent, 0);
	cr_assert_eq(res.sum.sent, 20);
	cr_assert_eq(res.sum.received, 0, "%u forged reflections accepted", res.sum.received);
	cr_assert_eq(res.sum.lost, 20);
	cr_assert(!res.sum.rtt.valid);
	cr_assert_gt(res.info->foreign, 0, "forgeries not counted");
	responder_counters(r, &k);
	cr_assert_eq(k.dropped_loss, 20);
	run_result_free(&res);
	responder_stop(r);
}

Test(secure, forged_reflections_ipv4, .timeout = 20)
{
	forged("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.5", "127.0.0.1");
}

Test(secure, forged_reflections_ipv6, .timeout = 20)
{
	forged("::1", "::1", "::1", "::1", NULL);
}

/* The server named as ::ffff:127.0.0.1: a dual-stack test socket sees mapped sources. */
Test(secure, forged_reflections_v4mapped, .timeout = 20)
{
	forged("127.0.0.1", "::ffff:127.0.0.1", "127.0.0.1", "127.0.0.5", "127.0.0.1");
}

/*
 * Hostile greetings: scripted TWAMP servers that offer the authenticated
 * mode with a large PBKDF2 Count, read the Set-Up-Response and close.
 */
struct greeter {
	int lfd;
	uint16_t port;
	uint32_t count;
	atomic_int setups;              /* Set-Up-Responses received */
};

static void *greeter_thread(void *arg)
{
	struct greeter *gr = arg;
	struct wire_greeting g = { .modes = WIRE_MODE_AUTH, .count = gr->count };
	uint8_t buf[WIRE_SETUP_LEN];
	int fd = accept(gr->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	memset(g.salt, 0x5a, sizeof(g.salt));
	memset(g.challenge, 0xa5, sizeof(g.challenge));
	wire_encode_greeting(buf, &g);
	send(fd, buf, WIRE_GREETING_LEN, MSG_NOSIGNAL);
	if (recv_all(fd, buf, WIRE_SETUP_LEN) == 0)
		atomic_fetch_add(&gr->setups, 1);
	close(fd);
	return NULL;
}

static void greeter_start(struct greeter *gr, uint32_t count, pthread_t *th)
{
	gr->count = count;
	atomic_init(&gr->setups, 0);
	gr->lfd = bound_socket(SOCK_STREAM, &gr->port);
	cr_assert_eq(pthread_create(th, NULL, greeter_thread, gr), 0);
}

static void greeter_stop(struct greeter *gr, pthread_t th)
{
	shutdown(gr->lfd, SHUT_RDWR); /* a greeter never connected to returns from accept */
	pthread_join(th, NULL);
	close(gr->lfd);
}

#define NHOSTILE 8

/*
 * Eight servers asking for 2^20 iterations (0.35 s of PBKDF2 each) while a
 * STAMP session runs on the same single worker: the derivations run off the
 * loop, so the STAMP session loses nothing and sends on time, and none of
 * them ran on the worker's thread (the calling thread: run_sessions).
 */
Test(secure, hostile_count_keeps_others_on_time, .timeout = 60)
{
	struct refl_config c;
	struct responder *r;
	struct greeter gr[NHOSTILE];
	pthread_t th[NHOSTILE];
	struct session_params p[1 + NHOSTILE];
	struct run_result res[1 + NHOSTILE];
	unsigned long kdf_all = crypto_kdf_runs(false), kdf_here = crypto_kdf_runs(true);

	refl_config_default(&c);
	c.nlight = 1;
	run_addr(&c.light[0], "127.0.0.1", 0);
	r = responder_start(&c);
	cr_assert_not_null(r);
	session_params_default(&p[0]);
	p[0].mode = SESSION_STAMP;
	run_addr(&p[0].server, "127.0.0.1", responder_light_port(r, 0));
	p[0].count = 200;
	p[0].interval = 10 * NS_PER_MS;
	p[0].loss_timeout = NS_PER_SEC;
	for (int i = 0; i < NHOSTILE; i++) {
		greeter_start(&gr[i], 1u << 20, &th[i]);
		params(&p[1 + i], gr[i].port, WIRE_MODE_AUTH, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
		p[1 + i].kdf_count_max = 1u << 20;
		p[1 + i].ctl_timeout = 40 * NS_PER_SEC; /* 8 x 0.35 s, one after the other, on a busy machine */
	}
	cr_assert_eq(run_sessions(p, 1 + NHOSTILE, res), 0);
	for (int i = 0; i < NHOSTILE; i++) {
		greeter_stop(&gr[i], th[i]);
		cr_assert_eq(atomic_load(&gr[i].setups), 1, "server %d got no Set-Up-Response", i);
		cr_assert_eq(res[1 + i].info->status, SESSION_ERR_CLOSED, "server %d: %s: %s", i,
			     session_status_name(res[1 + i].info->status), res[1 + i].info->error);
		cr_assert(strstr(res[1 + i].info->error, "Server-Start"), "%s", res[1 + i].info->error);
	}
	cr_assert_eq(res[0].info->status, SESSION_OK, "%s", res[0].info->error);
	cr_assert_eq(res[0].sum.sent, 200);
	cr_assert_eq(res[0].sum.lost, 0, "%u of 200 lost", res[0].sum.lost);
	cr_assert_lt(res[0].info->late_p99, 250 * NS_PER_MS, "send lateness p99 %.3f s",
		     ntptime_to_sec(res[0].info->late_p99));
	cr_assert_eq(crypto_kdf_runs(false) - kdf_all, NHOSTILE);
	cr_assert_eq(crypto_kdf_runs(true) - kdf_here, 0, "PBKDF2 ran on the worker's thread");
	for (int i = 0; i <= NHOSTILE; i++)
		run_result_free(&res[i]);
	responder_stop(r);
}

/* A Count above the cap is refused, naming both, before any derivation or Set-Up-Response. */
static void count_refused(uint32_t cap, uint32_t count)
{
	struct greeter gr;
	pthread_t th;
	struct session_params p;
	struct run_result res;
	char want[64];
	unsigned long kdf_all = crypto_kdf_runs(false);

	greeter_start(&gr, count, &th);
	params(&p, gr.port, WIRE_MODE_AUTH | WIRE_MODE_OPEN, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	if (cap)
		p.kdf_count_max = cap;
	cr_assert_eq(run_session(&p, &res), 0);
	greeter_stop(&gr, th);
	cr_assert_eq(res.info->status, SESSION_ERR_MODE, "%s: %s", session_status_name(res.info->status),
		     res.info->error);
	snprintf(want, sizeof(want), "asks for %u PBKDF2 iterations", count);
	cr_assert(strstr(res.info->error, want), "%s", res.info->error);
	snprintf(want, sizeof(want), "cap of %u", cap ? cap : SESSION_KDF_COUNT_DEFAULT);
	cr_assert(strstr(res.info->error, want), "%s", res.info->error);
	cr_assert_eq(atomic_load(&gr.setups), 0);
	cr_assert_eq(crypto_kdf_runs(false), kdf_all);
	run_result_free(&res);
}

Test(secure, count_over_default_cap_refused, .timeout = 20) { count_refused(0, 1u << 20); }
Test(secure, count_over_set_cap_refused, .timeout = 20) { count_refused(4096, 8192); }

/* A Count at the cap is derived (twampd's default, 2048, with the default cap). */
Test(secure, count_at_cap_derived, .timeout = 20)
{
	struct greeter gr;
	pthread_t th;
	struct session_params p;
	struct run_result res;

	greeter_start(&gr, SESSION_KDF_COUNT_DEFAULT, &th);
	params(&p, gr.port, WIRE_MODE_AUTH, "probe", PROBE_SECRET, sizeof(PROBE_SECRET));
	cr_assert_eq(run_session(&p, &res), 0);
	greeter_stop(&gr, th);
	cr_assert_eq(atomic_load(&gr.setups), 1);
	cr_assert_eq(res.info->status, SESSION_ERR_CLOSED, "%s", res.info->error);
	cr_assert(strstr(res.info->error, "Server-Start"), "%s", res.info->error);
	run_result_free(&res);
}
