/*
 * wire: the only place where TWAMP bytes and program values meet.
 *
 * Everything that crosses the network (TWAMP-Control over TCP, TWAMP-Test and
 * STAMP over UDP) is turned into plain structs here, and back, so that the
 * rest of the program never sees byte offsets, byte order or NTP 32.32 time.
 * Keeping this layer free of sockets, state and allocation is what lets the
 * unit tests replay captures of real peers and lets a fuzzer hammer it.
 *
 * Conventions chosen here (the header leaves them open):
 *  - control decoders accept len >= the message length and read only the
 *    message; a caller that reads one message at a time passes it exactly;
 *  - no decoder rejects a message for its MBZ octets, nor for values that
 *    the caller must answer rather than drop (Accept codes, Modes, Count,
 *    Conf-Sender/Receiver): those reach the caller as they came;
 *  - a Request-TW-Session Start Time of raw 0 means "now" (twampy sends it)
 *    and maps to start_time 0 in both directions;
 *  - the TWAMP-Test MBZ octets 14..15 decode as ssid 0 (STAMP gives the
 *    SSID there).
 * Times are converted through ntptime, so a value read from a peer and
 * written again can differ by up to 2 units of 2^-32 s (under 1 ns) in its
 * fraction: nanoseconds are coarser than the NTP fraction.  So an HMAC must
 * be checked over the received bytes, never over a re-encoding, and a
 * reflector's Sender Timestamp is a copy to within 1 ns, not bit for bit.
 */
#include "wire.h"

#include <string.h>

#include "ntptime.h"

