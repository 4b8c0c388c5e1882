/*
 * wire: TWAMP-Control messages (RFC 5357 section 3, RFC 4656 section 3) and
 * TWAMP-Test / STAMP test packets (RFC 5357 section 4, RFC 8762), encoded and
 * decoded as pure functions over byte buffers: no sockets, no globals, no
 * allocation.  Unit tests and fuzzers drive these directly.
 *
 * Times in the structs are the internal type (int64 ns since the Unix epoch,
 * or ns durations); the NTP 32.32 format appears only inside wire.c.
 *
 * Every decoder takes (buf, len) and returns 0, or -1 when len is not what the
 * message needs or a field has a value the protocol forbids; it never reads
 * past len.  Decoders ignore MBZ fields (RFC 4656: "MBZ ... MUST be ignored
 * on receipt"), except where noted.  Encoders write exactly the message
 * length and return it.
 *
 * Control messages in the authenticated and encrypted modes carry the same
 * plaintext layout: encryption of the stream and HMAC computation belong to a
 * channel layer above this one (issue "security modes"); the HMAC fields are
 * carried through here untouched.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modes field bits (RFC 4656, RFC 5618) */
#define WIRE_MODE_OPEN 1u
#define WIRE_MODE_AUTH 2u
#define WIRE_MODE_ENCRYPTED 4u
#define WIRE_MODE_MIXED 8u
#define WIRE_MODE_SECURITY 15u          /* the four bits above: exactly one is chosen */
/* Extension bits, any subset of those offered (IANA TWAMP-Modes registry) */
#define WIRE_MODE_INDIV_SESSION 16u     /* RFC 5938 individual session control */
#define WIRE_MODE_REFLECT_OCTETS 32u    /* RFC 6038 reflect octets */
#define WIRE_MODE_SYMMETRICAL 64u       /* RFC 6038 symmetrical size sender format */
#define WIRE_MODE_DSCP_ECN 256u         /* RFC 7750 DSCP and ECN monitoring */

/* Control message lengths */
#define WIRE_GREETING_LEN 64
#define WIRE_SETUP_LEN 164
#define WIRE_SERVER_START_LEN 48
#define WIRE_REQUEST_LEN 112
#define WIRE_ACCEPT_SESSION_LEN 48
#define WIRE_START_SESSIONS_LEN 32
#define WIRE_START_ACK_LEN 32
#define WIRE_STOP_SESSIONS_LEN 32
#define WIRE_CONTROL_MAX_LEN 164

/* Command numbers (first octet of client commands after Server-Start) */
#define WIRE_CMD_START_SESSIONS 2
#define WIRE_CMD_STOP_SESSIONS 3
#define WIRE_CMD_REQUEST_TW_SESSION 5
/* RFC 5938 individual session control (with WIRE_MODE_INDIV_SESSION) */
#define WIRE_CMD_START_N_SESSIONS 7
#define WIRE_CMD_START_N_ACK 8
#define WIRE_CMD_STOP_N_SESSIONS 9
#define WIRE_CMD_STOP_N_ACK 10
#define WIRE_N_HDR_LEN 16               /* the block holding the command and the count */
#define WIRE_N_MAX 64                   /* SIDs in one message we build or accept */

/* Accept values, RFC 4656 section 3.3 */
enum wire_accept_code {
	WIRE_ACCEPT_OK = 0,
	WIRE_ACCEPT_FAILURE = 1,
	WIRE_ACCEPT_INTERNAL = 2,
	WIRE_ACCEPT_UNSUPPORTED = 3,
	WIRE_ACCEPT_PERMANENT_LIMIT = 4,
	WIRE_ACCEPT_TEMPORARY_LIMIT = 5,
};

/* Letters O, A, E, M (twping's -A) -> WIRE_MODE_* bits; -1 on any other character. */
int wire_parse_modes(const char *s, uint32_t *out);

/* A human sentence for an Accept value ("unknown Accept value" otherwise). */
const char *wire_accept_str(unsigned accept);

