/*
 * ctlchan: TWAMP-Control and TWAMP-Test security, both roles.
 *
 * The one idea that keeps this small: each direction of the control
 * connection is a pair (CBC stream, running HMAC).  Every plaintext block a
 * side encrypts goes into its running HMAC except the HMAC fields themselves,
 * and each HMAC field is the final of that running HMAC, which then restarts.
 * That is RFC 4656's "each HMAC covers everything sent since the previous
 * one", and it is what owamp does: the server's stream starts with the last
 * block of Server-Start, which carries no HMAC, so the server's first HMAC
 * (Accept-Session) covers that block too.  No special case for "the first
 * server message" is needed on either side.
 *
 * Set-up (PBKDF2, Token) runs once per connection and may allocate (the
 * one-shot crypto helpers); seal/peek/open and the test-packet functions use
 * only the contexts made when the mode was keyed.
 */
#include "ctlchan.h"

#include <string.h>

#include "crypto.h"

static const uint8_t zero_iv[CTLCHAN_IV_LEN];

const char *ctlchan_strerror(int err)
{
	switch (err) {
	case CTLCHAN_OK:
		return "no error";
	case CTLCHAN_ELEN:
		return "message has the wrong length (short, or not whole 16-octet blocks)";
	case CTLCHAN_EDENIED:
		return "Token does not decrypt to the server's Challenge: "
		       "the client's shared secret for this KeyID is not ours";
	case CTLCHAN_EHMAC:
		return "HMAC check failed: message altered in transit or sent with another key";
	case CTLCHAN_EMODE:
		return "mode is not exactly one of open, authenticated, encrypted, mixed, "
		       "or was not offered";
	case CTLCHAN_ECOUNT:
		return "greeting Count is 0 or above the largest we derive a key for (2^20)";
	case CTLCHAN_EKEYID:
		return "KeyID longer than 80 octets, or no shared secret for a keyed mode";
	case CTLCHAN_ESTATE:
		return "call out of order in the TWAMP-Control exchange";
	case CTLCHAN_ECRYPTO:
		return "libcrypto failure";
	default:
		return "unknown ctlchan error";
	}
}

bool ctlchan_mode_valid(uint32_t m)
{
	return m == WIRE_MODE_OPEN || m == WIRE_MODE_AUTH || m == WIRE_MODE_ENCRYPTED ||
	       m == WIRE_MODE_MIXED;
}


void ctlchan_init(struct ctlchan *ch, enum ctlchan_role role)
{
	memset(ch, 0, sizeof(*ch));
	ch->role = role;
}

void ctlchan_fini(struct ctlchan *ch)
{
	crypto_aes_free(ch->tx);
	crypto_aes_free(ch->rx);
	crypto_hmac_free(ch->tx_mac);
	crypto_hmac_free(ch->rx_mac);
	crypto_wipe(ch, sizeof(*ch));
}

/* The four contexts of a keyed connection, made once. */
static int alloc_contexts(struct ctlchan *ch)
{
	if (!ch->tx)
		ch->tx = crypto_aes_new();
	if (!ch->rx)
		ch->rx = crypto_aes_new();
	if (!ch->tx_mac)
		ch->tx_mac = crypto_hmac_new();
	if (!ch->rx_mac)
		ch->rx_mac = crypto_hmac_new();
	if (!ch->tx || !ch->rx || !ch->tx_mac || !ch->rx_mac)
		return CTLCHAN_ECRYPTO;
	return 0;
}

/* Keys are in ch->keys: make the contexts and key both running HMACs. */
static int key_connection(struct ctlchan *ch)
{
	int rc = alloc_contexts(ch);

	if (rc)
		return rc;
	if (crypto_hmac_key(ch->tx_mac, ch->keys.hmac_key, CTLCHAN_HMAC_KEY_LEN) ||
	    crypto_hmac_key(ch->rx_mac, ch->keys.hmac_key, CTLCHAN_HMAC_KEY_LEN))
		return CTLCHAN_ECRYPTO;
	return 0;
}

/* Start a CBC stream under the AES session key from iv. */
static int start_stream(struct ctlchan *ch, struct crypto_aes *c, enum crypto_dir dir,
			const uint8_t iv[CTLCHAN_IV_LEN])
{
	if (crypto_aes_key(c, CRYPTO_AES_CBC, dir, ch->keys.aes_key, iv))
		return CTLCHAN_ECRYPTO;
	return 0;
}

/* ---- Token ----------------------------------------------------------- */

