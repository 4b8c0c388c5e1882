/* cli: command-line error messages (see include/cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct option *long_by_val(const struct option *lo, int val)
{
	for (; lo && lo->name; lo++)
		if (lo->val == val)
			return lo;
	return NULL;
}

void cli_getopt_problem(char *buf, size_t len, int opt, char *const *argv, const struct option *longopts)
{
	/* the argument getopt stopped at; for a short option inside a cluster
	 * ("-qx") optind may not have moved yet, so only a "--" one is trusted */
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;
	bool is_long = arg && arg[0] == '-' && arg[1] == '-' && arg[2];
	int n = is_long ? (int)strcspn(arg, "=") : 0;
	const struct option *named = long_by_val(longopts, optopt); /* optopt: its val */

	if (opt == ':') {
		if (is_long && named)
			snprintf(buf, len, "option '--%s' needs a value", named->name);
		else
			snprintf(buf, len, "option '-%c' needs a value", optopt);
	} else if (optopt == 0 && is_long) {
		/* getopt_long takes unique prefixes: several matches is not "unknown" */
		const struct option *o, *first = NULL;
		int matches = 0;

		for (o = longopts; o && o->name; o++)
			if (!strncmp(o->name, arg + 2, (size_t)n - 2) && matches++ == 0)
				first = o;
		if (matches > 1)
			snprintf(buf, len, "option '%.*s' is ambiguous (--%s, ...)", n, arg, first->name);
		else
			snprintf(buf, len, "unknown option '%.*s'", n, arg);
	} else if (is_long && arg[n] == '=' && named && !strncmp(named->name, arg + 2, (size_t)n - 2)) {
		snprintf(buf, len, "option '--%s' takes no value", named->name);
	} else if (optopt > ' ' && optopt < 127) {
		snprintf(buf, len, "unknown option '-%c'", optopt);
	} else {
		snprintf(buf, len, "unknown option '%s'", arg ? arg : "?");
	}
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "twamp-client %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'twamp-client %s --help'\n", cmd);
}
