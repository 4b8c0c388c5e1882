/*
 * session: one client measurement session (TWAMP with control, TWAMP Light or
 * STAMP), a state machine driven by its worker's event loop.
 *
 * DESIGN
 * A session is created and run on one worker thread, which alone touches it
 * until on_done() is called (on that thread).  Everything the per-packet path
 * needs is allocated at session_start(): the statistics slots for every
 * planned packet, the lateness log, the packet buffer with its padding
 * written once.  Sending a packet rewrites only the header.
 *
 * Control flow (RFC 5357 section 3, open mode):
 *   connect -> Server Greeting -> Set-Up-Response -> Server-Start
 *   -> Request-TW-Session -> Accept-Session -> Start-Sessions -> Start-Ack
 *   -> test packets (sent on absolute deadlines; replies read as they come)
 *   -> last send + loss timeout -> Stop-Sessions -> close.
 * Every control step has a timeout.  Light and STAMP skip the control part.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"
#include "wire.h"

struct worker;
struct session;
struct ctlchan_keys;

enum session_mode { SESSION_CONTROL, SESSION_LIGHT, SESSION_STAMP };

enum session_status {
	SESSION_OK = 0,
	SESSION_ERR_UNREACHABLE,  /* no route, host unreachable, name */
	SESSION_ERR_REFUSED,      /* TCP connection refused */
	SESSION_ERR_TIMEOUT,      /* a control step timed out */
	SESSION_ERR_MODE,         /* server offers no mode we allow */
	SESSION_ERR_DENIED,       /* Server-Start Accept != 0 */
	SESSION_ERR_SESSION,      /* Accept-Session or Start-Ack refused */
	SESSION_ERR_PROTOCOL,     /* malformed or unexpected control message */
	SESSION_ERR_CLOSED,       /* server closed the control connection early */
	SESSION_ERR_LOCAL,        /* a local resource failed (socket, memory) */
	SESSION_ERR_ABORTED,      /* stopped by session_abort() (shutdown) */
};

const char *session_status_name(enum session_status st);

#define SESSION_PADDING_DEFAULT UINT32_MAX
#define SESSION_MAX_STREAMS 8           /* test sessions on one control connection */
/*
 * Default cap of the greeting's PBKDF2 Count: what twampd sends unless its
 * pbkdf2_count is changed (owamp's _OWP_DEFAULT_PBKDF2_COUNT, 2048).
 */
#define SESSION_KDF_COUNT_DEFAULT 2048u

struct session_params {
	enum session_mode mode;
	struct sockaddr_storage server;   /* control server, or the reflector in light/stamp */
	struct sockaddr_storage local;    /* source address; family AF_UNSPEC = any */
	uint16_t port_lo, port_hi;        /* local test port range, 0-0 any */
	uint32_t count;                   /* packets */
	int64_t interval;                 /* mean ns between packets */
	bool exponential;                 /* exponential spacing (seeded) */
	uint32_t padding;                 /* octets after the sender header, or default */
	int dscp;                         /* 0..63 */
	int64_t loss_timeout;             /* ns */
	int64_t ctl_timeout;              /* ns, for each control step */
	bool zero_addr;                   /* -Z: zero addresses in Request-TW-Session */
	uint64_t seed;                    /* spacing and padding generator */
	uint16_t ssid;                    /* STAMP session id */
	bool user_timestamps;             /* never use kernel timestamps (for comparisons) */
	/*
	 * TWAMP-Control security: the modes we accept (bit set of WIRE_MODE_*;
	 * the strongest one the server also offers is used, in the order
	 * encrypted, authenticated, mixed, open).  Default: open only.  The
	 * keyed modes need keyid and secret (secret_len raw octets, owned by the
	 * caller, kept alive until on_done).  With the default padding, the
	 * authenticated and encrypted modes send 112-octet packets (48 + 64).
	 */
	uint32_t allowed_modes;
	/*
	 * Extensions (WIRE_MODE_* extension bits) to use when the server offers
	 * them; never sent otherwise.  Default: DSCP and ECN monitoring (RFC
	 * 7750) and individual session control (RFC 5938: Start-N-Sessions).  WIRE_MODE_REFLECT_OCTETS is asked for only with pad_reflect > 0,
	 * WIRE_MODE_SYMMETRICAL only with open test packets.  With the default
	 * padding, the packets grow to keep both directions the same size.
	 */
	uint32_t extensions;
	uint16_t pad_reflect;             /* RFC 6038 Length of Padding to Reflect */
	/*
	 * Largest Server Greeting Count (PBKDF2 iterations) we derive a key for;
	 * a greeting asking for more is refused (SESSION_ERR_MODE, the message
	 * names both).  Default SESSION_KDF_COUNT_DEFAULT, at most
	 * CTLCHAN_COUNT_MAX.  The derivation runs off the worker's loop.
	 */
	uint32_t kdf_count_max;
	/*
	 * Control mode: nstreams test sessions (1 by default) on the one
	 * control connection, all alike but for their DSCP: stream 0 uses dscp,
	 * stream i stream_dscp[i].  They start together (Start-N-Sessions when
	 * the server offers RFC 5938) and stop when the last has ended.  Each
	 * has its own results (session_stream()) and status: one the server
	 * refuses (Accept != 0) fails alone and the others run; when the server
	 * closes the connection at a request after accepting some, that one and
	 * the later ones fail (SESSION_ERR_CLOSED) and the accepted ones are
	 * asked for again on one new connection.  Stream 0's status is then its
	 * own: a caller looks at every stream.
	 */
	unsigned nstreams;
	int stream_dscp[SESSION_MAX_STREAMS];
	int ecn;                          /* ECN codepoint of our test packets, 0..3 */
	char keyid[80 + 1];
	const uint8_t *secret;
	size_t secret_len;
	/* tests replaying a capture: these session keys and Client-IV, not random ones */
	const struct ctlchan_keys *fixed_keys;
	/*
	 * Called once, on the worker thread, from inside one of the session's
	 * own callbacks: it must not free the session (defer session_free()
	 * to a later wk_submit() job, or to after the loop).
	 */
	void (*on_done)(struct session *s, void *ctx);
	void *ctx;
};