int ctlchan_token_seal(const uint8_t kdf_key[16], const uint8_t challenge[16],
		       const uint8_t aes_key[16], const uint8_t hmac_key[32], uint8_t token[64])
{
	uint8_t pt[64];
	int rc;

	memcpy(pt, challenge, 16);
	memcpy(pt + 16, aes_key, 16);
	memcpy(pt + 32, hmac_key, 32);
	rc = crypto_aes_cbc(CRYPTO_ENCRYPT, kdf_key, zero_iv, pt, token, sizeof(pt));
	crypto_wipe(pt, sizeof(pt));
	return rc ? CTLCHAN_ECRYPTO : 0;
}

int ctlchan_token_open(const uint8_t kdf_key[16], const uint8_t token[64],
		       const uint8_t challenge[16], uint8_t aes_key[16], uint8_t hmac_key[32])
{
	uint8_t pt[64];
	int rc = 0;

	if (crypto_aes_cbc(CRYPTO_DECRYPT, kdf_key, zero_iv, token, pt, sizeof(pt)))
		return CTLCHAN_ECRYPTO;
	if (!crypto_equal(pt, challenge, 16)) {
		rc = CTLCHAN_EDENIED;
	} else {
		memcpy(aes_key, pt + 16, 16);
		memcpy(hmac_key, pt + 32, 32);
	}
	crypto_wipe(pt, sizeof(pt));
	return rc;
}

/* ---- Client set-up --------------------------------------------------- */

/* kdf_key: derived by the caller, or NULL: derive it here from secret. */
static int client_setup(struct ctlchan *ch, const struct wire_greeting *g, uint32_t mode,
			const char *keyid, const void *secret, size_t secret_len,
			const uint8_t *kdf_key, const struct ctlchan_keys *keys,
			uint8_t out[WIRE_SETUP_LEN])
{
	struct wire_setup su;
	uint8_t k[16];
	size_t idlen;
	int rc;

	uint32_t ext = mode & ~WIRE_MODE_SECURITY;

	if (ch->role != CTLCHAN_CLIENT || ch->mode)
		return CTLCHAN_ESTATE;
	mode &= WIRE_MODE_SECURITY;
	if (!ctlchan_mode_valid(mode) || !(g->modes & mode) || (ext & ~g->modes))
		return CTLCHAN_EMODE;
	memset(&su, 0, sizeof(su));
	su.mode = mode | ext;
	ch->ext = ext;
	if (mode == WIRE_MODE_OPEN) {
		ch->mode = mode;
		wire_encode_setup(out, &su);
		return 0;
	}
	idlen = keyid ? strnlen(keyid, CTLCHAN_KEYID_LEN + 1) : 0;
	if (idlen > CTLCHAN_KEYID_LEN || (!kdf_key && (!secret || !secret_len)))
		return CTLCHAN_EKEYID;
	if (g->count == 0 || g->count > CTLCHAN_COUNT_MAX)
		return CTLCHAN_ECOUNT;
	if (idlen) /* keyid may be NULL: memcpy(dst, NULL, 0) is undefined */
		memcpy(su.keyid, keyid, idlen);
	if (keys)
		ch->keys = *keys;
	else if (crypto_random(&ch->keys, sizeof(ch->keys)))
		return CTLCHAN_ECRYPTO;
	if (kdf_key)
		memcpy(k, kdf_key, sizeof(k));
	else if (crypto_kdf(secret, secret_len, g->salt, g->count, k))
		return CTLCHAN_ECRYPTO;
	rc = ctlchan_token_seal(k, g->challenge, ch->keys.aes_key, ch->keys.hmac_key, su.token);
	crypto_wipe(k, sizeof(k));
	if (rc)
		return rc;
	memcpy(su.client_iv, ch->keys.client_iv, CTLCHAN_IV_LEN);
	rc = key_connection(ch);
	if (!rc)
		rc = start_stream(ch, ch->tx, CRYPTO_ENCRYPT, ch->keys.client_iv);
	if (rc)
		return rc;
	ch->mode = mode;
	ch->keyed = true;
	ch->tx_ready = true;
	wire_encode_setup(out, &su);
	crypto_wipe(su.token, sizeof(su.token));
	return 0;
}

int ctlchan_client_setup(struct ctlchan *ch, const struct wire_greeting *g, uint32_t mode,
			 const char *keyid, const void *secret, size_t secret_len,
			 const struct ctlchan_keys *keys, uint8_t out[WIRE_SETUP_LEN])
{
	return client_setup(ch, g, mode, keyid, secret, secret_len, NULL, keys, out);
}

