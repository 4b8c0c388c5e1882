/*
 * tsock: test sockets.  One place for their options and one cmsg parser.
 */
#include "tsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ntptime.h"

socklen_t tsock_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

uint16_t tsock_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

void tsock_addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

void tsock_addr_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&s6, ss, sizeof(s6));
	if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
		return;
	s4.sin_port = s6.sin6_port;
	memcpy(&s4.sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

int tsock_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

const char *tsock_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* One reverse lookup, shared by the caller and the thread: the last one out frees it. */
struct tsock_name_job {
	struct sockaddr_storage addr;
	char host[NI_MAXHOST];
	int rc;
	bool done;
	atomic_int refs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void tsock_name_put(struct tsock_name_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *tsock_name_thread(void *arg)
{
	struct tsock_name_job *j = arg;
	char host[NI_MAXHOST];
	int rc = getnameinfo((const struct sockaddr *)&j->addr, tsock_addr_len(&j->addr), host,
			     sizeof(host), NULL, 0, NI_NAMEREQD);

	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	if (rc == 0)
		memcpy(j->host, host, sizeof(host));
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	tsock_name_put(j);
	return NULL;
}

const char *tsock_addr_name(const struct sockaddr_storage *ss, int timeout_ms, char *buf, size_t len)
{
	struct tsock_name_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t th;
	struct timespec until;
	int started;

	tsock_addr_str(ss, buf, len);
	if (!j)
		return buf;
	j->addr = *ss;
	tsock_addr_unmap(&j->addr);
	atomic_init(&j->refs, 2);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&th, &ta, tsock_name_thread, j) == 0;
	pthread_attr_destroy(&ta);
	if (!started) {
		atomic_store(&j->refs, 1);
		tsock_name_put(j);
		return buf;
	}
	until = ntptime_to_timespec(ntptime_mono() + (int64_t)timeout_ms * NS_PER_MS); /* the condvar's clock */
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT)
			break;
	if (j->done && j->rc == 0)
		snprintf(buf, len, "%s", j->host);
	pthread_mutex_unlock(&j->mu);
	tsock_name_put(j);
	return buf;
}

bool tsock_v6_port_suffix(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	struct in6_addr a;
	char head[INET6_ADDRSTRLEN];
	size_t n, digits;

	if (!colon || colon == spec || colon[-1] == ':' || !strchr(spec, ':') || strchr(spec, ':') == colon)
		return false;
	digits = strspn(colon + 1, "0123456789");
	if (digits == 0 || digits > 5 || colon[1 + digits] || strtoul(colon + 1, NULL, 10) > 65535)
		return false;
	n = (size_t)(colon - spec);
	if (n >= sizeof(head))
		return false;
	memcpy(head, spec, n);
	head[n] = 0;
	return inet_pton(AF_INET6, head, &a) == 1;
}

int tsock_resolve(const char *spec, int family, uint16_t default_port,
		  struct sockaddr_storage *out, char *host, size_t hostlen,
		  char *err, size_t errlen)
{
	char h[256], port[16];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM }, *res = NULL;
	int rc;

	snprintf(port, sizeof(port), "%u", default_port);
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || (end[1] && end[1] != ':')) {
			snprintf(err, errlen, "bad address '%s': expected [IPv6]:PORT", spec);
			return -2;
		}
		snprintf(h, sizeof(h), "%.*s", (int)(end - spec - 1), spec + 1);
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
	} else if (colon && strchr(spec, ':') == colon) {
		/* exactly one colon: HOST:PORT */
		snprintf(h, sizeof(h), "%.*s", (int)(colon - spec), spec);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(h, sizeof(h), "%s", spec); /* a name, IPv4, or a bare IPv6 */
		if (default_port && colon && tsock_v6_port_suffix(spec)) {
			snprintf(err, errlen, "'%s' is ambiguous: did you mean [%.*s]:%s? (an IPv6 address "
				 "with a port goes in brackets; the address alone: [%s])", spec,
				 (int)(colon - spec), spec, colon + 1, spec);
			return -2;
		}
	}
	{
		char *end;
		unsigned long p = strtoul(port, &end, 10);

		if (!port[0] || *end || p > 65535) {
			snprintf(err, errlen, "bad port '%s' in '%s'", port, spec);
			return -2;
		}
	}
	rc = getaddrinfo(h[0] ? h : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", h, gai_strerror(rc));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (host)
		snprintf(host, hostlen, "%s", h);
	return 0;
}

