/*
 * ctlchan: the security of one TWAMP-Control connection (RFC 4656 sections
 * 3.1-3.4, RFC 5357 section 3, RFC 5618) and of the test sessions it sets up
 * (RFC 4656 section 4.1, RFC 5357 section 4), for both roles.  Pure code over
 * byte buffers: no sockets, no clock, no logging of secrets; the caller
 * (session.c as client, reflector.c as server) moves the octets and logs the
 * reason this layer returns.
 *
 * The recipe, checked against real twping/twampd (owamp 5.2.3) captures in
 * tests/data/interop (NOTES.md, "Crypto recipe"):
 *
 *  - K = PBKDF2-HMAC-SHA1(shared secret, greeting Salt, greeting Count), 16
 *    octets.  Set-Up-Response Token = AES-128-CBC(K, IV 0) of Challenge |
 *    AES session key (16) | HMAC session key (32).
 *  - After Set-Up-Response, in every mode but open (authenticated, encrypted
 *    and mixed alike), each direction is one AES-128-CBC stream under the
 *    AES session key: client -> server from Client-IV, server -> client from
 *    Server-IV, chained across messages.  The server's stream begins with the
 *    last block of Server-Start (Start-Time + MBZ); its first 32 octets
 *    (MBZ, Accept, Server-IV) travel in clear.
 *  - The last 16 octets of every later message are the first 16 octets of
 *    HMAC-SHA1(HMAC session key, plaintext).  An HMAC covers everything its
 *    sender encrypted since its previous HMAC (RFC 4656 3.2), so the server's
 *    first HMAC (Accept-Session) also covers the plaintext of the encrypted
 *    block of Server-Start -- the "owamp quirk" of NOTES.md, which is simply
 *    that rule: each direction keeps a running HMAC that every encrypted
 *    plaintext block feeds, and each HMAC field closes it.
 *  - Test-session keys (RFC 4656 4.1): AES key = AES-ECB(key SID, AES
 *    session key); HMAC key = AES-CBC(key SID, IV 0, HMAC session key).
 *  - Test packets: authenticated mode encrypts only the first block (seq +
 *    MBZ) with AES-ECB and its HMAC covers only that block's plaintext;
 *    encrypted mode is AES-CBC with IV 0 over the first 32 (sender) or 96
 *    (reflector) octets, HMAC over the same plaintext; the HMAC field itself
 *    (offset 32 / 96) is not encrypted.  Mixed mode has open test packets.
 *
 * Client:                                   Server:
 *   ctlchan_init(CTLCHAN_CLIENT)              ctlchan_init(CTLCHAN_SERVER)
 *                                             ctlchan_server_greeting() -> send
 *   ctlchan_client_setup() -> send            decode, look up KeyID, then
 *                                             ctlchan_server_setup()
 *   ctlchan_client_server_start() <- recv     ctlchan_server_start() -> send
 *   ctlchan_seal(Request-TW-Session) -> send  ctlchan_peek() first block,
 *                                             ctlchan_open() the rest
 *   ctlchan_open(Accept-Session) <- recv      ctlchan_seal(Accept-Session)
 *   ... Start-Sessions, Start-Ack, Stop-Sessions alike ...
 *   ctlchan_test_keys(SID), ctlchan_test_init() per test session
 *   ctlchan_fini()                            ctlchan_fini()
 *
 * In open mode every call still works and seal/peek/open change nothing, so
 * the caller has one code path.  Messages are sealed and opened in place and
 * must be whole 16-octet blocks (all TWAMP-Control messages are).  After any
 * error from ctlchan_open() the streams are out of step: close the
 * connection.  Contexts are allocated when a non-open mode is keyed, once per
 * connection (test session); sealing and opening do not allocate.
 *
 * Functions returning int give 0 or a negative enum ctlchan_err.
 */
#ifndef CTLCHAN_H
#define CTLCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define CTLCHAN_KEYID_LEN 80          /* KeyID field of Set-Up-Response */
#define CTLCHAN_AES_KEY_LEN 16
#define CTLCHAN_HMAC_KEY_LEN 32
#define CTLCHAN_IV_LEN 16
#define CTLCHAN_HMAC_LEN 16
/*
 * Largest greeting Count the client runs PBKDF2 for (RFC 4656 asks for a
 * power of 2, at least 1024; twampd sends 2048).  A bound, so that a hostile
 * server cannot make a worker spend minutes in the key derivation.
 */
#define CTLCHAN_COUNT_MAX (1u << 20)

