/*
 * fuzz_fetch: HTTP responses as the configuration fetcher sees them
 * (src/io/fetch.c, web method: libcurl, header callback for ETag and
 * Last-Modified, the body limit, status handling, then validation and the
 * atomic install).  fetch_run() is called for real against a loopback
 * server that answers every request with the fuzz input, verbatim.
 *
 * Input: octet 0 (bit 0: generation 1 or 2; bit 1: fetch twice with the
 * same instance, so the second run sends a conditional GET), then the raw
 * HTTP response.  After FETCH_UPDATED the data directory must hold a
 * configuration that config_load() accepts; FETCH_FAILED must say why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fetch.h"
#include "fuzz.h"

static void fail(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_fetch: %s: %s\n", what, err);
	abort();
}

static void check(enum fetch_result r, const char *dir, const char *err)
{
	struct config *c = NULL;

	if (r == FETCH_FAILED && !*err)
		fail("FETCH_FAILED without a reason", "");
	if (r != FETCH_FAILED && *err)
		fail("a reason without FETCH_FAILED", err);
	if (r == FETCH_UPDATED) {
		if (config_load(dir, &c, NULL) < 0)
			fail("installed a configuration that does not load", dir);
		config_free(c);
	}
	if (r == FETCH_NONE)
		fail("FETCH_NONE with a ConfigSource", "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[512], url[128];
	static struct fetch *keeper;   /* keeps libcurl/libgit2 initialised between runs */
	struct config_source src = { .method = "web", .url = url };
	struct fz f = { data, size };
	uint8_t flags = fz_u8(&f, 0);
	struct fetch *ft;
	char err[512];
	enum fetch_result r;

	if (!keeper) {
		fz_quiet();
		setenv("TWAMP_FETCH_TIMEOUT_MS", "1000", 1);
		snprintf(dir, sizeof(dir), "%s/data", fz_tmpdir());
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/cfg/{probe}", fz_http_start());
		if (mkdir(dir, 0700) < 0 || !(keeper = fetch_new(dir)))
			abort();
	}
	fz_rmtree(dir);
	if (mkdir(dir, 0700) < 0)
		abort();
	fz_http_set(f.p, f.n);
	if (!(ft = fetch_new(dir)))
		abort();
	r = fetch_run(ft, &src, flags & 1 ? 2 : 1, "probe 1", err, sizeof(err));
	check(r, dir, err);
	if (flags & 2) {
		r = fetch_run(ft, &src, flags & 1 ? 2 : 1, "probe 1", err, sizeof(err));
		check(r, dir, err);
	}
	fetch_free(ft);
	return 0;
}
