/*
 * reflector: TWAMP-Control server, session reflector, light/STAMP reflector.
 * Threading and ownership: see include/reflector.h (DESIGN).
 */
#include "reflector.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ifaddrs.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "ctlchan.h"
#include "log.h"
#include "ntptime.h"
#include "tsock.h"
#include "wire.h"
#include "rng.h"
#include "seqmap.h"
#include "worker.h"

#define CONN_MAX_SESSIONS 64     /* array size; the limit is cfg.max_per_conn */
#define ACCEPT_PAUSE (100 * NS_PER_MS)  /* listener rest after EMFILE and the like */
/* the longest command: Start-N/Stop-N-Sessions naming every session of a connection */
#define CONN_RBUF (2 * WIRE_N_HDR_LEN + 16 * CONN_MAX_SESSIONS)
_Static_assert(CONN_RBUF >= WIRE_CONTROL_MAX_LEN, "room for every fixed-size message");
#define SLOT_BUF 2048
#define CLIENT_BUCKETS 1024
#define REFL_BATCH 64      /* datagrams per recvmmsg / sendmmsg */
#define REFL_ROUNDS 4      /* batches per readable event: 256 datagrams, as one socket's share */
#define LOCAL_ADDRS 64     /* addresses of this host a worker knows (getifaddrs, every 10 s) */
#define RL_ENTRIES 4096    /* token buckets of the light rate limit, per worker (power of 2) */
#define REG_PREFIX "twamp-client/reflector/udp/"  /* abstract socket naming a reflector port */

struct rworker;
struct rconn;

/* One reflecting UDP socket: a test session of a control connection, or a light socket. */
struct rtest {
	struct wk_io io;
	struct rworker *rw;
	struct rconn *conn;            /* NULL for a light socket */
	struct sockaddr_storage peer;  /* control peer (address only) */
	uint32_t rseq;
	int64_t last_rx;               /* CLOCK_MONOTONIC: REFWAIT runs from here */
	unsigned pending;              /* impairment slots that still point here */
	bool dead;                     /* closed; freed when pending drops to 0 */
	bool counted;                  /* holds a place in the session accounting */
	struct slot *held;             /* --reorder: waiting for the next reflection */
	int64_t hold_max;              /* longest a held reflection waits */
	bool sealed;                   /* authenticated/encrypted test packets */
	struct ctlchan_test tt;        /* their keys (from the SID) */
	uint32_t ext;                  /* extensions of the session (RFC 6038, 7750) */
	uint8_t sid[16];               /* control sessions: their SID */
	bool started;                  /* Start-Sessions, or Start-N-Sessions naming it */
	uint16_t pad_reflect;          /* RFC 6038 Length of Padding to Reflect */
	int dscp;                      /* Type-P DSCP of the reflections */
	bool ecn_set;                  /* RFC 7750: the reply ECN follows the sender's */
	uint16_t port;                 /* our UDP port, counted in responder.udp_ports */
};

struct slot {
	struct wk_timer t;
	struct slot *next_free;
	struct rtest *rt;
	struct tsock_rx to;
	int tos;                       /* DS field octet of the reflection, -1: the socket's */
	size_t len;
	uint8_t buf[SLOT_BUF];
};

enum conn_state { C_SETUP, C_COMMAND, C_CLOSED };

struct rconn {
	struct wk_io io;
	struct rworker *rw;
	struct rconn *prev, *next;
	struct sockaddr_storage peer, local;   /* unmapped */
	enum conn_state state;
	bool started;
	bool counted;                  /* holds a place in the connection accounting */
	struct wk_timer timer;
	uint8_t rbuf[CONN_RBUF];
	size_t rlen, rneed;
	bool peeked;                   /* the first block of this command is decrypted */
	uint8_t wbuf[CONN_RBUF + 4 * WIRE_CONTROL_MAX_LEN];
	size_t wlen;
	struct rtest *tests[CONN_MAX_SESSIONS];
	int ntests;
	struct ctlchan ch;             /* control security; open mode: pass-through */
};

struct client_entry {
	struct client_entry *next;
	struct sockaddr_storage addr;
	unsigned sessions;
	unsigned conns;                /* control connections open */
};

struct rlistener {
	struct wk_io io;
	struct rworker *rw;
	struct wk_timer pause;         /* accept() ran out of descriptors: rest, then listen again */
};

/* One source address's reflections (light sockets): GCRA, tat is when its bucket is full again. */
struct rl_entry {
	uint8_t addr[16];              /* IPv4 as ::ffff:a.b.c.d */
	int64_t tat;                   /* CLOCK_MONOTONIC ns */
};

enum { REG_UNKNOWN, REG_NOT_OURS, REG_OURS };

struct rworker {
	struct responder *r;
	struct worker *wk;
	int id;
	struct rlistener listeners[REFL_MAX_ADDRS];
	struct rtest *lights[REFL_MAX_ADDRS];
	struct rconn *conns;
	uint64_t rng;
	struct ntptime_clock clk;
	struct wk_timer clk_timer;
	uint16_t next_port;
	struct slot *slots, *free_slots;
	struct tsock_batch *batch;     /* receive and reply buffers of every test socket */
	/* loop guard: this host's addresses, and what is known of other reflectors' ports */
	uint8_t local[LOCAL_ADDRS][16];
	int nlocal;
	uint8_t *reg_cache;            /* 65536 REG_*: a local port is another responder's reflector */
	int reg_fd;                    /* AF_UNIX datagram socket the look-ups connect with */
	struct rl_entry *rl;           /* RL_ENTRIES, when the rate limit is on */
	struct seqmap *seqs;           /* --stateful: light/STAMP Sequence Numbers per sender */
	int64_t mono;                  /* CLOCK_MONOTONIC of the batch being reflected */
	struct {
		_Atomic uint64_t connections, sessions, refused, rx, reflected, dropped_loss,
			duplicated, reordered, malformed, foreign, early, slots_full,
			protocol_errors, dscp_seen, denied, conn_refused, looped, rate_limited,
			seq_evicted;
	} c;
};

struct responder {
	struct refl_config cfg;
	struct refl_key *keys;         /* our copy of cfg.keys, wiped at stop */
	uint32_t modes;                /* offered in the greeting */
	bool impair;
	int64_t start_time;
	uint16_t ports[REFL_MAX_ADDRS], light_ports[REFL_MAX_ADDRS];
	struct rworker *w;
	int nw;
	_Atomic unsigned sessions;
	_Atomic unsigned conns;        /* control connections open */
	_Atomic uint16_t *udp_ports;   /* 65536: how many of our UDP sockets use each port */
	int reg_fd[REFL_MAX_ADDRS];    /* abstract sockets announcing our light ports */
	int64_t rl_interval;           /* ns per reflection at --rate-limit; 0 off */
	int64_t rl_slack;              /* (burst - 1) intervals */
	pthread_mutex_t clients_lock;
	struct client_entry *clients[CLIENT_BUCKETS];
};

#define COUNT(rw, field) atomic_fetch_add_explicit(&(rw)->c.field, 1, memory_order_relaxed)

void refl_config_default(struct refl_config *c)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_port = htons(862) };

	memset(c, 0, sizeof(*c));
	memcpy(&c->listen[0], &any, sizeof(any));
	c->max_sessions = 100000;
	c->max_per_client = 1000;
	c->max_conns = 50000;
	c->max_conns_per_client = 1000;
	c->max_per_conn = REFL_CONN_SESSIONS;
	c->ctl_timeout = 30 * NS_PER_SEC;
	c->refwait = 900 * NS_PER_SEC;   /* RFC 5357 REFWAIT default */
	c->greeting_count = 1024;
	c->nworkers = 1;
	c->impair_slots = 8192;
	c->extensions = REFL_EXTENSIONS;
	c->rate_limit = REFL_RATE_LIMIT;
	c->rate_burst = REFL_RATE_BURST;
}

/* ---- keys file -------------------------------------------------------- */

/* 0..15; the caller has checked c with isxdigit(), so never negative to shift */

/* true with probability pct percent */
static bool chance(struct rworker *rw, double pct)
{
	if (pct <= 0)
		return false;
	return (double)(rng_next(&rw->rng) >> 11) / 9007199254740992.0 * 100.0 < pct;
}

/* ---- session accounting (shared) ----------------------------------- */

static unsigned addr_hash(const struct sockaddr_storage *a)
{
	const uint8_t *p;
	size_t n;
	unsigned h = 2166136261u;

	if (a->ss_family == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
		n = 16;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		n = 4;
	}
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h % CLIENT_BUCKETS;
}

/* The client's entry, created when missing; under clients_lock.  NULL when out of memory. */
static struct client_entry *client_get(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry *e;
	unsigned h = addr_hash(peer);

	for (e = r->clients[h]; e; e = e->next)
		if (tsock_addr_equal(&e->addr, peer))
			return e;
	e = calloc(1, sizeof(*e));
	if (e) {
		e->addr = *peer;
		e->next = r->clients[h];
		r->clients[h] = e;
	}
	return e;
}

/* Free the client's entry once it holds nothing; under clients_lock. */
static void client_put(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry **pp, *e;

	for (pp = &r->clients[addr_hash(peer)]; (e = *pp); pp = &e->next) {
		if (tsock_addr_equal(&e->addr, peer)) {
			if (!e->sessions && !e->conns) {
				*pp = e->next;
				free(e);
			}
			return;
		}
	}
}

