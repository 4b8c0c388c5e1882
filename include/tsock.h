/*
 * tsock: TWAMP-Test / STAMP UDP sockets, client and reflector side.
 *
 * Every socket option of a test socket is set here and only here: non-blocking,
 * DSCP (IP_TOS / IPV6_TCLASS), outgoing TTL 255 (RFC 5357 section 4.1.2),
 * reception of TTL / hop limit and TOS / traffic class, and kernel receive
 * timestamps (SO_TIMESTAMPING, software RX).  tsock_recv() parses every
 * control message of a datagram in one function (tsock_parse_cmsg).
 */
#ifndef TSOCK_H
#define TSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct tsock_rx {
	int64_t ts_user;     /* clock_gettime right after recvmsg */
	int64_t ts_kernel;   /* SCM_TIMESTAMPING software time, 0 when absent */
	int ttl;             /* IP TTL / IPv6 hop limit, -1 unknown */
	int tos;             /* IPv4 TOS / IPv6 traffic class octet, -1 unknown */
	struct sockaddr_storage from;
	socklen_t fromlen;
	/* destination address of the datagram (IP_PKTINFO / IPV6_PKTINFO), as the
	 * kernel gave it: AF_INET, or AF_INET6 (possibly v4-mapped); AF_UNSPEC unknown */
	struct sockaddr_storage dst;
	int dst_level;       /* IPPROTO_IP or IPPROTO_IPV6: which cmsg carried dst */
	/* error-queue messages (tsock_recv_errqueue): a TX timestamp and its OPT_ID */
	bool txstamp;
	uint32_t txid;
	bool ts_hw;          /* ts_kernel is the NIC's (hardware) timestamp */
	bool port_unreach;   /* an ICMP / ICMPv6 port unreachable (IP_RECVERR, ECONNREFUSED) */
};

/* Best receive time: the kernel's when it delivered one. */
static inline int64_t tsock_rx_time(const struct tsock_rx *rx)
{
	return rx->ts_kernel ? rx->ts_kernel : rx->ts_user;
}

/*
 * Open a test socket of the family of `local` (an address to bind, whose port
 * is ignored) and bind it to the first free port in [port_lo, port_hi]
 * (0-0: any).  dscp < 0 leaves the TOS alone.  Returns the fd, and the bound
 * port in *port; -1 with the reason logged.
 */
#define TSOCK_REUSEPORT 1  /* several workers share the port (light reflector) */
#define TSOCK_PKTINFO 2    /* learn each datagram's destination address (reflectors) */
#define TSOCK_TXSTAMP 4    /* kernel TX timestamps on the error queue (OPT_ID, OPT_TSONLY) */
#define TSOCK_USERTIME 8   /* no kernel timestamps at all: user-space times only */
#define TSOCK_BIGRCVBUF 16 /* many flows share it (light reflector): a receive buffer of
			      TSOCK_RCVBUF octets, as far as net.core.rmem_max allows */
#define TSOCK_RCVBUF (4 << 20)

/*
 * What the kernel really delivers, found at start on a throwaway socket pair
 * on loopback (tsock_probe): a setsockopt that succeeds is no proof, so a
 * packet is sent and its RX and TX timestamps are waited for.
 */
struct tsock_caps {
	bool probed;
	bool rx_sw;          /* SCM_TIMESTAMPING software RX timestamps arrive */
	bool tx_sw;          /* software TX timestamps arrive on the error queue */
};
/* Probe once per process (thread-safe); logs what is in use when `log_it`. */
const struct tsock_caps *tsock_probe(bool log_it);

/*
 * Hardware timestamps on IFACE (SIOCSHWTSTAMP: TX on, RX all).  Call before
 * opening test sockets.  When the interface refuses, logs why and returns -1:
 * software timestamps stay in use.  The NIC's clock must be kept on the
 * system clock (phc2sys); a hardware timestamp implausibly far from the
 * user-space time is rejected like any other.
 */
int tsock_enable_hw(const char *iface);

/*
 * Kernel timestamps implausibly far from the user-space time are rejected:
 * more than this before it, or TSOCK_TS_AFTER after it.
 */
#define TSOCK_TS_BEFORE (1 * 1000000LL)      /* 1 ms */
#define TSOCK_TS_AFTER (200 * 1000000LL)     /* 200 ms */
int tsock_open(const struct sockaddr_storage *local, uint16_t port_lo, uint16_t port_hi,
	       int dscp, int flags, uint16_t *port);
int tsock_set_dscp(int fd, int family, int dscp);
/* The whole DS field octet: DSCP << 2 | ECN (RFC 3168 codepoint). */
int tsock_set_tos(int fd, int family, int tos);

/* One datagram: its length, or -1 (errno EAGAIN when there is none). */
ssize_t tsock_recv(int fd, void *buf, size_t cap, struct tsock_rx *rx);
/* 0 or -1 (errno set). */
int tsock_send(int fd, const void *buf, size_t len, const struct sockaddr *to, socklen_t tolen);
/*
 * Reply to a datagram from the address it was sent to (rx->dst), so that a
 * reflector bound to a wildcard address answers from the address the sender
 * used, as a connected sender expects.  Falls back to tsock_send().
 */
int tsock_reply(int fd, const void *buf, size_t len, const struct tsock_rx *rx);
/*
 * The same with the DS field octet (DSCP << 2 | ECN) of this one datagram
 * given as a control message (IP_TOS / IPV6_TCLASS, by the peer's family):
 * no setsockopt per packet.  tos < 0: the socket's setting.
 */
int tsock_reply_tos(int fd, const void *buf, size_t len, const struct tsock_rx *rx, int tos);

