/*
 * seeds: writes the seed corpora of the fuzz targets from the project's test
 * data: the TWAMP interop captures (tests/data/interop, read with
 * tests/util/pcap.c; their keys and SIDs are those of NOTES.md there) and
 * the configuration test directories (tests/data/config).
 *
 *	seeds DATA_DIR OUT_DIR     (make fuzz-seeds: build-fuzz/corpus/<target>/)
 *
 * Each seed follows the input layout its target documents at its top.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/pcap.h"
#include "wire.h"

#define RAW 4
#define SERVER 8

struct capture {
	const char *file;
	uint16_t ctl, refl;      /* control server port, reflector UDP port (0: none) */
	int mode;                /* 0 open, 1 authenticated, 2 encrypted, 3 mixed */
	const char *keys;        /* AES | HMAC session key | Client-IV, hex (keyed modes) */
	const char *sid;         /* hex */
};

static const struct capture caps[] = {
	{ "owamp-twping-twampd-open.pcap", 8620, 18778, 0, NULL, "7f000001eeb3b81c058aa86525684196" },
	{ "owamp-twping-twampd-open-dscp-af41-pad64.pcap", 8620, 18805, 0, NULL,
	  "7f000001eeb3b834b517e77dcd89f927" },
	{ "owamp-twping-twampd-open-ipv6.pcap", 8621, 18998, 0, NULL, "00000001eeb3b83ae0a79357743bfcc9" },
	{ "twampy-controller-twampd-open.pcap", 862, 18770, 0, NULL, "7f000001eeb3b8ae1c7789a48af07ca8" },
	{ "owamp-twping-twampd-auth.pcap", 8620, 18831, 1,
	  "2751fde35807dc20fc3d515e34a708e6"
	  "26dcd3a05bef2b3f5eb75313ebe388a60d2741d9b7c7d89d2ec8d97c1361a375"
	  "070c7bb74383376d3338273647362afa",
	  "7f000001eeb3b82230cdfaca49067d89" },
	{ "owamp-twping-twampd-encrypted.pcap", 8620, 18834, 2,
	  "73cb21494ef2d9111e35560cba931816"
	  "3a9ed7ed62b16c629a925017eedbf41d889becfcd1bab44e510baa8c716138b4"
	  "7c4dfbf540cc1221e3aad8be14afedaf",
	  "7f000001eeb3b8285f6db940b34531d5" },
	{ "owamp-twping-twampd-mixed.pcap", 8620, 18807, 3,
	  "61f57173d072e92020c5ae5861597096"
	  "33f8d5931133d55fb11104fb5cc8d52ee790efe66eeeb4010c9bbc4ce45ab1e1"
	  "f1e4b9ed6391415f2ee7e9cf2b9fc730",
	  "7f000001eeb3b82e89bd512e9c460e47" },
	{ "owamp-twping-twampd-auth-denied-wrongkey.pcap", 8620, 0, 1, NULL, NULL },
};

static const char *out_dir;