int ctlchan_client_setup_derived(struct ctlchan *ch, const struct wire_greeting *g, uint32_t mode,
				 const char *keyid, const uint8_t kdf_key[16],
				 const struct ctlchan_keys *keys, uint8_t out[WIRE_SETUP_LEN])
{
	return client_setup(ch, g, mode, keyid, NULL, 0, kdf_key, keys, out);
}

int ctlchan_client_server_start(struct ctlchan *ch, uint8_t *msg, size_t len)
{
	int rc;

	if (ch->role != CTLCHAN_CLIENT || !ch->mode || ch->rx_ready)
		return CTLCHAN_ESTATE;
	if (len < WIRE_SERVER_START_LEN)
		return CTLCHAN_ELEN;
	if (!ch->keyed || msg[15] != WIRE_ACCEPT_OK)
		return 0;
	memcpy(ch->server_iv, msg + 16, CTLCHAN_IV_LEN);
	rc = start_stream(ch, ch->rx, CRYPTO_DECRYPT, ch->server_iv);
	if (rc)
		return rc;
	if (crypto_aes_run(ch->rx, msg + 32, msg + 32, 16) ||
	    crypto_hmac_update(ch->rx_mac, msg + 32, 16))
		return CTLCHAN_ECRYPTO;
	ch->rx_ready = true;
	return 0;
}

/* ---- Server set-up --------------------------------------------------- */

void ctlchan_server_remember(struct ctlchan *ch, const struct wire_greeting *g)
{
	memcpy(ch->challenge, g->challenge, sizeof(ch->challenge));
	memcpy(ch->salt, g->salt, sizeof(ch->salt));
	ch->count = g->count;
	ch->offered = g->modes;
}

int ctlchan_server_greeting(struct ctlchan *ch, uint32_t modes, uint32_t count,
			    uint8_t out[WIRE_GREETING_LEN])
{
	struct wire_greeting g;

	if (ch->role != CTLCHAN_SERVER || ch->mode)
		return CTLCHAN_ESTATE;
	if (count == 0 || count > CTLCHAN_COUNT_MAX)
		return CTLCHAN_ECOUNT;
	memset(&g, 0, sizeof(g));
	g.modes = modes;
	g.count = count;
	if (crypto_random(g.challenge, sizeof(g.challenge)) ||
	    crypto_random(g.salt, sizeof(g.salt)))
		return CTLCHAN_ECRYPTO;
	ctlchan_server_remember(ch, &g);
	wire_encode_greeting(out, &g);
	return 0;
}

int ctlchan_server_setup(struct ctlchan *ch, const uint8_t *msg, size_t len, const void *secret,
			 size_t secret_len)
{
	struct wire_setup su;
	uint8_t k[16];
	int rc;

	if (ch->role != CTLCHAN_SERVER || ch->mode)
		return CTLCHAN_ESTATE;
	if (wire_decode_setup(msg, len, &su))
		return CTLCHAN_ELEN;
	if (!ctlchan_mode_valid(su.mode & WIRE_MODE_SECURITY) || (su.mode & ~ch->offered))
		return CTLCHAN_EMODE;
	ch->ext = su.mode & ~WIRE_MODE_SECURITY;
	su.mode &= WIRE_MODE_SECURITY;
	if (su.mode == WIRE_MODE_OPEN) {
		ch->mode = su.mode;
		return 0;
	}
	if (!secret || !secret_len)
		return CTLCHAN_EKEYID;
	if (ch->count == 0 || ch->count > CTLCHAN_COUNT_MAX)
		return CTLCHAN_ECOUNT;
	if (crypto_kdf(secret, secret_len, ch->salt, ch->count, k))
		return CTLCHAN_ECRYPTO;
	rc = ctlchan_token_open(k, su.token, ch->challenge, ch->keys.aes_key, ch->keys.hmac_key);
	crypto_wipe(k, sizeof(k));
	crypto_wipe(su.token, sizeof(su.token));
	if (rc)
		return rc;
	memcpy(ch->keys.client_iv, su.client_iv, CTLCHAN_IV_LEN);
	rc = key_connection(ch);
	if (!rc)
		rc = start_stream(ch, ch->rx, CRYPTO_DECRYPT, ch->keys.client_iv);
	if (rc)
		return rc;
	ch->mode = su.mode;
	ch->keyed = true;
	ch->rx_ready = true;
	return 0;
}