struct session_info {
	enum session_status status;
	char error[256];                  /* one line, when status != OK */
	uint8_t sid[16];
	bool have_sid;
	struct sockaddr_storage local_test, remote_test;  /* test endpoints */
	uint32_t padding;                 /* padding actually used */
	size_t packet_len;                /* sender packet length */
	int64_t start_time, end_time;     /* ns */
	uint32_t malformed;               /* replies dropped: wrong size or format */
	int64_t late_p50, late_p99, late_max;   /* send lateness, ns */
	uint32_t kernel_rx;               /* replies with a kernel RX timestamp (T4) */
	uint32_t kernel_tx;               /* packets whose T1 is the kernel's TX timestamp */
	uint32_t ts_rejected;             /* kernel timestamps implausibly far from user time */
	/*
	 * The wall clock stepped during the test (wall - monotonic moved more
	 * than NTP's slewing can, ntptime_stepped): delays are not comparable,
	 * report them as unknown (stats_summary_clock_stepped); loss stands.
	 */
	bool clock_stepped;
	uint32_t hw_tx, hw_rx;            /* of kernel_tx / kernel_rx: from the NIC's clock */
	uint32_t ctl_mode;                /* WIRE_MODE_* chosen at the greeting, 0 before */
	uint32_t ctl_ext;                 /* extension bits in use (offered and asked for) */
	uint32_t reflect_mismatch;        /* RFC 6038: reflections whose returned padding differs */
	/*
	 * Datagrams dropped unread because they did not come from the reflector:
	 * its address (the server's, IPv4-mapped or not) and the port of
	 * Accept-Session (light/STAMP: the server's port).
	 */
	uint32_t foreign;
	/*
	 * ICMP port unreachable messages about our test packets.  A light or
	 * STAMP session that draws one before any reflection came back ends at
	 * once, SESSION_ERR_REFUSED "nothing listening (ICMP port unreachable)":
	 * the UDP form of a refused TCP connection.  Later ones (a reflector
	 * that stopped mid-session) are only counted; the packets count as lost.
	 */
	uint32_t port_unreach;
};

/* "open", "authenticated", "encrypted", "mixed", or "none"/"several". */
const char *session_mode_name(uint32_t mode);
/*
 * The negotiated security of a session, as records, -M and --json name it:
 * "open", "authenticated", "encrypted" or "mixed"; light and STAMP are
 * "open" (they have no keyed mode here).  NULL for a control session that
 * ended before the Server Greeting chose a mode.
 */
const char *session_security_name(const struct session_info *in, enum session_mode mode);

/* Fill defaults: 100 packets, 0.1 s, 2 s loss timeout, 10 s control steps. */
void session_params_default(struct session_params *p);

/* Must be called on the worker's thread.  NULL on allocation failure. */
struct session *session_start(struct worker *wk, const struct session_params *p);
void session_free(struct session *s);
/* End a running session now (on_done follows, from the loop); no-op when done. */
void session_abort(struct session *s);
bool session_done(const struct session *s);

const struct session_info *session_info(const struct session *s);
const struct stats *session_stats(const struct session *s);
/*
 * stats_summarize() of the session's packets, delays marked unknown when the
 * wall clock stepped during it (info.clock_stepped).  0, or -1 (memory).
 */
int session_summarize(const struct session *s, struct stats_summary *out);
const struct session_params *session_params(const struct session *s);
/* Test sessions of s (1 + the further streams); stream 0 is s itself. */
unsigned session_nstreams(const struct session *s);
const struct session *session_stream(const struct session *s, unsigned i);

#endif
