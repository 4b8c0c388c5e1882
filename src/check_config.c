/*
 * check_config: `twamp-client check-config [--help] DIR`.
 *
 * The options are parsed by hand rather than with getopt: there are only
 * two, and main() may already have run getopt for its own options, whose
 * global state (optind) this subcommand then need not reset.
 */
#include "check_config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: twamp-client check-config [--help] DIR\n"
		"\n"
		"Validate the configuration files in DIR (global_config.json + targets_list.json\n"
		"[+ local_config.json], or twamp_global_config.json + twamp_targets_list.json)\n"
		"and print every problem found, one per line.\n"
		"\n"
		"Warnings (identical targets, measured once; unknown keys, with the nearest\n"
		"known one: did you mean \"Interval\"?) do not make it invalid.\n"
		"\n"
		"Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

int check_config_main(int argc, char **argv)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	const char *dir = NULL;
	bool opts = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			usage(stdout);
			return 0;
		}
		if (opts && strcmp(a, "--") == 0) {
			opts = false;
			continue;
		}
		if (opts && a[0] == '-' && a[1] != '\0') {
			cli_usage_error("check-config", "unknown option '%s'", a);
			return EXIT_USAGE;
		}
		if (dir) {
			cli_usage_error("check-config", "one DIR only ('%s' and '%s')", dir, a);
			return EXIT_USAGE;
		}
		dir = a;
	}
	if (!dir) {
		cli_usage_error("check-config", "DIR missing");
		return EXIT_USAGE;
	}

	if (config_load(dir, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		if (errs.n == 0)
			fprintf(stderr, "%s: invalid configuration\n", dir);
		config_errors_clear(&errs);
		return 1;
	}
	for (size_t i = 0; i < c->warnings.n; i++)
		fprintf(stderr, "warning: %s\n", c->warnings.lines[i]);
	printf("OK: %s: generation %d, %zu target%s, %zu destination%s\n", dir, c->generation,
	       c->ntargets, log_s(c->ntargets), c->ndests, log_s(c->ndests));
	config_free(c);
	return 0;
}
