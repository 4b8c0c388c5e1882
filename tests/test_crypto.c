/*
 * Tests of crypto.c: published known-answer vectors for every primitive
 * (RFC 6070 PBKDF2-HMAC-SHA1, RFC 2202 HMAC-SHA1, FIPS-197 and NIST SP
 * 800-38A AES-128), the PBKDF2 keys of the interop captures (values from
 * tests/data/interop/NOTES.md, checked there against twping/twampd), and the
 * properties TWAMP relies on: a CBC stream chains across calls, in-place runs
 * work, the incremental HMAC equals the one-shot one whatever the split, and
 * a final starts the next MAC with the same key.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

#include "util/testhex.h"
#include "util/testrng.h"

/* ---- PBKDF2 ---------------------------------------------------------- */

/* RFC 6070 section 2 (PBKDF2-HMAC-SHA1), full dkLen. */
Test(kdf, rfc6070)
{
	static const struct {
		const char *p;
		size_t plen;
		const char *s;
		size_t slen;
		uint32_t c;
		const char *dk;
	} v[] = {
		{ "password", 8, "salt", 4, 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6" },
		{ "password", 8, "salt", 4, 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957" },
		{ "password", 8, "salt", 4, 4096, "4b007901b765489abead49d926f721d065a429c1" },
		{ "passwordPASSWORDpassword", 24, "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
		  "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038" },
		{ "pass\0word", 9, "sa\0lt", 5, 4096, "56fa6aa75548099dcc37d7f03425e0c3" },
	};
	uint8_t out[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t want[32];
		size_t n = hex2bin(v[i].dk, want, sizeof(want));

		cr_assert_eq(crypto_pbkdf2_sha1(v[i].p, v[i].plen, v[i].s, v[i].slen, v[i].c, out, n),
			     0);
		cr_assert_arr_eq(out, want, n, "RFC 6070 vector %zu", i + 1);
	}
}

/* K of the interop captures (NOTES.md table): secret, greeting Salt, Count 2048. */
Test(kdf, interop_captures)
{
	static const char secret[] = "twamp-interop-secret";
	static const struct {
		const char *salt, *k;
	} v[] = {
		{ "92c0bc51677692efeeab0e38a37fd618", "cf3af9f6c5e42039139d73b82fa35d05" }, /* auth */
		{ "ceb78e12a62cfbcdab5be6fdcaaedd4b", "eedad3b30b5f0f418e2cf06f393c5464" }, /* enc */
		{ "777ad238fe09b914bdaf3fe3b8a377e1", "0badcc17fb6aae4b6a34e51649858d0a" }, /* mixed */
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t salt[16], k[16];

		cr_assert_eq(hex2bin(v[i].salt, salt, sizeof(salt)), 16);
		cr_assert_eq(crypto_kdf(secret, strlen(secret), salt, 2048, k), 0);
		assert_hex(k, 16, v[i].k, "value");
	}
}

Test(kdf, bad_arguments)
{
	uint8_t salt[16] = { 0 }, k[16];

	cr_assert_eq(crypto_kdf("x", 1, salt, 0, k), -1, "Count 0 is no PBKDF2");
	cr_assert_eq(crypto_kdf("", 0, salt, 1, k), 0, "an empty secret is still defined");
	cr_assert_eq(crypto_pbkdf2_sha1("x", 1, salt, 16, 1, k, 0), -1);
}

/* ---- HMAC-SHA1 ------------------------------------------------------- */

/* RFC 2202 section 3, truncated to the 16 octets TWAMP carries. */
Test(hmac, rfc2202)
{
	static const struct {
		const char *key;   /* hex, or NULL: keyfill x keylen */
		uint8_t keyfill;
		size_t keylen;
		const char *data;  /* text, or NULL: datafill x datalen */
		uint8_t datafill;
		size_t datalen;
		const char *mac;   /* full 20 octets */
	} v[] = {
		{ NULL, 0x0b, 20, "Hi There", 0, 0, "b617318655057264e28bc0b6fb378c8ef146be00" },
		{ "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
		  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
		{ NULL, 0xaa, 20, NULL, 0xdd, 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
		{ "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0, NULL, 0xcd, 50,
		  "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
		{ NULL, 0x0c, 20, "Test With Truncation", 0, 0,
		  "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
		{ NULL, 0xaa, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
		  "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
		{ NULL, 0xaa, 80,
		  "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", 0, 0,
		  "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" },
	};
	struct crypto_hmac *h = crypto_hmac_new();
	size_t i;

	cr_assert_not_null(h);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t key[80], data[80], want[20], out[16];
		size_t klen, dlen;

		if (v[i].key) {
			klen = hex2bin(v[i].key, key, sizeof(key));
		} else {
			klen = v[i].keylen;
			memset(key, v[i].keyfill, klen);
		}
		if (v[i].data) {
			dlen = strlen(v[i].data);
			memcpy(data, v[i].data, dlen);
		} else {
			dlen = v[i].datalen;
			memset(data, v[i].datafill, dlen);
		}
		cr_assert_eq(hex2bin(v[i].mac, want, sizeof(want)), 20);
		cr_assert_eq(crypto_hmac16(key, klen, data, dlen, out), 0);
		cr_assert_arr_eq(out, want, 16, "RFC 2202 case %zu (one-shot)", i + 1);
		/* the reusable context, keyed per case */
		cr_assert_eq(crypto_hmac_key(h, key, klen), 0);
		cr_assert_eq(crypto_hmac_update(h, data, dlen), 0);
		cr_assert_eq(crypto_hmac_final(h, out), 0);
		cr_assert_arr_eq(out, want, 16, "RFC 2202 case %zu (context)", i + 1);
		/* final restarted it with the same key */
		cr_assert_eq(crypto_hmac_update(h, data, dlen), 0);
		cr_assert_eq(crypto_hmac_final(h, out), 0);
		cr_assert_arr_eq(out, want, 16, "RFC 2202 case %zu (after final)", i + 1);
	}
	crypto_hmac_free(h);
}

/* Any split of the data into updates gives the one-shot MAC; restart drops input. */
Test(hmac, incremental_random_splits)
{
	struct rng r = { 2202 };
	struct crypto_hmac *h = crypto_hmac_new();
	int iter;

	cr_assert_not_null(h);
	for (iter = 0; iter < 300; iter++) {
		uint8_t key[32], data[300], want[16], out[16], junk[20];
		size_t klen = 1 + rnd(&r) % sizeof(key), dlen = rnd(&r) % sizeof(data), off = 0;

		rnd_bytes(&r, key, klen);
		rnd_bytes(&r, data, dlen);
		rnd_bytes(&r, junk, sizeof(junk));
		cr_assert_eq(crypto_hmac16(key, klen, data, dlen, want), 0);
		cr_assert_eq(crypto_hmac_key(h, key, klen), 0);
		cr_assert_eq(crypto_hmac_update(h, junk, sizeof(junk)), 0);
		cr_assert_eq(crypto_hmac_restart(h), 0);
		while (off < dlen) {
			size_t n = 1 + rnd(&r) % (dlen - off);

			cr_assert_eq(crypto_hmac_update(h, data + off, n), 0);
			off += n;
		}
		cr_assert_eq(crypto_hmac_final(h, out), 0);
		cr_assert_arr_eq(out, want, 16, "iteration %d", iter);
	}
	crypto_hmac_free(h);
}

Test(hmac, unkeyed_context_refuses)
{
	struct crypto_hmac *h = crypto_hmac_new();
	uint8_t out[16];

	cr_assert_not_null(h);
	cr_assert_eq(crypto_hmac_update(h, "x", 1), -1);
	cr_assert_eq(crypto_hmac_final(h, out), -1);
	cr_assert_eq(crypto_hmac_restart(h), -1);
	crypto_hmac_free(h);
	crypto_hmac_free(NULL);
}

/* ---- AES-128 --------------------------------------------------------- */

/* FIPS-197 appendix C.1 */
Test(aes, fips197)
{
	uint8_t key[16], pt[16], ct[16], back[16];

	hex2bin("000102030405060708090a0b0c0d0e0f", key, 16);
	hex2bin("00112233445566778899aabbccddeeff", pt, 16);
	cr_assert_eq(crypto_aes_ecb1(CRYPTO_ENCRYPT, key, pt, ct), 0);
	assert_hex(ct, 16, "69c4e0d86a7b0430d8cdb78070b4c55a", "value");
	cr_assert_eq(crypto_aes_ecb1(CRYPTO_DECRYPT, key, ct, back), 0);
	cr_assert_arr_eq(back, pt, 16);
}

#define SP800_38A_KEY "2b7e151628aed2a6abf7158809cf4f3c"
#define SP800_38A_PT                                                        \
	"6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51" \
	"30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"

/* NIST SP 800-38A F.1.1 (ECB-AES128), block by block through one context. */
Test(aes, sp800_38a_ecb)
{
	uint8_t key[16], pt[64], ct[64];
	struct crypto_aes *c = crypto_aes_new();
	int i;

	cr_assert_not_null(c);
	hex2bin(SP800_38A_KEY, key, 16);
	hex2bin(SP800_38A_PT, pt, 64);
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_ECB, CRYPTO_ENCRYPT, key, NULL), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(crypto_aes_run(c, pt + 16 * i, ct + 16 * i, 16), 0);
	assert_hex(ct, 64,
		   "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf"
		   "43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4", "value");
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_ECB, CRYPTO_DECRYPT, key, NULL), 0);
	cr_assert_eq(crypto_aes_run(c, ct, ct, 64), 0); /* in place */
	cr_assert_arr_eq(ct, pt, 64);
	crypto_aes_free(c);
}

#define SP800_38A_CBC_CT                                                    \
	"7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2" \
	"73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7"

/* NIST SP 800-38A F.2.1/F.2.2 (CBC-AES128), one shot and as a chained stream. */
Test(aes, sp800_38a_cbc_stream)
{
	uint8_t key[16], iv[16], pt[64], ct[64], buf[64];
	struct crypto_aes *c = crypto_aes_new();

	cr_assert_not_null(c);
	hex2bin(SP800_38A_KEY, key, 16);
	hex2bin("000102030405060708090a0b0c0d0e0f", iv, 16);
	hex2bin(SP800_38A_PT, pt, 64);
	cr_assert_eq(crypto_aes_cbc(CRYPTO_ENCRYPT, key, iv, pt, ct, 64), 0);
	assert_hex(ct, 64, SP800_38A_CBC_CT, "value");

	/* 16 + 32 + 0 + 16 octets: the chain carries over between runs */
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_CBC, CRYPTO_ENCRYPT, key, iv), 0);
	cr_assert_eq(crypto_aes_run(c, pt, buf, 16), 0);
	cr_assert_eq(crypto_aes_run(c, pt + 16, buf + 16, 32), 0);
	cr_assert_eq(crypto_aes_run(c, pt + 48, buf + 48, 0), 0);
	cr_assert_eq(crypto_aes_run(c, pt + 48, buf + 48, 16), 0);
	cr_assert_arr_eq(buf, ct, 64);

	/* decryption stream, in place, uneven pieces: no block held back */
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_CBC, CRYPTO_DECRYPT, key, iv), 0);
	cr_assert_eq(crypto_aes_run(c, buf, buf, 48), 0);
	cr_assert_arr_eq(buf, pt, 48);
	cr_assert_eq(crypto_aes_run(c, buf + 48, buf + 48, 16), 0);
	cr_assert_arr_eq(buf, pt, 64);

	/* restarting the chain at the IV reproduces the first block */
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_CBC, CRYPTO_ENCRYPT, key, iv), 0);
	cr_assert_eq(crypto_aes_run(c, pt, buf, 32), 0);
	cr_assert_eq(crypto_aes_iv(c, iv), 0);
	cr_assert_eq(crypto_aes_run(c, pt, buf, 16), 0);
	cr_assert_arr_eq(buf, ct, 16);

	cr_assert_eq(crypto_aes_cbc(CRYPTO_DECRYPT, key, iv, ct, buf, 64), 0);
	cr_assert_arr_eq(buf, pt, 64);
	crypto_aes_free(c);
}

