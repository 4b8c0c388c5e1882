/*
 * TWAMP extensions, our client against our responder over real sockets:
 * RFC 7750 DSCP and ECN monitoring, RFC 6038 reflect octets and symmetrical
 * size, in every security mode, and what happens when the server does not
 * offer them.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ntptime.h"
#include "reflector.h"
#include "session.h"
#include "util/runsession.h"
#include "wire.h"

#define SECRET "extension test secret"

static struct refl_key g_key = { .keyid = "probe", .secret = SECRET, .secret_len = sizeof(SECRET) - 1 };

static struct responder *start(uint32_t extensions)
{
	struct refl_config c;
	struct responder *r;

	refl_config_default(&c);
	c.nlisten = 1;
	run_addr(&c.listen[0], "127.0.0.1", 0);
	c.extensions = extensions;
	c.keys = &g_key;
	c.nkeys = 1;
	r = responder_start(&c);
	cr_assert_not_null(r);
	return r;
}

static void params(struct session_params *p, struct responder *r, uint32_t mode, uint32_t ext)
{
	session_params_default(p);
	p->count = 20;
	p->interval = 2 * NS_PER_MS;
	p->loss_timeout = 500 * NS_PER_MS;
	p->ctl_timeout = 2 * NS_PER_SEC;
	run_addr(&p->server, "127.0.0.1", responder_port(r, 0));
	p->allowed_modes = mode;
	p->extensions = ext;
	snprintf(p->keyid, sizeof(p->keyid), "probe");
	p->secret = (const uint8_t *)SECRET;
	p->secret_len = sizeof(SECRET) - 1;
}

static void run_ok(struct session_params *p, struct run_result *res)
{
	cr_assert_eq(run_session(p, res), 0);
	cr_assert_eq(res->info->status, SESSION_OK, "%s: %s", session_status_name(res->info->status),
		     res->info->error);
	cr_assert_eq(res->sum.received, p->count);
	cr_assert_eq(res->info->malformed, 0);
}

static void malformed_none(struct responder *r)
{
	struct refl_counters k;

	responder_counters(r, &k);
	cr_assert_eq(k.malformed, 0, "the responder dropped %llu packets", (unsigned long long)k.malformed);
}

/* RFC 7750: the reflector reports the DS field it received, in every mode. */
static void dscp_ecn_in(uint32_t mode, size_t want_len)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, mode, WIRE_MODE_DSCP_ECN);
	p.dscp = 46;
	p.ecn = 1; /* ECT(1) */
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->packet_len, want_len);
	cr_assert_eq(res.sum.dscp_tx, 46);
	cr_assert_eq(res.sum.ecn_tx, 1);
	cr_assert_eq(res.sum.dscp_fwd, 46);
	cr_assert_eq(res.sum.dscp_bck, 46);
	cr_assert_eq(res.sum.ecn_fwd, 1);
	/* the reflector answers ECN-capable when we are */
	cr_assert_eq(res.sum.ecn_bck, 1);
	cr_assert_eq(res.sum.ce_fwd + res.sum.ce_bck, 0);
	cr_assert_eq(res.sum.dscp_changed_fwd + res.sum.dscp_changed_bck, 0);
	cr_assert(!res.sum.dscp_remarked);
	malformed_none(r);
	run_result_free(&res);
	responder_stop(r);
}

Test(ext, dscp_ecn_open, .timeout = 20) { dscp_ecn_in(WIRE_MODE_OPEN, 42); }
Test(ext, dscp_ecn_mixed, .timeout = 20) { dscp_ecn_in(WIRE_MODE_MIXED, 42); }
Test(ext, dscp_ecn_authenticated, .timeout = 20) { dscp_ecn_in(WIRE_MODE_AUTH, 112); }
Test(ext, dscp_ecn_encrypted, .timeout = 20) { dscp_ecn_in(WIRE_MODE_ENCRYPTED, 112); }

/* A server that offers no extension: none is asked for; we still see our own side. */
Test(ext, server_without_extensions, .timeout = 20)
{
	struct responder *r = start(0);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, REFL_EXTENSIONS);
	p.pad_reflect = 8;
	p.dscp = 10;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.info->packet_len, 41u);
	cr_assert_eq(res.sum.dscp_fwd, -1);
	cr_assert_eq(res.sum.ecn_fwd, -1);
	cr_assert_eq(res.sum.dscp_bck, 10);
	cr_assert(!res.sum.dscp_remarked);
	run_result_free(&res);
	responder_stop(r);
}