/*
 * Batched reception and replies (recvmmsg / sendmmsg) for the reflectors.
 * A batch owns `cap` datagram buffers of `bufsize` octets each, with their
 * source addresses, control-message space and tsock_rx, all allocated by
 * tsock_batch_new(): receiving and replying through it allocate nothing.  A
 * batch belongs to one thread (a worker keeps one and reuses it for every
 * socket it serves).  A reply is written in place over the datagram it
 * answers and leaves from the address that datagram was sent to (IP_PKTINFO
 * / IPV6_PKTINFO, as tsock_reply()).
 */
struct tsock_batch;
struct tsock_batch *tsock_batch_new(unsigned cap, size_t bufsize);
void tsock_batch_free(struct tsock_batch *b);
unsigned tsock_batch_cap(const struct tsock_batch *b);
/*
 * Receive up to cap datagrams with one recvmmsg and drop the replies queued
 * so far.  Returns how many (>= 1), or -1 with errno (EAGAIN: none waiting).
 * Fewer than cap means the socket had no more at that moment.  Each datagram
 * has its own kernel receive timestamp; ts_user is one clock reading taken
 * right after the call, shared by the batch.
 */
int tsock_recv_batch(int fd, struct tsock_batch *b);
/*
 * Datagram i of the last tsock_recv_batch(): its buffer (bufsize octets
 * writable), its length in *len (bufsize + 1 when it was truncated, so that
 * an oversized datagram is seen as such), and its tsock_rx in *rx.
 */
uint8_t *tsock_batch_msg(struct tsock_batch *b, unsigned i, size_t *len, const struct tsock_rx **rx);
/* Queue datagram i's buffer, len octets of it, as the reply to datagram i. */
void tsock_batch_reply(struct tsock_batch *b, unsigned i, size_t len);
/* ... leaving with the DS field octet tos (as tsock_reply_tos; < 0: the socket's). */
void tsock_batch_reply_tos(struct tsock_batch *b, unsigned i, size_t len, int tos);
unsigned tsock_batch_nreplies(const struct tsock_batch *b);
/* Queued reply k (in queueing order): its buffer and length, to stamp or seal before sending. */
uint8_t *tsock_batch_reply_buf(struct tsock_batch *b, unsigned k, size_t *len);
/* Take queued reply k back: tsock_send_batch() skips it. */
void tsock_batch_cancel(struct tsock_batch *b, unsigned k);
/*
 * Send the queued replies with sendmmsg (as few calls as the kernel allows)
 * and empty the queue.  Returns how many were sent; *failed counts those the
 * kernel refused (errno holds the last reason), each skipped, never retried.
 */
unsigned tsock_send_batch(int fd, struct tsock_batch *b, unsigned *failed);

/*
 * One message from the socket's error queue (TX timestamps): 1 with
 * rx->txstamp / rx->txid / rx->ts_kernel set, 0 when the queue is empty.
 */
int tsock_recv_errqueue(int fd, struct tsock_rx *rx);

/*
 * Queue ICMP errors about our datagrams on fd's error queue (IP_RECVERR, and
 * IPV6_RECVERR on an IPv6 socket), where tsock_recv_errqueue() reports a port
 * unreachable as rx->port_unreach.  Only for sockets whose owner drains the
 * error queue on EPOLLERR (client sessions): a reflector would keep waking.
 */
void tsock_set_recverr(int fd);

/* Walk the control messages of a received datagram into rx. */
void tsock_parse_cmsg(struct msghdr *msg, struct tsock_rx *rx);

/* ---- small address helpers shared by the control and test paths ---- */
socklen_t tsock_addr_len(const struct sockaddr_storage *ss);
uint16_t tsock_addr_port(const struct sockaddr_storage *ss);
void tsock_addr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* ::ffff:a.b.c.d -> a.b.c.d in place; other addresses are left alone. */
void tsock_addr_unmap(struct sockaddr_storage *ss);
/* Same address (ports ignored). */
int tsock_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* "1.2.3.4" or "::1" (no port) */
const char *tsock_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/*
 * The name of an address by reverse lookup (getnameinfo, NI_NAMEREQD), as
 * twping prints FROM_HOST ("localhost" for 127.0.0.1); the address itself
 * when it has no name or the lookup takes longer than timeout_ms (it then
 * finishes on a detached thread, and its answer is dropped).
 */
const char *tsock_addr_name(const struct sockaddr_storage *ss, int timeout_ms, char *buf, size_t len);
/*
 * Parse "HOST", "HOST:PORT", "[V6]:PORT" or "V6".  Resolves names with
 * getaddrinfo (family AF_UNSPEC, AF_INET or AF_INET6).  The host part is
 * copied into host (for display).  Returns 0; -1 when HOST does not resolve;
 * -2 when spec is written wrongly (brackets, port, or, with a default_port,
 * i.e. a HOST[:PORT] argument, an unbracketed IPv6 address ending in what
 * looks like a port: "::1:862" is refused with "did you mean [::1]:862?",
 * "[::1:862]" is that address).  err holds the message on failure.
 */
/*
 * spec is an unbracketed IPv6 address whose last group is decimal, 0-65535,
 * and whose rest is an IPv6 address too ("::1:862", "2001:db8::1:443"):
 * probably [ADDR]:PORT written without brackets.  Pure.
 */
bool tsock_v6_port_suffix(const char *spec);
int tsock_resolve(const char *spec, int family, uint16_t default_port,
		  struct sockaddr_storage *out, char *host, size_t hostlen,
		  char *err, size_t errlen);

#endif