int tsock_set_dscp(int fd, int family, int dscp)
{
	return tsock_set_tos(fd, family, (dscp & 0x3f) << 2);
}

/* The socket's own family (an IPv6 socket may carry IPv4 peers), else fallback. */
static int sock_domain(int fd, int fallback)
{
	int domain = fallback;
	socklen_t dl = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
		domain = fallback;
	return domain;
}

int tsock_set_tos(int fd, int family, int tos)
{
	int domain = sock_domain(fd, family);

	tos &= 0xff;
	if (domain == AF_INET6) {
		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)); /* IPv4 on dual-stack */
		return setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	}
	return setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
}

static _Atomic bool hw_enabled;

int tsock_enable_hw(const char *iface)
{
	struct hwtstamp_config hc = { .tx_type = HWTSTAMP_TX_ON, .rx_filter = HWTSTAMP_FILTER_ALL };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(iface) >= sizeof(ifr.ifr_name)) {
		log_warn("hardware timestamps on '%s': bad interface name or no socket; using software", iface);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = (char *)&hc;
	if (ioctl(fd, SIOCSHWTSTAMP, &ifr) < 0) {
		log_warn("hardware timestamps not available on %s (SIOCSHWTSTAMP: %m): using software "
			 "timestamps", iface);
		close(fd);
		return -1;
	}
	close(fd);
	atomic_store(&hw_enabled, true);
	log_info("hardware timestamps enabled on %s (tx %d, rx filter %d)", iface, hc.tx_type, hc.rx_filter);
	return 0;
}

static int timestamping_flags(int flags)
{
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	if (flags & TSOCK_TXSTAMP)
		ts |= SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
	if (atomic_load(&hw_enabled)) {
		ts |= SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE;
		if (flags & TSOCK_TXSTAMP)
			ts |= SOF_TIMESTAMPING_TX_HARDWARE;
	}
	return ts;
}

/* Kernel timestamps are an upgrade, not a requirement: -1 when the kernel refuses them. */
static int set_timestamping(int fd, int flags)
{
	int one = 1, ts = timestamping_flags(flags);

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0) {
		LOG_RL(LOGL_WARN, 3600, "SO_TIMESTAMPING refused (%m): using user-space times");
		return -1;
	}
	if (flags & TSOCK_TXSTAMP)
		/* the error queue wakes epoll with EPOLLPRI as well as EPOLLERR */
		setsockopt(fd, SOL_SOCKET, SO_SELECT_ERR_QUEUE, &one, sizeof(one));
	return 0;
}

static int set_options(int fd, int family, int dscp, int flags)
{
	int one = 1, ttl = 255;

	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0)
			return -1;
		/* a dual-stack socket also carries IPv4: best effort */
		setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
		setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	} else {
		if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0)
			return -1;
	}
	if (dscp >= 0 && tsock_set_dscp(fd, family, dscp) < 0)
		return -1;
	if (!(flags & TSOCK_USERTIME))
		(void)set_timestamping(fd, flags);
	return 0;
}