/* Only what is offered is used: here DSCP/ECN, though we want everything. */
Test(ext, only_offered_extensions_used, .timeout = 20)
{
	struct responder *r = start(WIRE_MODE_DSCP_ECN);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, REFL_EXTENSIONS);
	p.pad_reflect = 8;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->reflect_mismatch, 0);
	run_result_free(&res);
	responder_stop(r);
}

/* RFC 6038 reflect octets: the padding comes back, checked on every reflection. */
static void reflect_octets_in(uint32_t mode, uint32_t ext, size_t want_len)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, mode, ext | WIRE_MODE_REFLECT_OCTETS);
	p.pad_reflect = 24;
	run_ok(&p, &res);
	cr_assert(res.info->ctl_ext & WIRE_MODE_REFLECT_OCTETS);
	cr_assert_eq(res.info->packet_len, want_len);
	cr_assert_eq(res.info->reflect_mismatch, 0);
	malformed_none(r);
	run_result_free(&res);
	responder_stop(r);
}

Test(ext, reflect_octets_open, .timeout = 20) { reflect_octets_in(WIRE_MODE_OPEN, 0, 41 + 24); }
Test(ext, reflect_octets_open_dscp, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_OPEN, WIRE_MODE_DSCP_ECN, 42 + 24);
}
Test(ext, reflect_octets_symmetrical, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN, 42 + 24);
}
Test(ext, reflect_octets_authenticated, .timeout = 20) { reflect_octets_in(WIRE_MODE_AUTH, 0, 112 + 24); }
Test(ext, reflect_octets_encrypted, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_ENCRYPTED, WIRE_MODE_DSCP_ECN, 112 + 24);
}

/* Asking for more reflected padding than we send is refused, with a reason. */
Test(ext, reflect_more_than_padding_refused, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_REFLECT_OCTETS);
	p.padding = 30;
	p.pad_reflect = 100;
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_ERR_SESSION);
	cr_assert(strstr(res.info->error, "not supported"), "%s", res.info->error);
	run_result_free(&res);
	responder_stop(r);
}

/* RFC 6038 symmetrical size: MBZ up to the reflection's size, padding after it. */
Test(ext, symmetrical_size, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN);
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->packet_len, 42u);
	cr_assert_eq(res.info->padding, 0u);
	run_result_free(&res);

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL);
	p.padding = 100;
	run_ok(&p, &res);
	cr_assert_eq(res.info->packet_len, 141u);
	run_result_free(&res);
	malformed_none(r);
	responder_stop(r);
}

/* Symmetrical size is for open test packets: not used with authenticated ones. */
Test(ext, symmetrical_not_with_sealed_packets, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_AUTH, WIRE_MODE_SYMMETRICAL);
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.info->packet_len, 112u);
	run_result_free(&res);
	responder_stop(r);
}

/* A padding too short to carry the DSCP/ECN octet back: monitoring is not asked for. */
Test(ext, short_padding_drops_dscp_ecn, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_DSCP_ECN);
	p.padding = 27;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.sum.dscp_fwd, -1);
	cr_assert_eq(res.sum.dscp_bck, 0);
	run_result_free(&res);
	responder_stop(r);
}

/* ---- RFC 5938 individual session control, driven by hand ----------------- */