/*
 * Take a control connection place for the client: 0, or -1 when a limit
 * (--max-connections, --max-conn-per-client) is reached (logged, rate-limited).
 */
static int conn_account_take(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry *e;
	char a[INET6_ADDRSTRLEN];
	int rc = 0;

	if (atomic_fetch_add(&r->conns, 1) >= r->cfg.max_conns) {
		atomic_fetch_sub(&r->conns, 1);
		LOG_RL(LOGL_WARN, 10, "connection from %s refused: the limit of %u control connection%s is "
		       "reached (--max-connections)", tsock_addr_str(peer, a, sizeof(a)), r->cfg.max_conns,
		       log_s(r->cfg.max_conns));
		return -1;
	}
	pthread_mutex_lock(&r->clients_lock);
	e = client_get(r, peer);
	if (!e) {
		rc = -1;
	} else if (e->conns >= r->cfg.max_conns_per_client) {
		LOG_RL(LOGL_WARN, 10, "connection from %s refused: it has %u control connection%s "
		       "(--max-conn-per-client)", tsock_addr_str(peer, a, sizeof(a)), e->conns, log_s(e->conns));
		rc = -1;
	} else {
		e->conns++;
	}
	pthread_mutex_unlock(&r->clients_lock);
	if (rc < 0)
		atomic_fetch_sub(&r->conns, 1);
	return rc;
}

static void conn_account_release(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry *e;

	pthread_mutex_lock(&r->clients_lock);
	for (e = r->clients[addr_hash(peer)]; e; e = e->next)
		if (tsock_addr_equal(&e->addr, peer))
			break;
	if (e && e->conns) {
		e->conns--;
		client_put(r, peer);
	}
	pthread_mutex_unlock(&r->clients_lock);
	atomic_fetch_sub(&r->conns, 1);
}

/* Take a session place for the client: 0, or the Accept value to refuse with. */
static int account_take(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry *e;
	int rc = WIRE_ACCEPT_OK;

	if (atomic_fetch_add(&r->sessions, 1) >= r->cfg.max_sessions) {
		atomic_fetch_sub(&r->sessions, 1);
		LOG_RL(LOGL_WARN, 10, "session refused: the limit of %u session%s is reached",
		       r->cfg.max_sessions, log_s(r->cfg.max_sessions));
		return WIRE_ACCEPT_TEMPORARY_LIMIT;
	}
	pthread_mutex_lock(&r->clients_lock);
	e = client_get(r, peer);
	if (!e) {
		rc = WIRE_ACCEPT_INTERNAL;
	} else if (e->sessions >= r->cfg.max_per_client) {
		char a[INET6_ADDRSTRLEN];

		LOG_RL(LOGL_WARN, 10, "session refused: client %s has %u session%s (the per-client limit)",
		       tsock_addr_str(peer, a, sizeof(a)), e->sessions, log_s(e->sessions));
		rc = WIRE_ACCEPT_TEMPORARY_LIMIT;
	} else {
		e->sessions++;
	}
	if (e && rc != WIRE_ACCEPT_OK)
		client_put(r, peer);
	pthread_mutex_unlock(&r->clients_lock);
	if (rc != WIRE_ACCEPT_OK)
		atomic_fetch_sub(&r->sessions, 1);
	return rc;
}

static void account_release(struct responder *r, const struct sockaddr_storage *peer)
{
	struct client_entry **pp, *e;

	pthread_mutex_lock(&r->clients_lock);
	for (pp = &r->clients[addr_hash(peer)]; (e = *pp); pp = &e->next) {
		if (tsock_addr_equal(&e->addr, peer)) {
			if (e->sessions)
				e->sessions--;
			client_put(r, peer);
			break;
		}
	}
	pthread_mutex_unlock(&r->clients_lock);
	atomic_fetch_sub(&r->sessions, 1);
}

/* ---- loop guard and rate limit ---------------------------------------- */

/*
 * A forged datagram whose source is a reflector of this host (our own
 * socket, or another responder's light port) would be answered back and
 * forth for ever.  Such a datagram is dropped when its source port is one
 * of ours (responder.udp_ports: light ports, test session ports, the
 * control ports and 862), or a port another responder on this host
 * announced (an abstract AF_UNIX socket named REG_PREFIX<port>, looked up
 * once per port and remembered for 10 s), and its source address is this
 * host's: loopback, the datagram's own destination address, or one of the
 * addresses getifaddrs() gave at the last refresh (every 10 s).  No
 * syscall per packet: only a local source with a port not yet looked up
 * costs one connect().
 */

/* The address of ss as 16 octets, IPv4 as ::ffff:a.b.c.d; false for another family. */
static bool addr_key(const struct sockaddr_storage *ss, uint8_t k[16])
{
	if (ss->ss_family == AF_INET6) {
		memcpy(k, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	if (ss->ss_family == AF_INET) {
		memset(k, 0, 10);
		k[10] = k[11] = 0xff;
		memcpy(k + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return true;
	}
	return false;
}

static bool key_loopback(const uint8_t k[16])
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(k, v6lo, 16) || (!memcmp(k, mapped, 12) && k[12] == 127);
}

/* This host's addresses, for the loop guard; at start and every 10 s on the worker. */
static void local_refresh(struct rworker *rw)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa) < 0) {
		LOG_RL(LOGL_WARN, 60, "getifaddrs: %m: the loop guard knows only loopback and "
		       "destination addresses");
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (n == LOCAL_ADDRS) {
			LOG_RL(LOGL_WARN, 3600, "more than %d addresses on this host: the loop guard "
			       "knows the first %d", LOCAL_ADDRS, LOCAL_ADDRS);
			break;
		}
		{
			struct sockaddr_storage ss = { 0 };

			memcpy(&ss, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
										   : sizeof(struct sockaddr_in6));
			if (addr_key(&ss, rw->local[n]) && !key_loopback(rw->local[n]))
				n++;
		}
	}
	freeifaddrs(ifa);
	rw->nlocal = n;
}

static bool key_local(const struct rworker *rw, const uint8_t k[16], const struct tsock_rx *rx)
{
	uint8_t d[16];

	if (key_loopback(k))
		return true;
	if (addr_key(&rx->dst, d) && !memcmp(k, d, 16))
		return true;
	for (int i = 0; i < rw->nlocal; i++)
		if (!memcmp(k, rw->local[i], 16))
			return true;
	return false;
}

static void reg_name(struct sockaddr_un *un, socklen_t *len, uint16_t port)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	/* abstract: sun_path[0] is 0; the name lives in the network namespace, not the file system */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   (size_t)snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1, REG_PREFIX "%u", port));
}

/* Another responder on this host reflects on UDP port `port` (it announced it). */
static bool reg_lookup(struct rworker *rw, uint16_t port)
{
	struct sockaddr_un un;
	socklen_t len;

	if (rw->reg_cache[port] != REG_UNKNOWN)
		return rw->reg_cache[port] == REG_OURS;
	if (rw->reg_fd < 0)
		return false;
	reg_name(&un, &len, port);
	rw->reg_cache[port] = connect(rw->reg_fd, (struct sockaddr *)&un, len) == 0 ? REG_OURS : REG_NOT_OURS;
	return rw->reg_cache[port] == REG_OURS;
}

/* The datagram comes from a reflector of this host: answering it could start a loop. */
static bool from_reflector(struct rworker *rw, const uint8_t k[16], uint16_t sport, const struct tsock_rx *rx)
{
	if (!key_local(rw, k, rx))
		return false;
	return atomic_load_explicit(&rw->r->udp_ports[sport], memory_order_relaxed) || reg_lookup(rw, sport);
}

static void udp_port_hold(struct responder *r, uint16_t port, int delta)
{
	atomic_fetch_add_explicit(&r->udp_ports[port], (uint16_t)delta, memory_order_relaxed);
}

/*
 * --rate-limit: reflections per source address on the light sockets, a
 * token bucket per address (GCRA) in a fixed table per worker.  An address
 * whose slot another holds takes it over when the other's bucket is full
 * again (idle), and shares it otherwise, so a flood never escapes its
 * limit by colliding.  Loopback sources are not limited: they come from
 * this host, and the loop guard handles the loops among them.
 */
static bool rate_ok(struct rworker *rw, const uint8_t k[16])
{
	const struct responder *r = rw->r;
	struct rl_entry *e;
	int64_t now = rw->mono, tat;
	unsigned h = 2166136261u;

	if (!rw->rl || key_loopback(k))
		return true;
	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	e = &rw->rl[h & (RL_ENTRIES - 1)];
	if (memcmp(e->addr, k, 16) != 0 && e->tat <= now) {
		memcpy(e->addr, k, 16);
		e->tat = now;
	}
	tat = e->tat > now ? e->tat : now;
	if (tat - now > r->rl_slack)
		return false;
	e->tat = tat + r->rl_interval;
	return true;
}

/* ---- reflecting ------------------------------------------------------ */

static void rtest_free(struct rtest *rt)
{
	ctlchan_test_fini(&rt->tt);
	free(rt);
}

