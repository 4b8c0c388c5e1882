/*
 * keyfile: shared secrets of the authenticated, encrypted and mixed modes, in
 * the format of twampd's pfs file.  Pure file parsing (no sockets, no
 * crypto): the responder, ping and the daemon's configuration loader use it.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define REFL_KEYID_MAX 80       /* KeyID field of Set-Up-Response */
#define REFL_SECRET_MAX 256     /* octets of one shared secret */

/* One shared secret of the authenticated/encrypted/mixed modes. */
struct refl_key {
	char keyid[REFL_KEYID_MAX + 1];
	uint8_t secret[REFL_SECRET_MAX];
	size_t secret_len;
};

/*
 * Read a keys file in the format of twampd's pfs file: one
 * `keyid<TAB or spaces>hex-secret` per line, `#` comments and blank lines
 * ignored.  On success *keys (malloc'd, free with refl_keys_free(), which
 * wipes it) holds *n entries.  On failure -1 and err names the file and line
 * (never the secret).
 */
int refl_keys_load(const char *path, struct refl_key **keys, size_t *n, char *err, size_t errlen);
void refl_keys_free(struct refl_key *keys, size_t n);
/*
 * The secret of keyid in the pfs file at path, into secret (REFL_SECRET_MAX
 * octets); -1 with a reason in err when the file cannot be read or has no
 * line for keyid.
 */
int refl_key_find(const char *path, const char *keyid, uint8_t *secret, size_t *len, char *err,
		  size_t errlen);

#endif