/* Random data: CBC stream in random whole-block pieces == one shot, both ways. */
Test(aes, cbc_random_pieces)
{
	struct rng r = { 3838 };
	struct crypto_aes *e = crypto_aes_new(), *d = crypto_aes_new();
	int iter;

	cr_assert_not_null(e);
	cr_assert_not_null(d);
	for (iter = 0; iter < 200; iter++) {
		uint8_t key[16], iv[16], pt[256], ct[256], buf[256];
		size_t blocks = rnd(&r) % 17, len = blocks * 16, off = 0;

		rnd_bytes(&r, key, 16);
		rnd_bytes(&r, iv, 16);
		rnd_bytes(&r, pt, len);
		cr_assert_eq(crypto_aes_cbc(CRYPTO_ENCRYPT, key, iv, pt, ct, len), 0);
		cr_assert_eq(crypto_aes_key(e, CRYPTO_AES_CBC, CRYPTO_ENCRYPT, key, iv), 0);
		cr_assert_eq(crypto_aes_key(d, CRYPTO_AES_CBC, CRYPTO_DECRYPT, key, iv), 0);
		memcpy(buf, pt, len);
		while (off < len) {
			size_t n = 16 * (1 + rnd(&r) % ((len - off) / 16));

			cr_assert_eq(crypto_aes_run(e, buf + off, buf + off, n), 0);
			cr_assert_arr_eq(buf + off, ct + off, n);
			cr_assert_eq(crypto_aes_run(d, buf + off, buf + off, n), 0);
			cr_assert_arr_eq(buf + off, pt + off, n);
			off += n;
		}
	}
	crypto_aes_free(e);
	crypto_aes_free(d);
}

