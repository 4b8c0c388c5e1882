/*
 * Tests for config.c: both schema generations, defaults and per-target
 * overrides, every kind of bad input (each expected "FILE: KEY: reason" line
 * present, and no others), the probe-name precedence, files made on the fly
 * for the edge cases (size limit, BOM, NUL bytes, directories), the shipped
 * config_example/ directories, and concurrent loads.
 *
 * Run from the repository root (the data paths are relative to it).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "keyfile.h"
#include "scheduler.h"

#define DATA "tests/data/config/"
#define MS 1000000LL
#define SEC 1000000000LL

static struct config *load_ok(const char *dir)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	int rc = config_load(dir, &c, &errs);

	for (size_t i = 0; i < errs.n; i++)
		cr_log_error("%s", errs.lines[i]);
	cr_assert_eq(rc, 0, "%s: config_load failed with %zu problems", dir, errs.n);
	cr_assert_not_null(c);
	cr_assert_eq(errs.n, 0);
	config_errors_clear(&errs);
	return c;
}

/* The load fails, and the problems are exactly `want` (in any order). */
static void expect_problems(const char *dir, const char *const *want, size_t nwant)
{
	struct config_errors errs = { 0 };
	struct config *c = (struct config *)&errs; /* must be reset to NULL */
	int rc = config_load(dir, &c, &errs);

	cr_assert_eq(rc, -1, "%s: loaded although invalid", dir);
	cr_expect_null(c, "%s: partial config returned", dir);
	for (size_t i = 0; i < nwant; i++) {
		size_t hits = 0;

		for (size_t j = 0; j < errs.n; j++)
			hits += strcmp(errs.lines[j], want[i]) == 0;
		cr_expect_eq(hits, 1, "%s: expected once: \"%s\" (seen %zu times)", dir, want[i], hits);
	}
	if (errs.n != nwant)
		for (size_t j = 0; j < errs.n; j++)
			cr_log_error("%s: got: %s", dir, errs.lines[j]);
	cr_expect_eq(errs.n, nwant, "%s: %zu problems, expected %zu", dir, errs.n, nwant);
	config_errors_clear(&errs);
	cr_expect_eq(errs.n, 0);
	cr_expect_null(errs.lines);
}

#define EXPECT_PROBLEMS(dir, ...)                                                  \
	do {                                                                       \
		static const char *const want_[] = { __VA_ARGS__ };                \
		expect_problems(dir, want_, sizeof(want_) / sizeof(want_[0]));      \
	} while (0)

static void expect_probe_defaults(const struct config_probe *p)
{
	cr_expect_str_eq(p->schedule, "*/5 * * * *");
	cr_expect_str_eq(p->config_schedule, "1 */12 * * *");
	cr_expect_eq(p->packet_count, 100);
	cr_expect_eq(p->interval, 100 * MS);
	cr_expect_eq(p->padding, CONFIG_PADDING_DEFAULT);
	cr_expect_eq(p->loss_timeout, 2 * SEC);
	cr_expect_eq(p->workers, 0);
	cr_expect_eq(p->ncpus, 0);
	cr_expect_eq(p->max_concurrent, 1000);
	cr_expect_eq(p->connect_rate, 2000);
	cr_expect_null(p->source_name);
	cr_expect_eq(p->spool_max_bytes, 256ULL << 20);
	cr_expect_eq(p->kdf_count_max, 2048);
}

/* ------------------------------------------------------------ good dirs */

Test(config, seed_generation)
{
	struct config *c = load_ok(DATA "good-seed");
	const struct config_target *t = c->targets;
	const struct config_destination *d = c->dests;

	cr_expect_eq(c->generation, 1);
	cr_expect_str_eq(c->global_path, DATA "good-seed/twamp_global_config.json");
	cr_expect_str_eq(c->targets_path, DATA "good-seed/twamp_targets_list.json");
	cr_expect_str_eq(c->source.method, "web");
	cr_expect_str_eq(c->source.url, "https://config.example.net/probes/p1");
	cr_expect_str_eq(c->source.user, "probe");
	cr_expect_str_eq(c->source.password, "secret");
	cr_expect_null(c->source.branch);
	cr_expect_not(c->source.insecure);

	cr_assert_eq(c->ndests, 1);
	cr_expect_str_eq(d->url, "https://telegraf.example.net:8080/telegraf");
	cr_expect_str_eq(d->password, "cHJvYmU6c2VjcmV0");
	cr_expect_null(d->user);
	cr_expect_null(d->token);
	cr_expect_null(d->ca_file);
	cr_expect_not(d->insecure);
	cr_expect_eq(d->format, CONFIG_FMT_JSON);
	cr_expect_eq(d->batch_size, 500);
	cr_expect_eq(d->flush_interval, 5 * SEC);

	expect_probe_defaults(&c->probe);
	cr_expect_null(c->local.source_name);

	cr_assert_eq(c->ntargets, 4);
	cr_expect_str_eq(t[0].ip, "192.0.2.10");
	cr_expect_eq(t[0].dscp, 2);                  /* DSCP as a string */
	cr_expect_str_eq(t[0].custom_comment, "core-router-a");
	cr_expect_null(t[0].custom_id);
	cr_expect_str_eq(t[1].ip, "probe-b.example.net");   /* DNS name */
	cr_expect_eq(t[1].dscp, 0);                  /* DSCP as a number */
	cr_expect_null(t[1].custom_comment);
	cr_expect_str_eq(t[2].ip, "2001:db8::10");   /* IPv6 */
	cr_expect_eq(t[2].dscp, 46);
	cr_expect_str_eq(t[2].custom_id, "r-7");
	cr_expect_str_eq(t[3].ip, "reflector.example.net.");
	cr_expect_eq(t[3].dscp, 34);                 /* " 34 " */
	cr_expect_str_eq(t[3].custom_id, "1234");    /* "ID": 1234 */
	for (size_t i = 0; i < c->ntargets; i++) {
		cr_expect_eq(t[i].port, 862);
		cr_expect_eq(t[i].mode, SESSION_CONTROL);
		cr_expect_eq(t[i].packet_count, 100);
		cr_expect_eq(t[i].interval, 100 * MS);
		cr_expect_eq(t[i].padding, CONFIG_PADDING_DEFAULT);
		cr_expect_not(t[i].has_geo);
		cr_expect_null(t[i].description);
		cr_expect_null(t[i].tags);
	}
	config_free(c);
}

