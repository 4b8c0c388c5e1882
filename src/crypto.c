/*
 * crypto: OpenSSL 3 libcrypto behind the few calls TWAMP needs.
 *
 * Why a wrapper at all: the protocol code (ctlchan) should read as the RFC
 * does ("AES-CBC of these blocks, HMAC of those octets"), not as EVP
 * boilerplate, and only this file includes OpenSSL headers, so a change of
 * library or API generation touches nothing else.
 *
 * AES contexts run without padding: TWAMP encrypts whole blocks only, and a
 * CBC stream must hand out every block at once (with padding on, EVP keeps
 * the last decrypted block back for the final call).  HMAC uses EVP_MAC
 * ("HMAC" with digest "SHA1"), not the HMAC_CTX API that OpenSSL 3
 * deprecates; after a final the context is re-initialised with a NULL key,
 * which keeps the key already set.
 *
 * "No allocation per packet" holds for this layer: every context is made by
 * *_new() once per connection or test session.  Inside libcrypto, an HMAC
 * final/restart copies its saved digest states (EVP_MD_CTX_copy_ex), which
 * can allocate; avoiding that would mean writing HMAC ourselves, which we
 * do not.
 */
#include "crypto.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "log.h"

#define SHA1_LEN 20

struct crypto_aes {
	EVP_CIPHER_CTX *ctx;
	bool keyed;
};

struct crypto_hmac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	bool keyed;
};

/* Log the oldest queued libcrypto error for `what`, and empty the queue. */
static int ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_err("crypto: %s failed: %s", what, buf);
	} else {
		log_err("crypto: %s failed", what);
	}
	ERR_clear_error();
	return -1;
}

/*
 * No OPENSSL_cleanup() at exit: the offload thread (worker.c) may be inside a
 * long PBKDF2 when the process exits, and libcrypto's atexit handler would
 * free what that thread is using (ThreadSanitizer saw it: a ping whose
 * control timeout ended the session during the derivation).  The process's
 * memory goes back to the system anyway.  This must be libcrypto's first
 * initialisation, hence a constructor (before main, before curl and libgit2).
 */
__attribute__((constructor)) static void crypto_no_atexit(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

static atomic_ulong kdf_runs;
static _Thread_local unsigned long kdf_runs_here;

unsigned long crypto_kdf_runs(bool this_thread_only)
{
	return this_thread_only ? kdf_runs_here : atomic_load_explicit(&kdf_runs, memory_order_relaxed);
}

int crypto_pbkdf2_sha1(const void *secret, size_t secret_len, const void *salt, size_t salt_len,
		       uint32_t count, uint8_t *out, size_t out_len)
{
	static const char empty[1];

	if (count == 0 || count > INT_MAX || secret_len > INT_MAX || salt_len > INT_MAX ||
	    out_len == 0 || out_len > INT_MAX)
		return -1;
	atomic_fetch_add_explicit(&kdf_runs, 1, memory_order_relaxed);
	kdf_runs_here++;
	if (!PKCS5_PBKDF2_HMAC(secret_len ? secret : empty, (int)secret_len,
			       salt_len ? salt : (const void *)empty, (int)salt_len, (int)count,
			       EVP_sha1(), (int)out_len, out))
		return ossl_fail("PBKDF2");
	return 0;
}

int crypto_kdf(const void *secret, size_t secret_len, const uint8_t salt[CRYPTO_KDF_SALT_LEN],
	       uint32_t count, uint8_t key[CRYPTO_AES_KEY_LEN])
{
	return crypto_pbkdf2_sha1(secret, secret_len, salt, CRYPTO_KDF_SALT_LEN, count, key,
				  CRYPTO_AES_KEY_LEN);
}

int crypto_random(void *buf, size_t len)
{
	if (len > INT_MAX)
		return -1;
	if (len && RAND_bytes(buf, (int)len) != 1)
		return ossl_fail("RAND_bytes");
	return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

/* ---- AES-128 --------------------------------------------------------- */

struct crypto_aes *crypto_aes_new(void)
{
	struct crypto_aes *c = OPENSSL_zalloc(sizeof(*c));

	if (!c) {
		ossl_fail("allocation of an AES context");
		return NULL;
	}
	c->ctx = EVP_CIPHER_CTX_new();
	if (!c->ctx) {
		OPENSSL_free(c);
		ossl_fail("EVP_CIPHER_CTX_new");
		return NULL;
	}
	return c;
}

void crypto_aes_free(struct crypto_aes *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->ctx); /* cleanses the key schedule */
	OPENSSL_free(c);
}

int crypto_aes_key(struct crypto_aes *c, enum crypto_aes_mode mode, enum crypto_dir dir,
		   const uint8_t key[CRYPTO_AES_KEY_LEN], const uint8_t iv[CRYPTO_BLOCK_LEN])
{
	static const uint8_t zero_iv[CRYPTO_BLOCK_LEN];
	const EVP_CIPHER *cipher = mode == CRYPTO_AES_CBC ? EVP_aes_128_cbc() : EVP_aes_128_ecb();

	c->keyed = false;
	if (!EVP_CIPHER_CTX_reset(c->ctx))
		return ossl_fail("EVP_CIPHER_CTX_reset");
	if (!EVP_CipherInit_ex(c->ctx, cipher, NULL, key,
			       mode == CRYPTO_AES_CBC ? (iv ? iv : zero_iv) : NULL,
			       dir == CRYPTO_ENCRYPT ? 1 : 0))
		return ossl_fail("AES key set-up");
	if (!EVP_CIPHER_CTX_set_padding(c->ctx, 0))
		return ossl_fail("EVP_CIPHER_CTX_set_padding");
	c->keyed = true;
	return 0;
}

int crypto_aes_iv(struct crypto_aes *c, const uint8_t iv[CRYPTO_BLOCK_LEN])
{
	if (!c->keyed)
		return -1;
	if (!EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, -1))
		return ossl_fail("AES IV set-up");
	return 0;
}