int ctlchan_server_start(struct ctlchan *ch, uint8_t *msg, size_t len, const uint8_t *server_iv)
{
	int rc;

	if (ch->role != CTLCHAN_SERVER || ch->tx_ready)
		return CTLCHAN_ESTATE;
	if (len < WIRE_SERVER_START_LEN)
		return CTLCHAN_ELEN;
	if (!ch->keyed || msg[15] != WIRE_ACCEPT_OK) {
		memset(msg + 16, 0, CTLCHAN_IV_LEN);
		return 0;
	}
	if (server_iv)
		memcpy(ch->server_iv, server_iv, CTLCHAN_IV_LEN);
	else if (crypto_random(ch->server_iv, CTLCHAN_IV_LEN))
		return CTLCHAN_ECRYPTO;
	memcpy(msg + 16, ch->server_iv, CTLCHAN_IV_LEN);
	rc = start_stream(ch, ch->tx, CRYPTO_ENCRYPT, ch->server_iv);
	if (rc)
		return rc;
	/* the block carries no HMAC of its own: the next server HMAC covers it */
	if (crypto_hmac_update(ch->tx_mac, msg + 32, 16) ||
	    crypto_aes_run(ch->tx, msg + 32, msg + 32, 16))
		return CTLCHAN_ECRYPTO;
	ch->tx_ready = true;
	return 0;
}

/* ---- Messages -------------------------------------------------------- */

static bool msg_len_ok(size_t len)
{
	return len >= (size_t)2 * CTLCHAN_HMAC_LEN && len % 16 == 0;
}

int ctlchan_seal(struct ctlchan *ch, uint8_t *msg, size_t len)
{
	size_t body = len - CTLCHAN_HMAC_LEN;

	if (!ch->mode)
		return CTLCHAN_ESTATE;
	if (!msg_len_ok(len))
		return CTLCHAN_ELEN;
	if (!ch->keyed)
		return 0;
	if (!ch->tx_ready)
		return CTLCHAN_ESTATE;
	if (crypto_hmac_update(ch->tx_mac, msg, body) ||
	    crypto_hmac_final(ch->tx_mac, msg + body) ||
	    crypto_aes_run(ch->tx, msg, msg, len))
		return CTLCHAN_ECRYPTO;
	return 0;
}

/* Decrypt msg[ch->rx_done, upto) and feed the part before mac_end to the HMAC. */
static int rx_decrypt(struct ctlchan *ch, uint8_t *msg, size_t upto, size_t mac_end)
{
	size_t from = ch->rx_done;

	if (upto <= from)
		return 0;
	if (crypto_aes_run(ch->rx, msg + from, msg + from, upto - from))
		return CTLCHAN_ECRYPTO;
	if (mac_end > from && crypto_hmac_update(ch->rx_mac, msg + from, mac_end - from))
		return CTLCHAN_ECRYPTO;
	ch->rx_done = upto;
	return 0;
}

int ctlchan_peek(struct ctlchan *ch, uint8_t *msg, size_t len)
{
	if (!ch->mode)
		return CTLCHAN_ESTATE;
	if (len % 16)
		return CTLCHAN_ELEN;
	if (!ch->keyed)
		return 0;
	if (!ch->rx_ready)
		return CTLCHAN_ESTATE;
	/* a peeked block is never an HMAC field: every message has a block before it */
	return rx_decrypt(ch, msg, len, len);
}

int ctlchan_open(struct ctlchan *ch, uint8_t *msg, size_t len)
{
	size_t body = len - CTLCHAN_HMAC_LEN;
	uint8_t mac[CTLCHAN_HMAC_LEN];
	int rc;

	if (!ch->mode)
		return CTLCHAN_ESTATE;
	if (!msg_len_ok(len) || ch->rx_done > body) {
		ch->rx_done = 0;
		return CTLCHAN_ELEN;
	}
	if (!ch->keyed)
		return 0;
	if (!ch->rx_ready)
		return CTLCHAN_ESTATE;
	rc = rx_decrypt(ch, msg, len, body);
	ch->rx_done = 0;
	if (rc)
		return rc;
	if (crypto_hmac_final(ch->rx_mac, mac))
		return CTLCHAN_ECRYPTO;
	return crypto_equal(mac, msg + body, CTLCHAN_HMAC_LEN) ? 0 : CTLCHAN_EHMAC;
}

/* ---- Test sessions --------------------------------------------------- */

