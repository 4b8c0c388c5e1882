/*
 * encode: metric encoders.  Pure functions from a record to bytes appended to
 * a growable buffer.
 *
 *   JSON   the original probe's object, key for key (seed table in
 *          original-behaviour.md: measurement_name "twamp_twping1", from_host,
 *          ... reachable_bool, custom_comment, custom_id, geo_lon, geo_lat),
 *          null for what could not be computed, plus our keys (timestamp,
 *          loss_ratio, mean/p95/p99_rtt_seconds, send_lateness_p99_seconds,
 *          reorder_pkt, foreign_pkt, mode, timestamp_source, clock_sync, error, description, tags,
 *          probe_description, probe_tags).  An unreachable target carries only
 *          the seed's short key set plus timestamp, mode and error.  A batch is
 *          a JSON array of objects.  The timestamp is Unix seconds with the
 *          nanoseconds as a fraction (1795766684.123456789); times are
 *          seconds, always written with a '.' or an exponent; counts and hops
 *          are integers; clock_sync is a boolean, reachable_bool the seed's
 *          1/0.  A probe record
 *          (measurement_name "twamp_probe") carries timestamp, from_host,
 *          cycle, targets, ok, failed, skipped, duration_seconds,
 *          queue_depth, spool_bytes, dropped, config_errors,
 *          probe_description, probe_tags, geo_lon, geo_lat.
 *   Influx line protocol: measurement "twamp" (probe records: "twamp_probe"),
 *          identity as tags (custom_comment, custom_id, description, dscp,
 *          from_addr, from_host, mode, probe_description, probe_tags, tags,
 *          to_addr, to_host; sorted; omitted when NULL or empty), values as
 *          fields under the JSON key names whose type never changes between
 *          records (counts are integers with the i suffix, times are floats
 *          in seconds, reachable_bool and clock_sync are booleans, error and
 *          timestamp_source strings), timestamp in ns.  An unknown value is
 *          an omitted field (never NaN); an unreachable target has the
 *          fields reachable_bool=false, error and geo only.  The Influx
 *          integer is signed 64-bit: larger counters saturate.
 *
 *   record_id (both formats, every kind of record, when set): the record's
 *          unique id, a JSON string / an Influx string FIELD -- never a tag,
 *          which would make every record its own series.
 * Strings are escaped for their position; invalid UTF-8 becomes U+FFFD, so
 * the output is always valid UTF-8.  Line protocol cannot carry control
 * characters: they become spaces.
 */
#ifndef ENCODE_H
#define ENCODE_H

#include <stddef.h>

#include "record.h"

/*
 * Zero-initialise before use.  Once anything was appended, data[len] is a
 * NUL (not counted in len), so the content can be printed as a string.
 */
struct ebuf {
	char *data;
	size_t len, cap;
	int failed;        /* an allocation failed: the content is incomplete */
};

void ebuf_reset(struct ebuf *b);   /* len = 0, failed = 0, keeps the memory */
void ebuf_free(struct ebuf *b);
/* Append n raw bytes (batch framing); sets failed when memory runs out. */
void ebuf_put(struct ebuf *b, const void *data, size_t n);

/* One JSON object, no trailing newline. */
void encode_json(struct ebuf *b, const struct record *r);
/* One line, terminated by '\n'. */
void encode_influx(struct ebuf *b, const struct record *r);
/* A JSON array of n records. */
void encode_json_batch(struct ebuf *b, struct record *const *recs, size_t n);
/* n lines. */
void encode_influx_batch(struct ebuf *b, struct record *const *recs, size_t n);

#endif
