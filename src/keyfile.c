/*
 * keyfile: shared secrets in twampd's pfs format, for the responder (--keys),
 * ping (-k) and the daemon's per-target SecretFile.  See include/keyfile.h.
 */
#include "keyfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

static unsigned hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 0;
}

int refl_keys_load(const char *path, struct refl_key **keys, size_t *n, char *err, size_t errlen)
{
	char line[1024];
	unsigned lineno = 0;
	struct refl_key *k = NULL;
	size_t cnt = 0, cap = 0;
	FILE *f = NULL;
	int fd;

	*keys = NULL;
	*n = 0;
	/* never a plain fopen(): a FIFO in the key file's place would block it */
	fd = fsutil_open_regular(path, NULL, line, sizeof(line));
	if (fd >= 0 && !(f = fdopen(fd, "r"))) {
		snprintf(line, sizeof(line), "cannot read %s: %s", path, strerror(errno));
		(void)close(fd);
	}
	if (!f) {
		snprintf(err, errlen, "key file: %s", line);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *id, *hex;
		size_t idlen, hexlen;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s line %u: line too long", path, lineno);
			goto fail;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
			continue;
		id = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		idlen = (size_t)(p - id);
		while (*p == ' ' || *p == '\t')
			p++;
		hex = p;
		while (isxdigit((unsigned char)*p))
			p++;
		hexlen = (size_t)(p - hex);
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (idlen > REFL_KEYID_MAX) {
			snprintf(err, errlen, "%s line %u: KeyID longer than %d characters", path, lineno,
				 REFL_KEYID_MAX);
			goto fail;
		}
		if (hexlen == 0 || *p || hexlen % 2) {
			snprintf(err, errlen, "%s line %u: expected KeyID, a tab and a hex secret "
				 "(an even number of hex digits)", path, lineno);
			goto fail;
		}
		if (hexlen / 2 > REFL_SECRET_MAX) {
			snprintf(err, errlen, "%s line %u: secret longer than %d octets", path, lineno,
				 REFL_SECRET_MAX);
			goto fail;
		}
		if (cnt == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct refl_key *nk = calloc(ncap, sizeof(*nk));

			if (!nk) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			if (k) {
				memcpy(nk, k, cnt * sizeof(*k));
				refl_keys_free(k, cnt);
			}
			k = nk;
			cap = ncap;
		}
		memcpy(k[cnt].keyid, id, idlen);
		k[cnt].keyid[idlen] = 0;
		for (size_t i = 0; i < hexlen / 2; i++)
			k[cnt].secret[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
		k[cnt].secret_len = hexlen / 2;
		cnt++;
	}
	explicit_bzero(line, sizeof(line));
	(void)fclose(f); /* read only: nothing to lose */
	*keys = k;
	*n = cnt;
	return 0;
fail:
	explicit_bzero(line, sizeof(line));
	(void)fclose(f);
	refl_keys_free(k, cnt);
	return -1;
}

void refl_keys_free(struct refl_key *keys, size_t n)
{
	if (!keys)
		return;
	explicit_bzero(keys, n * sizeof(*keys));
	free(keys);
}

int refl_key_find(const char *path, const char *keyid, uint8_t *secret, size_t *len, char *err,
		  size_t errlen)
{
	struct refl_key *keys;
	size_t n, i;

	if (refl_keys_load(path, &keys, &n, err, errlen) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(keys[i].keyid, keyid))
			break;
	if (i == n) {
		refl_keys_free(keys, n);
		snprintf(err, errlen, "key file %s has no line for KeyID %s", path, keyid);
		return -1;
	}
	memcpy(secret, keys[i].secret, keys[i].secret_len);
	*len = keys[i].secret_len;
	refl_keys_free(keys, n);
	return 0;
}