Test(config, later_generation)
{
	struct config *c = load_ok(DATA "good-later");
	const struct config_target *t = c->targets;
	const struct config_destination *d = c->dests;
	const struct config_probe *p = &c->probe;

	cr_expect_eq(c->generation, 2);
	cr_expect_str_eq(c->global_path, DATA "good-later/global_config.json");
	cr_expect_str_eq(c->targets_path, DATA "good-later/targets_list.json");
	cr_expect_str_eq(c->source.method, "git");
	cr_expect_str_eq(c->source.url, "https://probe:token@git.example.net/probes/config.git");
	cr_expect_str_eq(c->source.branch, "main");
	cr_expect_str_eq(c->source.path, "site-a");

	cr_assert_eq(c->ndests, 2);
	cr_expect_str_eq(d[0].url, "https://telegraf-a.example.net:8080/telegraf");
	cr_expect_eq(d[0].format, CONFIG_FMT_JSON);
	cr_expect_str_eq(d[1].url, "http://198.51.100.20:8086/api/v2/write?org=o&bucket=b");
	cr_expect_null(d[1].password);
	cr_expect_str_eq(d[1].token, "tok");
	cr_expect_eq(d[1].format, CONFIG_FMT_INFLUX);
	cr_expect_eq(d[1].batch_size, 1000);
	cr_expect_eq(d[1].flush_interval, 500 * MS);
	cr_expect(d[1].insecure);
	cr_expect_str_eq(d[1].ca_file, "/etc/ssl/ca.pem");

	cr_expect_str_eq(p->schedule, "*/10 * * * *");
	cr_expect_str_eq(p->config_schedule, "@hourly");
	cr_expect_eq(p->packet_count, 50);
	cr_expect_eq(p->interval, 50 * MS);
	cr_expect_eq(p->padding, 100);
	cr_expect_eq(p->loss_timeout, 3 * SEC);
	cr_expect_eq(p->workers, 2);
	cr_assert_eq(p->ncpus, 2);
	cr_expect_eq(p->cpus[0], 0);
	cr_expect_eq(p->cpus[1], 2);
	cr_expect_eq(p->max_concurrent, 500);
	cr_expect_eq(p->connect_rate, 100);
	cr_expect_str_eq(p->source_name, "probe-from-global");
	cr_expect_eq(p->spool_max_bytes, 10485760);

	cr_assert_eq(c->ntargets, 3);
	/* target 0 inherits the Probe section */
	cr_expect_str_eq(t[0].description, "core router A");
	cr_expect_str_eq(t[0].tags, "core prague");
	cr_expect(t[0].has_geo);
	cr_expect_float_eq(t[0].latitude, 50.08, 1e-9);
	cr_expect_float_eq(t[0].longitude, 14.42, 1e-9);
	cr_expect_eq(t[0].port, 862);
	cr_expect_eq(t[0].mode, SESSION_CONTROL);
	cr_expect_eq(t[0].packet_count, 50);
	cr_expect_eq(t[0].interval, 50 * MS);
	cr_expect_eq(t[0].padding, 100);
	/* target 1 overrides everything */
	cr_expect_eq(t[1].dscp, 46);
	cr_expect_eq(t[1].port, 4000);
	cr_expect_eq(t[1].mode, SESSION_LIGHT);
	cr_expect_eq(t[1].packet_count, 20);
	cr_expect_eq(t[1].interval, 1 * SEC);
	cr_expect_eq(t[1].padding, 0);
	cr_expect_str_eq(t[1].tags, "edge brno"); /* an array of words */
	cr_expect_not(t[1].has_geo);
	/* target 2: IPv6, "STAMP" in capitals, blank geo means none */
	cr_expect_str_eq(t[2].ip, "2001:db8::1");
	cr_expect_eq(t[2].mode, SESSION_STAMP);
	cr_expect_eq(t[2].port, 862);
	cr_expect_not(t[2].has_geo);

	cr_expect_str_eq(c->local.source_name, "probe-prague-1");
	cr_expect_str_eq(c->local.description, "Probe in the Prague office");
	cr_expect_str_eq(c->local.tags, "office prague");
	cr_expect(c->local.has_geo);
	cr_expect_float_eq(c->local.latitude, 50.0875, 1e-9);
	cr_expect_float_eq(c->local.longitude, 14.4214, 1e-9);
	cr_expect_str_eq(c->local.street, "Example street 1");
	cr_expect_str_eq(c->local.city, "Prague");
	cr_expect_str_eq(c->local.state, "CZ");
	cr_expect_str_eq(c->local.zip, "11000");
	config_free(c);
}

Test(config, defaults_and_no_destination)
{
	struct config *c = load_ok(DATA "defaults");

	cr_expect_eq(c->generation, 2);
	cr_expect_eq(c->ndests, 0); /* records go to stdout */
	cr_expect_null(c->dests);
	cr_expect_null(c->source.method);
	cr_expect_null(c->source.url);
	expect_probe_defaults(&c->probe);
	cr_expect_null(c->local.source_name); /* no local_config.json */
	cr_expect_not(c->local.has_geo);
	cr_assert_eq(c->ntargets, 1);
	cr_expect_eq(c->targets[0].port, 862);
	cr_expect_eq(c->targets[0].mode, SESSION_CONTROL);
	cr_expect_eq(c->targets[0].packet_count, 100);
	cr_expect_eq(c->targets[0].interval, 100 * MS);
	cr_expect_eq(c->targets[0].padding, CONFIG_PADDING_DEFAULT);
	config_free(c);
}

Test(config, empty_targets_is_valid)
{
	struct config *c = load_ok(DATA "empty-targets");

	cr_expect_eq(c->generation, 1);
	cr_expect_eq(c->ntargets, 0);
	cr_expect_eq(c->ndests, 0); /* "Destinations": [] */
	config_free(c);
}

/* ------------------------------------------------------------- bad dirs */

Test(config, dscp_out_of_range)
{
	EXPECT_PROBLEMS(DATA "bad-dscp", "twamp_targets_list.json: Targets[3].DSCP: 99 is out of range 0..63");
}

Test(config, bad_ip)
{
	EXPECT_PROBLEMS(DATA "bad-ip", "twamp_targets_list.json: Targets[0].IP: '999.1.1.1' is not an "
				       "IPv4/IPv6 address or a valid DNS name");
}

Test(config, missing_targets)
{
	EXPECT_PROBLEMS(DATA "missing-targets", "twamp_targets_list.json: Targets: missing");
}

Test(config, wrong_types)
{
	EXPECT_PROBLEMS(
		DATA "wrong-types",
		"global_config.json: Destinations[0].DestinationURL: expected a string, got an array",
		"global_config.json: Destinations[0].DestinationInsecure: 'maybe' is not true or false",
		"global_config.json: Destinations[0].BatchSize: expected a number or a numeric string, "
		"got a boolean",
		"global_config.json: Probe.Schedule: expected a string, got a number",
		"global_config.json: Probe.PacketCount: expected a number or a numeric string, got an array",
		"global_config.json: Probe.Interval: expected a number or a numeric string, got an object",
		"global_config.json: Probe.CPUs: expected an array of CPU numbers, got a string",
		"targets_list.json: Targets[0].IP: expected a string, got a number",
		"targets_list.json: Targets[0].DSCP: expected a number or a numeric string, got an object",
		"targets_list.json: Targets[0].Port: 'eight' is not a number",
		"targets_list.json: Targets[0].Mode: expected a string, got a number",
		"targets_list.json: Targets[0].Tags[0]: expected a string, got a number",
		"targets_list.json: Targets[1]: expected an object, got a string");
}

Test(config, empty_file)
{
	EXPECT_PROBLEMS(DATA "empty-file", "twamp_targets_list.json: empty file");
}

Test(config, invalid_json)
{
	EXPECT_PROBLEMS(DATA "invalid-json", "twamp_targets_list.json: not valid JSON: object value "
					     "separator ',' expected at line 3");
}

