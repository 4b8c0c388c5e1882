/*
 * cli: what every subcommand says when its command line is wrong.
 *
 * One line naming the problem, then where the help is, never the whole help
 * (it scrolls the line that matters off the screen):
 *
 *   twamp-client ping: unknown option '--foo'
 *   see 'twamp-client ping --help'
 *
 * Subcommands that use getopt_long() set opterr = 0 and start their
 * optstring with ':', so getopt reports '?' (unknown option, or a value given
 * to an option that takes none) and ':' (value missing) silently, and
 * cli_getopt_problem() words it.
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stddef.h>

/*
 * The problem behind getopt_long()'s '?' or ':' (opt), in buf: "unknown
 * option '--foo'", "unknown option '-x'", "option '--mode' needs a value",
 * "option '--json' takes no value".  Call right after getopt_long()
 * returned (it reads optind, optopt and argv[optind - 1]).
 */
void cli_getopt_problem(char *buf, size_t len, int opt, char *const *argv, const struct option *longopts);

/* "twamp-client CMD: <fmt...>" and "see 'twamp-client CMD --help'" on stderr. */
void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
