/*
 * reflector: the server side.  A TWAMP-Control server (open mode) with its
 * session reflectors, and TWAMP Light / STAMP reflectors on plain UDP ports.
 *
 * DESIGN
 * responder_start() opens the listening sockets and starts N workers.  Every
 * worker has its own SO_REUSEPORT listener on each control address and its
 * own SO_REUSEPORT socket on each light address, so the kernel spreads
 * connections and flows over the workers and no socket is shared between
 * threads.  A control connection and the test sessions it requests belong to
 * the worker that accepted it.  The only shared state is the session
 * accounting of sessions and control connections (atomic totals and a small
 * per-client table under a mutex, touched when a session or connection starts
 * or ends, never per packet) and the counters, which are per worker and summed
 * with relaxed loads.  Abuse: past --max-connections / --max-conn-per-client a
 * connection is closed as soon as it is accepted; accept() failing for lack of
 * descriptors pauses that listener for 100 ms (a level-triggered listener would
 * otherwise spin); at most 64 connections are accepted per wake-up.
 *
 * Test and light sockets are read in batches: up to 64 datagrams per
 * recvmmsg into buffers the worker allocated at start (tsock_batch), each
 * with its own kernel receive timestamp (T2) and destination address; the
 * reflections of a batch leave with one sendmmsg, each from the address its
 * packet was sent to, T3 read once right before that call.  A readable
 * socket gets at most four batches before the loop moves on.
 *
 * Each fixed port is first bound once without SO_REUSEPORT, as a test, so
 * that a port another program (or another responder) holds is an error and
 * not a silent share of its traffic.
 *
 * Forged datagrams: one whose source is a reflector port of this host (ours,
 * 862, or a light port another responder announced through an abstract
 * AF_UNIX name) on an address of this host is dropped, so it cannot loop;
 * the light sockets also rate-limit reflections per source address
 * (token buckets in a fixed table per worker).  Both are lookups in tables
 * the worker refreshes every 10 s, never a syscall per packet.
 *
 * A reflection is written in place over the received packet (the buffers
 * have room for the largest).  On light ports it is never larger than the
 * packet it answers (a forged source must not gain an amplifier), unless
 * --pad-short asks for 41 octets; a control session answers its control
 * peer only, so its short packets are padded to the reflection size, as
 * twampd does.  Light/STAMP reflections return the sender's Sequence Number
 * (RFC 8762 stateless mode) or, with --stateful, count per sender in a
 * fixed table per worker (seqmap); control sessions count per session (RFC
 * 5357 section 4.2.1).  Light/STAMP replies carry the DSCP received (or
 * --reflect-dscp) through a control message per datagram; control sessions
 * keep their Type-P DSCP on the socket.  Optional impairments (loss, delay, jitter,
 * duplication, reordering) draw from a seeded generator per worker, for tests
 * and benchmarks; delayed packets wait in a pool of slots preallocated at
 * start, so reflecting never allocates.
 */
#ifndef REFLECTOR_H
#define REFLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "keyfile.h"

#define REFL_MAX_ADDRS 8
#define REFL_CONN_SESSIONS 16   /* test sessions per control connection, by default (--max-per-connection) */


struct refl_impair {
	int64_t delay;        /* ns added to every reflection */
	int64_t jitter;       /* ns, uniform extra delay in [0, jitter] */
	double loss;          /* percent of test packets dropped */
	double duplicate;     /* percent of reflections sent twice */
	double reorder;       /* percent of reflections held back behind the next one */
	uint64_t seed;
};