Test(config, truncated_json)
{
	EXPECT_PROBLEMS(DATA "truncated-json",
			"twamp_targets_list.json: not valid JSON: unexpected end of data at line 3");
}

Test(config, top_level_not_object)
{
	EXPECT_PROBLEMS(DATA "not-object",
			"twamp_targets_list.json: expected a JSON object at the top level, got an array");
}

Test(config, bad_cron)
{
	EXPECT_PROBLEMS(DATA "bad-cron",
			"global_config.json: Probe.Schedule: bad cron expression '*/0 * * * *': step 0 "
			"in minute field",
			"global_config.json: Probe.ConfigSchedule: bad cron expression '1 */12 * *': "
			"expected 5 fields (minute hour day-of-month month day-of-week), got 4");
}

Test(config, many_errors_at_once)
{
	EXPECT_PROBLEMS(
		DATA "many-errors",
		"global_config.json: Destinations[0].DestinationURL: 'ftp://telegraf.example.net' is not "
		"an http:// or https:// URL",
		"global_config.json: Destinations[0].DestinationFormat: 'xml' is not one of json, influx",
		"global_config.json: Destinations[1].DestinationURL: missing",
		"global_config.json: Destinations[1].BatchSize: 0 is out of range 1..100000",
		"global_config.json: Probe.PacketCount: 0 is out of range 1..100000",
		"global_config.json: Probe.Interval: 0.00001 is out of range 0.0001..60",
		"global_config.json: Probe.Workers: 1.5 is not an integer",
		"global_config.json: Probe.CPUs[1]: 1024 is out of range 0..1023",
		"global_config.json: Probe.CPUs[2]: -1 is out of range 0..1023",
		"targets_list.json: Targets[0].DSCP: 64 is out of range 0..63",
		"targets_list.json: Targets[1].IP: '-bad-.example.net' is not an IPv4/IPv6 address or a "
		"valid DNS name",
		"targets_list.json: Targets[1].Port: 0 is out of range 1..65535",
		"targets_list.json: Targets[2].IP: missing",
		"targets_list.json: Targets[2].DSCP: missing",
		"targets_list.json: Targets[2].Mode: 'udp' is not one of control, light, stamp",
		"targets_list.json: Targets[3].Latitude: 91 is out of range -90..90",
		"targets_list.json: Targets[3].Longitude: missing (Latitude is given)",
		"targets_list.json: Targets[4].DSCP: 'x' is not a number",
		"local_config.json: Address: expected an object, got a string",
		"local_config.json: Longitude: missing (Latitude is given)");
}

Test(config, bad_destination_and_source)
{
	EXPECT_PROBLEMS(
		DATA "bad-dest", "twamp_global_config.json: ConfigSource.ConfigMethod: missing (web or git)",
		"twamp_global_config.json: Destination.DestinationURL: 'https://' is not an http:// or "
		"https:// URL",
		"twamp_global_config.json: Destination.FlushInterval: -1 is out of range 0.01..3600",
		"twamp_global_config.json: Destination.DestinationPassword: missing (DestinationUser is "
		"given)");
}

Test(config, bad_local)
{
	EXPECT_PROBLEMS(DATA "bad-local", "local_config.json: SourceName: expected a string, got a number",
			"local_config.json: Latitude: 100 is out of range -90..90",
			"local_config.json: Longitude: 'abc' is not a number",
			"local_config.json: Address.City: expected a string or a number, got an array");
}

Test(config, missing_files)
{
	EXPECT_PROBLEMS(DATA "no-config", DATA "no-config: no configuration: neither "
					      "global_config.json nor twamp_global_config.json exists");
	EXPECT_PROBLEMS(DATA "later-no-targets",
			"targets_list.json: missing (global_config.json is present)");
	EXPECT_PROBLEMS(DATA "later-no-global",
			"global_config.json: missing (targets_list.json is present)");
	EXPECT_PROBLEMS(DATA "seed-no-targets",
			"twamp_targets_list.json: missing (twamp_global_config.json is present)");
	EXPECT_PROBLEMS(DATA "does-not-exist", DATA "does-not-exist: No such file or directory");
	EXPECT_PROBLEMS(DATA "good-seed/twamp_global_config.json",
			DATA "good-seed/twamp_global_config.json: not a directory");
}

Test(config, errs_null_reused_and_cleared)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;

	cr_expect_eq(config_load(DATA "many-errors", &c, NULL), -1);
	cr_expect_null(c);
	cr_expect_eq(config_load(DATA "many-errors", &c, &errs), -1);
	cr_expect_eq(errs.n, 20);
	cr_expect_eq(config_load(DATA "bad-dscp", &c, &errs), -1); /* old lines cleared */
	cr_expect_eq(errs.n, 1);
	cr_expect_eq(config_load(DATA "good-seed", &c, &errs), 0);
	cr_expect_eq(errs.n, 0);
	config_free(c);
	config_errors_clear(&errs);
	config_errors_clear(NULL);
	config_free(NULL);
}

/* --------------------------------------------- files made by the tests */