static void rtest_close(struct rtest *rt)
{
	struct rworker *rw = rt->rw;

	if (rt->dead)
		return;
	rt->dead = true;
	if (rt->io.fd >= 0) {
		udp_port_hold(rw->r, rt->port, -1);
		wk_del_io(rw->wk, &rt->io);
		close(rt->io.fd);
		rt->io.fd = -1;
	}
	if (rt->counted)
		account_release(rw->r, &rt->peer);
	if (!rt->pending)
		rtest_free(rt);
}

/* A prepared reflection: stamp T3 as late as possible and send. */
static void emit(struct rworker *rw, struct rtest *rt, uint8_t *buf, size_t len,
		 const struct tsock_rx *to, int tos)
{
	if (rt->sealed) {
		wire_reflect_stamp_auth(buf, ntptime_now());
		if (ctlchan_test_seal(&rt->tt, CTLCHAN_PKT_REFLECT, buf, len) < 0) {
			LOG_RL(LOGL_WARN, 10, "reflection not sealed: dropped");
			return;
		}
	} else {
		wire_reflect_stamp(buf, ntptime_now());
	}
	if (tsock_reply_tos(rt->io.fd, buf, len, to, tos) < 0)
		LOG_RL(LOGL_WARN, 10, "reflection not sent: %m");
	else
		COUNT(rw, reflected);
}

static void slot_release(struct rworker *rw, struct slot *sl)
{
	struct rtest *rt = sl->rt;

	if (rt->held == sl)
		rt->held = NULL;
	sl->rt = NULL;
	sl->next_free = rw->free_slots;
	rw->free_slots = sl;
	if (--rt->pending == 0 && rt->dead)
		rtest_free(rt);
}

static void slot_cb(struct wk_timer *t)
{
	struct slot *sl = (struct slot *)((char *)t - offsetof(struct slot, t));
	struct rworker *rw = sl->rt->rw;

	if (!sl->rt->dead)
		emit(rw, sl->rt, sl->buf, sl->len, &sl->to, sl->tos);
	slot_release(rw, sl);
}

/* Put a reflection in the impairment pool, due at `due`.  NULL when the pool is empty. */
static struct slot *slot_queue(struct rworker *rw, struct rtest *rt, const uint8_t *buf, size_t len,
			       const struct tsock_rx *to, int tos, int64_t due)
{
	struct slot *sl = rw->free_slots;

	if (!sl || len > SLOT_BUF)
		return NULL;
	rw->free_slots = sl->next_free;
	sl->rt = rt;
	sl->to = *to;
	sl->tos = tos;
	sl->len = len;
	memcpy(sl->buf, buf, len);
	rt->pending++;
	wk_timer_arm(rw->wk, &sl->t, due);
	return sl;
}

/*
 * --delay/--jitter emulate a longer forward path: T2 is stamped as if the
 * packet had arrived that much later, so the delay shows in the forward and
 * round-trip times and not as reflector processing time.
 */
static int64_t impair_delay(struct rworker *rw)
{
	const struct refl_impair *imp = &rw->r->cfg.imp;
	int64_t d = imp->delay;

	if (imp->jitter > 0)
		d += (int64_t)(rng_next(&rw->rng) % (uint64_t)(imp->jitter + 1));
	return d;
}

static void reflect_impaired(struct rworker *rw, struct rtest *rt, uint8_t *buf, size_t len,
			     int64_t t2, const struct tsock_rx *to, int tos)
{
	const struct refl_impair *imp = &rw->r->cfg.imp;
	int64_t due = ntptime_mono_deadline(t2);  /* T2 is wall time, timers monotonic */
	int copies = chance(rw, imp->duplicate) ? 2 : 1;
	struct slot *sl = NULL;

	if (copies == 2)
		COUNT(rw, duplicated);
	for (int i = 0; i < copies; i++) {
		sl = slot_queue(rw, rt, buf, len, to, tos, due + i);
		if (!sl) {
			COUNT(rw, slots_full);
			emit(rw, rt, buf, len, to, tos);
		}
	}
	/* a packet held back by --reorder leaves right after this one */
	if (rt->held) {
		struct slot *h = rt->held;

		rt->held = NULL;
		wk_timer_arm(rw->wk, &h->t, due + copies);
		return; /* never hold two in a row: each hold is one reordering */
	}
	if (sl && copies == 1 && chance(rw, imp->reorder)) {
		/* hold this one until the next reflection, or half the session's timeout */
		COUNT(rw, reordered);
		rt->held = sl;
		wk_timer_arm(rw->wk, &sl->t, due + rt->hold_max);
	}
}

/* Light sockets see TWAMP Light and STAMP: STAMP's octets 16..43 are MBZ. */
/*
 * RFC 7750: send the reflections ECN-capable when the sender's packets are,
 * so that congestion marks on the way back show too.  Once per session (the
 * first ECN-capable packet decides), on the session's own socket; a CE mark
 * on the way in is answered with ECT(0).
 */
static void rtest_follow_ecn(struct rtest *rt, int ecn)
{
	rt->ecn_set = true;
	if (ecn == 3)
		ecn = 2;
	if (tsock_set_tos(rt->io.fd, rt->peer.ss_family, (rt->dscp << 2) | ecn) < 0)
		LOG_RL(LOGL_WARN, 10, "cannot set ECN on a session socket: %m");
}

static enum wire_test_fmt guess_fmt(const uint8_t *buf, size_t len)
{
	if (len < WIRE_STAMP_LEN)
		return WIRE_TEST_OPEN;
	for (size_t i = 16; i < WIRE_STAMP_LEN; i++)
		if (buf[i])
			return WIRE_TEST_OPEN;
	return WIRE_TEST_STAMP;
}

/*
 * The shortest sender packet answered at its own size: the session's
 * reflection header (41 octets, 42 with RFC 7750 DSCP and ECN monitoring),
 * on light sockets 41 (TWAMP Light) or 44 (STAMP).
 */
static size_t short_limit(const struct rtest *rt, enum wire_test_fmt fmt)
{
	struct wire_test_layout l;

	if (!rt->conn)
		return wire_test_min_sender_len(fmt);
	wire_test_layout(false, rt->ext, &l);
	return l.refl_hdr;
}

/*
 * The DS field of a light/STAMP reflection: the DSCP received (or
 * --reflect-dscp), and the ECN field received except that CE is answered
 * as ECT(0): a mark of congestion on the way in is not one on the way back.
 * -1 (the socket's, 0) when the kernel did not say what arrived.
 */
static int reply_tos(const struct refl_config *cfg, int rx_tos)
{
	int ecn;

	if (rx_tos < 0)
		return cfg->reflect_dscp_set ? cfg->reflect_dscp << 2 : -1;
	ecn = rx_tos & 3;
	if (ecn == 3)
		ecn = 2;
	return (cfg->reflect_dscp_set ? cfg->reflect_dscp << 2 : rx_tos & 0xfc) | ecn;
}

/*
 * Datagram i of the worker's batch, received on rt: check it, write the
 * reflection over it and queue it for sending (or hand it to the
 * impairment pool).  Everything that drops a packet returns early.
 */
