/*
 * fuzz_config: the JSON configuration files, both generations, through
 * config_load() itself (src/config.c) -- the files are written to a private
 * directory first, as the fetcher stages them.
 *
 * Input: octet 0 picks the generation (bit 0: 0 seed, 1 later) and whether
 * local_config.json is written (bit 1); the rest is global, targets and
 * local file contents separated by NUL octets (a missing part: no file).
 * A load either fails with at least one error line naming a file, or gives
 * a configuration within the documented bounds: every target with an IP,
 * DSCP 0..63, counts and intervals in range, schedules that parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "cron.h"
#include "fuzz.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_config: %s\n", what);
	abort();
}

/* The next NUL-terminated part of the input, or the rest. */
static const uint8_t *part(struct fz *f, size_t *len)
{
	const uint8_t *p = f->p, *nul;

	if (f->n == 0)
		return NULL;
	nul = memchr(f->p, 0, f->n);
	*len = nul ? (size_t)(nul - f->p) : f->n;
	fz_take(f, *len + (nul ? 1 : 0));
	return p;
}

static void check(const struct config *c)
{
	struct cron cr;
	char name[256];

	if (c->generation != 1 && c->generation != 2)
		fail("generation");
	if (c->probe.schedule && cron_parse(c->probe.schedule, &cr, NULL, 0) < 0)
		fail("accepted a Schedule that does not parse");
	if (c->probe.config_schedule && cron_parse(c->probe.config_schedule, &cr, NULL, 0) < 0)
		fail("accepted a ConfigSchedule that does not parse");
	if (c->probe.packet_count < 1 || c->probe.packet_count > 100000 || c->probe.ncpus < 0 ||
	    c->probe.ncpus > CONFIG_MAX_CPUS)
		fail("Probe section out of bounds");
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct config_target *t = &c->targets[i];

		if (!t->ip || !*t->ip || t->dscp < 0 || t->dscp > 63 || t->packet_count < 1 ||
		    t->interval <= 0)
			fail("a target out of bounds");
		if (t->has_geo && (t->latitude < -90 || t->latitude > 90 || t->longitude < -180 ||
				   t->longitude > 180))
			fail("coordinates out of bounds");
	}
	for (size_t i = 0; i < c->ndests; i++)
		if (!c->dests[i].url || c->dests[i].batch_size < 1)
			fail("a destination without URL or batch size");
	config_probe_name(c, name, sizeof(name));
	if (!memchr(name, 0, sizeof(name)))
		fail("probe name unterminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[512];
	static const char *const names[2][3] = {
		{ "twamp_global_config.json", "twamp_targets_list.json", NULL },
		{ "global_config.json", "targets_list.json", "local_config.json" },
	};
	struct fz f = { data, size };
	uint8_t flags = fz_u8(&f, 0);
	int gen = flags & 1;
	struct config *c = NULL;
	struct config_errors errs = { 0 };

	if (!dir[0]) {
		fz_quiet();
		snprintf(dir, sizeof(dir), "%s/config", fz_tmpdir());
	}
	fz_rmtree(dir);
	if (mkdir(dir, 0700) < 0)
		abort();
	for (int i = 0; i < 3; i++) {
		const uint8_t *p;
		size_t len;

		if (!names[gen][i] || (i == 2 && !(flags & 2)))
			break;
		if (!(p = part(&f, &len)))
			break;
		if (fz_write_file(dir, names[gen][i], p, len) < 0)
			abort();
	}
	if (config_load(dir, &c, &errs) == 0) {
		if (!c)
			fail("success without a configuration");
		check(c);
		config_free(c);
	} else {
		if (c || errs.n == 0)
			fail("failure without an error line");
		for (size_t i = 0; i < errs.n; i++)
			if (!errs.lines[i] || !*errs.lines[i])
				fail("empty error line");
	}
	config_errors_clear(&errs);
	return 0;
}