static char tmp[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test_config.XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void tmp_teardown(void)
{
	nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void put_bytes(const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void put(const char *name, const char *text)
{
	put_bytes(name, text, strlen(text));
}

/* global_config.json = {} and targets_list.json with these targets */
static void put_targets(const char *targets)
{
	char buf[16384];

	put("global_config.json", "{}");
	snprintf(buf, sizeof(buf), "{ \"Targets\": [ %s ] }", targets);
	put("targets_list.json", buf);
}

static int load_tmp(struct config **c, struct config_errors *errs)
{
	return config_load(tmp, c, errs);
}

TestSuite(config_files, .init = tmp_setup, .fini = tmp_teardown);

Test(config_files, ip_literals_and_dns_names)
{
	static const char *const good[] = {
		"192.0.2.1", "2001:db8::1", "::1", "::ffff:192.0.2.1", "fe80::1:2:3:4", "a",
		"probe-b.example.net", "xn--bcher-kva.example", "example.net.", "123.example.net",
		"host-1", "A.EXAMPLE.NET",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", /* 63 */
	};
	static const char *const bad[] = {
		"999.1.1.1", "1.2.3", "256.1.1.1", "-a.example", "a-.example", "a..b", ".a",
		"a_b.example", "a b", "2001:db8::g", "[2001:db8::1]", "192.0.2.1:862", "example..",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", /* 64 */
		"http://example.net", "ex\\u00e4mple.net",
	};
	char json[8192], name[300];
	size_t n = 0;
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{ \"IP\": \"%s\", \"DSCP\": 0 }",
				      i ? ", " : "", good[i]);
	put_targets(json);
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_expect_eq(c->ntargets, sizeof(good) / sizeof(good[0]));
	config_free(c);

	/* a name of 253 characters passes, 254 does not */
	for (size_t len = 253; len <= 254; len++) {
		memset(name, 0, sizeof(name));
		for (size_t i = 0; i < len; i++)
			name[i] = i % 50 == 49 ? '.' : 'a';
		snprintf(json, sizeof(json), "{ \"IP\": \"%s\", \"DSCP\": 0 }", name);
		put_targets(json);
		cr_expect_eq(load_tmp(&c, &errs), len == 253 ? 0 : -1, "length %zu", len);
		config_free(c);
	}

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{ \"IP\": \"%s\", \"DSCP\": 0 }", bad[i]);
		put_targets(json);
		cr_expect_eq(load_tmp(&c, &errs), -1, "'%s' accepted", bad[i]);
		cr_expect_eq(errs.n, 1, "'%s'", bad[i]);
		if (errs.n)
			cr_expect_not_null(strstr(errs.lines[0], "is not an IPv4/IPv6 address or a valid "
								 "DNS name"), "%s", errs.lines[0]);
	}
	put_targets("{ \"IP\": \"\", \"DSCP\": 0 }, { \"IP\": null, \"DSCP\": 0 }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 2);
	cr_expect_str_eq(errs.lines[0], "targets_list.json: Targets[0].IP: empty");
	cr_expect_str_eq(errs.lines[1], "targets_list.json: Targets[1].IP: missing (null)");
	config_errors_clear(&errs);
}

Test(config_files, numbers_as_numbers_and_strings)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	/* four spellings of one value: four IPs, else they are identical entries, merged */
	put_targets("{ \"IP\": \"a\", \"DSCP\": \"2\" }, { \"IP\": \"b\", \"DSCP\": 2 },"
		    "{ \"IP\": \"c\", \"DSCP\": 2.0 }, { \"IP\": \"d\", \"DSCP\": \"+2\" },"
		    "{ \"IP\": \"a\", \"DSCP\": \"1e1\" }, { \"IP\": \"a\", \"DSCP\": \" 63\\t\" },"
		    "{ \"IP\": \"a\", \"DSCP\": 0, \"Interval\": \"1e-3\", \"Port\": 65535 }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_expect_eq(c->targets[0].dscp, 2);
	cr_expect_eq(c->targets[1].dscp, 2);
	cr_expect_eq(c->targets[2].dscp, 2);
	cr_expect_eq(c->targets[3].dscp, 2);
	cr_expect_eq(c->targets[4].dscp, 10);
	cr_expect_eq(c->targets[5].dscp, 63);
	cr_expect_eq(c->targets[6].interval, 1 * MS);
	cr_expect_eq(c->targets[6].port, 65535);
	config_free(c);

	put_targets("{ \"IP\": \"a\", \"DSCP\": \"0x10\" }, { \"IP\": \"a\", \"DSCP\": \"2.5\" },"
		    "{ \"IP\": \"a\", \"DSCP\": \"nan\" }, { \"IP\": \"a\", \"DSCP\": 1e400 },"
		    "{ \"IP\": \"a\", \"DSCP\": -1 }, { \"IP\": \"a\", \"DSCP\": true },"
		    "{ \"IP\": \"a\", \"DSCP\": {} }, { \"IP\": \"a\", \"DSCP\": 99999999999999999999 },"
		    "{ \"IP\": \"a\", \"DSCP\": \"\" }, { \"IP\": \"a\", \"DSCP\": 0, \"Port\": 65536 },"
		    "{ \"IP\": \"a\", \"DSCP\": 0, \"Padding\": 8957 }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	{
		static const char *const want[] = {
			"targets_list.json: Targets[0].DSCP: '0x10' is not a number",
			"targets_list.json: Targets[1].DSCP: 2.5 is not an integer",
			"targets_list.json: Targets[2].DSCP: 'nan' is not a number",
			"targets_list.json: Targets[3].DSCP: 1e400 is not a finite number",
			"targets_list.json: Targets[4].DSCP: -1 is out of range 0..63",
			"targets_list.json: Targets[5].DSCP: expected a number or a numeric string, got a "
			"boolean",
			"targets_list.json: Targets[6].DSCP: expected a number or a numeric string, got an "
			"object",
			"targets_list.json: Targets[7].DSCP: 18446744073709551615 is out of range 0..63",
			"targets_list.json: Targets[8].DSCP: empty",
			"targets_list.json: Targets[9].Port: 65536 is out of range 1..65535",
			"targets_list.json: Targets[10].Padding: 8957 is out of range 0..8956",
		};

		cr_assert_eq(errs.n, sizeof(want) / sizeof(want[0]));
		for (size_t i = 0; i < errs.n; i++)
			cr_expect_str_eq(errs.lines[i], want[i]);
	}
	config_errors_clear(&errs);
}

Test(config_files, booleans_enums_ids_aliases)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	put("global_config.json",
	    "{ \"Destinations\": [ { \"DestinationURL\": \"HTTPS://a.example\", "
	    "\"DestinationInsecure\": \"TRUE\", \"DestinationFormat\": \"Influx\" },"
	    "{ \"DestinationURL\": \"http://a.example\", \"DestinationInsecure\": false,"
	    "  \"DestinationUser\": \"u\", \"DestinationPassword\": \"p\" } ],"
	    "  \"Destination\": { \"DestinationURL\": \"https://ignored.example\" },"
	    "  \"ConfigSource\": { \"ConfigMethod\": \"WEB\", \"ConfigURL\": \"https://c.example/x\","
	    "  \"ConfigInsecure\": \"false\", \"ConfigCAFile\": \"/ca.pem\" } }");
	put("targets_list.json",
	    "{ \"Targets\": [ { \"IP\": \"a\", \"DSCP\": 0, \"Custom_ID\": \"x\", \"Mode\": \" light\" },"
	    "{ \"IP\": \"a\", \"DSCP\": 0, \"Custom_id\": 7, \"ID\": 8, \"Custom_comment\": \"\" } ] }");
	cr_expect_eq(load_tmp(&c, &errs), -1); /* " light" is not a mode */
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0],
			 "targets_list.json: Targets[0].Mode: ' light' is not one of control, light, stamp");
	put("targets_list.json",
	    "{ \"Targets\": [ { \"IP\": \"a\", \"DSCP\": 0, \"Custom_ID\": \"x\", \"Mode\": \"Light\" },"
	    "{ \"IP\": \"a\", \"DSCP\": 0, \"Custom_id\": 7, \"ID\": 8, \"Custom_comment\": \"\" } ] }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->ndests, 2); /* "Destinations" wins over "Destination" */
	cr_expect(c->dests[0].insecure);
	cr_expect_eq(c->dests[0].format, CONFIG_FMT_INFLUX);
	cr_expect_not(c->dests[1].insecure);
	cr_expect_str_eq(c->dests[1].user, "u");
	cr_expect_str_eq(c->source.method, "web");
	cr_expect_not(c->source.insecure);
	cr_expect_str_eq(c->source.ca_file, "/ca.pem");
	cr_expect_str_eq(c->targets[0].custom_id, "x");
	cr_expect_eq(c->targets[0].mode, SESSION_LIGHT);
	cr_expect_str_eq(c->targets[1].custom_id, "7"); /* Custom_id before ID */
	cr_expect_null(c->targets[1].custom_comment);   /* "" = not given */
	config_free(c);

	put("global_config.json",
	    "{ \"Destinations\": [ { \"DestinationURL\": \"https://a.example\", \"DestinationInsecure\": 1,"
	    "  \"DestinationToken\": \"t\", \"DestinationPassword\": \"p\" } ],"
	    "  \"ConfigSource\": { \"ConfigMethod\": \"ftp\", \"ConfigInsecure\": \"yes\" },"
	    "  \"Probe\": \"fast\" }");
	put("targets_list.json", "{ \"Targets\": {} }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	{
		static const char *const want[] = {
			"global_config.json: ConfigSource.ConfigMethod: 'ftp' is not one of web, git",
			"global_config.json: ConfigSource.ConfigInsecure: 'yes' is not true or false",
			"global_config.json: ConfigSource.ConfigURL: missing (ConfigMethod is given)",
			"global_config.json: Destinations[0].DestinationInsecure: expected true or false, "
			"got a number",
			"global_config.json: Destinations[0].DestinationToken: cannot be combined with "
			"DestinationPassword or DestinationUser",
			"global_config.json: Probe: expected an object, got a string",
			"targets_list.json: Targets: expected an array, got an object",
		};

		cr_assert_eq(errs.n, sizeof(want) / sizeof(want[0]));
		for (size_t i = 0; i < errs.n; i++)
			cr_expect_str_eq(errs.lines[i], want[i]);
	}
	config_errors_clear(&errs);
}

Test(config_files, git_url_and_web_url)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	put_targets("");
	put("global_config.json", "{ \"ConfigSource\": { \"ConfigMethod\": \"git\", "
				  "\"ConfigURL\": \"git@git.example.net:probes/config.git\" } }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_expect_eq(c->ntargets, 0);
	config_free(c);
	put("global_config.json", "{ \"ConfigSource\": { \"ConfigMethod\": \"web\", "
				  "\"ConfigURL\": \"git@git.example.net:probes/config.git\" } }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "global_config.json: ConfigSource.ConfigURL: "
					"'git@git.example.net:probes/config.git' is not an http:// or "
					"https:// URL");
	config_errors_clear(&errs);
}

Test(config_files, file_edge_cases)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	char path[256], want[512];
	int fd;

	/* a UTF-8 byte order mark is skipped */
	put_targets("{ \"IP\": \"a\", \"DSCP\": 0 }");
	put("global_config.json", "\xef\xbb\xbf{ }\n");
	cr_expect_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	config_free(c);

	/* blanks only: empty */
	put("global_config.json", " \n\t\n");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "global_config.json: empty file");

	/* a NUL byte */
	put_bytes("global_config.json", "{\n}\n\0", 5);
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "global_config.json: not valid JSON: NUL byte at line 3");

	/* two values, trailing garbage, comments */
	put("global_config.json", "{}\n{}\n");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "global_config.json: not valid JSON: unexpected character at line 2");
	put("global_config.json", "{} // probe\n");
	cr_expect_eq(load_tmp(&c, &errs), -1);

	/* invalid UTF-8 */
	put("global_config.json", "{ \"Probe\": { \"SourceName\": \"\xff\xfe\" } }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_not_null(strstr(errs.lines[0], "global_config.json: not valid JSON: "), "%s",
			   errs.lines[0]);

	/* a NUL inside a string */
	put("global_config.json", "{ \"Probe\": { \"SourceName\": \"a\\u0000b\" } }");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "global_config.json: Probe.SourceName: 'a...' contains a NUL character");

	/* too deep */
	{
		char deep[200] = "{\"a\":";
		size_t n = strlen(deep);

		for (int i = 0; i < 40; i++)
			deep[n++] = '[';
		for (int i = 0; i < 40; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		put("global_config.json", deep);
		cr_expect_eq(load_tmp(&c, &errs), -1);
		cr_assert_eq(errs.n, 1);
		cr_expect_not_null(strstr(errs.lines[0], "not valid JSON: "), "%s", errs.lines[0]);
	}

	/* larger than 64 MiB (sparse) */
	put("global_config.json", "{}");
	snprintf(path, sizeof(path), "%s/targets_list.json", tmp);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)CONFIG_MAX_FILE_SIZE + 1), 0);
	close(fd);
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	cr_expect_str_eq(errs.lines[0], "targets_list.json: larger than 64 MiB");

	/* a directory where a file should be */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 1);
	snprintf(want, sizeof(want), "targets_list.json: %s is a directory, not a regular file", path);
	cr_expect_str_eq(errs.lines[0], want);
	config_errors_clear(&errs);
}