struct wire_greeting {          /* 64 octets, server -> client */
	uint32_t modes;             /* offset 12 */
	uint8_t challenge[16];      /* offset 16 */
	uint8_t salt[16];           /* offset 32 */
	uint32_t count;             /* offset 48 */
};

struct wire_setup {             /* Set-Up-Response, 164 octets */
	uint32_t mode;              /* offset 0 */
	uint8_t keyid[80];          /* offset 4 */
	uint8_t token[64];          /* offset 84 */
	uint8_t client_iv[16];      /* offset 148 */
};

struct wire_server_start {      /* 48 octets */
	uint8_t accept;             /* offset 15 (0..14 MBZ) */
	uint8_t server_iv[16];      /* offset 16 */
	int64_t start_time;         /* offset 32, NTP timestamp */
};

/* An address field of Request-TW-Session: 16 octets; IPv4 uses the first 4. */
struct wire_addr {
	uint8_t b[16];
};

struct wire_request {           /* Request-TW-Session, 112 octets */
	uint8_t ipvn;               /* offset 1, low nibble: 4 or 6 (0 allowed: unspecified) */
	uint8_t conf_sender;        /* offset 2, must be 0 in TWAMP */
	uint8_t conf_receiver;      /* offset 3, must be 0 in TWAMP */
	uint32_t schedule_slots;    /* offset 4 */
	uint32_t packets;           /* offset 8 */
	uint16_t sender_port;       /* offset 12 */
	uint16_t receiver_port;     /* offset 14 */
	struct wire_addr sender;    /* offset 16 */
	struct wire_addr receiver;  /* offset 32 */
	uint8_t sid[16];            /* offset 48 */
	uint32_t padding;           /* offset 64 */
	int64_t start_time;         /* offset 68, NTP timestamp (0 = "now", twampy) */
	int64_t timeout;            /* offset 76, NTP duration */
	uint32_t typep;             /* offset 84, Type-P descriptor */
	uint16_t octets_reflect;    /* offset 88, RFC 6038 Octets to be Reflected */
	uint16_t pad_reflect;       /* offset 90, RFC 6038 Length of Padding to Reflect */
	uint8_t hmac[16];           /* offset 96 (92..95 MBZ) */
};

struct wire_accept_session {    /* 48 octets */
	uint8_t accept;             /* offset 0 */
	uint16_t port;              /* offset 2 */
	uint8_t sid[16];            /* offset 4 */
	uint16_t reflected_octets;  /* offset 20, RFC 6038: the request's Octets to be Reflected */
	uint16_t server_octets;     /* offset 22, RFC 6038: octets the sender puts in its padding */
	uint8_t hmac[16];           /* offset 32 (24..31 MBZ) */
};

struct wire_start_sessions {    /* 32 octets: 2, MBZ(15), HMAC */
	uint8_t hmac[16];
};

struct wire_start_ack {         /* 32 octets: Accept, MBZ(15), HMAC */
	uint8_t accept;
	uint8_t hmac[16];
};

struct wire_stop_sessions {     /* 32 octets */
	uint8_t accept;             /* offset 1 */
	uint32_t nsessions;         /* offset 4 */
	uint8_t hmac[16];           /* offset 16 */
};