enum ctlchan_err {
	CTLCHAN_OK = 0,
	CTLCHAN_ELEN = -1,     /* wrong length: short message, not whole blocks */
	CTLCHAN_EDENIED = -2,  /* Token does not decrypt to our Challenge: wrong shared secret */
	CTLCHAN_EHMAC = -3,    /* HMAC mismatch: altered in transit, or not our key */
	CTLCHAN_EMODE = -4,    /* mode not exactly one of open/auth/enc/mixed, or not offered */
	CTLCHAN_ECOUNT = -5,   /* greeting Count 0 or above CTLCHAN_COUNT_MAX */
	CTLCHAN_EKEYID = -6,   /* KeyID longer than 80 octets, or no secret for a keyed mode */
	CTLCHAN_ESTATE = -7,   /* call out of order (e.g. seal before the stream is keyed) */
	CTLCHAN_ECRYPTO = -8,  /* libcrypto failed (allocation, RNG); logged by crypto */
};

/* A sentence for a ctlchan_err value, for the caller's log line. */
const char *ctlchan_strerror(int err);

enum ctlchan_role {
	CTLCHAN_CLIENT,
	CTLCHAN_SERVER,
};

struct crypto_aes;
struct crypto_hmac;

/* Session keys a client picks for Set-Up-Response (random unless a test fixes them). */
struct ctlchan_keys {
	uint8_t aes_key[CTLCHAN_AES_KEY_LEN];
	uint8_t hmac_key[CTLCHAN_HMAC_KEY_LEN];
	uint8_t client_iv[CTLCHAN_IV_LEN];
};

/*
 * One control connection.  Plain, so it can live inside a pooled session
 * object; callers read mode and keys but change them only through the calls
 * below.
 */
struct ctlchan {
	enum ctlchan_role role;
	uint32_t mode;                /* security bit of Set-Up-Response (WIRE_MODE_SECURITY); 0 before */
	uint32_t ext;                 /* its extension bits (RFC 5938, 6038, 7750) */
	bool keyed;                   /* session keys known (mode other than open) */
	bool tx_ready, rx_ready;      /* the CBC stream of each direction started */
	/* greeting, as the server sent it (server) */
	uint32_t offered;             /* its Modes */
	uint8_t challenge[16];
	uint8_t salt[16];
	uint32_t count;
	/* session keys and IVs (zero in open mode) */
	struct ctlchan_keys keys;
	uint8_t server_iv[CTLCHAN_IV_LEN];
	size_t rx_done;               /* octets of the incoming message ctlchan_peek() decrypted */
	struct crypto_aes *tx, *rx;   /* our outgoing and the peer's incoming stream */
	struct crypto_hmac *tx_mac, *rx_mac;
};

/* Zero ch and set the role; allocates nothing (on a channel holding contexts, fini first). */
void ctlchan_init(struct ctlchan *ch, enum ctlchan_role role);
/* Free the contexts and wipe the keys; ch can be initialised again. */
void ctlchan_fini(struct ctlchan *ch);

/* true when m is exactly one of the four mode bits. */
bool ctlchan_mode_valid(uint32_t m);

/* ---- Set-up ---------------------------------------------------------- */

/*
 * Token = AES-CBC(kdf_key, IV 0) of challenge | aes_key | hmac_key, and the
 * reverse: token_open gives EDENIED (and no keys) when the first block is not
 * challenge, compared in constant time.
 */
int ctlchan_token_seal(const uint8_t kdf_key[16], const uint8_t challenge[16],
		       const uint8_t aes_key[16], const uint8_t hmac_key[32], uint8_t token[64]);
int ctlchan_token_open(const uint8_t kdf_key[16], const uint8_t token[64],
		       const uint8_t challenge[16], uint8_t aes_key[16], uint8_t hmac_key[32]);

/*
 * Client: build the Set-Up-Response to greeting g in out (164 octets) for
 * mode (one security bit, offered in g->modes, plus any extension bits the
 * greeting offers: they are sent as given and kept in ch->ext).  Open mode: Mode only, the rest zero;
 * keyid and secret are not used.  Other modes: keyid (a string of at most 80
 * octets, sent NUL-padded) names secret (secret_len raw octets); keys gives
 * the session keys and Client-IV, or NULL for random ones (tests fix them).
 * The client -> server stream starts here.
 */
int ctlchan_client_setup(struct ctlchan *ch, const struct wire_greeting *g, uint32_t mode,
			 const char *keyid, const void *secret, size_t secret_len,
			 const struct ctlchan_keys *keys, uint8_t out[WIRE_SETUP_LEN]);

/*
 * The same with the key K = crypto_kdf(secret, g->salt, g->count) derived
 * by the caller (a worker derives it on its offload thread, since a large
 * Count takes long); open mode ignores kdf_key.
 */
int ctlchan_client_setup_derived(struct ctlchan *ch, const struct wire_greeting *g, uint32_t mode,
				 const char *keyid, const uint8_t kdf_key[16],
				 const struct ctlchan_keys *keys, uint8_t out[WIRE_SETUP_LEN]);

/*
 * Client: the received Server-Start (48 octets), in place.  When the mode is
 * keyed and Accept is 0, take Server-IV, start the server -> client stream
 * and decrypt the last block (it then feeds the server's first HMAC).
 * Otherwise nothing changes: the caller decodes msg and checks Accept.
 */
