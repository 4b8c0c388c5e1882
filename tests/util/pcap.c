/*
 * pcap: reads captures of real TWAMP peers so tests can replay their bytes.
 *
 * Only what the interop captures need: classic pcap (not pcapng), IPv4/IPv6,
 * TCP/UDP, no reassembly of IP fragments.  A frame shorter than its headers
 * claim still gets an entry, just without the parts it lacks (ipver 0, or no
 * ports/payload), so the test sees what is missing; only a file that is not
 * pcap, or whose last record is cut short, fails to load.
 */
#include "pcap.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_GLOBAL_HDR_LEN 24
#define PCAP_REC_HDR_LEN 16

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Transport header at p (len octets up to the end of the IP payload). */
static void parse_transport(struct pcap_frame *f, const uint8_t *p, size_t len)
{
	size_t hlen;

	if (f->proto == PCAP_PROTO_UDP) {
		size_t ulen;

		if (len < 8)
			return;
		f->sport = be16(p);
		f->dport = be16(p + 2);
		ulen = be16(p + 4);
		if (ulen >= 8 && ulen <= len)
			len = ulen;
		hlen = 8;
	} else if (f->proto == PCAP_PROTO_TCP) {
		if (len < 20)
			return;
		f->sport = be16(p);
		f->dport = be16(p + 2);
		f->tcp_seq = be32(p + 4);
		f->tcp_flags = p[13];
		hlen = (size_t)(p[12] >> 4) * 4;
		if (hlen < 20 || hlen > len)
			return;
	} else {
		return;
	}
	f->payload_len = len - hlen;
	f->payload = f->payload_len ? p + hlen : NULL;
}

/* IP packet at p; len is what the capture holds from p on. */
static void parse_ip(struct pcap_frame *f, const uint8_t *p, size_t len)
{
	if (len < 1)
		return;
	if (p[0] >> 4 == 4) {
		size_t ihl, tot;

		if (len < 20)
			return;
		ihl = (size_t)(p[0] & 0x0f) * 4;
		tot = be16(p + 2);
		if (ihl < 20 || tot < ihl || ihl > len)
			return;
		if (tot < len)
			len = tot; /* drop link-layer padding */
		f->ipver = 4;
		f->family = AF_INET;
		f->tos = p[1];
		f->ttl = p[8];
		f->proto = p[9];
		memcpy(f->src, p + 12, 4);
		memcpy(f->dst, p + 16, 4);
		if (be16(p + 6) & 0x1fff)
			return; /* a non-first fragment has no transport header */
		parse_transport(f, p + ihl, len - ihl);
	} else if (p[0] >> 4 == 6) {
		size_t plen;

		if (len < 40)
			return;
		plen = be16(p + 4);
		if (plen + 40 < len)
			len = plen + 40;
		f->ipver = 6;
		f->family = AF_INET6;
		f->tos = (uint8_t)((p[0] & 0x0f) << 4 | p[1] >> 4);
		f->proto = p[6];
		f->ttl = p[7];
		memcpy(f->src, p + 8, 16);
		memcpy(f->dst, p + 24, 16);
		parse_transport(f, p + 40, len - 40);
	}
}

static void parse_link(struct pcap_frame *f, uint32_t linktype, const uint8_t *p, size_t len)
{
	size_t off;
	uint16_t type;

	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (len < 14)
			return;
		off = 14;
		type = be16(p + 12);
		if (type == 0x8100 && len >= 18) { /* 802.1Q tag */
			type = be16(p + 16);
			off = 18;
		}
		break;
	case LINKTYPE_LINUX_SLL:
		if (len < 16)
			return;
		off = 16;
		type = be16(p + 14);
		break;
	case LINKTYPE_RAW:
		parse_ip(f, p, len);
		return;
	default:
		return;
	}
	if (type == 0x0800 || type == 0x86dd)
		parse_ip(f, p + off, len - off);
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!fp)
		return -1;
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				goto fail;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(fp))
		goto fail;
	fclose(fp);
	*data = buf;
	*size = n;
	return 0;
fail:
	free(buf);
	fclose(fp);
	return -1;
}