int tsock_open(const struct sockaddr_storage *local, uint16_t port_lo, uint16_t port_hi,
	       int dscp, int flags, uint16_t *port)
{
	struct sockaddr_storage a = *local;
	int family = local->ss_family;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	unsigned p;

	if (fd < 0) {
		/* out of descriptors, a request at a time: once per 10 s is enough */
		LOG_RL(LOGL_ERR, 10, "test socket: %m");
		return -1;
	}
	if (set_options(fd, family, dscp, flags) < 0) {
		log_err("test socket options: %m");
		goto fail;
	}
	if (flags & TSOCK_PKTINFO) {
		int one = 1;

		/* on a dual-stack socket IPv4 datagrams report IP_PKTINFO */
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		if (family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0) {
			log_err("test socket IPV6_RECVPKTINFO: %m");
			goto fail;
		}
	}
	if (flags & TSOCK_BIGRCVBUF) {
		int want = TSOCK_RCVBUF;

		/* the kernel caps it at net.core.rmem_max: best effort */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	}
	if (flags & TSOCK_REUSEPORT) {
		int one = 1;

		if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
			log_err("test socket SO_REUSEPORT: %m");
			goto fail;
		}
	}
	if (family == AF_INET6) {
		int v6only = 0;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	}
	if (port_lo == 0 && port_hi == 0) {
		tsock_addr_set_port(&a, 0);
		if (bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)) < 0) {
			log_err("test socket bind: %m");
			goto fail;
		}
	} else {
		for (p = port_lo; p <= port_hi; p++) {
			tsock_addr_set_port(&a, (uint16_t)p);
			if (bind(fd, (struct sockaddr *)&a, tsock_addr_len(&a)) == 0)
				break;
			if (errno != EADDRINUSE && errno != EACCES) {
				log_err("test socket bind to port %u: %m", p);
				goto fail;
			}
		}
		if (p > port_hi) {
			log_err("test socket: no free UDP port in %u-%u", port_lo, port_hi);
			goto fail;
		}
	}
	{
		socklen_t len = sizeof(a);

		if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
			goto fail;
		*port = tsock_addr_port(&a);
	}
	return fd;
fail:
	close(fd);
	return -1;
}

void tsock_parse_cmsg(struct msghdr *msg, struct tsock_rx *rx)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		const unsigned char *d = CMSG_DATA(c);
		size_t dlen = c->cmsg_len - CMSG_LEN(0);
		int v;

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
		    dlen >= sizeof(struct scm_timestamping)) {
			struct scm_timestamping t;

			memcpy(&t, d, sizeof(t));
			/* ts[2]: raw hardware time, when the NIC gave one; ts[0]: software */
			if (t.ts[2].tv_sec || t.ts[2].tv_nsec) {
				rx->ts_kernel = ntptime_from_timespec(&t.ts[2]);
				rx->ts_hw = true;
			} else if (t.ts[0].tv_sec || t.ts[0].tv_nsec) {
				rx->ts_kernel = ntptime_from_timespec(&t.ts[0]);
			}
		} else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
			   dlen >= sizeof(struct sock_extended_err)) {
			struct sock_extended_err ee;

			memcpy(&ee, d, sizeof(ee));
			if (ee.ee_errno == ENOMSG && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
				rx->txstamp = true;
				rx->txid = ee.ee_data;
			} else if (ee.ee_errno == ECONNREFUSED &&
				   (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6)) {
				/*
				 * A port unreachable is said by the host that has
				 * no listener: the ICMP's sender (the offender)
				 * must be the destination of the datagram
				 * (msg_name, in rx->from) for it to count.
				 */
				struct sockaddr_storage off = { 0 };
				const struct sockaddr *o = (const struct sockaddr *)(d + sizeof(ee));
				size_t olen = dlen - sizeof(ee);
				sa_family_t fam = 0;
				size_t want;

				if (olen >= sizeof(sa_family_t))  /* the offender's family, when it is there */
					memcpy(&fam, &o->sa_family, sizeof(fam));
				want = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
				if ((fam == AF_INET || fam == AF_INET6) && olen >= want) {
					struct sockaddr_storage dst = rx->from;

					memcpy(&off, o, want);
					tsock_addr_unmap(&off);
					tsock_addr_unmap(&dst);
					rx->port_unreach = tsock_addr_equal(&off, &dst);
				}
			}
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL && dlen >= sizeof(int)) {
			memcpy(&v, d, sizeof(v));
			rx->ttl = v;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && dlen >= 1) {
			rx->tos = d[0];
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT &&
			   dlen >= sizeof(int)) {
			memcpy(&v, d, sizeof(v));
			rx->ttl = v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
			   dlen >= sizeof(int)) {
			memcpy(&v, d, sizeof(v));
			rx->tos = v;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
			   dlen >= sizeof(struct in_pktinfo)) {
			struct in_pktinfo pi;
			struct sockaddr_in *a = (struct sockaddr_in *)&rx->dst;

			memcpy(&pi, d, sizeof(pi));
			memset(&rx->dst, 0, sizeof(rx->dst));
			a->sin_family = AF_INET;
			a->sin_addr = pi.ipi_addr;
			rx->dst_level = IPPROTO_IP;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   dlen >= sizeof(struct in6_pktinfo)) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&rx->dst;

			memcpy(&pi, d, sizeof(pi));
			memset(&rx->dst, 0, sizeof(rx->dst));
			a->sin6_family = AF_INET6;
			a->sin6_addr = pi.ipi6_addr;
			rx->dst_level = IPPROTO_IPV6;
		}
	}
}