int ctlchan_client_server_start(struct ctlchan *ch, uint8_t *msg, size_t len);

/*
 * Server: a greeting offering modes with count in out (64 octets), random
 * Challenge and Salt; ctlchan_server_remember() records a greeting made by
 * the caller instead (replaying a capture).
 */
int ctlchan_server_greeting(struct ctlchan *ch, uint32_t modes, uint32_t count,
			    uint8_t out[WIRE_GREETING_LEN]);
void ctlchan_server_remember(struct ctlchan *ch, const struct wire_greeting *g);

/*
 * Server: check the received Set-Up-Response msg (len octets; ELEN when
 * shorter than 164) against the greeting.  The caller has already decoded it,
 * refused modes it does not allow and looked up the KeyID; secret is that
 * KeyID's.  Open mode takes no secret.  EDENIED: the Token does not hold our
 * Challenge -- the client's secret differs (answer Accept = 1).  EMODE: the
 * Mode is not one security bit plus offered extension bits.  On success
 * the keys are set and the client -> server stream starts.
 */
int ctlchan_server_setup(struct ctlchan *ch, const uint8_t *msg, size_t len, const void *secret,
			 size_t secret_len);

/*
 * Server: finish the encoded Server-Start in msg (48 octets, as
 * wire_encode_server_start() wrote it; Accept at octet 15).  Writes the
 * Server-IV field: server_iv, or random when NULL, in a keyed mode with
 * Accept 0; zeros otherwise (twampd's denial: Accept 1, IV zero, clear).
 * With a keyed mode and Accept 0 it starts the server -> client stream with
 * the last block.
 */
int ctlchan_server_start(struct ctlchan *ch, uint8_t *msg, size_t len, const uint8_t *server_iv);

/* ---- Messages after Server-Start ------------------------------------- */

/*
 * Seal an encoded message in place (len: a multiple of 16, >= 32): put the
 * HMAC of the plaintext up to the last 16 octets (with whatever our stream
 * encrypted since our previous HMAC) into the last 16 octets, then encrypt
 * all of it.  Open mode: msg is left as encoded (HMAC field as the encoder
 * wrote it, zero).
 */
int ctlchan_seal(struct ctlchan *ch, uint8_t *msg, size_t len);

/*
 * Decrypt the first len octets (whole blocks) of an incoming message in
 * place before its length is known: a server reads the command number from
 * the first block, then reads the rest and calls ctlchan_open() on the whole
 * message.
 */
int ctlchan_peek(struct ctlchan *ch, uint8_t *msg, size_t len);

/*
 * Decrypt the incoming message in place (what ctlchan_peek() has not yet
 * decrypted) and check its HMAC in constant time: EHMAC when it differs.
 * Open mode: nothing is checked.
 */
int ctlchan_open(struct ctlchan *ch, uint8_t *msg, size_t len);

/* ---- Test sessions --------------------------------------------------- */

struct ctlchan_test_keys {
	uint8_t aes_key[CTLCHAN_AES_KEY_LEN];
	uint8_t hmac_key[CTLCHAN_HMAC_KEY_LEN];
};

/* The test-session keys of the session with this SID (ESTATE when not keyed). */
int ctlchan_test_keys(const struct ctlchan *ch, const uint8_t sid[16],
		      struct ctlchan_test_keys *out);

enum ctlchan_pkt {
	CTLCHAN_PKT_SENDER,     /* Session-Sender -> reflector, 48-octet base */
	CTLCHAN_PKT_REFLECT,    /* reflector -> Session-Sender, 112-octet base */
};

/* The test-packet security of one test session: contexts made once. */
struct ctlchan_test {
	uint32_t mode;
	struct crypto_aes *enc, *dec;
	struct crypto_hmac *mac;
};

/* true when test packets of mode use the 48/112-octet sealed layouts (auth, encrypted). */
bool ctlchan_test_sealed(uint32_t mode);

/*
 * Set t up for mode with keys k (k unused, may be NULL, in open and mixed
 * modes, whose test packets are open).  t is overwritten, so it must not hold
 * contexts; ctlchan_test_fini() frees and wipes them (also after a failed
 * init).  One struct serves both directions of a test session (the sender
 * seals its packets and opens the reflections with it).
 */
int ctlchan_test_init(struct ctlchan_test *t, uint32_t mode, const struct ctlchan_test_keys *k);
void ctlchan_test_fini(struct ctlchan_test *t);

/*
 * Seal an encoded test packet in place (len >= 48 sender / 112 reflector):
 * HMAC field, then encryption.  Open it in place: decrypt, check the HMAC
 * (EHMAC on mismatch; the packet is then garbage).  No-ops in open/mixed mode.
 */
int ctlchan_test_seal(struct ctlchan_test *t, enum ctlchan_pkt kind, uint8_t *pkt, size_t len);
int ctlchan_test_open(struct ctlchan_test *t, enum ctlchan_pkt kind, uint8_t *pkt, size_t len);

#endif