static void reflect_one(struct rworker *rw, struct rtest *rt, unsigned i, uint64_t *dscp_seen)
{
	const struct refl_config *cfg = &rw->r->cfg;
	const struct tsock_rx *rx;
	struct wire_test_sender snd;
	struct wire_test_reflect r;
	enum wire_test_fmt fmt;
	size_t len;
	uint8_t *buf = tsock_batch_msg(rw->batch, i, &len, &rx);
	uint8_t key[16];
	int tos;

	if (!addr_key(&rx->from, key))
		return;
	/*
	 * A control-mode test session answers its control peer only (below), so
	 * a forged source cannot aim it at a reflector; applying the guard there
	 * too dropped real packets of a client on this host whose test port
	 * number one of our session sockets also used, bound to another address.
	 */
	if (!rt->conn && from_reflector(rw, key, tsock_addr_port(&rx->from), rx)) {
		char a[INET6_ADDRSTRLEN];

		COUNT(rw, looped);
		LOG_RL(LOGL_WARN, 10, "dropped a datagram from [%s]:%u, a reflector port of this host: "
		       "answering could start an endless loop (a forged source)",
		       tsock_addr_str(&rx->from, a, sizeof(a)), tsock_addr_port(&rx->from));
		return;
	}
	if (!rt->conn && !rate_ok(rw, key)) {
		char a[INET6_ADDRSTRLEN];

		COUNT(rw, rate_limited);
		LOG_RL(LOGL_WARN, 10, "not answering %s: more than %u reflections/s (--rate-limit)",
		       tsock_addr_str(&rx->from, a, sizeof(a)), cfg->rate_limit);
		return;
	}
	if (rx->tos >= 0)
		*dscp_seen |= 1ULL << (rx->tos >> 2);
	if (rt->conn) {
		struct sockaddr_storage from = rx->from;

		tsock_addr_unmap(&from);
		if (!tsock_addr_equal(&from, &rt->peer)) {
			COUNT(rw, foreign);
			LOG_RL(LOGL_WARN, 10, "dropped a test packet from an address other than the control peer");
			return;
		}
		if (!rt->started) {
			COUNT(rw, early);
			return;
		}
	}
	if (len > WIRE_TEST_MAX_LEN) {
		COUNT(rw, malformed);
		LOG_RL(LOGL_WARN, 10, "dropped an oversized test packet (more than %d octets)",
		       WIRE_TEST_MAX_LEN);
		return;
	}
	fmt = rt->conn ? WIRE_TEST_OPEN : guess_fmt(buf, len);
	if (rt->sealed) {
		/* authenticated/encrypted: the answer has a 112-octet base */
		if (len < WIRE_TEST_AUTH_SENDER_LEN) {
			COUNT(rw, malformed);
			LOG_RL(LOGL_WARN, 10, "dropped a %zu-octet test packet: an authenticated or "
			       "encrypted sender packet has %d octets at least", len, WIRE_TEST_AUTH_SENDER_LEN);
			return;
		}
		if (ctlchan_test_open(&rt->tt, CTLCHAN_PKT_SENDER, buf, len) < 0 ||
		    wire_decode_test_sender_auth(buf, len, &snd) < 0) {
			COUNT(rw, malformed);
			LOG_RL(LOGL_WARN, 10, "dropped a test packet with a bad HMAC");
			return;
		}
		/* shorter than the reflection (a sender without padding): answered padded, as twampd does */
		if (len < WIRE_TEST_AUTH_REFLECT_LEN) {
			memset(buf + len, 0, WIRE_TEST_AUTH_REFLECT_LEN - len);
			len = WIRE_TEST_AUTH_REFLECT_LEN;
		}
	} else if (len < short_limit(rt, fmt)) {
		size_t need = short_limit(rt, fmt);

		/*
		 * A control session answers only its control peer, so padding its
		 * short packets (as twampd does: 41 octets for twping -s 0) amplifies
		 * nothing toward a stranger.  A light port answers any source: there
		 * a reflection larger than the packet needs --pad-short.
		 */
		if ((rt->conn || cfg->pad_short) && len >= WIRE_TEST_SENDER_LEN) {
			memset(buf + len, 0, need - len);
			len = need;
		} else {
			COUNT(rw, malformed);
			if (len >= WIRE_TEST_SENDER_LEN)
				LOG_RL(LOGL_WARN, 10,
				       "dropped a %zu-octet light test packet: its reflection would be larger "
				       "(%zu octets; senders pad to it, or run the responder with --pad-short)",
				       len, need);
			else
				LOG_RL(LOGL_WARN, 10, "dropped a %zu-octet test packet: shorter than a sender "
				       "header (%d octets)", len, WIRE_TEST_SENDER_LEN);
			return;
		}
	}
	if (!rt->sealed && wire_decode_test_sender(buf, len, fmt, &snd) < 0) {
		COUNT(rw, malformed);
		return;
	}
	rt->last_rx = rw->mono;
	if (chance(rw, cfg->imp.loss)) {
		COUNT(rw, dropped_loss);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.ssid = fmt == WIRE_TEST_STAMP ? snd.ssid : 0;
	if (rt->conn) {
		/* RFC 5357 section 4.2.1: the session's own counter (one rtest per session) */
		r.seq = rt->rseq++;
	} else if (rw->seqs) {
		/* RFC 8762 section 4.3, stateful: a counter per sender and SSID (TWAMP Light: SSID 0) */
		r.seq = seqmap_next(rw->seqs, key, tsock_addr_port(&rx->from), r.ssid, rw->mono);
	} else {
		/* RFC 8762 section 4.3, stateless: the sender's own Sequence Number */
		r.seq = snd.seq;
	}
	r.errest = rw->clk.errest;
	r.rx_ts = tsock_rx_time(rx);
	if (rw->r->impair)
		r.rx_ts += impair_delay(rw);
	r.sender_ttl = rx->ttl >= 0 ? (uint8_t)rx->ttl : 0;
	if (rt->ext) {
		r.ext = rt->ext;
		r.pad_reflect = rt->pad_reflect;
		r.sender_tos = rx->tos >= 0 ? (uint8_t)rx->tos : 0;
		if ((rt->ext & WIRE_MODE_DSCP_ECN) && !rt->ecn_set && rx->tos > 0 && (rx->tos & 3))
			rtest_follow_ecn(rt, rx->tos & 3);
	}
	if (!(rt->sealed ? wire_reflect_prepare_auth(buf, len, &r) : wire_reflect_prepare(buf, len, fmt, &r))) {
		COUNT(rw, malformed);
		LOG_RL(LOGL_WARN, 10, "dropped a %zu-octet test packet: too short for the session's "
		       "reflection format", len);
		return;
	}
	/* light/STAMP: the DS field of the reply per datagram; control sessions: their Type-P */
	tos = rt->conn ? -1 : reply_tos(cfg, rx->tos);
	if (rw->r->impair)
		reflect_impaired(rw, rt, buf, len, r.rx_ts, rx, tos);
	else
		tsock_batch_reply_tos(rw->batch, i, len, tos);
}

/*
 * Send the reflections queued in the worker's batch with one sendmmsg.  T3
 * is read once, right before it; a sealed reflection reads the clock just
 * before its own HMAC, the last thing done to it.
 */
static void flush_replies(struct rworker *rw, struct rtest *rt)
{
	unsigned n = tsock_batch_nreplies(rw->batch), sent, failed;
	int64_t t3;

	if (!n)
		return;
	t3 = ntptime_now();
	for (unsigned k = 0; k < n; k++) {
		size_t len;
		uint8_t *buf = tsock_batch_reply_buf(rw->batch, k, &len);

		if (!rt->sealed) {
			wire_reflect_stamp(buf, t3);
			continue;
		}
		wire_reflect_stamp_auth(buf, ntptime_now());
		if (ctlchan_test_seal(&rt->tt, CTLCHAN_PKT_REFLECT, buf, len) < 0) {
			LOG_RL(LOGL_WARN, 10, "reflection not sealed: dropped");
			tsock_batch_cancel(rw->batch, k);
		}
	}
	sent = tsock_send_batch(rt->io.fd, rw->batch, &failed);
	if (failed)
		LOG_RL(LOGL_WARN, 10, "%u reflection(s) not sent: %m", failed);
	atomic_fetch_add_explicit(&rw->c.reflected, sent, memory_order_relaxed);
}

/*
 * A test or light socket is readable: up to REFL_ROUNDS batches of
 * REFL_BATCH datagrams (recvmmsg), each answered with one sendmmsg, then
 * back to the loop so that one busy socket does not starve the others.
 */
static void rtest_cb(struct wk_io *io, uint32_t events)
{
	struct rtest *rt = (struct rtest *)io;
	struct rworker *rw = rt->rw;

	(void)events;
	for (int round = 0; round < REFL_ROUNDS; round++) {
		uint64_t dscp_seen = 0;
		int n = tsock_recv_batch(rt->io.fd, rw->batch);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno != EINTR)
				LOG_RL(LOGL_WARN, 10, "reflector socket: %m");
			continue;
		}
		atomic_fetch_add_explicit(&rw->c.rx, (uint64_t)n, memory_order_relaxed);
		/* the clock of the idle timers, the rate limit and --stateful: once per batch */
		rw->mono = ntptime_mono();
		for (unsigned i = 0; i < (unsigned)n; i++)
			reflect_one(rw, rt, i, &dscp_seen);
		if (rw->seqs && !rt->conn) {
			struct seqmap_stats ss;

			/* the table's own count, published for responder_counters() */
			seqmap_stats(rw->seqs, &ss);
			atomic_store_explicit(&rw->c.seq_evicted, ss.evicted, memory_order_relaxed);
		}
		if (dscp_seen)
			atomic_fetch_or_explicit(&rw->c.dscp_seen, dscp_seen, memory_order_relaxed);
		flush_replies(rw, rt);
		if (n < REFL_BATCH)
			return; /* the socket was empty: epoll says when more comes */
	}
}

static struct rtest *rtest_open(struct rworker *rw, const struct sockaddr_storage *local,
				uint16_t lo, uint16_t hi, int dscp, int flags, uint16_t *port)
{
	struct rtest *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->rw = rw;
	rt->io.cb = rtest_cb;
	rt->hold_max = 100 * NS_PER_MS;
	rt->io.fd = tsock_open(local, lo, hi, dscp, flags | TSOCK_PKTINFO, port);
	if (rt->io.fd < 0 || wk_add_io(rw->wk, &rt->io, EPOLLIN) < 0) {
		if (rt->io.fd >= 0)
			close(rt->io.fd);
		free(rt);
		return NULL;
	}
	rt->port = *port;
	udp_port_hold(rw->r, rt->port, 1);
	return rt;
}

/* ---- control connections -------------------------------------------- */

static void conn_close(struct rconn *c, const char *why)
{
	struct rworker *rw = c->rw;
	char a[INET6_ADDRSTRLEN];

	if (c->state == C_CLOSED)
		return;
	if (why)
		LOG_RL(LOGL_INFO, 10, "control connection from %s closed: %s",
		       tsock_addr_str(&c->peer, a, sizeof(a)), why);
	c->state = C_CLOSED;
	for (int i = 0; i < c->ntests; i++)
		rtest_close(c->tests[i]);
	c->ntests = 0;
	ctlchan_fini(&c->ch);
	wk_timer_cancel(rw->wk, &c->timer);
	wk_del_io(rw->wk, &c->io);
	close(c->io.fd);
	if (c->counted)
		conn_account_release(rw->r, &c->peer);
	if (c->prev)
		c->prev->next = c->next;
	else
		rw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	/* freed by conn_reap() when the callback that closed it returns */
}