/* A fresh tsock_rx for a datagram received at `now` from an address of fromlen octets. */
static void rx_reset(struct tsock_rx *rx, int64_t now, socklen_t fromlen)
{
	rx->ts_user = now;
	rx->ts_kernel = 0;
	rx->ttl = -1;
	rx->tos = -1;
	rx->dst.ss_family = AF_UNSPEC;
	rx->dst_level = 0;
	rx->txstamp = false;
	rx->ts_hw = false;
	rx->port_unreach = false;
	rx->fromlen = fromlen;
}

void tsock_set_recverr(int fd)
{
	int one = 1, domain = sock_domain(fd, AF_INET);

	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0 && domain == AF_INET)
		LOG_RL(LOGL_DEBUG, 60, "IP_RECVERR: %m");
	if (domain == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0)
		LOG_RL(LOGL_DEBUG, 60, "IPV6_RECVERR: %m");
}

ssize_t tsock_recv(int fd, void *buf, size_t cap, struct tsock_rx *rx)
{
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_name = &rx->from, .msg_namelen = sizeof(rx->from),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

	if (n < 0)
		return -1;
	rx_reset(rx, ntptime_now(), msg.msg_namelen);
	if (msg.msg_flags & MSG_TRUNC) {
		errno = EMSGSIZE;
		return (ssize_t)cap + 1; /* caller sees an oversized datagram */
	}
	tsock_parse_cmsg(&msg, rx);
	return n;
}

int tsock_send(int fd, const void *buf, size_t len, const struct sockaddr *to, socklen_t tolen)
{
	ssize_t n = sendto(fd, buf, len, MSG_DONTWAIT, to, tolen);

	/*
	 * With IP_RECVERR an ICMP error is also the socket's pending error,
	 * which the next send returns instead of sending: that call has
	 * cleared it, so send once more (the error itself is read from the
	 * error queue).  Otherwise any ICMP, forged or not, costs a packet.
	 */
	if (n < 0 && errno == ECONNREFUSED)
		n = sendto(fd, buf, len, MSG_DONTWAIT, to, tolen);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Space for the control messages of a reply: its source address, its DS field. */
#define REPLY_CTL_SPACE (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)))

/*
 * Write into ctl (REPLY_CTL_SPACE octets, cmsghdr-aligned) the control
 * messages of a reply to rx: the IP_PKTINFO or IPV6_PKTINFO that makes it
 * leave from rx->dst (when known), and with tos >= 0 the IP_TOS or
 * IPV6_TCLASS octet of this one datagram (the socket's own setting stays as
 * it is).  IPv4 peers of a dual-stack socket take the IPv4 forms.  Returns the
 * length, 0 when there is nothing to say.
 */
static size_t put_reply_cmsg(const struct tsock_rx *rx, int tos, char *ctl)
{
	struct msghdr msg = { .msg_control = ctl, .msg_controllen = REPLY_CTL_SPACE };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	size_t len = 0;

	memset(ctl, 0, REPLY_CTL_SPACE);
	if (rx->dst_level == IPPROTO_IP) {
		struct in_pktinfo pi = { .ipi_spec_dst = ((const struct sockaddr_in *)&rx->dst)->sin_addr };

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		len = CMSG_SPACE(sizeof(pi));
	} else if (rx->dst_level == IPPROTO_IPV6) {
		struct in6_pktinfo pi = { .ipi6_addr = ((const struct sockaddr_in6 *)&rx->dst)->sin6_addr };

		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		len = CMSG_SPACE(sizeof(pi));
	}
	if (tos >= 0) {
		struct sockaddr_in6 s6;
		bool v4 = rx->from.ss_family == AF_INET;
		int v = tos & 0xff;

		if (rx->from.ss_family == AF_INET6) {
			memcpy(&s6, &rx->from, sizeof(s6));
			v4 = IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr);
		}
		c = (struct cmsghdr *)(ctl + len);
		c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
		c->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
		c->cmsg_len = CMSG_LEN(sizeof(v));
		memcpy(CMSG_DATA(c), &v, sizeof(v));
		len += CMSG_SPACE(sizeof(v));
	}
	return len;
}