size_t wire_encode_greeting(uint8_t out[WIRE_GREETING_LEN], const struct wire_greeting *m);
int wire_decode_greeting(const uint8_t *buf, size_t len, struct wire_greeting *m);
size_t wire_encode_setup(uint8_t out[WIRE_SETUP_LEN], const struct wire_setup *m);
int wire_decode_setup(const uint8_t *buf, size_t len, struct wire_setup *m);
size_t wire_encode_server_start(uint8_t out[WIRE_SERVER_START_LEN], const struct wire_server_start *m);
int wire_decode_server_start(const uint8_t *buf, size_t len, struct wire_server_start *m);
/* Decoding fails when octet 0 is not 5. */
size_t wire_encode_request(uint8_t out[WIRE_REQUEST_LEN], const struct wire_request *m);
int wire_decode_request(const uint8_t *buf, size_t len, struct wire_request *m);
size_t wire_encode_accept_session(uint8_t out[WIRE_ACCEPT_SESSION_LEN], const struct wire_accept_session *m);
int wire_decode_accept_session(const uint8_t *buf, size_t len, struct wire_accept_session *m);
/* Decoding fails when octet 0 is not 2. */
size_t wire_encode_start_sessions(uint8_t out[WIRE_START_SESSIONS_LEN], const struct wire_start_sessions *m);
int wire_decode_start_sessions(const uint8_t *buf, size_t len, struct wire_start_sessions *m);
size_t wire_encode_start_ack(uint8_t out[WIRE_START_ACK_LEN], const struct wire_start_ack *m);
int wire_decode_start_ack(const uint8_t *buf, size_t len, struct wire_start_ack *m);
/* Decoding fails when octet 0 is not 3. */
size_t wire_encode_stop_sessions(uint8_t out[WIRE_STOP_SESSIONS_LEN], const struct wire_stop_sessions *m);
int wire_decode_stop_sessions(const uint8_t *buf, size_t len, struct wire_stop_sessions *m);

/*
 * RFC 5938 Start-N-Sessions (7), Start-N-Ack (8), Stop-N-Sessions (9) and
 * Stop-N-Ack (10): command, Accept (the acks; MBZ in the commands), MBZ up
 * to offset 12, Number of Sessions at offset 12, then that many SIDs, then
 * the HMAC: 32 + 16 * n octets, a whole number of AES blocks.
 */
struct wire_n_sessions {
	uint8_t cmd;
	uint8_t accept;
	uint32_t n;                 /* 1..WIRE_N_MAX */
	uint8_t sids[WIRE_N_MAX][16];
	uint8_t hmac[16];
};
static inline size_t wire_n_sessions_len(uint32_t n)
{
	return (size_t)2 * WIRE_N_HDR_LEN + (size_t)16 * n;
}
/* Returns the length written, 0 when n is out of range or cap too small. */
size_t wire_encode_n_sessions(uint8_t *out, size_t cap, const struct wire_n_sessions *m);
/* len must be exactly wire_n_sessions_len(n); cmd one of 7..10. */
int wire_decode_n_sessions(const uint8_t *buf, size_t len, struct wire_n_sessions *m);
/* The whole length from the first 16 octets, 0 when the count is 0 or above max. */
size_t wire_n_sessions_msg_len(const uint8_t hdr[WIRE_N_HDR_LEN], uint32_t max);

/*
 * Length of the client command whose first octet is cmd (2, 3 or 5), or 0
 * when cmd is no known command.  Lets a server read one command at a time.
 * For 7 and 9 (RFC 5938) it is the header block: the count in it gives the
 * rest (wire_n_sessions_msg_len).
 */
size_t wire_command_len(uint8_t cmd);

/* Type-P descriptor <-> DSCP (RFC 5357 section 3.5: first octet 00 + DSCP). */
uint32_t wire_typep_from_dscp(uint8_t dscp);
/* -1 when the descriptor is not of the DSCP form (top two bits not 00). */
int wire_typep_dscp(uint32_t typep);

/* ---- Test packets ---------------------------------------------------- */

enum wire_test_fmt {
	WIRE_TEST_OPEN,   /* TWAMP unauthenticated (also Mixed mode and TWAMP Light) */
	WIRE_TEST_STAMP,  /* STAMP unauthenticated, RFC 8762 section 4.2.1/4.3.1 */
};

/* Header lengths of unauthenticated packets. */
#define WIRE_TEST_SENDER_LEN 14         /* seq(4) ts(8) err(2) */
#define WIRE_TEST_REFLECT_LEN 41        /* RFC 5357 section 4.2.1 */
#define WIRE_TEST_REFLECT_SHORT_LEN 38  /* twampy light: no MBZ(2) + TTL(1) */
#define WIRE_STAMP_LEN 44               /* STAMP sender and reflector base */
#define WIRE_TEST_MAX_LEN 9000          /* largest test packet we build or accept */

