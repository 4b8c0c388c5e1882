/*
 * TWAMP extensions, our client against our responder over real sockets:
 * RFC 7750 DSCP and ECN monitoring, RFC 6038 reflect octets and symmetrical
 * size, in every security mode, and what happens when the server does not
 * offer them.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "ntptime.h"
#include "reflector.h"
#include "session.h"
#include "util/runsession.h"
#include "wire.h"

#define SECRET "extension test secret"

static struct refl_key g_key = { .keyid = "probe", .secret = SECRET, .secret_len = sizeof(SECRET) - 1 };

static struct responder *start(uint32_t extensions)
{
	struct refl_config c;
	struct responder *r;

	refl_config_default(&c);
	c.nlisten = 1;
	run_addr(&c.listen[0], "127.0.0.1", 0);
	c.extensions = extensions;
	c.keys = &g_key;
	c.nkeys = 1;
	r = responder_start(&c);
	cr_assert_not_null(r);
	return r;
}

static void params(struct session_params *p, struct responder *r, uint32_t mode, uint32_t ext)
{
	session_params_default(p);
	p->count = 20;
	p->interval = 2 * NS_PER_MS;
	p->loss_timeout = 500 * NS_PER_MS;
	p->ctl_timeout = 2 * NS_PER_SEC;
	run_addr(&p->server, "127.0.0.1", responder_port(r, 0));
	p->allowed_modes = mode;
	p->extensions = ext;
	snprintf(p->keyid, sizeof(p->keyid), "probe");
	p->secret = (const uint8_t *)SECRET;
	p->secret_len = sizeof(SECRET) - 1;
}

static void run_ok(struct session_params *p, struct run_result *res)
{
	cr_assert_eq(run_session(p, res), 0);
	cr_assert_eq(res->info->status, SESSION_OK, "%s: %s", session_status_name(res->info->status),
		     res->info->error);
	cr_assert_eq(res->sum.received, p->count);
	cr_assert_eq(res->info->malformed, 0);
}

static void malformed_none(struct responder *r)
{
	struct refl_counters k;

	responder_counters(r, &k);
	cr_assert_eq(k.malformed, 0, "the responder dropped %llu packets", (unsigned long long)k.malformed);
}

/* RFC 7750: the reflector reports the DS field it received, in every mode. */
static void dscp_ecn_in(uint32_t mode, size_t want_len)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, mode, WIRE_MODE_DSCP_ECN);
	p.dscp = 46;
	p.ecn = 1; /* ECT(1) */
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->packet_len, want_len);
	cr_assert_eq(res.sum.dscp_tx, 46);
	cr_assert_eq(res.sum.ecn_tx, 1);
	cr_assert_eq(res.sum.dscp_fwd, 46);
	cr_assert_eq(res.sum.dscp_bck, 46);
	cr_assert_eq(res.sum.ecn_fwd, 1);
	/* the reflector answers ECN-capable when we are */
	cr_assert_eq(res.sum.ecn_bck, 1);
	cr_assert_eq(res.sum.ce_fwd + res.sum.ce_bck, 0);
	cr_assert_eq(res.sum.dscp_changed_fwd + res.sum.dscp_changed_bck, 0);
	cr_assert(!res.sum.dscp_remarked);
	malformed_none(r);
	run_result_free(&res);
	responder_stop(r);
}

Test(ext, dscp_ecn_open, .timeout = 20) { dscp_ecn_in(WIRE_MODE_OPEN, 42); }
Test(ext, dscp_ecn_mixed, .timeout = 20) { dscp_ecn_in(WIRE_MODE_MIXED, 42); }
Test(ext, dscp_ecn_authenticated, .timeout = 20) { dscp_ecn_in(WIRE_MODE_AUTH, 112); }
Test(ext, dscp_ecn_encrypted, .timeout = 20) { dscp_ecn_in(WIRE_MODE_ENCRYPTED, 112); }