Test(config_files, local_config_only_in_generation_2)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	put("twamp_global_config.json", "{}");
	put("twamp_targets_list.json", "{ \"Targets\": [] }");
	put("local_config.json", "{ \"SourceName\": 5 }"); /* not read for the seed generation */
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_expect_eq(c->generation, 1);
	cr_expect_null(c->local.source_name);
	config_free(c);
	put("global_config.json", "{}");
	cr_expect_eq(load_tmp(&c, &errs), -1);
	cr_assert_eq(errs.n, 2);
	cr_expect_str_eq(errs.lines[0], "targets_list.json: missing (global_config.json is present)");
	cr_expect_str_eq(errs.lines[1], "local_config.json: SourceName: expected a string, got a number");
	config_errors_clear(&errs);
}

/* ------------------------------------------------------------ probe name */

Test(config, probe_name_precedence)
{
	struct config *c = load_ok(DATA "good-later");
	char name[64], host[256], small[5];

	setenv("PROBE_SOURCE", "env-probe", 1);
	config_probe_name(c, name, sizeof(name));
	cr_expect_str_eq(name, "env-probe");
	config_probe_name(NULL, name, sizeof(name));
	cr_expect_str_eq(name, "env-probe");
	config_probe_name(c, small, sizeof(small));
	cr_expect_str_eq(small, "env-");

	setenv("PROBE_SOURCE", "", 1); /* empty: as if unset */
	config_probe_name(c, name, sizeof(name));
	cr_expect_str_eq(name, "probe-prague-1"); /* local_config.json SourceName */
	unsetenv("PROBE_SOURCE");
	config_probe_name(c, name, sizeof(name));
	cr_expect_str_eq(name, "probe-prague-1");

	free(c->local.source_name);
	c->local.source_name = NULL;
	config_probe_name(c, name, sizeof(name));
	cr_expect_str_eq(name, "probe-from-global"); /* Probe.SourceName */

	free(c->probe.source_name);
	c->probe.source_name = NULL;
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	config_probe_name(c, name, sizeof(name));
	cr_expect_eq(strncmp(name, host, sizeof(name) - 1), 0, "%s vs %s", name, host);
	config_probe_name(NULL, name, sizeof(name));
	cr_expect_eq(strncmp(name, host, sizeof(name) - 1), 0);
	config_free(c);
}

/* ------------------------------------------------------------- examples */

Test(config, shipped_examples_load)
{
	struct config *c;

	c = load_ok("config_example/seed-web");
	cr_expect_eq(c->generation, 1);
	cr_expect_str_eq(c->source.method, "web");
	cr_expect_eq(c->ndests, 1);
	cr_expect_gt(c->ntargets, 0);
	config_free(c);

	c = load_ok("config_example/seed-git");
	cr_expect_eq(c->generation, 1);
	cr_expect_str_eq(c->source.method, "git");
	cr_expect_eq(c->ndests, 1);
	cr_expect_gt(c->ntargets, 0);
	config_free(c);

	c = load_ok("config_example/later");
	cr_expect_eq(c->generation, 2);
	cr_assert_eq(c->ndests, 2);
	cr_expect_eq(c->dests[0].format, CONFIG_FMT_JSON);
	cr_expect_eq(c->dests[1].format, CONFIG_FMT_INFLUX);
	cr_expect_gt(c->ntargets, 0);
	cr_expect_not_null(c->local.source_name);
	config_free(c);
}