static void xsend(int fd, const uint8_t *b, size_t n)
{
	cr_assert_eq(send(fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void xrecv(int fd, uint8_t *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, b + got, n - got, 0);

		cr_assert_gt(k, 0, "control connection closed or timed out after %zu of %zu octets", got, n);
		got += (size_t)k;
	}
}

static int udp_sock(uint16_t *port)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	struct timeval tv = { .tv_usec = 200000 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	run_addr(&a, "127.0.0.1", 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(((struct sockaddr_in *)&a)->sin_port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One 41-octet test packet to the session's port: true when a reflection came back. */
static bool ping_once(int fd, uint16_t port, uint32_t seq)
{
	struct sockaddr_storage to;
	uint8_t pkt[64] = { 0 }, in[128];
	struct wire_test_sender h = { .seq = seq, .ts = ntptime_now(), .errest = 1 };

	run_addr(&to, "127.0.0.1", port);
	wire_encode_test_sender(pkt, sizeof(pkt), WIRE_TEST_OPEN, &h);
	sendto(fd, pkt, 41, 0, (struct sockaddr *)&to, sizeof(struct sockaddr_in));
	return recv(fd, in, sizeof(in), 0) == 41;
}

static void request(int cfd, uint16_t port, struct wire_accept_session *as)
{
	struct wire_request rq = { .ipvn = 4, .sender_port = port, .receiver_port = 0, .padding = 27,
				   .start_time = ntptime_now(), .timeout = NS_PER_SEC };
	uint8_t b[WIRE_REQUEST_LEN];

	wire_encode_request(b, &rq);
	xsend(cfd, b, sizeof(b));
	xrecv(cfd, b, WIRE_ACCEPT_SESSION_LEN);
	cr_assert_eq(wire_decode_accept_session(b, WIRE_ACCEPT_SESSION_LEN, as), 0);
	cr_assert_eq(as->accept, 0);
}

static uint8_t n_command(int cfd, uint8_t cmd, const uint8_t (*sids)[16], uint32_t n)
{
	struct wire_n_sessions m = { .cmd = cmd, .n = n }, ack;
	uint8_t b[wire_n_sessions_len(WIRE_N_MAX)];
	size_t len;

	memcpy(m.sids, sids, 16 * (size_t)n);
	len = wire_encode_n_sessions(b, sizeof(b), &m);
	cr_assert_eq(len, 32 + 16 * n);
	xsend(cfd, b, len);
	xrecv(cfd, b, len);
	cr_assert_eq(wire_decode_n_sessions(b, len, &ack), 0);
	cr_assert_eq(ack.cmd, cmd + 1);
	cr_assert_eq(ack.n, n);
	cr_assert_arr_eq(ack.sids, m.sids, 16 * (size_t)n, "the ack names the same SIDs");
	return ack.accept;
}

Test(ext, individual_session_control, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct sockaddr_storage ss;
	struct wire_greeting g;
	struct wire_setup su = { .mode = WIRE_MODE_OPEN | WIRE_MODE_INDIV_SESSION };
	struct wire_accept_session a1, a2, a3;
	struct refl_counters k;
	uint8_t b[256], sid[2][16];
	uint16_t p1, p2, p3;
	int cfd = socket(AF_INET, SOCK_STREAM, 0), u1 = udp_sock(&p1), u2 = udp_sock(&p2), u3 = udp_sock(&p3);
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	run_addr(&ss, "127.0.0.1", responder_port(r, 0));
	cr_assert_eq(connect(cfd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	xrecv(cfd, b, WIRE_GREETING_LEN);
	cr_assert_eq(wire_decode_greeting(b, WIRE_GREETING_LEN, &g), 0);
	cr_assert(g.modes & WIRE_MODE_INDIV_SESSION, "RFC 5938 offered");
	wire_encode_setup(b, &su);
	xsend(cfd, b, WIRE_SETUP_LEN);
	xrecv(cfd, b, WIRE_SERVER_START_LEN);
	cr_assert_eq(b[15], 0, "Server-Start accepts");

	request(cfd, p1, &a1);
	request(cfd, p2, &a2);
	memcpy(sid[0], a1.sid, 16);
	memcpy(sid[1], a2.sid, 16);

	/* start the first only: the second is not answered yet */
	cr_assert_eq(n_command(cfd, WIRE_CMD_START_N_SESSIONS, sid, 1), 0);
	cr_assert(ping_once(u1, a1.port, 0), "started session not reflected");
	cr_assert(!ping_once(u2, a2.port, 0), "a session not started was reflected");
	/* an unknown SID refuses the message and changes nothing */
	{
		uint8_t bogus[1][16] = { { 0xee } };

		cr_assert_eq(n_command(cfd, WIRE_CMD_START_N_SESSIONS, bogus, 1), WIRE_ACCEPT_FAILURE);
		cr_assert(!ping_once(u2, a2.port, 1));
	}
	/* stop the first (named twice: once is enough, nothing breaks), start the second */
	{
		uint8_t twice[2][16];

		memcpy(twice[0], sid[0], 16);
		memcpy(twice[1], sid[0], 16);
		cr_assert_eq(n_command(cfd, WIRE_CMD_STOP_N_SESSIONS, twice, 2), 0);
	}
	cr_assert(!ping_once(u1, a1.port, 1), "a stopped session still reflects");
	cr_assert_eq(n_command(cfd, WIRE_CMD_START_N_SESSIONS, sid + 1, 1), 0);
	cr_assert(ping_once(u2, a2.port, 2));
	/* a new session while another runs */
	request(cfd, p3, &a3);
	cr_assert_eq(n_command(cfd, WIRE_CMD_START_N_SESSIONS, (const uint8_t(*)[16])a3.sid, 1), 0);
	cr_assert(ping_once(u3, a3.port, 0));
	cr_assert(ping_once(u2, a2.port, 3));

	responder_counters(r, &k);
	cr_assert_eq(k.sessions, 3);
	cr_assert_eq(k.protocol_errors, 0);
	cr_assert_geq(k.early, 2);
	close(cfd);
	close(u1);
	close(u2);
	close(u3);
	responder_stop(r);
}

/* Without the bit negotiated, Start-N-Sessions is a protocol error. */
Test(ext, start_n_without_the_mode_closes, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct sockaddr_storage ss;
	struct wire_setup su = { .mode = WIRE_MODE_OPEN };
	struct wire_accept_session a1;
	struct wire_n_sessions m = { .cmd = WIRE_CMD_START_N_SESSIONS, .n = 1 };
	struct refl_counters k;
	uint8_t b[256];
	uint16_t p1;
	int cfd = socket(AF_INET, SOCK_STREAM, 0), u1 = udp_sock(&p1);
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	run_addr(&ss, "127.0.0.1", responder_port(r, 0));
	cr_assert_eq(connect(cfd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	xrecv(cfd, b, WIRE_GREETING_LEN);
	wire_encode_setup(b, &su);
	xsend(cfd, b, WIRE_SETUP_LEN);
	xrecv(cfd, b, WIRE_SERVER_START_LEN);
	request(cfd, p1, &a1);
	memcpy(m.sids[0], a1.sid, 16);
	xsend(cfd, b, wire_encode_n_sessions(b, sizeof(b), &m));
	cr_assert_eq(recv(cfd, b, sizeof(b), 0), 0, "connection not closed");
	responder_counters(r, &k);
	cr_assert_eq(k.protocol_errors, 1);
	close(cfd);
	close(u1);
	responder_stop(r);
}

/* ---- several test sessions on one control connection --------------------- */

static void streams_in(uint32_t mode, uint32_t offered, uint32_t want_ext)
{
	static const int dscps[] = { 46, 34, 0 };
	struct responder *r = start(offered);
	struct session_params p;
	struct run_result res;
	struct refl_counters k;

	params(&p, r, mode, WIRE_MODE_DSCP_ECN | WIRE_MODE_INDIV_SESSION);
	p.dscp = dscps[0];
	p.nstreams = 3;
	p.stream_dscp[1] = dscps[1];
	p.stream_dscp[2] = dscps[2];
	run_ok(&p, &res);
	cr_assert_eq(session_nstreams(res.s), 3u);
	for (unsigned i = 0; i < 3; i++) {
		const struct session *st = session_stream(res.s, i);
		const struct session_info *in = session_info(st);
		struct stats_summary sum;

		cr_assert_eq(in->status, SESSION_OK, "stream %u: %s", i, in->error);
		cr_assert_eq(in->ctl_ext, want_ext, "stream %u: extensions 0x%x", i, in->ctl_ext);
		cr_assert(in->have_sid);
		cr_assert_eq(stats_summarize(session_stats(st), &sum), 0);
		cr_assert_eq(sum.sent, p.count);
		cr_assert_eq(sum.received, p.count, "stream %u: %u of %u", i, sum.received, p.count);
		cr_assert_eq(sum.dscp_tx, dscps[i]);
		cr_assert_eq(sum.dscp_bck, dscps[i], "stream %u: reflected with DSCP %d", i, sum.dscp_bck);
		if (want_ext & WIRE_MODE_DSCP_ECN)
			cr_assert_eq(sum.dscp_fwd, dscps[i]);
		for (unsigned j = 0; j < i; j++)
			cr_assert(memcmp(in->sid, session_info(session_stream(res.s, j))->sid, 16),
				  "streams %u and %u share a SID", i, j);
	}
	responder_counters(r, &k);
	cr_assert_eq(k.sessions, 3, "%llu sessions at the responder", (unsigned long long)k.sessions);
	cr_assert_eq(k.connections, 1, "one control connection for the three");
	cr_assert_eq(k.protocol_errors, 0);
	cr_assert_eq(k.early, 0);
	run_result_free(&res);
	responder_stop(r);
}

/* RFC 5938 offered: Start-N-Sessions and Stop-N-Sessions name the three SIDs. */
Test(ext, three_dscp_classes_individual_control, .timeout = 30)
{
	streams_in(WIRE_MODE_OPEN, REFL_EXTENSIONS, WIRE_MODE_INDIV_SESSION | WIRE_MODE_DSCP_ECN);
}

/* Not offered: one Start-Sessions for all, Stop-Sessions with Number of Sessions 3. */
Test(ext, three_dscp_classes_classic_control, .timeout = 30) { streams_in(WIRE_MODE_OPEN, 0, 0); }

Test(ext, three_dscp_classes_encrypted, .timeout = 30)
{
	streams_in(WIRE_MODE_ENCRYPTED, REFL_EXTENSIONS, WIRE_MODE_INDIV_SESSION | WIRE_MODE_DSCP_ECN);
}

/*
 * The responder refuses the second session (one per client): the first still
 * runs and has its results; the second fails with the Accept code and its meaning.
 */
Test(ext, refused_stream_others_run, .timeout = 30)
{
	struct refl_config c;
	struct responder *r;
	struct session_params p;
	struct run_result res;

	refl_config_default(&c);
	c.nlisten = 1;
	run_addr(&c.listen[0], "127.0.0.1", 0);
	c.max_per_client = 1;
	r = responder_start(&c);
	cr_assert_not_null(r);
	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_DSCP_ECN | WIRE_MODE_INDIV_SESSION);
	p.nstreams = 2;
	p.stream_dscp[1] = 10;
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_OK, "%s", res.info->error);
	cr_assert_eq(res.sum.received, p.count);
	cr_assert_eq(session_info(session_stream(res.s, 1))->status, SESSION_ERR_SESSION);
	cr_assert(strstr(session_info(session_stream(res.s, 1))->error,
			 "server refused test session 2 of 2 (DSCP 10): Accept "),
		  "%s", session_info(session_stream(res.s, 1))->error);
	cr_assert_eq(session_stats(session_stream(res.s, 1))->sent, 0);
	run_result_free(&res);
	responder_stop(r);
}

/* Every security mode with and without each extension: all packets come back, nothing dropped. */
Test(ext, matrix_modes_by_extensions, .timeout = 60)
{
	static const uint32_t modes[] = { WIRE_MODE_OPEN, WIRE_MODE_AUTH, WIRE_MODE_ENCRYPTED, WIRE_MODE_MIXED };
	static const uint32_t exts[] = {
		0, WIRE_MODE_DSCP_ECN, WIRE_MODE_REFLECT_OCTETS, WIRE_MODE_SYMMETRICAL, WIRE_MODE_INDIV_SESSION,
		WIRE_MODE_DSCP_ECN | WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_SYMMETRICAL | WIRE_MODE_INDIV_SESSION,
	};
	struct responder *r = start(REFL_EXTENSIONS);

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
			struct session_params p;
			struct run_result res;
			uint32_t want = exts[e];

			params(&p, r, modes[m], exts[e]);
			p.count = 10;
			p.pad_reflect = 12;
			if (modes[m] == WIRE_MODE_AUTH || modes[m] == WIRE_MODE_ENCRYPTED)
				want &= ~WIRE_MODE_SYMMETRICAL;
			cr_assert_eq(run_session(&p, &res), 0);
			cr_assert_eq(res.info->status, SESSION_OK, "mode %u ext 0x%x: %s", modes[m], exts[e],
				     res.info->error);
			cr_assert_eq(res.info->ctl_ext, want, "mode %u ext 0x%x: got 0x%x", modes[m], exts[e],
				     res.info->ctl_ext);
			cr_assert_eq(res.sum.received, 10, "mode %u ext 0x%x", modes[m], exts[e]);
			cr_assert_eq(res.info->malformed + res.info->reflect_mismatch, 0);
			cr_assert_eq(res.sum.dscp_fwd >= 0, (want & WIRE_MODE_DSCP_ECN) != 0);
			run_result_free(&res);
		}
	malformed_none(r);
	responder_stop(r);
}
