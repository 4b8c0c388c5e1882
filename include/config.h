/*
 * config: the probe's JSON configuration files -> validated, immutable structs.
 *
 * Two schema generations exist in the field and both are read:
 *   seed:   DIR/twamp_global_config.json + DIR/twamp_targets_list.json
 *   later:  DIR/global_config.json (Destinations[]) + DIR/targets_list.json
 *           + optional DIR/local_config.json
 * The later generation wins when its global_config.json exists.
 *
 * Validation is table-driven and complete: config_load() reports every
 * problem (file, key, reason), not just the first, and returns nothing
 * partial.  Unknown keys are ignored (the central side may add keys) with a
 * warning naming the nearest known key when it looks like a slip
 * ("Intervall": did you mean "Interval"?); a known key of the wrong JSON
 * type is an error.  For an optional key, JSON
 * null or an empty string means "not given" (the default applies, strings
 * stay NULL).  Numbers may be written as JSON numbers or numeric strings.  A loaded struct config is never modified: the daemon publishes it
 * through RCU and frees it after a grace period.  Pure: no threads, no
 * network (names in IP stay names; resolving is the scheduler's job).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

#define CONFIG_MAX_CPUS 256
#define CONFIG_PADDING_DEFAULT UINT32_MAX
#define CONFIG_MAX_FILE_SIZE (64u << 20)   /* larger config files are refused */

enum config_format { CONFIG_FMT_JSON, CONFIG_FMT_INFLUX };

/* "DSCP": one value, or a list: one test session each on one control connection */
struct config_dscps {
	unsigned n;                  /* 1..SESSION_MAX_STREAMS */
	int v[SESSION_MAX_STREAMS];
};

struct config_target {
	char *ip;                    /* "IP": IPv4, IPv6 or DNS name, as written */
	int dscp;                    /* "DSCP": 0..63, string or number (the first of a list) */
	struct config_dscps dscps;   /* "DSCP" as an array: [46, 34, 0] (control mode) */
	uint16_t port;               /* "Port", default 862 */
	enum session_mode mode;      /* "Mode": control|light|stamp, default control */
	uint32_t packet_count;       /* "PacketCount", default Probe.PacketCount */
	int64_t interval;            /* "Interval" seconds -> ns, default Probe.Interval */
	uint32_t padding;            /* "Padding", default Probe.Padding */
	char *custom_comment;        /* "Custom_comment" (NULL if absent) */
	char *custom_id;             /* "Custom_id" (also accepted: "Custom_ID", "ID") */
	char *description;           /* "Description" */
	char *tags;                  /* "Tags": space-separated words */
	bool has_geo;                /* both "Latitude" and "Longitude" given */
	double latitude, longitude;  /* number or numeric string; -90..90, -180..180 */
	/* TWAMP-Control security (control mode only) */
	char *auth_mode;             /* "AuthMode": letters A, E, M, O as twping -A; default O */
	char *keyid;                 /* "KeyID": at most 80 characters */
	char *secret_file;           /* "SecretFile": pfs file (relative: to the config directory) */
	uint32_t allowed_modes;      /* parsed AuthMode (WIRE_MODE_*) */
	uint8_t *secret;             /* KeyID's secret, read from SecretFile at load */
	size_t secret_len;
	/*
	 * The entry's identity: every field above (DSCP or DSCP list, Port, Mode,
	 * PacketCount, Interval, Padding, security, labels) in one unambiguous
	 * string.  Entries that differ in any of them are distinct measurements
	 * (the original's lists give one DSCP per entry for one IP); identical
	 * entries are merged at load with a warning.  The scheduler keys its
	 * running set (never overlap an entry with itself, across reloads too),
	 * start offsets and session seeds by it.
	 */
	char *key;
};

struct config_destination {
	char *url;                   /* "DestinationURL", http:// or https:// */
	char *password;              /* "DestinationPassword": sent verbatim as Basic <value> */
	char *user;                  /* "DestinationUser": then Basic base64(user:password) */
	char *token;                 /* "DestinationToken": Authorization: Token <value> */
	char *ca_file;               /* "DestinationCAFile" */
	bool insecure;               /* "DestinationInsecure", default false */
	enum config_format format;   /* "DestinationFormat": json (default) | influx */
	uint32_t batch_size;         /* "BatchSize", default 500, 1..100000 */
	int64_t flush_interval;      /* "FlushInterval" seconds -> ns, default 5 s */
};