int pcap_load(const char *path, struct pcap_file *pf)
{
	uint32_t (*rd32)(const uint8_t *);
	uint32_t magic;
	size_t off, cap = 0;

	memset(pf, 0, sizeof(*pf));
	if (read_file(path, &pf->data, &pf->size))
		return -1;
	if (pf->size < PCAP_GLOBAL_HDR_LEN)
		goto fail;
	magic = le32(pf->data);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		rd32 = le32;
	} else {
		magic = be32(pf->data);
		if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS)
			goto fail;
		rd32 = be32;
	}
	pf->nanosecond = magic == PCAP_MAGIC_NS;
	pf->linktype = rd32(pf->data + 20) & 0x0fffffff; /* upper bits: FCS info */

	for (off = PCAP_GLOBAL_HDR_LEN; off + PCAP_REC_HDR_LEN <= pf->size;) {
		const uint8_t *rec = pf->data + off;
		uint32_t caplen = rd32(rec + 8);
		struct pcap_frame *f;
		int64_t frac;

		if (caplen > pf->size - off - PCAP_REC_HDR_LEN)
			goto fail; /* truncated file */
		if (pf->nframes == cap) {
			struct pcap_frame *nf;

			cap = cap ? cap * 2 : 64;
			nf = realloc(pf->frames, cap * sizeof(*nf));
			if (!nf)
				goto fail;
			pf->frames = nf;
		}
		f = &pf->frames[pf->nframes];
		memset(f, 0, sizeof(*f));
		f->index = pf->nframes;
		frac = rd32(rec + 4);
		f->ts_ns = (int64_t)rd32(rec) * 1000000000LL + (pf->nanosecond ? frac : frac * 1000);
		parse_link(f, pf->linktype, rec + PCAP_REC_HDR_LEN, caplen);
		pf->nframes++;
		off += PCAP_REC_HDR_LEN + caplen;
	}
	if (off != pf->size)
		goto fail; /* trailing partial record header */
	return 0;
fail:
	pcap_free(pf);
	return -1;
}

void pcap_free(struct pcap_file *pf)
{
	free(pf->frames);
	free(pf->data);
	memset(pf, 0, sizeof(*pf));
}

int pcap_tcp_stream(const struct pcap_file *pf, uint16_t src_port, uint16_t dst_port,
		    uint8_t **out, size_t *len)
{
	uint8_t *buf;
	size_t total = 0, i, n = 0;

	for (i = 0; i < pf->nframes; i++) {
		const struct pcap_frame *f = &pf->frames[i];

		if (f->proto == PCAP_PROTO_TCP && f->sport == src_port && f->dport == dst_port)
			total += f->payload_len;
	}
	buf = malloc(total ? total : 1);
	if (!buf)
		return -1;
	for (i = 0; i < pf->nframes; i++) {
		const struct pcap_frame *f = &pf->frames[i];

		if (f->proto != PCAP_PROTO_TCP || f->sport != src_port || f->dport != dst_port ||
		    !f->payload_len)
			continue;
		memcpy(buf + n, f->payload, f->payload_len);
		n += f->payload_len;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int udp_match(const struct pcap_frame *f, uint16_t src_port, uint16_t dst_port)
{
	return f->proto == PCAP_PROTO_UDP && (!src_port || f->sport == src_port) &&
	       (!dst_port || f->dport == dst_port);
}

const struct pcap_frame *pcap_next_udp(const struct pcap_file *pf, size_t *pos,
				       uint16_t src_port, uint16_t dst_port)
{
	while (*pos < pf->nframes) {
		const struct pcap_frame *f = &pf->frames[(*pos)++];

		if (udp_match(f, src_port, dst_port))
			return f;
	}
	return NULL;
}

size_t pcap_count_udp(const struct pcap_file *pf, uint16_t src_port, uint16_t dst_port)
{
	size_t i, n = 0;

	for (i = 0; i < pf->nframes; i++)
		n += (size_t)udp_match(&pf->frames[i], src_port, dst_port);
	return n;
}

uint16_t pcap_tcp_client_port(const struct pcap_file *pf, uint16_t dst_port)
{
	size_t i;

	for (i = 0; i < pf->nframes; i++) {
		const struct pcap_frame *f = &pf->frames[i];

		if (f->proto == PCAP_PROTO_TCP && f->dport == dst_port)
			return f->sport;
	}
	return 0;
}