int crypto_aes_run(struct crypto_aes *c, const uint8_t *in, uint8_t *out, size_t len)
{
	int outl = 0;

	if (!c->keyed || len % CRYPTO_BLOCK_LEN || len > INT_MAX)
		return -1;
	if (!len)
		return 0;
	if (!EVP_CipherUpdate(c->ctx, out, &outl, in, (int)len))
		return ossl_fail("AES");
	if ((size_t)outl != len) {
		log_err("crypto: AES gave %d octets for %zu", outl, len);
		return -1;
	}
	return 0;
}

int crypto_aes_ecb1(enum crypto_dir dir, const uint8_t key[CRYPTO_AES_KEY_LEN],
		    const uint8_t in[CRYPTO_BLOCK_LEN], uint8_t out[CRYPTO_BLOCK_LEN])
{
	struct crypto_aes *c = crypto_aes_new();
	int rc = -1;

	if (!c)
		return -1;
	if (!crypto_aes_key(c, CRYPTO_AES_ECB, dir, key, NULL))
		rc = crypto_aes_run(c, in, out, CRYPTO_BLOCK_LEN);
	crypto_aes_free(c);
	return rc;
}

int crypto_aes_cbc(enum crypto_dir dir, const uint8_t key[CRYPTO_AES_KEY_LEN],
		   const uint8_t iv[CRYPTO_BLOCK_LEN], const uint8_t *in, uint8_t *out, size_t len)
{
	struct crypto_aes *c = crypto_aes_new();
	int rc = -1;

	if (!c)
		return -1;
	if (!crypto_aes_key(c, CRYPTO_AES_CBC, dir, key, iv))
		rc = crypto_aes_run(c, in, out, len);
	crypto_aes_free(c);
	return rc;
}

/* ---- HMAC-SHA1 ------------------------------------------------------- */

struct crypto_hmac *crypto_hmac_new(void)
{
	struct crypto_hmac *h = OPENSSL_zalloc(sizeof(*h));
	char digest[] = "SHA1";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	if (!h) {
		ossl_fail("allocation of an HMAC context");
		return NULL;
	}
	h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!h->mac) {
		ossl_fail("EVP_MAC_fetch(HMAC)");
		goto fail;
	}
	h->ctx = EVP_MAC_CTX_new(h->mac);
	if (!h->ctx) {
		ossl_fail("EVP_MAC_CTX_new");
		goto fail;
	}
	if (!EVP_MAC_CTX_set_params(h->ctx, params)) {
		ossl_fail("HMAC digest SHA1");
		goto fail;
	}
	return h;
fail:
	crypto_hmac_free(h);
	return NULL;
}

void crypto_hmac_free(struct crypto_hmac *h)
{
	if (!h)
		return;
	EVP_MAC_CTX_free(h->ctx);
	EVP_MAC_free(h->mac);
	OPENSSL_free(h);
}

int crypto_hmac_key(struct crypto_hmac *h, const void *key, size_t key_len)
{
	static const uint8_t empty[1];

	h->keyed = false;
	if (!EVP_MAC_init(h->ctx, key_len ? key : empty, key_len, NULL))
		return ossl_fail("HMAC key set-up");
	h->keyed = true;
	return 0;
}

int crypto_hmac_update(struct crypto_hmac *h, const void *data, size_t len)
{
	if (!h->keyed)
		return -1;
	if (len && !EVP_MAC_update(h->ctx, data, len))
		return ossl_fail("HMAC update");
	return 0;
}

int crypto_hmac_restart(struct crypto_hmac *h)
{
	if (!h->keyed)
		return -1;
	if (!EVP_MAC_init(h->ctx, NULL, 0, NULL)) {
		h->keyed = false;
		return ossl_fail("HMAC restart");
	}
	return 0;
}

int crypto_hmac_final(struct crypto_hmac *h, uint8_t out[CRYPTO_HMAC_LEN])
{
	uint8_t md[SHA1_LEN];
	size_t mdlen = 0;

	if (!h->keyed)
		return -1;
	if (!EVP_MAC_final(h->ctx, md, &mdlen, sizeof(md)) || mdlen != SHA1_LEN) {
		h->keyed = false;
		return ossl_fail("HMAC final");
	}
	memcpy(out, md, CRYPTO_HMAC_LEN);
	crypto_wipe(md, sizeof(md));
	return crypto_hmac_restart(h);
}

int crypto_hmac16(const void *key, size_t key_len, const void *data, size_t len,
		  uint8_t out[CRYPTO_HMAC_LEN])
{
	struct crypto_hmac *h = crypto_hmac_new();
	int rc = -1;

	if (!h)
		return -1;
	if (!crypto_hmac_key(h, key, key_len) && !crypto_hmac_update(h, data, len))
		rc = crypto_hmac_final(h, out);
	crypto_hmac_free(h);
	return rc;
}