static inline void put_u16(uint8_t *p, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	memcpy(p, b, sizeof(b));
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	memcpy(p, b, sizeof(b));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t get_u16(const uint8_t *p)
{
	uint8_t b[2];

	memcpy(b, p, sizeof(b));
	return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	uint8_t b[4];

	memcpy(b, p, sizeof(b));
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static inline void put_ts(uint8_t *p, int64_t ns)
{
	put_u64(p, ntptime_to_ntp(ns));
}

static inline int64_t get_ts(const uint8_t *p)
{
	return ntptime_from_ntp(get_u64(p));
}

const char *wire_accept_str(unsigned accept)
{
	switch (accept) {
	case WIRE_ACCEPT_OK:
		return "OK";
	case WIRE_ACCEPT_FAILURE:
		return "server refused (reason unspecified)";
	case WIRE_ACCEPT_INTERNAL:
		return "server internal error";
	case WIRE_ACCEPT_UNSUPPORTED:
		return "some aspect of the request is not supported";
	case WIRE_ACCEPT_PERMANENT_LIMIT:
		return "cannot perform the request due to permanent resource limitations";
	case WIRE_ACCEPT_TEMPORARY_LIMIT:
		return "cannot perform the request due to temporary resource limitations";
	default:
		return "unknown Accept value";
	}
}

/* ---- Control messages ------------------------------------------------ */

size_t wire_encode_greeting(uint8_t out[WIRE_GREETING_LEN], const struct wire_greeting *m)
{
	memset(out, 0, 12);
	put_u32(out + 12, m->modes);
	memcpy(out + 16, m->challenge, 16);
	memcpy(out + 32, m->salt, 16);
	put_u32(out + 48, m->count);
	memset(out + 52, 0, 12);
	return WIRE_GREETING_LEN;
}

int wire_decode_greeting(const uint8_t *buf, size_t len, struct wire_greeting *m)
{
	if (len < WIRE_GREETING_LEN)
		return -1;
	m->modes = get_u32(buf + 12);
	memcpy(m->challenge, buf + 16, 16);
	memcpy(m->salt, buf + 32, 16);
	m->count = get_u32(buf + 48);
	return 0;
}

size_t wire_encode_setup(uint8_t out[WIRE_SETUP_LEN], const struct wire_setup *m)
{
	put_u32(out, m->mode);
	memcpy(out + 4, m->keyid, 80);
	memcpy(out + 84, m->token, 64);
	memcpy(out + 148, m->client_iv, 16);
	return WIRE_SETUP_LEN;
}

int wire_decode_setup(const uint8_t *buf, size_t len, struct wire_setup *m)
{
	if (len < WIRE_SETUP_LEN)
		return -1;
	m->mode = get_u32(buf);
	memcpy(m->keyid, buf + 4, 80);
	memcpy(m->token, buf + 84, 64);
	memcpy(m->client_iv, buf + 148, 16);
	return 0;
}

size_t wire_encode_server_start(uint8_t out[WIRE_SERVER_START_LEN],
				const struct wire_server_start *m)
{
	memset(out, 0, 15);
	out[15] = m->accept;
	memcpy(out + 16, m->server_iv, 16);
	put_ts(out + 32, m->start_time);
	memset(out + 40, 0, 8);
	return WIRE_SERVER_START_LEN;
}

int wire_decode_server_start(const uint8_t *buf, size_t len, struct wire_server_start *m)
{
	if (len < WIRE_SERVER_START_LEN)
		return -1;
	m->accept = buf[15];
	memcpy(m->server_iv, buf + 16, 16);
	m->start_time = get_ts(buf + 32);
	return 0;
}

size_t wire_encode_request(uint8_t out[WIRE_REQUEST_LEN], const struct wire_request *m)
{
	out[0] = WIRE_CMD_REQUEST_TW_SESSION;
	out[1] = m->ipvn & 0x0f;
	out[2] = m->conf_sender;
	out[3] = m->conf_receiver;
	put_u32(out + 4, m->schedule_slots);
	put_u32(out + 8, m->packets);
	put_u16(out + 12, m->sender_port);
	put_u16(out + 14, m->receiver_port);
	memcpy(out + 16, m->sender.b, 16);
	memcpy(out + 32, m->receiver.b, 16);
	memcpy(out + 48, m->sid, 16);
	put_u32(out + 64, m->padding);
	/* raw 0 is "now": a real time that rounds to it (2036-02-07) goes one unit later */
	put_u64(out + 68, m->start_time ? ntptime_to_ntp(m->start_time) ?: 1 : 0);
	put_u64(out + 76, ntptime_dur_to_ntp(m->timeout));
	put_u32(out + 84, m->typep);
	put_u16(out + 88, m->octets_reflect);
	put_u16(out + 90, m->pad_reflect);
	memset(out + 92, 0, 4);
	memcpy(out + 96, m->hmac, 16);
	return WIRE_REQUEST_LEN;
}

int wire_decode_request(const uint8_t *buf, size_t len, struct wire_request *m)
{
	uint64_t start;
	uint8_t ipvn;

	if (len < WIRE_REQUEST_LEN || buf[0] != WIRE_CMD_REQUEST_TW_SESSION)
		return -1;
	ipvn = buf[1] & 0x0f; /* the high nibble is MBZ */
	if (ipvn != 0 && ipvn != 4 && ipvn != 6)
		return -1;
	m->ipvn = ipvn;
	m->conf_sender = buf[2];
	m->conf_receiver = buf[3];
	m->schedule_slots = get_u32(buf + 4);
	m->packets = get_u32(buf + 8);
	m->sender_port = get_u16(buf + 12);
	m->receiver_port = get_u16(buf + 14);
	memcpy(m->sender.b, buf + 16, 16);
	memcpy(m->receiver.b, buf + 32, 16);
	memcpy(m->sid, buf + 48, 16);
	m->padding = get_u32(buf + 64);
	start = get_u64(buf + 68);
	m->start_time = start ? ntptime_from_ntp(start) : 0;
	m->timeout = ntptime_dur_from_ntp(get_u64(buf + 76));
	m->typep = get_u32(buf + 84);
	m->octets_reflect = get_u16(buf + 88);
	m->pad_reflect = get_u16(buf + 90);
	memcpy(m->hmac, buf + 96, 16);
	return 0;
}

size_t wire_encode_accept_session(uint8_t out[WIRE_ACCEPT_SESSION_LEN],
				  const struct wire_accept_session *m)
{
	out[0] = m->accept;
	out[1] = 0;
	put_u16(out + 2, m->port);
	memcpy(out + 4, m->sid, 16);
	put_u16(out + 20, m->reflected_octets);
	put_u16(out + 22, m->server_octets);
	memset(out + 24, 0, 8);
	memcpy(out + 32, m->hmac, 16);
	return WIRE_ACCEPT_SESSION_LEN;
}

int wire_decode_accept_session(const uint8_t *buf, size_t len, struct wire_accept_session *m)
{
	if (len < WIRE_ACCEPT_SESSION_LEN)
		return -1;
	m->accept = buf[0];
	m->port = get_u16(buf + 2);
	memcpy(m->sid, buf + 4, 16);
	m->reflected_octets = get_u16(buf + 20);
	m->server_octets = get_u16(buf + 22);
	memcpy(m->hmac, buf + 32, 16);
	return 0;
}

size_t wire_encode_start_sessions(uint8_t out[WIRE_START_SESSIONS_LEN],
				  const struct wire_start_sessions *m)
{
	out[0] = WIRE_CMD_START_SESSIONS;
	memset(out + 1, 0, 15);
	memcpy(out + 16, m->hmac, 16);
	return WIRE_START_SESSIONS_LEN;
}

int wire_decode_start_sessions(const uint8_t *buf, size_t len, struct wire_start_sessions *m)
{
	if (len < WIRE_START_SESSIONS_LEN || buf[0] != WIRE_CMD_START_SESSIONS)
		return -1;
	memcpy(m->hmac, buf + 16, 16);
	return 0;
}

size_t wire_encode_start_ack(uint8_t out[WIRE_START_ACK_LEN], const struct wire_start_ack *m)
{
	out[0] = m->accept;
	memset(out + 1, 0, 15);
	memcpy(out + 16, m->hmac, 16);
	return WIRE_START_ACK_LEN;
}

int wire_decode_start_ack(const uint8_t *buf, size_t len, struct wire_start_ack *m)
{
	if (len < WIRE_START_ACK_LEN)
		return -1;
	m->accept = buf[0];
	memcpy(m->hmac, buf + 16, 16);
	return 0;
}

size_t wire_encode_stop_sessions(uint8_t out[WIRE_STOP_SESSIONS_LEN],
				 const struct wire_stop_sessions *m)
{
	out[0] = WIRE_CMD_STOP_SESSIONS;
	out[1] = m->accept;
	out[2] = 0;
	out[3] = 0;
	put_u32(out + 4, m->nsessions);
	memset(out + 8, 0, 8);
	memcpy(out + 16, m->hmac, 16);
	return WIRE_STOP_SESSIONS_LEN;
}

int wire_decode_stop_sessions(const uint8_t *buf, size_t len, struct wire_stop_sessions *m)
{
	if (len < WIRE_STOP_SESSIONS_LEN || buf[0] != WIRE_CMD_STOP_SESSIONS)
		return -1;
	m->accept = buf[1];
	m->nsessions = get_u32(buf + 4);
	memcpy(m->hmac, buf + 16, 16);
	return 0;
}

size_t wire_command_len(uint8_t cmd)
{
	switch (cmd) {
	case WIRE_CMD_START_SESSIONS:
		return WIRE_START_SESSIONS_LEN;
	case WIRE_CMD_STOP_SESSIONS:
		return WIRE_STOP_SESSIONS_LEN;
	case WIRE_CMD_REQUEST_TW_SESSION:
		return WIRE_REQUEST_LEN;
	case WIRE_CMD_START_N_SESSIONS:
	case WIRE_CMD_STOP_N_SESSIONS:
		return WIRE_N_HDR_LEN;
	default:
		return 0;
	}
}

size_t wire_encode_n_sessions(uint8_t *out, size_t cap, const struct wire_n_sessions *m)
{
	size_t len = wire_n_sessions_len(m->n);

	if (m->n == 0 || m->n > WIRE_N_MAX || cap < len)
		return 0;
	memset(out, 0, WIRE_N_HDR_LEN);
	out[0] = m->cmd;
	if (m->cmd == WIRE_CMD_START_N_ACK || m->cmd == WIRE_CMD_STOP_N_ACK)
		out[1] = m->accept;
	put_u32(out + 12, m->n);
	memcpy(out + WIRE_N_HDR_LEN, m->sids, 16 * (size_t)m->n);
	memcpy(out + len - 16, m->hmac, 16);
	return len;
}

size_t wire_n_sessions_msg_len(const uint8_t hdr[WIRE_N_HDR_LEN], uint32_t max)
{
	uint32_t n = get_u32(hdr + 12);

	if (n == 0 || n > max || n > WIRE_N_MAX)
		return 0;
	return wire_n_sessions_len(n);
}

int wire_decode_n_sessions(const uint8_t *buf, size_t len, struct wire_n_sessions *m)
{
	if (len < WIRE_N_HDR_LEN || buf[0] < WIRE_CMD_START_N_SESSIONS || buf[0] > WIRE_CMD_STOP_N_ACK)
		return -1;
	m->cmd = buf[0];
	m->n = get_u32(buf + 12);
	if (m->n == 0 || m->n > WIRE_N_MAX || len != wire_n_sessions_len(m->n))
		return -1;
	m->accept = (m->cmd == WIRE_CMD_START_N_ACK || m->cmd == WIRE_CMD_STOP_N_ACK) ? buf[1] : 0;
	memcpy(m->sids, buf + WIRE_N_HDR_LEN, 16 * (size_t)m->n);
	memcpy(m->hmac, buf + len - 16, 16);
	return 0;
}

uint32_t wire_typep_from_dscp(uint8_t dscp)
{
	return (uint32_t)(dscp & 0x3f) << 24;
}

int wire_typep_dscp(uint32_t typep)
{
	if (typep >> 30)
		return -1;
	return (int)((typep >> 24) & 0x3f);
}

/* ---- Test packets ---------------------------------------------------- */

size_t wire_encode_test_sender(uint8_t *buf, size_t cap, enum wire_test_fmt fmt,
			       const struct wire_test_sender *m)
{
	size_t hlen = fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_SENDER_LEN;

	if (cap < hlen)
		return 0;
	put_u32(buf, m->seq);
	put_ts(buf + 4, m->ts);
	put_u16(buf + 12, m->errest);
	if (fmt == WIRE_TEST_STAMP) {
		put_u16(buf + 14, m->ssid);
		memset(buf + 16, 0, WIRE_STAMP_LEN - 16);
	}
	return hlen;
}

int wire_decode_test_sender(const uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			    struct wire_test_sender *m)
{
	size_t hlen = fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_SENDER_LEN;

	if (len < hlen)
		return -1;
	m->seq = get_u32(buf);
	m->ts = get_ts(buf + 4);
	m->errest = get_u16(buf + 12);
	m->ssid = fmt == WIRE_TEST_STAMP ? get_u16(buf + 14) : 0;
	return 0;
}

size_t wire_encode_test_reflect(uint8_t *buf, size_t cap, enum wire_test_fmt fmt,
				const struct wire_test_reflect *m)
{
	size_t hlen = fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN;

	if (cap < hlen)
		return 0;
	/*
	 * Field by field from m only: buf may still hold the sender packet
	 * whose fields m was decoded from, and octets past hlen stay as they
	 * are (the reflector's padding).
	 */
	put_u32(buf, m->seq);
	put_ts(buf + 4, m->ts);
	put_u16(buf + 12, m->errest);
	put_u16(buf + 14, m->ssid);
	put_ts(buf + 16, m->rx_ts);
	put_u32(buf + 24, m->sender_seq);
	put_ts(buf + 28, m->sender_ts);
	put_u16(buf + 36, m->sender_errest);
	buf[38] = 0;
	buf[39] = 0;
	buf[40] = m->sender_ttl;
	if (fmt == WIRE_TEST_STAMP)
		memset(buf + 41, 0, WIRE_STAMP_LEN - 41);
	return hlen;
}

void wire_test_layout(bool sealed, uint32_t ext, struct wire_test_layout *l)
{
	if (sealed) {
		l->snd_hdr = WIRE_TEST_AUTH_SENDER_LEN;
		l->refl_hdr = WIRE_TEST_AUTH_REFLECT_LEN;
		l->tos_off = ext & WIRE_MODE_DSCP_ECN ? 81 : 0;
		return;
	}
	l->refl_hdr = WIRE_TEST_REFLECT_LEN + (ext & WIRE_MODE_DSCP_ECN ? 1 : 0);
	l->snd_hdr = ext & WIRE_MODE_SYMMETRICAL ? l->refl_hdr : WIRE_TEST_SENDER_LEN;
	l->tos_off = ext & WIRE_MODE_DSCP_ECN ? WIRE_TEST_REFLECT_LEN : 0;
}

/* RFC 6038: the first pad_reflect octets of the sender's padding to the start of ours. */
static void reflect_padding(uint8_t *buf, size_t len, const struct wire_test_layout *l,
			    uint16_t pad_reflect)
{
	size_t n = pad_reflect;

	if (len <= l->refl_hdr || l->snd_hdr == l->refl_hdr)
		return;
	if (n > len - l->refl_hdr)
		n = len - l->refl_hdr;
	memmove(buf + l->refl_hdr, buf + l->snd_hdr, n);
}

size_t wire_reflect_prepare(uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			    const struct wire_test_reflect *m)
{
	size_t hlen = fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN;
	struct wire_test_layout l;

	if (fmt != WIRE_TEST_STAMP && m->ext) {
		wire_test_layout(false, m->ext, &l);
		if (len < l.refl_hdr)
			return 0;
		if (m->ext & WIRE_MODE_REFLECT_OCTETS)
			reflect_padding(buf, len, &l, m->pad_reflect);
		if (l.tos_off)
			buf[l.tos_off] = m->sender_tos;
		hlen = l.refl_hdr;
	}
	if (len < hlen)
		return 0;
	/* sender seq, timestamp, error estimate: octets 0..13 -> 24..37, verbatim */
	memmove(buf + 24, buf, 14);
	put_u32(buf, m->seq);
	memset(buf + 4, 0, 8); /* T3: wire_reflect_stamp() */
	put_u16(buf + 12, m->errest);
	put_u16(buf + 14, m->ssid);
	put_ts(buf + 16, m->rx_ts);
	buf[38] = 0;
	buf[39] = 0;
	buf[40] = m->sender_ttl;
	if (fmt == WIRE_TEST_STAMP)
		memset(buf + 41, 0, WIRE_STAMP_LEN - 41);
	return hlen;
}

void wire_reflect_stamp(uint8_t *buf, int64_t t3)
{
	put_ts(buf + 4, t3);
}

int wire_decode_test_reflect(const uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			     struct wire_test_reflect *m)
{
	bool ttl_known;

	if (fmt == WIRE_TEST_STAMP) {
		if (len < WIRE_STAMP_LEN)
			return -1;
		ttl_known = true;
	} else if (len >= WIRE_TEST_REFLECT_LEN) {
		ttl_known = true;
	} else if (len == WIRE_TEST_REFLECT_SHORT_LEN) {
		ttl_known = false; /* twampy light: no MBZ(2) + TTL(1) */
	} else {
		return -1;
	}
	m->seq = get_u32(buf);
	m->ts = get_ts(buf + 4);
	m->errest = get_u16(buf + 12);
	m->ssid = fmt == WIRE_TEST_STAMP ? get_u16(buf + 14) : 0;
	m->rx_ts = get_ts(buf + 16);
	m->sender_seq = get_u32(buf + 24);
	m->sender_ts = get_ts(buf + 28);
	m->sender_errest = get_u16(buf + 36);
	m->sender_ttl = ttl_known ? buf[40] : 0;
	m->ttl_known = ttl_known;
	return 0;
}

/* ---- Test packets, authenticated and encrypted modes ------------------ */

/*
 * The plaintext layouts only; see wire.h for the offsets.  The MBZ runs sit
 * between 8-octet-aligned fields, which keeps these encoders to a few
 * stores and memsets.
 */

size_t wire_encode_test_sender_auth(uint8_t *buf, size_t cap, const struct wire_test_sender *m)
{
	if (cap < WIRE_TEST_AUTH_SENDER_LEN)
		return 0;
	put_u32(buf, m->seq);
	memset(buf + 4, 0, 12);
	put_ts(buf + 16, m->ts);
	put_u16(buf + 24, m->errest);
	memset(buf + 26, 0, 6);
	memset(buf + WIRE_TEST_AUTH_SENDER_HMAC, 0, 16);
	return WIRE_TEST_AUTH_SENDER_LEN;
}

int wire_decode_test_sender_auth(const uint8_t *buf, size_t len, struct wire_test_sender *m)
{
	if (len < WIRE_TEST_AUTH_SENDER_LEN)
		return -1;
	m->seq = get_u32(buf);
	m->ts = get_ts(buf + 16);
	m->errest = get_u16(buf + 24);
	m->ssid = 0;
	return 0;
}

/* Octets 0..47 of a reflector packet from m: own seq, T3, error estimate, T2. */
static void put_reflect_auth_own(uint8_t *buf, const struct wire_test_reflect *m)
{
	put_u32(buf, m->seq);
	memset(buf + 4, 0, 12);
	put_ts(buf + 16, m->ts);
	put_u16(buf + 24, m->errest);
	memset(buf + 26, 0, 6);
	put_ts(buf + 32, m->rx_ts);
	memset(buf + 40, 0, 8);
}

/* The MBZ octets of the sender half, the TTL and the HMAC field. */
static void put_reflect_auth_tail(uint8_t *buf, const struct wire_test_reflect *m)
{
	memset(buf + 52, 0, 12);
	memset(buf + 74, 0, 6);
	buf[80] = m->sender_ttl;
	memset(buf + 81, 0, 15);
	memset(buf + WIRE_TEST_AUTH_REFLECT_HMAC, 0, 16);
}

size_t wire_encode_test_reflect_auth(uint8_t *buf, size_t cap, const struct wire_test_reflect *m)
{
	if (cap < WIRE_TEST_AUTH_REFLECT_LEN)
		return 0;
	put_reflect_auth_own(buf, m);
	put_u32(buf + 48, m->sender_seq);
	put_ts(buf + 64, m->sender_ts);
	put_u16(buf + 72, m->sender_errest);
	put_reflect_auth_tail(buf, m);
	return WIRE_TEST_AUTH_REFLECT_LEN;
}

int wire_decode_test_reflect_auth(const uint8_t *buf, size_t len, struct wire_test_reflect *m)
{
	if (len < WIRE_TEST_AUTH_REFLECT_LEN)
		return -1;
	m->seq = get_u32(buf);
	m->ts = get_ts(buf + 16);
	m->errest = get_u16(buf + 24);
	m->ssid = 0;
	m->rx_ts = get_ts(buf + 32);
	m->sender_seq = get_u32(buf + 48);
	m->sender_ts = get_ts(buf + 64);
	m->sender_errest = get_u16(buf + 72);
	m->sender_ttl = buf[80];
	m->ttl_known = true;
	return 0;
}

size_t wire_reflect_prepare_auth(uint8_t *buf, size_t len, const struct wire_test_reflect *m)
{
	struct wire_test_layout l;

	if (len < WIRE_TEST_AUTH_REFLECT_LEN)
		return 0;
	wire_test_layout(true, m->ext, &l);
	if (m->ext & WIRE_MODE_REFLECT_OCTETS)
		reflect_padding(buf, len, &l, m->pad_reflect);
	/* sender fields first (they land in the sender's padding), verbatim */
	memmove(buf + 48, buf, 4);
	memmove(buf + 64, buf + 16, 8);
	memmove(buf + 72, buf + 24, 2);
	put_reflect_auth_own(buf, m);
	memset(buf + 16, 0, 8); /* T3: wire_reflect_stamp_auth() */
	put_reflect_auth_tail(buf, m);
	if (l.tos_off)
		buf[l.tos_off] = m->sender_tos;
	return WIRE_TEST_AUTH_REFLECT_LEN;
}

void wire_reflect_stamp_auth(uint8_t *buf, int64_t t3)
{
	put_ts(buf + 16, t3);
}

int wire_parse_modes(const char *s, uint32_t *out)
{
	uint32_t m = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		switch (*s) {
		case 'O': case 'o': m |= WIRE_MODE_OPEN; break;
		case 'A': case 'a': m |= WIRE_MODE_AUTH; break;
		case 'E': case 'e': m |= WIRE_MODE_ENCRYPTED; break;
		case 'M': case 'm': m |= WIRE_MODE_MIXED; break;
		default: return -1;
		}
	}
	*out = m;
	return 0;
}
