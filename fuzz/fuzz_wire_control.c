/*
 * fuzz_wire_control: the TWAMP-Control decoders of src/wire.c, both
 * directions (what a client reads: Server Greeting, Server-Start,
 * Accept-Session, Start-Ack; what a server reads: Set-Up-Response,
 * Request-TW-Session, Start-Sessions, Stop-Sessions) as plaintext -- the
 * layout is the same in every mode once ctlchan has decrypted it.
 *
 * Every decoder runs on the input at offset 0, with the input's length (too
 * short must fail, never read past it).  A message that decodes must
 * encode to its fixed length and decode again to the same struct (the
 * decoders ignore MBZ octets, so the octets may differ, the values not).
 * Then the input is walked as a server reads a command stream: first octet,
 * wire_command_len(), the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

/* decode -> encode -> decode must give the same struct */
#define ROUNDTRIP(type, name, LEN, buf, len)                                             \
	do {                                                                             \
		struct wire_##type a, b;                                                 \
		uint8_t out[LEN];                                                        \
		memset(&a, 0, sizeof(a));                                                \
		memset(&b, 0, sizeof(b));                                                \
		if (wire_decode_##name(buf, len, &a) < 0)                                \
			break;                                                           \
		if ((len) < (LEN))                                                       \
			fail(#name " accepted a short message");                         \
		if (wire_encode_##name(out, &a) != (LEN))                                \
			fail(#name " encoder gave the wrong length");                    \
		if (wire_decode_##name(out, sizeof(out), &b) < 0 || memcmp(&a, &b, sizeof(a))) \
			fail(#name " does not survive encode/decode");                  \
	} while (0)

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_wire_control: %s\n", what);
	abort();
}

static void decode_all(const uint8_t *buf, size_t len)
{
	ROUNDTRIP(greeting, greeting, WIRE_GREETING_LEN, buf, len);
	ROUNDTRIP(setup, setup, WIRE_SETUP_LEN, buf, len);
	ROUNDTRIP(server_start, server_start, WIRE_SERVER_START_LEN, buf, len);
	ROUNDTRIP(request, request, WIRE_REQUEST_LEN, buf, len);
	ROUNDTRIP(accept_session, accept_session, WIRE_ACCEPT_SESSION_LEN, buf, len);
	ROUNDTRIP(start_sessions, start_sessions, WIRE_START_SESSIONS_LEN, buf, len);
	ROUNDTRIP(start_ack, start_ack, WIRE_START_ACK_LEN, buf, len);
	ROUNDTRIP(stop_sessions, stop_sessions, WIRE_STOP_SESSIONS_LEN, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy, so that ASan sees any read past the end */
	uint8_t *copy = malloc(size ? size : 1);
	size_t off = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	decode_all(copy, size);
	free(copy);

	/* a server's command stream */
	while (off < size) {
		size_t len = wire_command_len(data[off]);
		uint8_t *msg;
		struct wire_request rq;
		int dscp;

		if (len == WIRE_N_HDR_LEN && size - off >= len) {
			/* RFC 5938 Start-N/Stop-N: the count in the header block gives the length */
			len = wire_n_sessions_msg_len(data + off, WIRE_N_MAX);
			if (!len)
				break; /* a server closes the connection */
		}
		if (!len || size - off < len)
			break;
		msg = malloc(len);
		if (!msg)
			return 0;
		memcpy(msg, data + off, len);
		switch (msg[0]) {
		case WIRE_CMD_REQUEST_TW_SESSION:
			ROUNDTRIP(request, request, WIRE_REQUEST_LEN, msg, len);
			if (wire_decode_request(msg, len, &rq) < 0)
				break; /* IPVN other than 0, 4, 6 */
			dscp = wire_typep_dscp(rq.typep);
			if (dscp > 63 || (dscp >= 0 && wire_typep_from_dscp((uint8_t)dscp) != (rq.typep & 0xff000000u)))
				fail("Type-P descriptor and DSCP disagree");
			break;
		case WIRE_CMD_START_SESSIONS:
			ROUNDTRIP(start_sessions, start_sessions, WIRE_START_SESSIONS_LEN, msg, len);
			break;
		case WIRE_CMD_STOP_SESSIONS:
			ROUNDTRIP(stop_sessions, stop_sessions, WIRE_STOP_SESSIONS_LEN, msg, len);
			break;
		case WIRE_CMD_START_N_SESSIONS:
		case WIRE_CMD_STOP_N_SESSIONS: {
			struct wire_n_sessions m;
			uint8_t *again = malloc(len);

			if (!again)
				break;
			if (wire_decode_n_sessions(msg, len, &m) < 0)
				fail("an N-sessions message of its own length does not decode");
			if (wire_encode_n_sessions(again, len, &m) != len || again[0] != msg[0] ||
			    memcmp(again + 12, msg + 12, len - 12))
				fail("N-sessions does not survive decode/encode");
			free(again);
			break;
		}
		default:
			fail("wire_command_len knows a command the server does not");
		}
		free(msg);
		off += len;
	}
	return 0;
}
