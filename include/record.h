/*
 * record: one measurement result as it travels from a worker to the sender
 * thread, and the probe's own per-cycle record.
 *
 * A record owns copies of every string it carries (the target set it came
 * from may be reclaimed before the record is delivered).  Records are made
 * once per session, never per packet.  The encoders (src/io/encode.c) turn a
 * record into the seed-compatible JSON object or an Influx line.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"

enum record_kind {
	RECORD_TARGET,   /* measurement_name "twamp_twping1" */
	RECORD_PROBE,    /* measurement_name "twamp_probe": the cycle's own figures */
};

struct record_probe {
	uint64_t cycle;            /* cycle number since start */
	uint32_t targets;          /* targets planned this cycle */
	uint32_t ok, failed;       /* sessions that ran / could not run */
	uint32_t skipped;          /* previous session still running: not started */
	int64_t duration;          /* ns from cycle start to last result */
	uint64_t queue_depth;      /* records waiting in the sender */
	uint64_t spool_bytes;      /* undelivered data on disk */
	uint64_t dropped;          /* records lost (spool full), cumulative */
	uint64_t config_errors;    /* rejected configuration loads, cumulative */
};

struct record {
	struct record *next;       /* for queues */
	enum record_kind kind;
	int64_t timestamp;         /* ns: session start (probe record: cycle start) */
	/*
	 * Unique per probe, set by sender_submit(): "<16 hex digits>-<n>", a random
	 * 64-bit id of this process run and a counter from 1.  Empty: not set (not
	 * encoded).  A sink deduplicates replayed records by it.
	 */
	char record_id[40];

	char *from_host;           /* probe name */
	char *from_addr;           /* our source address, NULL when unknown */
	char *to_host;             /* target as configured */
	char *to_addr;             /* address measured, NULL when unresolved */
	uint16_t to_port;
	int dscp;
	const char *mode;          /* "control", "light", "stamp" (static string) */
	const char *security;      /* session_security_name(): "open", ..., NULL unknown (static) */

	bool reachable;            /* the session ran */
	char *error;               /* short reason when not reachable ("dns", "timeout", ...) */

	/* from the target entry and the probe's local_config.json; any may be NULL */
	char *custom_comment, *custom_id, *description, *tags;
	bool has_geo;
	double latitude, longitude;
	char *probe_description, *probe_tags;

	/* measurement, valid when reachable */
	struct stats_summary sum;
	const char *timestamp_source;  /* "kernel" or "user" (static string) */
	bool clock_sync;
	bool has_late;
	int64_t send_late_p99;         /* ns: 99th percentile of actual minus planned send time */
	uint32_t foreign_pkt;          /* datagrams on the test socket from anyone but the reflector, dropped */

	struct record_probe probe;     /* RECORD_PROBE only */
};

/* calloc'ed record; NULL on allocation failure. */
struct record *record_new(enum record_kind kind);
/* strdup that accepts NULL; sets *dst, returns -1 on allocation failure. */
int record_set(char **dst, const char *src);
void record_free(struct record *r);

#endif