int tsock_reply_tos(int fd, const void *buf, size_t len, const struct tsock_rx *rx, int tos)
{
	union {
		char buf[REPLY_CTL_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)&rx->from, .msg_namelen = rx->fromlen,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t n;

	msg.msg_controllen = put_reply_cmsg(rx, tos, ctl.buf);
	if (msg.msg_controllen)
		msg.msg_control = ctl.buf;
	n = sendmsg(fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int tsock_reply(int fd, const void *buf, size_t len, const struct tsock_rx *rx)
{
	return tsock_reply_tos(fd, buf, len, rx, -1);
}

/* ---- batches: recvmmsg / sendmmsg ---------------------------------------- */

/* Control-message space of one received datagram: timestamps, TTL, TOS, PKTINFO. */
#define BATCH_CTL 256

union rctl {
	char buf[BATCH_CTL];
	struct cmsghdr align;
};

union sctl {
	char buf[REPLY_CTL_SPACE];
	struct cmsghdr align;
};

struct tsock_batch {
	unsigned cap;
	unsigned nrx;             /* datagrams of the last receive */
	unsigned nreply;          /* replies queued */
	size_t bufsize;
	uint8_t *data;            /* cap buffers of bufsize octets */
	/* reception, per datagram */
	struct mmsghdr *rmsg;
	struct iovec *riov;
	union rctl *rctl;
	struct tsock_rx *rx;
	size_t *len;
	/* replies, in queueing order */
	unsigned *reply_of;       /* the datagram each answers (its buffer, its addresses) */
	size_t *reply_len;        /* 0: cancelled */
	int *reply_tos;           /* DS field octet of the reply, -1: the socket's */
	struct mmsghdr *smsg;
	struct iovec *siov;
	union sctl *sctl;
};

void tsock_batch_free(struct tsock_batch *b)
{
	if (!b)
		return;
	free(b->data);
	free(b->rmsg);
	free(b->riov);
	free(b->rctl);
	free(b->rx);
	free(b->len);
	free(b->reply_of);
	free(b->reply_len);
	free(b->reply_tos);
	free(b->smsg);
	free(b->siov);
	free(b->sctl);
	free(b);
}

struct tsock_batch *tsock_batch_new(unsigned cap, size_t bufsize)
{
	struct tsock_batch *b = calloc(1, sizeof(*b));

	if (!b || !cap || !bufsize)
		goto fail;
	b->cap = cap;
	b->bufsize = bufsize;
	b->data = calloc(cap, bufsize);
	b->rmsg = calloc(cap, sizeof(*b->rmsg));
	b->riov = calloc(cap, sizeof(*b->riov));
	b->rctl = calloc(cap, sizeof(*b->rctl));
	b->rx = calloc(cap, sizeof(*b->rx));
	b->len = calloc(cap, sizeof(*b->len));
	b->reply_of = calloc(cap, sizeof(*b->reply_of));
	b->reply_len = calloc(cap, sizeof(*b->reply_len));
	b->reply_tos = calloc(cap, sizeof(*b->reply_tos));
	b->smsg = calloc(cap, sizeof(*b->smsg));
	b->siov = calloc(cap, sizeof(*b->siov));
	b->sctl = calloc(cap, sizeof(*b->sctl));
	if (!b->data || !b->rmsg || !b->riov || !b->rctl || !b->rx || !b->len || !b->reply_of ||
	    !b->reply_len || !b->reply_tos || !b->smsg || !b->siov || !b->sctl)
		goto fail;
	/* what the kernel never changes is set once */
	for (unsigned i = 0; i < cap; i++) {
		struct msghdr *m = &b->rmsg[i].msg_hdr;

		b->riov[i].iov_base = b->data + (size_t)i * bufsize;
		b->riov[i].iov_len = bufsize;
		m->msg_name = &b->rx[i].from;
		m->msg_iov = &b->riov[i];
		m->msg_iovlen = 1;
		m->msg_control = b->rctl[i].buf;
		b->smsg[i].msg_hdr.msg_iov = &b->siov[i];
		b->smsg[i].msg_hdr.msg_iovlen = 1;
	}
	return b;
fail:
	log_err("cannot allocate a batch of %u datagrams of %zu octets", cap, bufsize);
	tsock_batch_free(b);
	return NULL;
}

unsigned tsock_batch_cap(const struct tsock_batch *b)
{
	return b->cap;
}

int tsock_recv_batch(int fd, struct tsock_batch *b)
{
	int n;
	int64_t now;

	b->nrx = b->nreply = 0;
	for (unsigned i = 0; i < b->cap; i++) {
		struct msghdr *m = &b->rmsg[i].msg_hdr;

		m->msg_namelen = sizeof(b->rx[i].from);
		m->msg_controllen = sizeof(b->rctl[i].buf);
		m->msg_flags = 0;
	}
	n = recvmmsg(fd, b->rmsg, b->cap, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n == 0)
			errno = EAGAIN;
		return -1;
	}
	now = ntptime_now();
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &b->rmsg[i].msg_hdr;
		struct tsock_rx *rx = &b->rx[i];

		rx_reset(rx, now, m->msg_namelen);
		if (m->msg_flags & MSG_TRUNC) {
			b->len[i] = b->bufsize + 1; /* the caller sees an oversized datagram */
			continue;
		}
		b->len[i] = b->rmsg[i].msg_len;
		tsock_parse_cmsg(m, rx);
	}
	b->nrx = (unsigned)n;
	return n;
}

uint8_t *tsock_batch_msg(struct tsock_batch *b, unsigned i, size_t *len, const struct tsock_rx **rx)
{
	*len = b->len[i];
	*rx = &b->rx[i];
	return b->data + (size_t)i * b->bufsize;
}

void tsock_batch_reply_tos(struct tsock_batch *b, unsigned i, size_t len, int tos)
{
	if (i >= b->nrx || b->nreply >= b->cap || !len || len > b->bufsize)
		return;
	b->reply_of[b->nreply] = i;
	b->reply_len[b->nreply] = len;
	b->reply_tos[b->nreply] = tos;
	b->nreply++;
}

void tsock_batch_reply(struct tsock_batch *b, unsigned i, size_t len)
{
	tsock_batch_reply_tos(b, i, len, -1);
}

unsigned tsock_batch_nreplies(const struct tsock_batch *b)
{
	return b->nreply;
}

uint8_t *tsock_batch_reply_buf(struct tsock_batch *b, unsigned k, size_t *len)
{
	*len = b->reply_len[k];
	return b->data + (size_t)b->reply_of[k] * b->bufsize;
}

void tsock_batch_cancel(struct tsock_batch *b, unsigned k)
{
	if (k < b->nreply)
		b->reply_len[k] = 0;
}

unsigned tsock_send_batch(int fd, struct tsock_batch *b, unsigned *failed)
{
	unsigned m = 0, sent = 0, i = 0;
	int err = 0;

	*failed = 0;
	for (unsigned k = 0; k < b->nreply; k++) {
		const struct tsock_rx *rx = &b->rx[b->reply_of[k]];
		struct msghdr *h = &b->smsg[m].msg_hdr;
		size_t cl;

		if (!b->reply_len[k])
			continue;
		b->siov[m].iov_base = b->data + (size_t)b->reply_of[k] * b->bufsize;
		b->siov[m].iov_len = b->reply_len[k];
		h->msg_name = (void *)&rx->from;
		h->msg_namelen = rx->fromlen;
		cl = put_reply_cmsg(rx, b->reply_tos[k], b->sctl[m].buf);
		h->msg_control = cl ? b->sctl[m].buf : NULL;
		h->msg_controllen = cl;
		h->msg_flags = 0;
		m++;
	}
	b->nreply = 0;
	while (i < m) {
		int r = sendmmsg(fd, b->smsg + i, m - i, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* the first message of the rest was refused: skip it, go on with the others */
			err = r < 0 ? errno : EIO;
			(*failed)++;
			i++;
			continue;
		}
		sent += (unsigned)r;
		i += (unsigned)r;
	}
	if (*failed)
		errno = err;
	return sent;
}

int tsock_recv_errqueue(int fd, struct tsock_rx *rx)
{
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	char data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_name = &rx->from, .msg_namelen = sizeof(rx->from),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};

	if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return 0;
	rx_reset(rx, ntptime_now(), msg.msg_namelen);
	tsock_parse_cmsg(&msg, rx);
	return 1;
}