/* ----------------------------------------------------------- threads */

static void *load_loop(void *arg)
{
	intptr_t bad = 0;

	(void)arg;
	for (int i = 0; i < 25; i++) {
		struct config_errors errs = { 0 };
		struct config *c = NULL;

		if (config_load(DATA "good-later", &c, &errs) != 0 || c->ntargets != 3)
			bad++;
		config_free(c);
		if (config_load(DATA "many-errors", &c, &errs) != -1 || errs.n != 20)
			bad++;
		config_errors_clear(&errs);
	}
	return (void *)bad;
}

Test(config, concurrent_loads)
{
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, load_loop, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;

		pthread_join(th[i], &bad);
		cr_expect_eq((intptr_t)bad, 0);
	}
}

/* AuthMode, KeyID, SecretFile: the secret is read at load; every mistake is a clear error. */
Test(config_files, per_target_security)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	put("probe.pfs", "# keys\nprobe\t00112233445566778899aabbccddeeff\nother\t0a0b\n");
	put_targets("{ \"IP\": \"a\", \"DSCP\": 0 },"
		    "{ \"IP\": \"b\", \"DSCP\": 0, \"AuthMode\": \"EA\", \"KeyID\": \"probe\","
		    "  \"SecretFile\": \"probe.pfs\" },"
		    "{ \"IP\": \"c\", \"DSCP\": 0, \"AuthMode\": \"o\" }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->targets[0].allowed_modes, WIRE_MODE_OPEN);
	cr_assert_eq(c->targets[0].secret_len, 0);
	cr_assert_eq(c->targets[1].allowed_modes, WIRE_MODE_ENCRYPTED | WIRE_MODE_AUTH);
	cr_assert_str_eq(c->targets[1].keyid, "probe");
	cr_assert_eq(c->targets[1].secret_len, 16);
	cr_assert_eq(c->targets[1].secret[0], 0x00);
	cr_assert_eq(c->targets[1].secret[15], 0xff);
	cr_assert_eq(c->targets[2].allowed_modes, WIRE_MODE_OPEN);
	config_free(c);

	static const struct {
		const char *target, *error;
	} bad[] = {
		{ "\"AuthMode\": \"AX\"", "Targets[0].AuthMode: \"AX\": use the letters" },
		{ "\"AuthMode\": \"A\", \"SecretFile\": \"probe.pfs\"", "Targets[0].KeyID: missing" },
		{ "\"AuthMode\": \"M\", \"KeyID\": \"probe\"", "Targets[0].SecretFile: missing" },
		{ "\"AuthMode\": \"A\", \"KeyID\": \"nobody\", \"SecretFile\": \"probe.pfs\"",
		  "Targets[0].SecretFile: key file " },
		{ "\"AuthMode\": \"A\", \"KeyID\": \"probe\", \"SecretFile\": \"/nonexistent/k.pfs\"",
		  "Targets[0].SecretFile: " },
		{ "\"AuthMode\": \"E\", \"KeyID\": \"probe\", \"SecretFile\": \"probe.pfs\", \"Mode\": \"light\"",
		  "Targets[0].AuthMode: the keyed modes need Mode control" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char t[512];

		snprintf(t, sizeof(t), "{ \"IP\": \"a\", \"DSCP\": 0, %s }", bad[i].target);
		put_targets(t);
		cr_assert_eq(load_tmp(&c, &errs), -1, "%s loaded", bad[i].target);
		cr_assert_eq(errs.n, 1, "%s: %zu errors", bad[i].target, errs.n);
		cr_assert(strstr(errs.lines[0], bad[i].error), "%s: got '%s'", bad[i].target, errs.lines[0]);
		cr_assert(!strstr(errs.lines[0], "00112233"), "secret in an error message");
	}
	config_errors_clear(&errs);
}

/* "DSCP": a list gives one test session per value on one control connection. */
Test(config_files, dscp_lists)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	put_targets("{ \"IP\": \"a\", \"DSCP\": [46, \"34\", 0] }, { \"IP\": \"b\", \"DSCP\": \"10\" }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->targets[0].dscps.n, 3);
	cr_assert(c->targets[0].dscps.v[0] == 46 && c->targets[0].dscps.v[1] == 34 && c->targets[0].dscps.v[2] == 0);
	cr_assert_eq(c->targets[0].dscp, 46);
	cr_assert_eq(c->targets[1].dscps.n, 1);
	cr_assert_eq(c->targets[1].dscp, 10);
	config_free(c);

	static const struct {
		const char *dscp, *error;
	} bad[] = {
		{ "[]", "targets_list.json: Targets[0].DSCP: 0 DSCP values listed: give 1 to 8" },
		{ "[1, 99]", "targets_list.json: Targets[0].DSCP[1]: 99 is out of range 0..63" },
		{ "[1, \"x\"]", "targets_list.json: Targets[0].DSCP[1]: 'x' is not a number" },
		{ "[0,1,2,3,4,5,6,7,8]", "Targets[0].DSCP: 9 DSCP values listed" },
		{ "[1, 2], \"Mode\": \"stamp\"", "Targets[0].DSCP: several DSCP values need Mode control" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char t[256];

		snprintf(t, sizeof(t), "{ \"IP\": \"a\", \"DSCP\": %s }", bad[i].dscp);
		put_targets(t);
		cr_assert_eq(load_tmp(&c, &errs), -1, "%s loaded", bad[i].dscp);
		cr_assert_eq(errs.n, 1, "%s: %zu errors", bad[i].dscp, errs.n);
		cr_assert(strstr(errs.lines[0], bad[i].error), "%s: got '%s'", bad[i].dscp, errs.lines[0]);
	}
	config_errors_clear(&errs);
}

/*
 * A FIFO where a configuration file, local_config.json or a SecretFile
 * should be: a plain open() blocked until a writer came (the daemon hung at
 * start and its config thread on reload).  Refused at once, naming the path
 * and what it is; the timeout turns a regression into a failure, not a hang.
 */
Test(config_files, fifo_refused_without_blocking, .timeout = 20)
{
	static const char *const names[] = { "global_config.json", "targets_list.json",
					      "local_config.json", "probe.pfs" };
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	struct refl_key *keys = NULL;
	char path[256], want[512], err[600];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		put("probe.pfs", "probe\t00112233445566778899aabbccddeeff\n");
		put_targets("{ \"IP\": \"a\", \"DSCP\": 0, \"AuthMode\": \"A\", \"KeyID\": \"probe\","
			    "  \"SecretFile\": \"probe.pfs\" }");
		snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
		cr_assert_eq(unlink(path) == 0 || errno == ENOENT, 1);
		cr_assert_eq(mkfifo(path, 0600), 0, "mkfifo %s: %s", path, strerror(errno));
		cr_assert_eq(load_tmp(&c, &errs), -1, "%s: a FIFO loaded", names[i]);
		cr_assert_null(c);
		cr_assert_eq(errs.n, 1, "%s: %zu problems", names[i], errs.n);
		snprintf(want, sizeof(want), "%s is a FIFO (named pipe), not a regular file", path);
		cr_assert(strstr(errs.lines[0], want), "%s: got '%s'", names[i], errs.lines[0]);
		cr_assert_eq(unlink(path), 0);
	}
	config_errors_clear(&errs);

	/* the responder's --keys and ping -k read through the same function */
	snprintf(path, sizeof(path), "%s/keys.pfs", tmp);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(refl_keys_load(path, &keys, &n, err, sizeof(err)), -1);
	cr_assert_null(keys);
	snprintf(want, sizeof(want), "%s is a FIFO (named pipe), not a regular file", path);
	cr_assert(strstr(err, want), "got '%s'", err);

	/* CA files are opened by libcurl and OpenSSL, which would block on a FIFO too */
	{
		char g[1024];

		snprintf(path, sizeof(path), "%s/ca.pem", tmp);
		cr_assert_eq(mkfifo(path, 0600), 0);
		snprintf(g, sizeof(g), "{ \"Destinations\": [{ \"DestinationURL\": \"https://h/\", "
			 "\"DestinationCAFile\": \"%s\" }], \"ConfigSource\": { \"ConfigMethod\": \"web\", "
			 "\"ConfigURL\": \"https://h/\", \"ConfigCAFile\": \"%s\" } }", path, tmp);
		put("global_config.json", g);
		put("targets_list.json", "{ \"Targets\": [] }");
		cr_assert_eq(load_tmp(&c, &errs), -1);
		cr_assert_eq(errs.n, 2, "%zu problems", errs.n);
		snprintf(want, sizeof(want), "global_config.json: Destinations[0].DestinationCAFile: %s is a "
			 "FIFO (named pipe), not a regular file", path);
		cr_expect_str_eq(errs.lines[1], want);
		snprintf(want, sizeof(want), "global_config.json: ConfigSource.ConfigCAFile: %s is a "
			 "directory, not a regular file", tmp);
		cr_expect_str_eq(errs.lines[0], want);
		config_errors_clear(&errs);
	}

	/* a symbolic link to a regular file is followed (Kubernetes ConfigMaps) */
	put("real.pfs", "probe\t0a0b\n");
	snprintf(path, sizeof(path), "%s/link.pfs", tmp);
	snprintf(want, sizeof(want), "%s/real.pfs", tmp);
	cr_assert_eq(symlink(want, path), 0);
	cr_assert_eq(refl_keys_load(path, &keys, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	refl_keys_free(keys, n);
}

/*
 * Values sent in an HTTP request (Authorization header, credentials, the
 * configuration URL) with CR/LF would inject headers: refused at load, the
 * key named, the value (a secret) not shown.
 */
Test(config_files, header_values_without_line_breaks)
{
	static const struct {
		const char *json, *key;
	} bad[] = {
		{ "\"Destinations\": [{ \"DestinationURL\": \"http://h/\", \"DestinationPassword\": "
		  "\"c2VjcmV0\\r\\nX-Injected: 1\" }]", "Destinations[0].DestinationPassword" },
		{ "\"Destinations\": [{ \"DestinationURL\": \"http://h/\", \"DestinationToken\": "
		  "\"s3cr3t\\nX-Injected: 1\" }]", "Destinations[0].DestinationToken" },
		{ "\"Destinations\": [{ \"DestinationURL\": \"http://h/\", \"DestinationUser\": "
		  "\"u\\r\", \"DestinationPassword\": \"s3cr3t\" }]", "Destinations[0].DestinationUser" },
		{ "\"Destination\": { \"DestinationURL\": \"http://h/\", \"DestinationPassword\": "
		  "\"s3cr3t\\n\" }", "Destination.DestinationPassword" },
		{ "\"ConfigSource\": { \"ConfigMethod\": \"git\", \"ConfigURL\": \"https://h/r.git\\r\\nX: 1\" }",
		  "ConfigSource.ConfigURL" },
		{ "\"ConfigSource\": { \"ConfigMethod\": \"web\", \"ConfigURL\": \"https://h/\", "
		  "\"ConfigUser\": \"u\\n\", \"ConfigPassword\": \"s3cr3t\" }", "ConfigSource.ConfigUser" },
		{ "\"ConfigSource\": { \"ConfigMethod\": \"web\", \"ConfigURL\": \"https://h/\", "
		  "\"ConfigUser\": \"u\", \"ConfigPassword\": \"s3cr3t\\u0007\" }", "ConfigSource.ConfigPassword" },
	};
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	char g[1024], want[256];

	put("targets_list.json", "{ \"Targets\": [] }");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(g, sizeof(g), "{ %s }", bad[i].json);
		put("global_config.json", g);
		cr_assert_eq(load_tmp(&c, &errs), -1, "%s loaded", bad[i].json);
		cr_assert_eq(errs.n, 1, "%s: %zu problems (%s)", bad[i].json, errs.n, errs.n ? errs.lines[0] : "");
		snprintf(want, sizeof(want), "global_config.json: %s: contains a control character (", bad[i].key);
		cr_assert(strncmp(errs.lines[0], want, strlen(want)) == 0, "got '%s'", errs.lines[0]);
		cr_assert(strstr(errs.lines[0], "inject a header"), "got '%s'", errs.lines[0]);
		cr_assert(!strstr(errs.lines[0], "s3cr3t") && !strstr(errs.lines[0], "c2VjcmV0"),
			  "a secret in the message: '%s'", errs.lines[0]);
	}
	/* the same values without the line break load */
	put("global_config.json", "{ \"Destinations\": [{ \"DestinationURL\": \"http://h/\", "
	    "\"DestinationToken\": \"s3cr3t X\" }] }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	config_free(c);
	config_errors_clear(&errs);
}

/*
 * The original's lists give one DSCP per entry for one IP.  Every entry is
 * its own measurement: entries differing in any field have distinct keys
 * (the scheduler's running set used IP|port|mode, so all but one of them
 * were skipped in every cycle); identical entries are merged with a warning.
 */
Test(config_files, target_identity)
{
	static const char *const distinct[] = {
		"\"DSCP\": \"0\"", "\"DSCP\": \"46\"", "\"DSCP\": 34", "\"DSCP\": [46, 34, 0]",
		"\"DSCP\": [46, 34]", "\"DSCP\": [34, 46]", "\"DSCP\": 0, \"Padding\": 100",
		"\"DSCP\": 0, \"PacketCount\": 7", "\"DSCP\": 0, \"Interval\": 0.5",
		"\"DSCP\": 0, \"Port\": 4000", "\"DSCP\": 0, \"Mode\": \"stamp\"",
		"\"DSCP\": 0, \"AuthMode\": \"A\", \"KeyID\": \"probe\", \"SecretFile\": \"probe.pfs\"",
		"\"DSCP\": 0, \"AuthMode\": \"E\", \"KeyID\": \"probe\", \"SecretFile\": \"probe.pfs\"",
		"\"DSCP\": 0, \"AuthMode\": \"A\", \"KeyID\": \"other\", \"SecretFile\": \"probe.pfs\"",
		"\"DSCP\": 0, \"Custom_id\": \"x\"", "\"DSCP\": 0, \"Tags\": \"a|b\"",
		"\"DSCP\": 0, \"Tags\": \"a\", \"Description\": \"b\"",
	};
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	char t[8192] = "";
	size_t n = sizeof(distinct) / sizeof(distinct[0]);

	put("probe.pfs", "probe\t00112233445566778899aabbccddeeff\nother\t0a0b\n");
	for (size_t i = 0; i < n; i++)
		snprintf(t + strlen(t), sizeof(t) - strlen(t), "%s{ \"IP\": \"192.0.2.1\", %s }",
			 i ? ", " : "", distinct[i]);
	put_targets(t);
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->ntargets, n, "entries merged although distinct");
	cr_expect_eq(c->warnings.n, 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_not_null(c->targets[i].key);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(c->targets[i].key, c->targets[j].key, "%s and %s share a key",
					  distinct[i], distinct[j]);
	}
	config_free(c);

	/* identical entries (written differently) are measured once, with a warning naming both */
	put_targets("{ \"IP\": \"192.0.2.1\", \"DSCP\": \"0\" }, { \"IP\": \"192.0.2.1\", \"DSCP\": \"46\" },"
		    "{ \"IP\": \"192.0.2.1\", \"DSCP\": 0, \"Port\": 862, \"Mode\": \"control\" },"
		    "{ \"IP\": \"192.0.2.2\", \"DSCP\": 0 }, { \"IP\": \"192.0.2.1\", \"DSCP\": 46 }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->ntargets, 3);
	cr_expect_str_eq(c->targets[0].ip, "192.0.2.1");
	cr_expect_eq(c->targets[0].dscp, 0);
	cr_expect_eq(c->targets[1].dscp, 46);
	cr_expect_str_eq(c->targets[2].ip, "192.0.2.2");
	cr_assert_eq(c->warnings.n, 2);
	cr_expect_str_eq(c->warnings.lines[0], "targets_list.json: Targets[2]: identical to Targets[0]: measured once");
	cr_expect_str_eq(c->warnings.lines[1], "targets_list.json: Targets[4]: identical to Targets[1]: measured once");
	config_free(c);
	config_errors_clear(&errs);
}

/* Siblings (one IP, port and mode; another DSCP) start spread apart in the cycle. */
Test(config_files, siblings_spread_in_the_cycle)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	int64_t off[5], w = 240 * SEC;

	put_targets("{ \"IP\": \"192.0.2.1\", \"DSCP\": 0 }, { \"IP\": \"192.0.2.1\", \"DSCP\": 46 },"
		    "{ \"IP\": \"192.0.2.1\", \"DSCP\": 34 }, { \"IP\": \"192.0.2.1\", \"DSCP\": [10, 12] },"
		    "{ \"IP\": \"192.0.2.9\", \"DSCP\": 0 }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	sched_plan_offsets(c, w, off);
	for (size_t i = 0; i < 5; i++)
		cr_assert(off[i] >= 0 && off[i] < w, "offset %zu: %lld", i, (long long)off[i]);
	/* the four siblings: a quarter of the window apart (modulo the window) */
	for (size_t i = 1; i < 4; i++) {
		int64_t d = ((off[i] - off[0]) % w + w) % w;

		cr_expect(d >= (int64_t)i * (w / 4) - 1 && d <= (int64_t)i * (w / 4) + 1,
			  "sibling %zu at +%lld ns from the first", i, (long long)d);
	}
	/* stable: the same list gives the same plan */
	{
		int64_t again[5];

		sched_plan_offsets(c, w, again);
		cr_expect_arr_eq(off, again, sizeof(off));
	}
	/* --once (no window): everything at once */
	sched_plan_offsets(c, 0, off);
	for (size_t i = 0; i < 5; i++)
		cr_expect_eq(off[i], 0);
	config_free(c);
	config_errors_clear(&errs);
}

/* Probe.MaxPBKDF2Count: the greeting Count cap, 1024..2^20, default 2048. */
Test(config_files, max_pbkdf2_count)
{
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	static const char *const bad[] = { "512", "1048577", "\"many\"" };

	put("global_config.json", "{ \"Probe\": { \"MaxPBKDF2Count\": 65536 } }");
	put("targets_list.json", "{ \"Targets\": [] }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(c->probe.kdf_count_max, 65536);
	config_free(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char g[128];

		snprintf(g, sizeof(g), "{ \"Probe\": { \"MaxPBKDF2Count\": %s } }", bad[i]);
		put("global_config.json", g);
		cr_assert_eq(load_tmp(&c, &errs), -1, "%s loaded", bad[i]);
		cr_assert(strstr(errs.lines[0], "Probe.MaxPBKDF2Count"), "%s: got '%s'", bad[i], errs.lines[0]);
	}
	config_errors_clear(&errs);
}

/* Misspelt keys anywhere: a warning each (the load succeeds), naming the nearest known key. */
Test(config_files, unknown_keys_warned_with_the_nearest)
{
	static const char *const want[] = {
		"global_config.json: unknown key \"Destinatons\" (did you mean \"Destinations\"?)",
		"global_config.json: ConfigSource: unknown key \"ConfigUrl\" (did you mean \"ConfigURL\"?)",
		"global_config.json: Destinations[0]: unknown key \"BatchSise\" (did you mean \"BatchSize\"?)",
		"global_config.json: Probe: unknown key \"PacketCuont\" (did you mean \"PacketCount\"?)",
		"targets_list.json: unknown key \"targets\" (did you mean \"Targets\"?)",
		"targets_list.json: Targets[3]: unknown key \"Intervall\" (did you mean \"Interval\"?)",
		"targets_list.json: Targets[3]: unknown key \"Whatever\" (ignored)",
		"local_config.json: Address: unknown key \"Stret\" (did you mean \"Street\"?)",
	};
	struct config *c = NULL;
	struct config_errors errs = { 0 };
	size_t n = sizeof(want) / sizeof(want[0]);

	put("global_config.json", "{ \"Destinatons\": [], \"Probe\": { \"PacketCuont\": 5 },"
	    " \"ConfigSource\": { \"ConfigUrl\": \"x\" },"
	    " \"Destinations\": [ { \"DestinationURL\": \"http://127.0.0.1:9/\", \"BatchSise\": 5 } ] }");
	put("targets_list.json", "{ \"targets\": [], \"Targets\": [ { \"IP\": \"192.0.2.1\", \"DSCP\": 0 },"
	    " { \"IP\": \"192.0.2.2\", \"DSCP\": 0, \"ID\": \"x\" }, { \"IP\": \"192.0.2.3\", \"DSCP\": 0 },"
	    " { \"IP\": \"192.0.2.4\", \"DSCP\": 0, \"Intervall\": 1, \"Whatever\": 2 } ] }");
	put("local_config.json", "{ \"Address\": { \"Stret\": \"Main\" } }");
	cr_assert_eq(load_tmp(&c, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
	for (size_t i = 0; i < c->warnings.n; i++)
		cr_log_info("warning %zu: %s", i, c->warnings.lines[i]);
	cr_assert_eq(c->warnings.n, n, "%zu warnings", c->warnings.n);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(c->warnings.lines[i], want[i]);
	cr_expect_eq(c->targets[3].interval, c->probe.interval, "the misspelt key is not applied");
	config_free(c);
	config_errors_clear(&errs);
}
