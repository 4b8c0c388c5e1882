/*
 * pcap: a tiny reader of classic libpcap files for the interop replay tests.
 *
 * pcap_load() reads the whole file into memory and parses every frame down to
 * the transport payload: IPv4 (with options) or IPv6 (no extension headers),
 * then TCP or UDP.  Link types: 1 (Ethernet, one optional 802.1Q tag),
 * 101 (raw IP) and 113 (Linux cooked).  Both byte orders and both the
 * microsecond and nanosecond variants of the format are understood.
 *
 *	struct pcap_file pf;
 *	const struct pcap_frame *f;
 *	size_t pos = 0;
 *
 *	if (pcap_load("tests/data/interop/owamp-twping-twampd-open.pcap", &pf))
 *		fail;
 *	while ((f = pcap_next_udp(&pf, &pos, 9103, 18778)))
 *		use(f->payload, f->payload_len);
 *	pcap_free(&pf);
 *
 * Payload pointers point into pf.data and live until pcap_free().  Functions
 * returning int give 0 on success and -1 on failure.
 */
#ifndef TESTS_UTIL_PCAP_H
#define TESTS_UTIL_PCAP_H

#include <stddef.h>
#include <stdint.h>

#define PCAP_PROTO_TCP 6
#define PCAP_PROTO_UDP 17

struct pcap_frame {
	size_t index;            /* 0-based position in the file (tshark number - 1) */
	int64_t ts_ns;           /* capture time, ns since the Unix epoch */
	int ipver;               /* 4 or 6; 0 when the frame is not IPv4/IPv6 */
	int family;              /* AF_INET, AF_INET6, or 0 */
	uint8_t src[16];         /* source address: IPv4 in the first 4 octets */
	uint8_t dst[16];         /* destination address, the same way */
	uint8_t proto;           /* PCAP_PROTO_TCP, PCAP_PROTO_UDP or other (then no ports) */
	uint8_t tos;             /* IPv4 TOS octet / IPv6 traffic class (DSCP << 2 | ECN) */
	uint8_t ttl;             /* IPv4 TTL / IPv6 hop limit */
	uint8_t tcp_flags;       /* TCP flags octet (FIN 0x01, SYN 0x02, ...), 0 for UDP */
	uint16_t sport;          /* transport source port (host order) */
	uint16_t dport;          /* transport destination port */
	uint32_t tcp_seq;        /* TCP sequence number, 0 for UDP */
	const uint8_t *payload;  /* TCP/UDP payload (NULL when payload_len is 0) */
	size_t payload_len;      /* trimmed to the IP/UDP lengths, so no link padding */
};

struct pcap_file {
	uint8_t *data;            /* the whole file */
	size_t size;
	uint32_t linktype;
	int nanosecond;           /* 1 when timestamps carry nanoseconds */
	struct pcap_frame *frames;
	size_t nframes;
};

/* Read and parse path.  Frames that are not IP still get an entry (ipver 0). */
int pcap_load(const char *path, struct pcap_file *pf);
void pcap_free(struct pcap_file *pf);

/*
 * Concatenate, in capture order, the payload of every TCP segment going from
 * port src_port to port dst_port.  *out is malloc()ed (free() it; never NULL
 * on success, even when *len is 0).  Retransmissions are not removed.
 */
int pcap_tcp_stream(const struct pcap_file *pf, uint16_t src_port, uint16_t dst_port,
		    uint8_t **out, size_t *len);

/*
 * The next UDP frame at index >= *pos going from src_port to dst_port (0 for
 * either port matches any port), or NULL when there is none.  *pos moves past
 * the returned frame, so start with *pos = 0 and loop.
 */
const struct pcap_frame *pcap_next_udp(const struct pcap_file *pf, size_t *pos,
				       uint16_t src_port, uint16_t dst_port);

/* How many UDP frames pcap_next_udp() would return for these ports. */
size_t pcap_count_udp(const struct pcap_file *pf, uint16_t src_port, uint16_t dst_port);

/*
 * Source port of the first TCP segment sent to dst_port (the client side of a
 * connection to a server port), or 0 when there is none.
 */
uint16_t pcap_tcp_client_port(const struct pcap_file *pf, uint16_t dst_port);

#endif