/* A server that offers no extension: none is asked for; we still see our own side. */
Test(ext, server_without_extensions, .timeout = 20)
{
	struct responder *r = start(0);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, REFL_EXTENSIONS);
	p.pad_reflect = 8;
	p.dscp = 10;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.info->packet_len, 41u);
	cr_assert_eq(res.sum.dscp_fwd, -1);
	cr_assert_eq(res.sum.ecn_fwd, -1);
	cr_assert_eq(res.sum.dscp_bck, 10);
	cr_assert(!res.sum.dscp_remarked);
	run_result_free(&res);
	responder_stop(r);
}

/* Only what is offered is used: here DSCP/ECN, though we want everything. */
Test(ext, only_offered_extensions_used, .timeout = 20)
{
	struct responder *r = start(WIRE_MODE_DSCP_ECN);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, REFL_EXTENSIONS);
	p.pad_reflect = 8;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->reflect_mismatch, 0);
	run_result_free(&res);
	responder_stop(r);
}

/* RFC 6038 reflect octets: the padding comes back, checked on every reflection. */
static void reflect_octets_in(uint32_t mode, uint32_t ext, size_t want_len)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, mode, ext | WIRE_MODE_REFLECT_OCTETS);
	p.pad_reflect = 24;
	run_ok(&p, &res);
	cr_assert(res.info->ctl_ext & WIRE_MODE_REFLECT_OCTETS);
	cr_assert_eq(res.info->packet_len, want_len);
	cr_assert_eq(res.info->reflect_mismatch, 0);
	malformed_none(r);
	run_result_free(&res);
	responder_stop(r);
}

Test(ext, reflect_octets_open, .timeout = 20) { reflect_octets_in(WIRE_MODE_OPEN, 0, 41 + 24); }
Test(ext, reflect_octets_open_dscp, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_OPEN, WIRE_MODE_DSCP_ECN, 42 + 24);
}
Test(ext, reflect_octets_symmetrical, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN, 42 + 24);
}
Test(ext, reflect_octets_authenticated, .timeout = 20) { reflect_octets_in(WIRE_MODE_AUTH, 0, 112 + 24); }
Test(ext, reflect_octets_encrypted, .timeout = 20)
{
	reflect_octets_in(WIRE_MODE_ENCRYPTED, WIRE_MODE_DSCP_ECN, 112 + 24);
}

/* Asking for more reflected padding than we send is refused, with a reason. */
Test(ext, reflect_more_than_padding_refused, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_REFLECT_OCTETS);
	p.padding = 30;
	p.pad_reflect = 100;
	cr_assert_eq(run_session(&p, &res), 0);
	cr_assert_eq(res.info->status, SESSION_ERR_SESSION);
	cr_assert(strstr(res.info->error, "not supported"), "%s", res.info->error);
	run_result_free(&res);
	responder_stop(r);
}

/* RFC 6038 symmetrical size: MBZ up to the reflection's size, padding after it. */
Test(ext, symmetrical_size, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN);
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, WIRE_MODE_SYMMETRICAL | WIRE_MODE_DSCP_ECN);
	cr_assert_eq(res.info->packet_len, 42u);
	cr_assert_eq(res.info->padding, 0u);
	run_result_free(&res);

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_SYMMETRICAL);
	p.padding = 100;
	run_ok(&p, &res);
	cr_assert_eq(res.info->packet_len, 141u);
	run_result_free(&res);
	malformed_none(r);
	responder_stop(r);
}

/* Symmetrical size is for open test packets: not used with authenticated ones. */
Test(ext, symmetrical_not_with_sealed_packets, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_AUTH, WIRE_MODE_SYMMETRICAL);
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.info->packet_len, 112u);
	run_result_free(&res);
	responder_stop(r);
}

/* A padding too short to carry the DSCP/ECN octet back: monitoring is not asked for. */
Test(ext, short_padding_drops_dscp_ecn, .timeout = 20)
{
	struct responder *r = start(REFL_EXTENSIONS);
	struct session_params p;
	struct run_result res;

	params(&p, r, WIRE_MODE_OPEN, WIRE_MODE_DSCP_ECN);
	p.padding = 27;
	run_ok(&p, &res);
	cr_assert_eq(res.info->ctl_ext, 0);
	cr_assert_eq(res.sum.dscp_fwd, -1);
	cr_assert_eq(res.sum.dscp_bck, 0);
	run_result_free(&res);
	responder_stop(r);
}