static struct tsock_caps caps;
static pthread_once_t caps_once = PTHREAD_ONCE_INIT;

/*
 * Send one datagram to ourselves on loopback and see which timestamps come.
 * A refused SO_TIMESTAMPING ends the probe at once (no stamp can come).  Up
 * to TSOCK_PROBE_WAIT for the datagram itself (a loaded machine may take its
 * time); once it is back, TSOCK_PROBE_GRACE more for the stamps still
 * missing: on loopback the TX stamp is queued before the datagram is
 * delivered, and RX stamping is turned on a moment after the first socket
 * asks (a deferred work item), so a stamp that has not come by then will not.
 */
#define TSOCK_PROBE_WAIT NS_PER_SEC
#define TSOCK_PROBE_GRACE (200 * 1000000LL)
static void probe_caps(void)
{
	struct sockaddr_storage lo = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&lo;
	struct tsock_rx rx;
	uint16_t port;
	int fd;
	char buf[8] = "probe";

	caps.probed = true;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* opened without stamps, then asked for them here, to see a refusal */
	fd = tsock_open(&lo, 0, 0, -1, TSOCK_TXSTAMP | TSOCK_USERTIME, &port);
	if (fd < 0)
		return;
	if (set_timestamping(fd, TSOCK_TXSTAMP) < 0) {
		close(fd);
		return;
	}
	tsock_addr_set_port(&lo, port);
	if (tsock_send(fd, buf, sizeof(buf), (struct sockaddr *)&lo, sizeof(struct sockaddr_in)) == 0) {
		int64_t deadline = ntptime_mono() + TSOCK_PROBE_WAIT;
		bool back = false;

		while ((!caps.rx_sw || !caps.tx_sw) && ntptime_mono() < deadline) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLPRI };

			poll(&pfd, 1, 5);
			/* drain the error queue: a stamp left in it would make poll() return at once */
			while (tsock_recv_errqueue(fd, &rx) == 1)
				if (rx.txstamp && rx.ts_kernel)
					caps.tx_sw = true;
			if (!caps.rx_sw && tsock_recv(fd, buf, sizeof(buf), &rx) > 0) {
				if (!back) {
					int64_t grace = ntptime_mono() + TSOCK_PROBE_GRACE;

					back = true;
					if (grace < deadline)
						deadline = grace;
				}
				if (rx.ts_kernel)
					caps.rx_sw = true;
				else /* the kernel turns RX stamping on a moment after the first socket asks */
					(void)tsock_send(fd, buf, sizeof(buf), (struct sockaddr *)&lo,
							 sizeof(struct sockaddr_in));
			}
		}
	}
	close(fd);
}

const struct tsock_caps *tsock_probe(bool log_it)
{
	pthread_once(&caps_once, probe_caps);
	if (log_it)
		log_info("timestamps: receive %s, transmit %s", caps.rx_sw ? "kernel (software)" : "user space",
			 caps.tx_sw ? "kernel (software, error queue)" : "user space");
	return &caps;
}