struct config_source {           /* "ConfigSource" section, kept for the fetcher */
	char *method;                /* "ConfigMethod": web | git (NULL: none) */
	char *url;                   /* "ConfigURL" */
	char *user, *password;       /* "ConfigUser", "ConfigPassword" */
	char *branch;                /* "ConfigBranch" */
	char *path;                  /* "ConfigPath" */
	char *ca_file;               /* "ConfigCAFile" */
	bool insecure;               /* "ConfigInsecure" */
};

struct config_probe {            /* "Probe" section of the global config, all optional */
	char *schedule;              /* "Schedule", cron; default every 5 minutes, as the original crontab */
	char *config_schedule;       /* "ConfigSchedule", cron; default minute 1 of hours 0 and 12 */
	uint32_t packet_count;       /* "PacketCount", default 100, 1..100000 */
	int64_t interval;            /* "Interval" seconds -> ns, default 0.1 s, 0.0001..60 */
	uint32_t padding;            /* "Padding", default CONFIG_PADDING_DEFAULT (mode's default) */
	int64_t loss_timeout;        /* "LossTimeout" seconds -> ns, default 2 s, 0.01..60 */
	int workers;                 /* "Workers", default 0 = number of CPUs, 0..1024 */
	int cpus[CONFIG_MAX_CPUS];   /* "CPUs": array of CPU numbers to pin workers to */
	int ncpus;                   /* 0: workers pinned to CPU i % ncpus_online */
	uint32_t max_concurrent;     /* "MaxConcurrentSessions", default 1000, 1..1000000 */
	uint32_t connect_rate;       /* "ConnectRate": new sessions per second, default 2000 */
	char *source_name;           /* "SourceName" (probe name; see config_probe_name) */
	uint64_t spool_max_bytes;    /* "SpoolMaxBytes", default 256 MiB */
	uint32_t kdf_count_max;      /* "MaxPBKDF2Count": greeting Count cap, default 2048, 1024..2^20 */
};

struct config_local {            /* local_config.json, all optional */
	char *source_name, *description, *tags;
	bool has_geo;
	double latitude, longitude;
	char *street, *city, *state, *zip;  /* "Address": {Street, City, State, ZIP} */
};

/* Every problem found, one line each: "FILE: KEY: reason". */
struct config_errors {
	char **lines;
	size_t n;
};

struct config {
	int generation;              /* 1 seed (twamp_ files), 2 later */
	char *global_path, *targets_path;   /* files read */
	struct config_source source;
	struct config_destination *dests;   /* "Destination" (seed) or "Destinations" */
	size_t ndests;                      /* 0: records go to stdout */
	struct config_probe probe;
	struct config_local local;
	struct config_target *targets;
	size_t ntargets;
	struct config_errors warnings;      /* lines "FILE: KEY: reason" that did not stop
					     * the load (identical targets merged) */
};

/*
 * Load and validate DIR's files.  0 and *out set, or -1 with every problem in
 * errs (never a partial config).  errs may be NULL; otherwise it must be
 * zeroed or previously used, and its old lines are cleared first.  FILE in
 * a line is the file's base name (DIR itself for problems with DIR).
 * Warnings of a successful load are in (*out)->warnings, for the caller to
 * show (check-config prints them, the daemon logs them).
 * Thread-safe: no static state.
 */
int config_load(const char *dir, struct config **out, struct config_errors *errs);
/*
 * The same, without the targets file: DIR's global config (and, generation
 * 2, local_config.json) alone, ntargets 0.  For a first start whose only
 * file names the ConfigSource the targets are to come from.
 */
int config_load_global(const char *dir, struct config **out, struct config_errors *errs);
void config_free(struct config *c);
void config_errors_clear(struct config_errors *errs);

/*
 * The probe's name: $PROBE_SOURCE, else local_config.json SourceName, else
 * Probe.SourceName, else the hostname.  Writes into buf.
 */
void config_probe_name(const struct config *c, char *buf, size_t len);

#endif