Test(aes, bad_lengths_and_unkeyed)
{
	uint8_t key[16] = { 0 }, buf[32] = { 0 };
	struct crypto_aes *c = crypto_aes_new();

	cr_assert_not_null(c);
	cr_assert_eq(crypto_aes_run(c, buf, buf, 16), -1, "not keyed yet");
	cr_assert_eq(crypto_aes_iv(c, buf), -1, "not keyed yet");
	cr_assert_eq(crypto_aes_key(c, CRYPTO_AES_CBC, CRYPTO_ENCRYPT, key, NULL), 0);
	cr_assert_eq(crypto_aes_run(c, buf, buf, 15), -1);
	cr_assert_eq(crypto_aes_run(c, buf, buf, 17), -1);
	cr_assert_eq(crypto_aes_cbc(CRYPTO_ENCRYPT, key, key, buf, buf, 31), -1);
	crypto_aes_free(c);
	crypto_aes_free(NULL);
}

/* ---- helpers --------------------------------------------------------- */

Test(util, equal_and_random)
{
	uint8_t a[64], b[64], z[64] = { 0 };

	cr_assert_eq(crypto_random(a, sizeof(a)), 0);
	cr_assert_eq(crypto_random(b, sizeof(b)), 0);
	cr_assert_eq(crypto_random(b, 0), 0);
	cr_assert(!crypto_equal(a, b, sizeof(a)), "two 512-bit random draws collided");
	cr_assert(!crypto_equal(a, z, sizeof(a)));
	memcpy(b, a, sizeof(a));
	cr_assert(crypto_equal(a, b, sizeof(a)));
	b[63] ^= 0x80;
	cr_assert(!crypto_equal(a, b, sizeof(a)));
	cr_assert(crypto_equal(a, b, 63));
	cr_assert(crypto_equal(a, b, 0));
	crypto_wipe(a, sizeof(a));
	cr_assert_arr_eq(a, z, sizeof(a));
}