struct wire_test_sender {
	uint32_t seq;      /* offset 0 */
	int64_t ts;        /* offset 4, NTP timestamp */
	uint16_t errest;   /* offset 12 */
	uint16_t ssid;     /* STAMP: offset 14; 0 in TWAMP */
};

struct wire_test_reflect {
	uint32_t seq;          /* offset 0: reflector's own sequence number */
	int64_t ts;            /* offset 4: T3 */
	uint16_t errest;       /* offset 12 */
	uint16_t ssid;         /* offset 14: STAMP SSID; MBZ in TWAMP */
	int64_t rx_ts;         /* offset 16: T2 */
	uint32_t sender_seq;   /* offset 24 */
	int64_t sender_ts;     /* offset 28: T1 as the sender wrote it */
	uint16_t sender_errest;/* offset 36 */
	uint8_t sender_ttl;    /* offset 40 (38..39 MBZ) */
	bool ttl_known;        /* false for a 38-octet (twampy light) reflection */
	/*
	 * Extensions a reflector applies in wire_reflect_prepare*() (zero: none);
	 * a decoder leaves them alone (see wire_test_layout for where to look).
	 */
	uint32_t ext;          /* WIRE_MODE_REFLECT_OCTETS | _SYMMETRICAL | _DSCP_ECN */
	uint8_t sender_tos;    /* RFC 7750: the DSCP and ECN octet as received */
	uint16_t pad_reflect;  /* RFC 6038: sender padding octets to return */
};

/*
 * Where things are in a TWAMP session's test packets once extensions are
 * negotiated (ext: the WIRE_MODE_* extension bits; sealed: authenticated or
 * encrypted test packets).
 *
 *   RFC 7750 puts the "Sender DSCP and ECN" octet right after the Sender TTL:
 *   offset 41 of the open reflection, whose fixed part grows to 42 octets;
 *   offset 81 of the 112-octet layout (in its MBZ, which keeps its size).
 *   RFC 6038 symmetrical size: the open sender packet has MBZ octets up to the
 *   reflection's fixed length, so both directions carry equal padding; it is
 *   defined here for open test packets only (sealed: no effect).
 *   RFC 6038 reflect octets: the reflector returns the first pad_reflect octets
 *   of the sender's padding at the start of its own padding.
 */
struct wire_test_layout {
	size_t snd_hdr;   /* sender fixed part (its padding starts here) */
	size_t refl_hdr;  /* reflector fixed part (its padding starts here) */
	size_t tos_off;   /* Sender DSCP and ECN octet, 0 when not negotiated */
};
void wire_test_layout(bool sealed, uint32_t ext, struct wire_test_layout *l);


/*
 * Sender header into buf (cap octets).  STAMP also zeroes octets 16..43, the
 * MBZ part of its base packet.  Padding octets after the header are the
 * caller's: it writes them once per session and only the header per packet.
 * Returns the header length (14, or 44 for STAMP), 0 when cap is too small.
 */
size_t wire_encode_test_sender(uint8_t *buf, size_t cap, enum wire_test_fmt fmt,
			       const struct wire_test_sender *m);
/* len >= 14 (TWAMP) or >= 44 (STAMP). */
int wire_decode_test_sender(const uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			    struct wire_test_sender *m);

/*
 * Reflector header into buf: 41 octets, or 44 for STAMP (octets 41..43 zero).
 * Octets 14..15 take m->ssid (give 0 in TWAMP).  The reflector may encode in
 * place over the received sender packet once it has decoded it: octets past
 * the header are left as they are.  Returns the header length, 0 if cap is
 * too small.
 */
size_t wire_encode_test_reflect(uint8_t *buf, size_t cap, enum wire_test_fmt fmt,
				const struct wire_test_reflect *m);
/*
 * TWAMP: len >= 41, or exactly 38 (ttl_known false).  STAMP: len >= 44.
 */
int wire_decode_test_reflect(const uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			     struct wire_test_reflect *m);