/* Every entry point into a connection ends here: frees it once it is closed. */
static void conn_reap(struct rconn *c)
{
	if (c->state == C_CLOSED)
		free(c);
}

static int conn_send(struct rconn *c, const uint8_t *msg, size_t len)
{
	ssize_t n;

	if (c->wlen + len > sizeof(c->wbuf)) {
		/* the client does not read what we answer */
		conn_close(c, "client does not read its control connection");
		return -1;
	}
	memcpy(c->wbuf + c->wlen, msg, len);
	c->wlen += len;
	n = send(c->io.fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno != EAGAIN) {
		conn_close(c, strerror(errno));
		return -1;
	}
	if (n > 0) {
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	if (c->wlen) /* the kernel took only part: finish when it can take more */
		wk_mod_io(c->rw->wk, &c->io, EPOLLIN | EPOLLOUT);
	return 0;
}

/* What to read of a command before its length is known: 1 octet, or the first block when keyed. */
static size_t first_len(const struct rconn *c)
{
	return c->ch.keyed ? CTLCHAN_IV_LEN : 1;
}

/* A test session of the connection is started: then REFWAIT applies, not the control timeout. */
static bool conn_running(const struct rconn *c)
{
	for (int i = 0; i < c->ntests; i++)
		if (c->tests[i]->started)
			return true;
	return false;
}

/*
 * The connection's one timer: the control timeout while no test session runs
 * (before Start-Sessions, after a Start-Sessions that started nothing, after
 * Stop-N-Sessions stopped the last one), REFWAIT while one does.
 */
static void conn_arm_timer(struct rconn *c)
{
	if (conn_running(c))
		wk_timer_arm(c->rw->wk, &c->timer, ntptime_mono() + c->rw->r->cfg.refwait);
	else
		wk_timer_arm(c->rw->wk, &c->timer, ntptime_mono() + c->rw->r->cfg.ctl_timeout);
}

static void conn_expect(struct rconn *c, size_t need)
{
	c->rlen = 0;
	c->rneed = need;
	c->peeked = false;
	/* each message restarts the control timeout; a running session keeps its REFWAIT timer */
	if (!conn_running(c))
		conn_arm_timer(c);
}

/*
 * The SID (RFC 4656 section 3.5): the receiver's address, an NTP timestamp
 * and 4 random octets.  These come from the kernel, not from the workers'
 * seeded generators (whose streams are shifted copies of each other, and
 * repeat with --seed): 0, or -1 when there are none to be had.
 */
static int make_sid(const struct sockaddr_storage *local, uint8_t sid[16])
{
	uint64_t ntp = ntptime_to_ntp(ntptime_now());

	if (crypto_random(sid + 12, 4) < 0) /* OpenSSL's CSPRNG, seeded from getrandom() */
		return -1;
	if (local->ss_family == AF_INET6)
		memcpy(sid, &((const struct sockaddr_in6 *)local)->sin6_addr.s6_addr[12], 4);
	else
		memcpy(sid, &((const struct sockaddr_in *)local)->sin_addr, 4);
	for (int i = 0; i < 8; i++)
		sid[4 + i] = (uint8_t)(ntp >> (56 - 8 * i));
	return 0;
}

static void handle_request(struct rconn *c)
{
	struct rworker *rw = c->rw;
	const struct refl_config *cfg = &rw->r->cfg;
	struct wire_request rq;
	struct wire_accept_session as = { .accept = WIRE_ACCEPT_OK };
	uint8_t out[WIRE_ACCEPT_SESSION_LEN];
	struct rtest *rt = NULL;
	uint16_t port = 0, lo = cfg->port_lo, hi = cfg->port_hi;
	int dscp;

	if (wire_decode_request(c->rbuf, c->rlen, &rq) < 0) {
		as.accept = WIRE_ACCEPT_UNSUPPORTED;
	} else if (rq.conf_sender || rq.conf_receiver) {
		as.accept = WIRE_ACCEPT_UNSUPPORTED; /* TWAMP: both must be 0 */
	} else if (rq.padding > WIRE_TEST_MAX_LEN - (ctlchan_test_sealed(c->ch.mode)
							    ? WIRE_TEST_AUTH_SENDER_LEN
							    : WIRE_TEST_SENDER_LEN)) {
		as.accept = WIRE_ACCEPT_UNSUPPORTED;
	} else if ((c->ch.ext & WIRE_MODE_REFLECT_OCTETS) && rq.pad_reflect > rq.padding) {
		/* RFC 6038: cannot return more padding than the sender will send */
		LOG_RL(LOGL_INFO, 10, "refused a session: %u octets of padding to reflect, only %u of padding",
		       rq.pad_reflect, rq.padding);
		as.accept = WIRE_ACCEPT_UNSUPPORTED;
	} else if (c->ntests >= (int)cfg->max_per_conn) {
		char a[INET6_ADDRSTRLEN];

		LOG_RL(LOGL_WARN, 10, "session refused: the connection from %s has %d session%s "
		       "(--max-per-connection)", tsock_addr_str(&c->peer, a, sizeof(a)), c->ntests,
		       log_s((uint64_t)c->ntests));
		as.accept = WIRE_ACCEPT_PERMANENT_LIMIT;
	} else {
		as.accept = (uint8_t)account_take(rw->r, &c->peer);
	}
	if (as.accept == WIRE_ACCEPT_OK) {
		dscp = wire_typep_dscp(rq.typep);
		if (dscp < 0)
			dscp = 0;
		/* honour the requested port when it lies in our range */
		if (lo && rq.receiver_port >= lo && rq.receiver_port <= hi)
			rt = rtest_open(rw, &c->local, rq.receiver_port, rq.receiver_port, dscp, 0, &port);
		if (!rt && lo) {
			/* start each search where the last one ended */
			uint16_t start = rw->next_port >= lo && rw->next_port <= hi ? rw->next_port : lo;

			rt = rtest_open(rw, &c->local, start, hi, dscp, 0, &port);
			if (!rt && start > lo)
				rt = rtest_open(rw, &c->local, lo, (uint16_t)(start - 1), dscp, 0, &port);
			if (rt)
				rw->next_port = port == hi ? lo : (uint16_t)(port + 1);
		}
		if (!rt && !lo)
			rt = rtest_open(rw, &c->local, 0, 0, dscp, 0, &port);
		if (!rt) {
			account_release(rw->r, &c->peer);
			as.accept = WIRE_ACCEPT_TEMPORARY_LIMIT;
		}
	}
	if (as.accept == WIRE_ACCEPT_OK && make_sid(&c->local, as.sid) < 0) {
		LOG_RL(LOGL_ERR, 10, "session refused: no random octets for its SID (the CSPRNG failed)");
		rtest_close(rt);
		account_release(rw->r, &c->peer);
		as.accept = WIRE_ACCEPT_INTERNAL;
	}
	if (as.accept == WIRE_ACCEPT_OK) {
		memcpy(rt->sid, as.sid, sizeof(rt->sid));
		if (ctlchan_test_sealed(c->ch.mode)) {
			struct ctlchan_test_keys k;
			int rc = ctlchan_test_keys(&c->ch, as.sid, &k);

			if (rc == 0)
				rc = ctlchan_test_init(&rt->tt, c->ch.mode, &k);
			crypto_wipe(&k, sizeof(k));
			if (rc < 0) {
				LOG_RL(LOGL_WARN, 10, "test session keys: %s", ctlchan_strerror(rc));
				rtest_close(rt);
				account_release(rw->r, &c->peer);
				as.accept = WIRE_ACCEPT_INTERNAL;
			} else {
				rt->sealed = true;
			}
		}
	}
	if (as.accept != WIRE_ACCEPT_OK) {
		COUNT(rw, refused);
		memset(as.sid, 0, sizeof(as.sid));
	} else {
		rt->conn = c;
		rt->peer = c->peer;
		rt->dscp = dscp;
		rt->ext = c->ch.ext & (rt->sealed ? ~WIRE_MODE_SYMMETRICAL : ~0u);
		if (rt->ext & WIRE_MODE_REFLECT_OCTETS) {
			rt->pad_reflect = rq.pad_reflect;
			as.reflected_octets = rq.octets_reflect;
		}
		if (rq.timeout > 0 && rq.timeout / 2 < NS_PER_SEC)
			rt->hold_max = rq.timeout / 2;
		else if (rq.timeout > 0)
			rt->hold_max = NS_PER_SEC;
		rt->counted = true;
		rt->last_rx = ntptime_mono();
		c->tests[c->ntests++] = rt;
		as.port = port;
		COUNT(rw, sessions);
	}
	wire_encode_accept_session(out, &as);
	if (ctlchan_seal(&c->ch, out, sizeof(out)) < 0) {
		conn_close(c, "cannot seal Accept-Session");
		return;
	}
	if (conn_send(c, out, sizeof(out)) < 0)
		return;
	conn_expect(c, first_len(c));
}

static int find_test(const struct rconn *c, const uint8_t sid[16])
{
	for (int i = 0; i < c->ntests; i++)
		if (!memcmp(c->tests[i]->sid, sid, 16))
			return i;
	return -1;
}

/*
 * RFC 5938: start or stop the sessions the message names, each on its own;
 * the others go on.  A SID we do not know refuses the whole message (Accept
 * 1, nothing changes); the ack names the same SIDs.
 */
static void handle_n_sessions(struct rconn *c)
{
	struct wire_n_sessions m, ack;
	uint8_t out[CONN_RBUF];
	bool start = c->rbuf[0] == WIRE_CMD_START_N_SESSIONS;
	size_t len;

	if (!(c->ch.ext & WIRE_MODE_INDIV_SESSION) || wire_decode_n_sessions(c->rbuf, c->rlen, &m) < 0) {
		COUNT(c->rw, protocol_errors);
		conn_close(c, start ? "Start-N-Sessions without individual session control, or malformed"
				    : "Stop-N-Sessions without individual session control, or malformed");
		return;
	}
	ack = m;
	ack.cmd = start ? WIRE_CMD_START_N_ACK : WIRE_CMD_STOP_N_ACK;
	ack.accept = WIRE_ACCEPT_OK;
	memset(ack.hmac, 0, sizeof(ack.hmac));
	for (uint32_t i = 0; i < m.n; i++)
		if (find_test(c, m.sids[i]) < 0)
			ack.accept = WIRE_ACCEPT_FAILURE;
	if (ack.accept == WIRE_ACCEPT_OK) {
		for (uint32_t i = 0; i < m.n; i++) {
			int k = find_test(c, m.sids[i]);

			if (k < 0)
				continue; /* named twice: already stopped */
			if (start) {
				c->tests[k]->started = true;
				c->tests[k]->last_rx = ntptime_mono();
			} else {
				rtest_close(c->tests[k]);
				c->tests[k] = c->tests[--c->ntests];
			}
		}
		if (start && !c->started) {
			c->started = true;
			conn_arm_timer(c);
		}
	} else {
		LOG_RL(LOGL_INFO, 10, "%s names a session this connection does not have: refused",
		       start ? "Start-N-Sessions" : "Stop-N-Sessions");
	}
	len = wire_encode_n_sessions(out, sizeof(out), &ack);
	if (!len || ctlchan_seal(&c->ch, out, len) < 0) {
		conn_close(c, "cannot seal an N-Ack");
		return;
	}
	if (conn_send(c, out, len) < 0)
		return;
	conn_expect(c, first_len(c));
}

static void handle_command(struct rconn *c)
{
	uint8_t out[WIRE_START_ACK_LEN];

	switch (c->rbuf[0]) {
	case WIRE_CMD_REQUEST_TW_SESSION:
		if (c->started && !(c->ch.ext & WIRE_MODE_INDIV_SESSION)) {
			conn_close(c, "Request-TW-Session after Start-Sessions");
			return;
		}
		handle_request(c);
		return;
	case WIRE_CMD_START_SESSIONS: {
		struct wire_start_sessions ss;
		struct wire_start_ack ack = { .accept = WIRE_ACCEPT_OK };

		if (wire_decode_start_sessions(c->rbuf, c->rlen, &ss) < 0) {
			COUNT(c->rw, protocol_errors);
			conn_close(c, "malformed Start-Sessions");
			return;
		}
		c->started = true;
		for (int i = 0; i < c->ntests; i++) {
			c->tests[i]->last_rx = ntptime_mono();
			c->tests[i]->started = true;
		}
		/* no session to start: the connection is idle and the control timeout goes on */
		conn_arm_timer(c);
		wire_encode_start_ack(out, &ack);
		if (ctlchan_seal(&c->ch, out, sizeof(out)) < 0) {
			conn_close(c, "cannot seal Start-Ack");
			return;
		}
		if (conn_send(c, out, sizeof(out)) < 0)
			return;
		conn_expect(c, first_len(c));
		return;
	}
	case WIRE_CMD_STOP_SESSIONS: {
		struct wire_stop_sessions st;

		if (wire_decode_stop_sessions(c->rbuf, c->rlen, &st) < 0) {
			COUNT(c->rw, protocol_errors);
			conn_close(c, "malformed Stop-Sessions");
			return;
		}
		/* twping says 1, twampy says 0: either way, all of this connection's sessions end */
		conn_close(c, NULL);
		return;
	}
	case WIRE_CMD_START_N_SESSIONS:
	case WIRE_CMD_STOP_N_SESSIONS:
		handle_n_sessions(c);
		return;
	}
}

static const struct refl_key *find_key(const struct responder *r, const uint8_t keyid[80])
{
	size_t len = strnlen((const char *)keyid, REFL_KEYID_MAX);

	for (size_t i = 0; i < r->cfg.nkeys; i++)
		if (strlen(r->keys[i].keyid) == len && !memcmp(r->keys[i].keyid, keyid, len))
			return &r->keys[i];
	return NULL;
}

/* The KeyID as printable text for a log line (it is a name, not a secret). */
static void keyid_str(const uint8_t keyid[80], char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < REFL_KEYID_MAX && keyid[i] && n + 1 < cap; i++)
		out[n++] = isprint(keyid[i]) ? (char)keyid[i] : '?';
	out[n] = 0;
}