int ctlchan_test_keys(const struct ctlchan *ch, const uint8_t sid[16],
		      struct ctlchan_test_keys *out)
{
	if (!ch->keyed)
		return CTLCHAN_ESTATE;
	if (crypto_aes_ecb1(CRYPTO_ENCRYPT, sid, ch->keys.aes_key, out->aes_key) ||
	    crypto_aes_cbc(CRYPTO_ENCRYPT, sid, zero_iv, ch->keys.hmac_key, out->hmac_key,
			   CTLCHAN_HMAC_KEY_LEN))
		return CTLCHAN_ECRYPTO;
	return 0;
}

bool ctlchan_test_sealed(uint32_t mode)
{
	return mode == WIRE_MODE_AUTH || mode == WIRE_MODE_ENCRYPTED;
}

int ctlchan_test_init(struct ctlchan_test *t, uint32_t mode, const struct ctlchan_test_keys *k)
{
	enum crypto_aes_mode am = mode == WIRE_MODE_AUTH ? CRYPTO_AES_ECB : CRYPTO_AES_CBC;

	memset(t, 0, sizeof(*t));
	if (!ctlchan_mode_valid(mode))
		return CTLCHAN_EMODE;
	t->mode = mode;
	if (!ctlchan_test_sealed(mode))
		return 0;
	if (!k)
		return CTLCHAN_ESTATE;
	t->enc = crypto_aes_new();
	t->dec = crypto_aes_new();
	t->mac = crypto_hmac_new();
	if (!t->enc || !t->dec || !t->mac ||
	    crypto_aes_key(t->enc, am, CRYPTO_ENCRYPT, k->aes_key, zero_iv) ||
	    crypto_aes_key(t->dec, am, CRYPTO_DECRYPT, k->aes_key, zero_iv) ||
	    crypto_hmac_key(t->mac, k->hmac_key, CTLCHAN_HMAC_KEY_LEN)) {
		ctlchan_test_fini(t);
		return CTLCHAN_ECRYPTO;
	}
	return 0;
}

void ctlchan_test_fini(struct ctlchan_test *t)
{
	crypto_aes_free(t->enc);
	crypto_aes_free(t->dec);
	crypto_hmac_free(t->mac);
	crypto_wipe(t, sizeof(*t));
}

/*
 * Where the HMAC field is and how many leading octets are encrypted and
 * covered by it; 0 when the packet is too short for its base layout.
 */
static size_t test_layout(const struct ctlchan_test *t, enum ctlchan_pkt kind, size_t len,
			  size_t *hmac_off)
{
	size_t base = kind == CTLCHAN_PKT_SENDER ? WIRE_TEST_AUTH_SENDER_LEN
						 : WIRE_TEST_AUTH_REFLECT_LEN;

	if (len < base)
		return 0;
	*hmac_off = base - CTLCHAN_HMAC_LEN;
	return t->mode == WIRE_MODE_AUTH ? 16 : *hmac_off;
}

int ctlchan_test_seal(struct ctlchan_test *t, enum ctlchan_pkt kind, uint8_t *pkt, size_t len)
{
	size_t hmac_off, n;

	if (!ctlchan_test_sealed(t->mode))
		return 0;
	n = test_layout(t, kind, len, &hmac_off);
	if (!n)
		return CTLCHAN_ELEN;
	if (crypto_hmac_update(t->mac, pkt, n) || crypto_hmac_final(t->mac, pkt + hmac_off))
		return CTLCHAN_ECRYPTO;
	if ((t->mode == WIRE_MODE_ENCRYPTED && crypto_aes_iv(t->enc, zero_iv)) ||
	    crypto_aes_run(t->enc, pkt, pkt, n))
		return CTLCHAN_ECRYPTO;
	return 0;
}

int ctlchan_test_open(struct ctlchan_test *t, enum ctlchan_pkt kind, uint8_t *pkt, size_t len)
{
	uint8_t mac[CTLCHAN_HMAC_LEN];
	size_t hmac_off, n;

	if (!ctlchan_test_sealed(t->mode))
		return 0;
	n = test_layout(t, kind, len, &hmac_off);
	if (!n)
		return CTLCHAN_ELEN;
	if ((t->mode == WIRE_MODE_ENCRYPTED && crypto_aes_iv(t->dec, zero_iv)) ||
	    crypto_aes_run(t->dec, pkt, pkt, n))
		return CTLCHAN_ECRYPTO;
	if (crypto_hmac_update(t->mac, pkt, n) || crypto_hmac_final(t->mac, mac))
		return CTLCHAN_ECRYPTO;
	return crypto_equal(mac, pkt + hmac_off, CTLCHAN_HMAC_LEN) ? 0 : CTLCHAN_EHMAC;
}