/*
 * The reflector's path: turn the sender packet in buf (len octets, at least
 * the reflector header: 41, or 44 for STAMP) into its reflection, in place.
 * The sender's Sequence Number, Timestamp and Error Estimate are moved as raw
 * octets, so the echo is exact (RFC 5357 section 4.2.1); the reflector's own
 * fields come from m (its sender_* fields and ts are ignored).  Octets past
 * the header stay as received.  T3 is written by wire_reflect_stamp() as late
 * as possible before the send.  Returns the header length, 0 if len is short.
 */
size_t wire_reflect_prepare(uint8_t *buf, size_t len, enum wire_test_fmt fmt,
			    const struct wire_test_reflect *m);
/*
 * With m->ext (TWAMP open format only; STAMP ignores it): the padding to
 * reflect is moved first (as much as fits in len: never a larger packet),
 * then the header, then the DSCP/ECN octet.  len must cover the fixed part
 * of the layout (42 with DSCP/ECN), else 0 is returned and buf is unchanged.
 */
void wire_reflect_stamp(uint8_t *buf, int64_t t3);

/* Minimum sender packet length that a reflector of fmt can answer at the same size. */
static inline size_t wire_test_min_sender_len(enum wire_test_fmt fmt)
{
	return fmt == WIRE_TEST_STAMP ? WIRE_STAMP_LEN : WIRE_TEST_REFLECT_LEN;
}

/* ---- Test packets, authenticated and encrypted modes ------------------ */

/*
 * RFC 4656 section 4.1.2 (sender) and RFC 5357 section 4.2.1 (reflector),
 * the layouts of the authenticated and encrypted modes (Mixed mode uses the
 * unauthenticated ones above).  Offsets, as in the owamp captures:
 *
 *   sender, 48 octets:  seq 0, MBZ 4..15, timestamp 16, error estimate 24,
 *                       MBZ 26..31, HMAC 32..47, then padding;
 *   reflector, 112:     seq 0, MBZ 4..15, timestamp (T3) 16, error estimate 24,
 *                       MBZ 26..31, receive timestamp (T2) 32, MBZ 40..47,
 *                       sender seq 48, MBZ 52..63, sender timestamp 64,
 *                       sender error estimate 72, MBZ 74..79, sender TTL 80,
 *                       MBZ 81..95, HMAC 96..111, then padding.
 *
 * These functions see plaintext only: encryption and the HMAC belong to
 * ctlchan (ctlchan_test_seal/open), which runs after the encoder and before
 * the decoder.  Encoders zero the MBZ octets and the HMAC field and leave the
 * octets past the base length (padding) as they are; they return the base
 * length, or 0 when cap is too small.  Decoders need len >= the base length
 * and set ssid 0 (and ttl_known true for the reflector).
 */
#define WIRE_TEST_AUTH_SENDER_LEN 48
#define WIRE_TEST_AUTH_REFLECT_LEN 112
#define WIRE_TEST_AUTH_SENDER_HMAC 32    /* offset of the HMAC field */
#define WIRE_TEST_AUTH_REFLECT_HMAC 96

size_t wire_encode_test_sender_auth(uint8_t *buf, size_t cap, const struct wire_test_sender *m);
int wire_decode_test_sender_auth(const uint8_t *buf, size_t len, struct wire_test_sender *m);
size_t wire_encode_test_reflect_auth(uint8_t *buf, size_t cap, const struct wire_test_reflect *m);
int wire_decode_test_reflect_auth(const uint8_t *buf, size_t len, struct wire_test_reflect *m);

/*
 * The reflector's in-place path for these layouts, as wire_reflect_prepare()
 * is for the open one: buf holds the received sender packet already opened
 * (plaintext), len >= 112.  The sender's Sequence Number, Timestamp and Error
 * Estimate move as raw octets to offsets 48, 64 and 72; the reflector's own
 * fields come from m (sender_* and ts ignored); octets past 112 stay as
 * received.  wire_reflect_stamp_auth() writes T3 (offset 16), before sealing.
 * Returns 112, or 0 when len is short.  m->ext as for wire_reflect_prepare().
 */
size_t wire_reflect_prepare_auth(uint8_t *buf, size_t len, const struct wire_test_reflect *m);
void wire_reflect_stamp_auth(uint8_t *buf, int64_t t3);

#endif