/* Set-Up-Response: 0 when the connection goes on, -1 when closed. */
static int handle_setup(struct rconn *c)
{
	struct rworker *rw = c->rw;
	struct responder *r = rw->r;
	struct wire_setup su;
	struct wire_server_start ss = { .accept = WIRE_ACCEPT_OK };
	uint8_t out[WIRE_SERVER_START_LEN];
	const struct refl_key *k = NULL;
	char why[160];
	int rc;

	wire_decode_setup(c->rbuf, c->rlen, &su);
	if (!ctlchan_mode_valid(su.mode & WIRE_MODE_SECURITY) || (su.mode & ~r->modes)) {
		COUNT(rw, protocol_errors);
		conn_close(c, su.mode == 0 ? "client declined every mode"
					   : "client asked for a mode we do not offer");
		return -1;
	}
	why[0] = 0;
	if ((su.mode & WIRE_MODE_SECURITY) != WIRE_MODE_OPEN) {
		char id[REFL_KEYID_MAX + 1];

		k = find_key(r, su.keyid);
		if (!k) {
			keyid_str(su.keyid, id, sizeof(id));
			snprintf(why, sizeof(why), "access denied: unknown KeyID \"%s\"", id);
		}
	}
	rc = why[0] ? CTLCHAN_EDENIED
		    : ctlchan_server_setup(&c->ch, c->rbuf, c->rlen, k ? k->secret : NULL,
					   k ? k->secret_len : 0);
	if (rc == CTLCHAN_EDENIED) {
		if (!why[0]) {
			char id[REFL_KEYID_MAX + 1];

			keyid_str(su.keyid, id, sizeof(id));
			snprintf(why, sizeof(why), "access denied: wrong secret for KeyID \"%s\"", id);
		}
		ss.accept = WIRE_ACCEPT_FAILURE;
	} else if (rc < 0) {
		COUNT(rw, protocol_errors);
		snprintf(why, sizeof(why), "Set-Up-Response: %s", ctlchan_strerror(rc));
		conn_close(c, why);
		return -1;
	}
	ss.start_time = r->start_time;
	wire_encode_server_start(out, &ss);
	if (ctlchan_server_start(&c->ch, out, sizeof(out), NULL) < 0) {
		conn_close(c, "cannot finish Server-Start");
		return -1;
	}
	if (conn_send(c, out, sizeof(out)) < 0)
		return -1;
	if (ss.accept != WIRE_ACCEPT_OK) {
		COUNT(rw, denied);
		conn_close(c, why);
		return -1;
	}
	return 0;
}

