/*
 * crypto: the cryptographic primitives of the TWAMP authenticated, encrypted
 * and mixed modes (RFC 4656 sections 3.1-3.4 and 4.1, RFC 5357), as thin
 * wrappers over OpenSSL 3 libcrypto (EVP APIs only; nothing hand-written):
 *
 *  - PBKDF2-HMAC-SHA1 with a 16-octet output (the key that encrypts the
 *    Set-Up-Response Token);
 *  - AES-128 in ECB mode or as a CBC stream whose IV carries over from one
 *    call to the next (one TWAMP-Control direction is one such stream);
 *  - HMAC-SHA1 truncated to 16 octets, one-shot or incremental;
 *  - constant-time comparison and random octets.
 *
 * The context objects (struct crypto_aes, struct crypto_hmac) are opaque and
 * allocated once per control connection or test session; keying and use do
 * not allocate here (what OpenSSL does internally is its business), so the
 * per-packet path reuses them.  A context belongs to one thread at a time.
 *
 * Functions returning int give 0 on success and -1 on failure; a failure of
 * libcrypto itself (allocation, RNG) is logged here, once per call.
 */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_BLOCK_LEN 16     /* AES block */
#define CRYPTO_AES_KEY_LEN 16   /* AES-128 */
#define CRYPTO_HMAC_LEN 16      /* HMAC-SHA1 truncated, as TWAMP carries it */
#define CRYPTO_KDF_SALT_LEN 16

/*
 * key = PBKDF2-HMAC-SHA1(secret, salt, count), 16 octets (RFC 4656 3.1:
 * "dkLen" 16).  The secret is used as raw octets.  count >= 1.
 */
int crypto_kdf(const void *secret, size_t secret_len, const uint8_t salt[CRYPTO_KDF_SALT_LEN],
	       uint32_t count, uint8_t key[CRYPTO_AES_KEY_LEN]);
/*
 * PBKDF2 runs so far (crypto_kdf and crypto_pbkdf2_sha1): in the whole
 * process, or only on the calling thread.  Tests use it to check that no
 * event loop derives a key itself (workers hand that to wk_offload()).
 */
unsigned long crypto_kdf_runs(bool this_thread_only);
/* The general form: any salt and output length (RFC 6070 vectors use it). */
int crypto_pbkdf2_sha1(const void *secret, size_t secret_len, const void *salt, size_t salt_len,
		       uint32_t count, uint8_t *out, size_t out_len);

/* len octets from the OpenSSL CSPRNG. */
int crypto_random(void *buf, size_t len);

/* true when the len octets at a and b are equal; time independent of the data. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Overwrite len octets so the compiler cannot drop it (keys on teardown). */
void crypto_wipe(void *p, size_t len);

/* ---- AES-128 --------------------------------------------------------- */

enum crypto_aes_mode {
	CRYPTO_AES_ECB,
	CRYPTO_AES_CBC,
};

enum crypto_dir {
	CRYPTO_DECRYPT = 0,
	CRYPTO_ENCRYPT = 1,
};

struct crypto_aes;

/* NULL when libcrypto cannot allocate. */
struct crypto_aes *crypto_aes_new(void);
void crypto_aes_free(struct crypto_aes *c);

/*
 * Key c for one mode and direction.  iv is the CBC starting IV (ignored, may
 * be NULL, in ECB).  No padding: every run is whole blocks.
 */
int crypto_aes_key(struct crypto_aes *c, enum crypto_aes_mode mode, enum crypto_dir dir,
		   const uint8_t key[CRYPTO_AES_KEY_LEN], const uint8_t iv[CRYPTO_BLOCK_LEN]);

/* Restart the CBC chain at iv, keeping the key (a test packet: IV zero each time). */
int crypto_aes_iv(struct crypto_aes *c, const uint8_t iv[CRYPTO_BLOCK_LEN]);

/*
 * Encrypt or decrypt len octets (a multiple of 16; 0 is allowed) from in to
 * out; in == out (in place) is allowed, partial overlap is not.  In CBC the
 * chain carries on from the previous call: several runs give the same octets
 * as one run over their concatenation.
 */
int crypto_aes_run(struct crypto_aes *c, const uint8_t *in, uint8_t *out, size_t len);

/* One-shot forms for set-up time (they allocate a context). */
int crypto_aes_ecb1(enum crypto_dir dir, const uint8_t key[CRYPTO_AES_KEY_LEN],
		    const uint8_t in[CRYPTO_BLOCK_LEN], uint8_t out[CRYPTO_BLOCK_LEN]);
int crypto_aes_cbc(enum crypto_dir dir, const uint8_t key[CRYPTO_AES_KEY_LEN],
		   const uint8_t iv[CRYPTO_BLOCK_LEN], const uint8_t *in, uint8_t *out, size_t len);

/* ---- HMAC-SHA1, truncated to 16 octets ------------------------------- */

struct crypto_hmac;

struct crypto_hmac *crypto_hmac_new(void);
void crypto_hmac_free(struct crypto_hmac *h);

/* Set the key (any length) and start a new MAC. */
int crypto_hmac_key(struct crypto_hmac *h, const void *key, size_t key_len);
/* Add octets to the running MAC. */
int crypto_hmac_update(struct crypto_hmac *h, const void *data, size_t len);
/*
 * The first 16 octets of HMAC-SHA1 over everything added since the key was
 * set or since the previous final; then start the next MAC with the same key.
 */
int crypto_hmac_final(struct crypto_hmac *h, uint8_t out[CRYPTO_HMAC_LEN]);
/* Forget what was added since the last key/final (the next MAC starts empty). */
int crypto_hmac_restart(struct crypto_hmac *h);

/* One-shot form (allocates). */
int crypto_hmac16(const void *key, size_t key_len, const void *data, size_t len,
		  uint8_t out[CRYPTO_HMAC_LEN]);

#endif
