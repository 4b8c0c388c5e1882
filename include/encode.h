/*
 * encode: metric encoders.  Pure functions from a record to bytes appended to
 * a growable buffer.
 *
 *   JSON   the original probe's object, key for key (seed table in
 *          original-behaviour.md: measurement_name "twamp_twping1", from_host,
 *          ... reachable_bool, custom_comment, custom_id, geo_lon, geo_lat),
 *          null for what could not be computed, plus our keys (timestamp,
 *          loss_ratio, mean/p95/p99_rtt_seconds, reorder_pkt, mode,
 *          timestamp_source, clock_sync, error, description, tags,
 *          probe_description, probe_tags).  An unreachable target carries only
 *          the seed's short key set plus timestamp, mode and error.  A batch is
 *          a JSON array of objects.
 *   Influx line protocol: measurement "twamp" (probe records: "twamp_probe"),
 *          identity as tags (from_host, to_host, to_addr, dscp, mode, ...),
 *          values as fields whose type never changes between records
 *          (counts are integers with the i suffix, times are floats in
 *          seconds, flags are booleans), timestamp in ns.
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