/* A growing seed. */
struct buf {
	uint8_t d[65536];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t len)
{
	if (b->n + len > sizeof(b->d)) {
		fprintf(stderr, "seeds: seed too large\n");
		exit(1);
	}
	memcpy(b->d + b->n, p, len);
	b->n += len;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

/* u16 length + octets, zero-padded to at least min octets */
static void chunk(struct buf *b, const uint8_t *p, size_t len, size_t min)
{
	uint8_t zero[WIRE_TEST_AUTH_REFLECT_LEN] = { 0 };
	size_t total = len < min ? min : len;

	put8(b, (uint8_t)(total >> 8));
	put8(b, (uint8_t)total);
	put(b, p, len);
	if (total > len)
		put(b, zero, total - len);
}

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void emit(const char *target, const char *name, const struct buf *b)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->d, 1, b->n, f) != b->n || fclose(f)) {
		fprintf(stderr, "seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void emit_raw(const char *target, const char *name, const uint8_t *p, size_t len)
{
	struct buf b = { .n = 0 };

	put(&b, p, len);
	emit(target, name, &b);
}

/* Up to max UDP payloads from sport to dport, as chunks padded to min. */
static void udp_chunks(struct buf *b, const struct pcap_file *pf, uint16_t sport, uint16_t dport,
		       int max, size_t min)
{
	const struct pcap_frame *fr;
	size_t pos = 0;

	for (int i = 0; i < max && (fr = pcap_next_udp(pf, &pos, sport, dport)); i++)
		chunk(b, fr->payload, fr->payload_len, min);
}

/* The control streams of a capture: 0, or -1 when the capture is not there. */
struct streams {
	struct pcap_file pf;
	uint8_t *c2s, *s2c;
	size_t nc2s, ns2c;
};

static int load(const char *data, const struct capture *c, struct streams *st)
{
	char path[1024];
	uint16_t cport;

	snprintf(path, sizeof(path), "%s/interop/%s", data, c->file);
	if (pcap_load(path, &st->pf) < 0)
		return -1;
	cport = pcap_tcp_client_port(&st->pf, c->ctl);
	if (pcap_tcp_stream(&st->pf, cport, c->ctl, &st->c2s, &st->nc2s) < 0 ||
	    pcap_tcp_stream(&st->pf, c->ctl, cport, &st->s2c, &st->ns2c) < 0)
		return -1;
	return 0;
}

static void unload(struct streams *st)
{
	free(st->c2s);
	free(st->s2c);
	pcap_free(&st->pf);
}

/* Offsets of the messages in the two control streams */
#define S_START 64
#define S_ACCEPT 112
#define S_ACK 160
#define S_END 192
#define C_REQUEST 164
#define C_START 276
#define C_STOP 308
#define C_END 340

static void wire_seeds(const struct capture *c, const struct streams *st, int ci)
{
	static const struct { const char *name; int s2c; size_t off, len; } msgs[] = {
		{ "greeting", 1, 0, 64 }, { "server-start", 1, S_START, 48 },
		{ "accept", 1, S_ACCEPT, 48 }, { "start-ack", 1, S_ACK, 32 },
		{ "setup", 0, 0, 164 }, { "request", 0, C_REQUEST, 112 },
		{ "start", 0, C_START, 32 }, { "stop", 0, C_STOP, 32 },
	};
	const struct pcap_frame *fr;
	char name[128];
	size_t pos = 0;
	int n = 0;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		const uint8_t *s = msgs[i].s2c ? st->s2c : st->c2s;
		size_t len = msgs[i].s2c ? st->ns2c : st->nc2s;

		if (msgs[i].off + msgs[i].len > len)
			continue;
		snprintf(name, sizeof(name), "cap%d-%s", ci, msgs[i].name);
		emit_raw("wire_control", name, s + msgs[i].off, msgs[i].len);
	}
	if (st->nc2s > C_REQUEST) {
		snprintf(name, sizeof(name), "cap%d-commands", ci);
		emit_raw("wire_control", name, st->c2s + C_REQUEST, st->nc2s - C_REQUEST);
	}
	while (c->refl && n < 4 && (fr = pcap_next_udp(&st->pf, &pos, 0, 0))) {
		if (fr->sport != c->refl && fr->dport != c->refl)
			continue;
		snprintf(name, sizeof(name), "cap%d-udp%d", ci, n++);
		emit_raw("wire_test", name, fr->payload, fr->payload_len);
	}
}

static void ctlchan_seeds(const struct capture *c, const struct streams *st, int ci)
{
	static const uint8_t zero_keys[64];
	uint8_t keys[64], sid[16];
	char name[128];
	struct buf b;

	if (st->ns2c < S_END || st->nc2s < C_END) {
		/* the denial: greeting and Set-Up-Response only */
		if (st->ns2c >= 64 && st->nc2s >= 164) {
			b.n = 0;
			put8(&b, (uint8_t)(c->mode | RAW | SERVER));
			put(&b, st->s2c, 64);
			put(&b, st->c2s, 164);
			snprintf(name, sizeof(name), "cap%d-denied", ci);
			emit("ctlchan", name, &b);
		}
		return;
	}
	hex(c->sid, sid, 16);
	if (c->keys) {
		/* the captures as they are, with their keys */
		hex(c->keys, keys, 64);
		b.n = 0;
		put8(&b, (uint8_t)(c->mode | RAW));
		put(&b, st->s2c, 64);
		put(&b, keys, 64);
		put(&b, st->s2c + S_START, S_END - S_START);
		udp_chunks(&b, &st->pf, c->refl, 0, 3, 0);
		snprintf(name, sizeof(name), "cap%d-client-raw", ci);
		emit("ctlchan", name, &b);

		b.n = 0;
		put8(&b, (uint8_t)(c->mode | RAW | SERVER));
		put(&b, st->s2c, 64);
		put(&b, st->c2s, C_START);
		put(&b, sid, 16);
		put(&b, st->c2s + C_START, C_END - C_START);
		udp_chunks(&b, &st->pf, 0, c->refl, 3, 0);
		snprintf(name, sizeof(name), "cap%d-server-raw", ci);
		emit("ctlchan", name, &b);
		return;
	}
	/* open captures: their plaintext, sealed by the target in each mode */
	for (int m = 0; m < 4; m++) {
		size_t min_r = m == 1 || m == 2 ? WIRE_TEST_AUTH_REFLECT_LEN : 0;

		b.n = 0;
		put8(&b, (uint8_t)m);
		put(&b, st->s2c, 64);
		put(&b, zero_keys, 64);
		put(&b, st->s2c + S_START, S_END - S_START);
		udp_chunks(&b, &st->pf, c->refl, 0, 3, min_r);
		snprintf(name, sizeof(name), "cap%d-client-mode%d", ci, m);
		emit("ctlchan", name, &b);

		b.n = 0;
		put8(&b, (uint8_t)(m | SERVER));
		put(&b, st->s2c, 64);
		put(&b, st->c2s + C_REQUEST, C_START - C_REQUEST);
		put(&b, sid, 16);
		put(&b, st->c2s + C_START, C_END - C_START);
		udp_chunks(&b, &st->pf, 0, c->refl, 3, min_r);
		snprintf(name, sizeof(name), "cap%d-server-mode%d", ci, m);
		emit("ctlchan", name, &b);
	}
}

static void session_seeds(const struct capture *c, const struct streams *st, int ci)
{
	char name[128];
	struct buf b;

	if (c->keys || st->ns2c < S_END)
		return;
	for (int kind = 0; kind < 4; kind++) {
		size_t min_r = kind == 1 || kind == 2 ? WIRE_TEST_AUTH_REFLECT_LEN : 0;

		b.n = 0;
		put8(&b, (uint8_t)(kind | 1 << 5)); /* two packets */
		put(&b, st->s2c, 64);
		put(&b, st->s2c + S_START, S_END - S_START);
		udp_chunks(&b, &st->pf, c->refl, 0, 2, min_r);
		snprintf(name, sizeof(name), "cap%d-kind%d", ci, kind);
		emit("session", name, &b);
	}
}

static void reflector_seeds(const struct capture *c, const struct streams *st, int ci,
			    const struct pcap_file *light)
{
	struct wire_test_sender stamp = { .seq = 0, .ts = 1800000000LL * 1000000000, .ssid = 0x1234 };
	uint8_t pkt[WIRE_STAMP_LEN];
	char name[128];
	struct buf b;

	wire_encode_test_sender(pkt, sizeof(pkt), WIRE_TEST_STAMP, &stamp);
	if (st->nc2s < C_END)
		return;
	if (c->keys) {
		/* a Set-Up-Response the responder's greeting cannot match: denial */
		b.n = 0;
		put8(&b, (uint8_t)(c->mode | RAW));
		put(&b, st->c2s, WIRE_SETUP_LEN);
		snprintf(name, sizeof(name), "cap%d-raw-setup", ci);
		emit("reflector", name, &b);
		return;
	}
	for (int m = 0; m < 4; m++) {
		size_t min_s = m == 1 || m == 2 ? WIRE_TEST_AUTH_REFLECT_LEN : 0;

		b.n = 0;
		put8(&b, (uint8_t)m);
		put8(&b, 0);
		chunk(&b, st->c2s + C_REQUEST, C_START - C_REQUEST, 0);
		put8(&b, 0);
		chunk(&b, st->c2s + C_START, C_STOP - C_START, 0);
		put8(&b, 1);
		udp_chunks(&b, &st->pf, 0, c->refl, 1, min_s);
		put8(&b, 1);
		udp_chunks(&b, &st->pf, 0, c->refl, 1, min_s);
		if (light) {
			put8(&b, 2);
			udp_chunks(&b, light, 20000, 20001, 1, 0);
		}
		put8(&b, 2);
		chunk(&b, pkt, sizeof(pkt), 0);
		put8(&b, 0);
		chunk(&b, st->c2s + C_STOP, C_END - C_STOP, 0);
		snprintf(name, sizeof(name), "cap%d-mode%d", ci, m);
		emit("reflector", name, &b);
	}
}

static void light_seeds(const struct pcap_file *light)
{
	struct wire_test_reflect r = { .seq = 0, .ts = 1800000000LL * 1000000000, .ssid = 0x1234,
				       .rx_ts = 1800000000LL * 1000000000, .sender_ttl = 255 };
	uint8_t pkt[WIRE_STAMP_LEN];
	const struct pcap_frame *fr;
	struct buf b;
	size_t pos = 0;
	int n = 0;

	while (n < 4 && (fr = pcap_next_udp(light, &pos, 0, 0))) {
		char name[64];

		snprintf(name, sizeof(name), "light-udp%d", n++);
		emit_raw("wire_test", name, fr->payload, fr->payload_len);
	}
	/* the session as a light sender, then as a STAMP sender */
	b.n = 0;
	put8(&b, 4 | 1 << 5);
	udp_chunks(&b, light, 20001, 20000, 2, 0);
	emit("session", "light", &b);
	wire_encode_test_reflect(pkt, sizeof(pkt), WIRE_TEST_STAMP, &r);
	b.n = 0;
	put8(&b, 5);
	chunk(&b, pkt, sizeof(pkt), 0);
	emit("session", "stamp", &b);
	emit_raw("wire_test", "stamp-reflect", pkt, sizeof(pkt));
}

static int read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(b->d + b->n, 1, sizeof(b->d) - b->n, f);
	fclose(f);
	b->n += n;
	return 0;
}