struct refl_config {
	struct sockaddr_storage listen[REFL_MAX_ADDRS];
	int nlisten;
	struct sockaddr_storage light[REFL_MAX_ADDRS];
	int nlight;
	uint16_t port_lo, port_hi;     /* test ports; 0-0 any */
	unsigned max_sessions;         /* test sessions in all */
	unsigned max_per_client;       /* test sessions per client address */
	unsigned max_per_conn;         /* test sessions per control connection (1..64) */
	unsigned max_conns;            /* control connections in all */
	unsigned max_conns_per_client; /* control connections per client address */
	int64_t ctl_timeout;           /* ns between control messages before Start-Sessions */
	int64_t refwait;               /* ns without a test packet before a session is dropped */
	uint32_t greeting_count;       /* Count field of the Server Greeting (PBKDF2 count) */
	uint32_t modes;                /* WIRE_MODE_* offered; 0: open only without keys, all four with */
	uint32_t extensions;           /* extension bits offered (REFL_EXTENSIONS by default) */
	const struct refl_key *keys;   /* KeyID -> secret; copied by responder_start() */
	size_t nkeys;
	bool pad_short;                /* light: answer sender packets shorter than 41 octets with 41
					  (control sessions always do) */
	bool stateful;                 /* light/STAMP: Sequence Numbers per sender (RFC 8762 4.3) */
	unsigned stateful_entries;     /* senders remembered per worker (0: REFL_STATEFUL_ENTRIES) */
	bool reflect_dscp_set;         /* light/STAMP: reflect with reflect_dscp, not the DSCP received */
	uint8_t reflect_dscp;
	int nworkers;
	struct refl_impair imp;
	unsigned impair_slots;         /* delayed packets in flight per worker */
	unsigned rate_limit;           /* light/STAMP reflections/s per source address, per worker; 0 off */
	unsigned rate_burst;           /* ... of which this many may come at once */
};

/*
 * --rate-limit default: a hundred sessions at the original probe's 10
 * packets/s from one address, with a second of them at once.  Loopback
 * sources (benchmarks, tests) are never limited.
 */
#define REFL_RATE_LIMIT 1000
#define REFL_RATE_BURST 1000

/* --stateful: senders per worker (48 octets each, allocated at start) */
#define REFL_STATEFUL_ENTRIES 16384

/* What the responder implements of the extension bits: RFC 5938, 6038 and 7750. */
#define REFL_EXTENSIONS (WIRE_MODE_INDIV_SESSION | WIRE_MODE_REFLECT_OCTETS | WIRE_MODE_SYMMETRICAL | \
			 WIRE_MODE_DSCP_ECN)

struct refl_counters {
	uint64_t connections;        /* control connections accepted */
	uint64_t sessions;           /* test sessions accepted */
	uint64_t refused;            /* Request-TW-Session refused */
	uint64_t rx;                 /* test packets received */
	uint64_t reflected;          /* reflections sent (duplicates included) */
	uint64_t dropped_loss;       /* dropped by --loss */
	uint64_t duplicated;         /* extra copies sent by --duplicate */
	uint64_t reordered;          /* held back by --reorder */
	uint64_t malformed;          /* undersized, oversized or undecodable */
	uint64_t foreign;            /* from an address other than the control peer */
	uint64_t early;              /* before Start-Sessions */
	uint64_t slots_full;         /* impairment pool exhausted: sent at once */
	uint64_t protocol_errors;    /* control connections closed for bad input */
	uint64_t dscp_seen;          /* bit d set: a test packet arrived with DSCP d */
	uint64_t denied;             /* Set-Up-Response with an unknown KeyID or wrong secret */
	uint64_t conn_refused;       /* connections closed at once: --max-connections / --max-conn-per-client */
	uint64_t looped;             /* dropped: from a reflector port of this host (loop guard) */
	uint64_t rate_limited;       /* light/STAMP packets not answered: over --rate-limit */
	uint64_t seq_evicted;        /* --stateful: an active sender's counter dropped, the table full */
};

struct responder;

void refl_config_default(struct refl_config *c);
/* Opens every socket before it returns: NULL (reason logged) when one fails. */
struct responder *responder_start(const struct refl_config *c);
/* Actual port of control listener i / light socket i (useful with port 0). */
uint16_t responder_port(const struct responder *r, int i);
uint16_t responder_light_port(const struct responder *r, int i);
void responder_counters(const struct responder *r, struct refl_counters *out);
void responder_stop(struct responder *r);

#endif
