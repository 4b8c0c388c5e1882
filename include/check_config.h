/*
 * check_config: the `twamp-client check-config DIR` subcommand.  Loads DIR
 * with config_load() and reports the result, so a config can be checked
 * before it is installed (by a person, or by provisioning scripts).
 */
#ifndef CHECK_CONFIG_H
#define CHECK_CONFIG_H

/*
 * argv[0] is "check-config".  Prints "OK: DIR: generation N, T targets,
 * D destinations" to stdout and returns 0; or every problem, one per line,
 * to stderr and returns 1; 2 on a usage error.
 */
int check_config_main(int argc, char **argv);

#endif