static bool exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Each tests/data/config/<case>/ as one fuzz_config input. */
static void config_seeds(const char *data)
{
	char base[1024], dir[1024 + 256], path[2048];
	struct dirent *e;
	DIR *d;

	snprintf(base, sizeof(base), "%s/config", data);
	if (!(d = opendir(base)))
		return;
	while ((e = readdir(d))) {
		bool later, local;
		const char *g, *t;
		struct buf b;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		later = exists(dir, "global_config.json") || exists(dir, "targets_list.json");
		local = later && exists(dir, "local_config.json");
		g = later ? "global_config.json" : "twamp_global_config.json";
		t = later ? "targets_list.json" : "twamp_targets_list.json";
		b.n = 0;
		put8(&b, (uint8_t)(later | local << 1));
		snprintf(path, sizeof(path), "%s/%s", dir, g);
		read_file(path, &b);
		put8(&b, 0);
		snprintf(path, sizeof(path), "%s/%s", dir, t);
		read_file(path, &b);
		if (local) {
			put8(&b, 0);
			snprintf(path, sizeof(path), "%s/local_config.json", dir);
			read_file(path, &b);
		}
		emit("config", e->d_name, &b);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct pcap_file light;
	char path[1024];
	bool have_light;

	if (argc != 3) {
		fprintf(stderr, "usage: seeds DATA_DIR OUT_DIR\n");
		return 2;
	}
	out_dir = argv[2];
	mkdir(out_dir, 0755);
	snprintf(path, sizeof(path), "%s/interop/twampy-sender-responder-light.pcap", argv[1]);
	have_light = pcap_load(path, &light) == 0;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct streams st = { 0 };

		if (load(argv[1], &caps[i], &st) < 0) {
			fprintf(stderr, "seeds: cannot read %s\n", caps[i].file);
			return 1;
		}
		wire_seeds(&caps[i], &st, (int)i);
		ctlchan_seeds(&caps[i], &st, (int)i);
		session_seeds(&caps[i], &st, (int)i);
		reflector_seeds(&caps[i], &st, (int)i, have_light ? &light : NULL);
		unload(&st);
	}
	if (have_light) {
		light_seeds(&light);
		pcap_free(&light);
	}
	config_seeds(argv[1]);
	return 0;
}