static void conn_readable(struct rconn *c)
{
	for (;;) {
		ssize_t n = recv(c->io.fd, c->rbuf + c->rlen, c->rneed - c->rlen, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(c, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_close(c, c->state == C_COMMAND && c->rlen == 0 ? NULL
								     : "client closed mid-message");
			return;
		}
		c->rlen += (size_t)n;
		if (c->rlen < c->rneed)
			continue;
		if (c->state == C_SETUP) {
			if (handle_setup(c) < 0)
				return;
			c->state = C_COMMAND;
			conn_expect(c, first_len(c));
			continue;
		}
		if (!c->peeked) {
			/* the first octet (block, when encrypted) tells the command, hence the length */
			if (c->ch.keyed && ctlchan_peek(&c->ch, c->rbuf, CTLCHAN_IV_LEN) < 0) {
				COUNT(c->rw, protocol_errors);
				conn_close(c, "cannot decrypt a control message");
				return;
			}
			c->peeked = true;
		}
		{
			size_t len = wire_command_len(c->rbuf[0]);

			if (len && (c->rbuf[0] == WIRE_CMD_START_N_SESSIONS ||
				    c->rbuf[0] == WIRE_CMD_STOP_N_SESSIONS) && c->rlen >= WIRE_N_HDR_LEN) {
				/* RFC 5938: the count in the header block gives the rest */
				len = wire_n_sessions_msg_len(c->rbuf, CONN_MAX_SESSIONS);
				if (!len) {
					COUNT(c->rw, protocol_errors);
					conn_close(c, "Start-N/Stop-N-Sessions naming no session, or more "
						      "than a connection may have");
					return;
				}
			}
			if (!len) {
				COUNT(c->rw, protocol_errors);
				conn_close(c, c->ch.keyed ? "unknown control command (or not our key)"
							  : "unknown control command");
				return;
			}
			if (len > c->rlen) {
				c->rneed = len;
				continue;
			}
		}
		{
			int rc = ctlchan_open(&c->ch, c->rbuf, c->rlen);

			if (rc < 0) {
				char why[128];

				COUNT(c->rw, protocol_errors);
				snprintf(why, sizeof(why), "control message rejected: %s", ctlchan_strerror(rc));
				conn_close(c, why);
				return;
			}
		}
		handle_command(c);
		if (c->state == C_CLOSED)
			return;
	}
}

static void conn_cb(struct wk_io *io, uint32_t events)
{
	struct rconn *c = (struct rconn *)io;

	if (events & EPOLLOUT) {
		ssize_t n = c->wlen ? send(c->io.fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;

		if (n > 0) {
			memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
			c->wlen -= (size_t)n;
		}
		if (!c->wlen)
			wk_mod_io(c->rw->wk, &c->io, EPOLLIN);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(c);
	conn_reap(c);
}

static void conn_timer_cb(struct wk_timer *t)
{
	struct rconn *c = (struct rconn *)((char *)t - offsetof(struct rconn, timer));
	int64_t last = 0, refwait = c->rw->r->cfg.refwait;

	if (!conn_running(c)) {
		COUNT(c->rw, protocol_errors);
		conn_close(c, c->started ? "control timeout (no test session running)"
					 : "control timeout (the client stalled)");
		conn_reap(c);
		return;
	}
	for (int i = 0; i < c->ntests; i++)
		if (c->tests[i]->started && c->tests[i]->last_rx > last)
			last = c->tests[i]->last_rx;
	if (last + refwait > ntptime_mono()) {
		wk_timer_arm(c->rw->wk, &c->timer, last + refwait);
		return;
	}
	conn_close(c, "no test packet for REFWAIT");
	conn_reap(c);
}

static void listener_resume_cb(struct wk_timer *t)
{
	struct rlistener *l = (struct rlistener *)((char *)t - offsetof(struct rlistener, pause));

	wk_mod_io(l->rw->wk, &l->io, EPOLLIN);
}

static void accept_cb(struct wk_io *io, uint32_t events)
{
	struct rlistener *l = (struct rlistener *)io;
	struct rworker *rw = l->rw;

	(void)events;
	/* a budget per wake-up: a connection flood must not keep the loop from live sessions */
	for (int budget = 0; budget < 64; budget++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(io->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		uint8_t out[WIRE_GREETING_LEN];
		struct rconn *c;
		int one = 1;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/*
			 * EMFILE, ENFILE, ENOBUFS: the connection stays queued and the
			 * listener readable, so stop watching it for a moment rather than
			 * spin on it.
			 */
			LOG_RL(LOGL_WARN, 10, "accept: %m: not accepting connections for %d ms",
			       (int)(ACCEPT_PAUSE / NS_PER_MS));
			if (wk_mod_io(rw->wk, io, 0) == 0)
				wk_timer_arm(rw->wk, &l->pause, ntptime_mono() + ACCEPT_PAUSE);
			return;
		}
		tsock_addr_unmap(&peer);
		if (conn_account_take(rw->r, &peer) < 0) {
			COUNT(rw, conn_refused);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			conn_account_release(rw->r, &peer);
			close(fd);
			continue;
		}
		c->counted = true;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->io.fd = fd;
		c->io.cb = conn_cb;
		c->rw = rw;
		c->peer = peer;
		tsock_addr_unmap(&c->peer);
		plen = sizeof(c->local);
		getsockname(fd, (struct sockaddr *)&c->local, &plen);
		tsock_addr_unmap(&c->local);
		wk_timer_init(&c->timer, conn_timer_cb);
		c->next = rw->conns;
		if (rw->conns)
			rw->conns->prev = c;
		rw->conns = c;
		if (wk_add_io(rw->wk, &c->io, EPOLLIN) < 0) {
			conn_close(c, "cannot watch the connection");
			conn_reap(c);
			continue;
		}
		COUNT(rw, connections);
		ctlchan_init(&c->ch, CTLCHAN_SERVER);
		c->state = C_SETUP;
		if (ctlchan_server_greeting(&c->ch, rw->r->modes, rw->r->cfg.greeting_count, out) < 0) {
			conn_close(c, "cannot make the Server Greeting");
			conn_reap(c);
			continue;
		}
		if (conn_send(c, out, sizeof(out)) < 0) {
			conn_reap(c);
			continue;
		}
		conn_expect(c, WIRE_SETUP_LEN);
	}
}

static void clk_cb(struct wk_timer *t)
{
	struct rworker *rw = (struct rworker *)((char *)t - offsetof(struct rworker, clk_timer));

	ntptime_clock_status(&rw->clk);
	local_refresh(rw);
	memset(rw->reg_cache, REG_UNKNOWN, 65536); /* responders come and go */
	wk_timer_arm(rw->wk, t, ntptime_mono() + 10 * NS_PER_SEC);
}

/* ---- start / stop ----------------------------------------------------- */

static int open_listener(const struct sockaddr_storage *addr, uint16_t *port)
{
	struct sockaddr_storage a = *addr;
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;
	char s[INET6_ADDRSTRLEN];
	socklen_t len = sizeof(a);

	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (a.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	tsock_addr_set_port(&a, *port);
	/* SOMAXCONN: as many waiting connections as net.core.somaxconn allows */
	if (bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = tsock_addr_port(&a);
	return fd;
fail:
	log_err("cannot listen on [%s]:%u: %m", tsock_addr_str(addr, s, sizeof(s)), *port);
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Our workers share each port through SO_REUSEPORT, and so would any other
 * process of the same user that sets it: a second responder would start
 * silently and take part of the traffic.  So before the workers bind, one
 * socket without SO_REUSEPORT binds the port as a test: it fails when
 * anything holds it.  (A port given as 0 is chosen by the first worker's
 * bind, and is ours.)  0, or -1 with the address and port logged.
 */
static int port_check_free(const struct sockaddr_storage *addr, int type)
{
	struct sockaddr_storage a = *addr;
	int fd = socket(a.ss_family, type | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0, rc = 0;
	char s[INET6_ADDRSTRLEN];

	if (!tsock_addr_port(&a))
		return fd >= 0 ? close(fd) : 0;
	if (fd < 0) {
		log_err("cannot open a socket for [%s]:%u: %m", tsock_addr_str(addr, s, sizeof(s)),
			tsock_addr_port(addr));
		return -1;
	}
	/* TCP: a connection of a previous run in TIME_WAIT does not hold the port */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)) < 0) {
		if (errno == EADDRINUSE)
			log_err("cannot %s [%s]:%u: address already in use (another program, or another "
				"responder, holds the %s port)", type == SOCK_STREAM ? "listen on" : "reflect on",
				tsock_addr_str(addr, s, sizeof(s)), tsock_addr_port(addr),
				type == SOCK_STREAM ? "TCP" : "UDP");
		else
			log_err("cannot %s [%s]:%u: %m", type == SOCK_STREAM ? "listen on" : "reflect on",
				tsock_addr_str(addr, s, sizeof(s)), tsock_addr_port(addr));
		rc = -1;
	}
	close(fd);
	return rc;
}

/*
 * Tell the other responders of this host (their loop guards) which UDP ports
 * we reflect on: an abstract AF_UNIX socket per light port, held until stop.
 * Best effort: a port already announced (by us on another address, or by
 * another responder on another address) stays announced.
 */
static void announce_light_ports(struct responder *r)
{
	for (int i = 0; i < r->cfg.nlight; i++) {
		struct sockaddr_un un;
		socklen_t len;
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		reg_name(&un, &len, r->light_ports[i]);
		if (bind(fd, (struct sockaddr *)&un, len) < 0) {
			if (errno != EADDRINUSE)
				log_warn("cannot announce light port %u to other responders: %m",
					 r->light_ports[i]);
			close(fd);
			continue;
		}
		r->reg_fd[i] = fd;
	}
}

static void rworker_cleanup(struct rworker *rw)
{
	/* next is taken before c may be freed, whatever state c is in */
	for (struct rconn *c = rw->conns, *next; c; c = next) {
		next = c->next;
		conn_close(c, NULL);
		conn_reap(c);
	}
	for (int i = 0; i < REFL_MAX_ADDRS; i++) {
		if (rw->listeners[i].io.fd >= 0)
			close(rw->listeners[i].io.fd);
		if (rw->lights[i])
			rtest_close(rw->lights[i]);
	}
	if (rw->slots) {
		/* reflections still waiting are dropped with their sessions */
		for (unsigned i = 0; i < rw->r->cfg.impair_slots; i++) {
			struct slot *sl = &rw->slots[i];

			if (sl->rt) {
				wk_timer_cancel(rw->wk, &sl->t);
				slot_release(rw, sl);
			}
		}
		free(rw->slots);
	}
	if (rw->wk)
		wk_destroy(rw->wk);
	tsock_batch_free(rw->batch);
	free(rw->reg_cache);
	free(rw->rl);
	seqmap_free(rw->seqs);
	if (rw->reg_fd >= 0)
		close(rw->reg_fd);
}

static void responder_free(struct responder *r)
{
	for (int i = 0; i < REFL_MAX_ADDRS; i++)
		if (r->reg_fd[i] >= 0)
			close(r->reg_fd[i]);
	free(r->udp_ports);
	pthread_mutex_destroy(&r->clients_lock);
	refl_keys_free(r->keys, r->cfg.nkeys);
	free(r);
}

struct responder *responder_start(const struct refl_config *cfg)
{
	struct responder *r = calloc(1, sizeof(*r));
	int nw = cfg->nworkers > 0 ? cfg->nworkers : 1;
	uint64_t seed = cfg->imp.seed;

	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->cfg.keys = NULL;
	/* limits a caller left at 0 (a config not from refl_config_default) take the defaults */
	if (!r->cfg.max_per_conn || r->cfg.max_per_conn > CONN_MAX_SESSIONS)
		r->cfg.max_per_conn = REFL_CONN_SESSIONS;
	if (!r->cfg.max_conns)
		r->cfg.max_conns = 50000;
	if (!r->cfg.max_conns_per_client)
		r->cfg.max_conns_per_client = 1000;
	if (cfg->nkeys) {
		r->keys = calloc(cfg->nkeys, sizeof(*r->keys));
		if (!r->keys) {
			free(r);
			return NULL;
		}
		memcpy(r->keys, cfg->keys, cfg->nkeys * sizeof(*r->keys));
		r->cfg.keys = r->keys;
	}
	r->modes = cfg->modes ? cfg->modes
			      : cfg->nkeys ? WIRE_MODE_OPEN | WIRE_MODE_AUTH | WIRE_MODE_ENCRYPTED |
						     WIRE_MODE_MIXED
					   : WIRE_MODE_OPEN;
	r->modes |= cfg->extensions & REFL_EXTENSIONS;
	if ((r->modes & WIRE_MODE_SECURITY & ~WIRE_MODE_OPEN) && !cfg->nkeys)
		log_warn("authenticated/encrypted/mixed modes offered without keys: every such client is denied");
	r->impair = cfg->imp.delay > 0 || cfg->imp.jitter > 0 || cfg->imp.duplicate > 0 ||
		    cfg->imp.reorder > 0;
	r->start_time = ntptime_now();
	pthread_mutex_init(&r->clients_lock, NULL);
	for (int i = 0; i < REFL_MAX_ADDRS; i++)
		r->reg_fd[i] = -1;
	if (cfg->rate_limit) {
		unsigned burst = cfg->rate_burst ? cfg->rate_burst : 1;

		r->rl_interval = NS_PER_SEC / cfg->rate_limit;
		r->rl_slack = (int64_t)(burst - 1) * r->rl_interval;
	}
	r->udp_ports = calloc(65536, sizeof(*r->udp_ports));
	r->w = calloc((size_t)nw, sizeof(*r->w));
	if (!r->w || !r->udp_ports)
		goto fail;
	r->nw = nw;
	for (int w = 0; w < nw; w++)
		r->w[w].reg_fd = -1;
	/* 862 is the TWAMP and STAMP port: whatever answers there on this host is a reflector */
	udp_port_hold(r, 862, 1);
	if (!seed && crypto_random(&seed, sizeof(seed)) < 0)
		seed = (uint64_t)r->start_time;
	for (int i = 0; i < cfg->nlisten; i++)
		if (port_check_free(&cfg->listen[i], SOCK_STREAM) < 0)
			goto fail;
	for (int i = 0; i < cfg->nlight; i++)
		if (port_check_free(&cfg->light[i], SOCK_DGRAM) < 0)
			goto fail;
	for (int w = 0; w < nw; w++) {
		struct rworker *rw = &r->w[w];

		rw->r = r;
		rw->id = w;
		rw->rng = seed + (uint64_t)w * 0x9e3779b97f4a7c15ULL;
		for (int i = 0; i < REFL_MAX_ADDRS; i++)
			rw->listeners[i].io.fd = -1;
		rw->wk = wk_create(w, nw > 1 ? w % wk_ncpus() : -1,
				   r->impair ? cfg->impair_slots + 1024 : 1024);
		if (!rw->wk)
			goto fail;
		/* one oversized octet more than we accept, to tell an oversized datagram */
		rw->batch = tsock_batch_new(REFL_BATCH, WIRE_TEST_MAX_LEN + 1);
		if (!rw->batch)
			goto fail;
		ntptime_clock_status(&rw->clk);
		rw->reg_cache = calloc(65536, 1);
		if (!rw->reg_cache)
			goto fail;
		rw->reg_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (rw->reg_fd < 0)
			log_warn("loop guard: cannot open an AF_UNIX socket (%m): other responders' light "
				 "ports are not recognised");
		local_refresh(rw);
		if (r->rl_interval) {
			rw->rl = calloc(RL_ENTRIES, sizeof(*rw->rl));
			if (!rw->rl)
				goto fail;
		}
		if (cfg->stateful && cfg->nlight) {
			uint64_t hkey;

			if (crypto_random(&hkey, sizeof(hkey)) < 0)
				hkey = rng_next(&rw->rng);
			/* an idle sender is forgotten after REFWAIT, the idle time of a control session */
			rw->seqs = seqmap_new(cfg->stateful_entries ? cfg->stateful_entries : REFL_STATEFUL_ENTRIES,
					      cfg->refwait, hkey);
			if (!rw->seqs) {
				log_err("cannot allocate the --stateful table");
				goto fail;
			}
		}
		wk_timer_init(&rw->clk_timer, clk_cb);
		wk_timer_arm(rw->wk, &rw->clk_timer, ntptime_mono() + 10 * NS_PER_SEC);
		if (r->impair) {
			rw->slots = calloc(cfg->impair_slots, sizeof(*rw->slots));
			if (!rw->slots)
				goto fail;
			for (unsigned i = 0; i < cfg->impair_slots; i++) {
				wk_timer_init(&rw->slots[i].t, slot_cb);
				rw->slots[i].next_free = rw->free_slots;
				rw->free_slots = &rw->slots[i];
			}
		}
		for (int i = 0; i < cfg->nlisten; i++) {
			uint16_t port = w == 0 ? tsock_addr_port(&cfg->listen[i]) : r->ports[i];

			rw->listeners[i].io.fd = open_listener(&cfg->listen[i], &port);
			if (rw->listeners[i].io.fd < 0)
				goto fail;
			rw->listeners[i].io.cb = accept_cb;
			rw->listeners[i].rw = rw;
			wk_timer_init(&rw->listeners[i].pause, listener_resume_cb);
			r->ports[i] = port;
			if (w == 0)
				udp_port_hold(r, port, 1);
			if (wk_add_io(rw->wk, &rw->listeners[i].io, EPOLLIN) < 0)
				goto fail;
		}
		for (int i = 0; i < cfg->nlight; i++) {
			uint16_t want = w == 0 ? tsock_addr_port(&cfg->light[i]) : r->light_ports[i];
			uint16_t port;

			rw->lights[i] = rtest_open(rw, &cfg->light[i], want, want, -1,
						   TSOCK_REUSEPORT | TSOCK_BIGRCVBUF, &port);
			if (!rw->lights[i]) {
				char s[INET6_ADDRSTRLEN];

				log_err("cannot open the light reflector on [%s]:%u",
					tsock_addr_str(&cfg->light[i], s, sizeof(s)), want);
				goto fail;
			}
			r->light_ports[i] = port;
		}
	}
	announce_light_ports(r);
	for (int w = 0; w < nw; w++)
		if (wk_start(r->w[w].wk) < 0)
			goto fail_started;
	return r;
fail_started:
	for (int w = 0; w < nw; w++) {
		wk_stop(r->w[w].wk);
		wk_join(r->w[w].wk);
	}
fail:
	if (r->w)
		for (int w = 0; w < r->nw; w++)
			rworker_cleanup(&r->w[w]);
	free(r->w);
	responder_free(r);
	return NULL;
}

uint16_t responder_port(const struct responder *r, int i)
{
	return i >= 0 && i < r->cfg.nlisten ? r->ports[i] : 0;
}

uint16_t responder_light_port(const struct responder *r, int i)
{
	return i >= 0 && i < r->cfg.nlight ? r->light_ports[i] : 0;
}

void responder_counters(const struct responder *r, struct refl_counters *o)
{
	memset(o, 0, sizeof(*o));
	for (int w = 0; w < r->nw; w++) {
		const struct rworker *rw = &r->w[w];

#define SUM(f) o->f += atomic_load_explicit(&rw->c.f, memory_order_relaxed)
		SUM(connections);
		SUM(sessions);
		SUM(refused);
		SUM(rx);
		SUM(reflected);
		SUM(dropped_loss);
		SUM(duplicated);
		SUM(reordered);
		SUM(malformed);
		SUM(foreign);
		SUM(early);
		SUM(slots_full);
		SUM(protocol_errors);
		SUM(denied);
		SUM(conn_refused);
		SUM(looped);
		SUM(rate_limited);
		SUM(seq_evicted);
#undef SUM
		o->dscp_seen |= atomic_load_explicit(&rw->c.dscp_seen, memory_order_relaxed);
	}
}

void responder_stop(struct responder *r)
{
	if (!r)
		return;
	for (int w = 0; w < r->nw; w++)
		wk_stop(r->w[w].wk);
	for (int w = 0; w < r->nw; w++)
		wk_join(r->w[w].wk);
	for (int w = 0; w < r->nw; w++)
		rworker_cleanup(&r->w[w]);
	for (int i = 0; i < CLIENT_BUCKETS; i++)
		while (r->clients[i]) {
			struct client_entry *e = r->clients[i];

			r->clients[i] = e->next;
			free(e);
		}
	free(r->w);
	responder_free(r);
}
