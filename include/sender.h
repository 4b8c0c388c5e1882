/*
 * sender: the thread that delivers records.
 *
 * DESIGN
 * Workers (through the scheduler) hand finished records to sender_submit(),
 * which only links them into a queue and wakes the thread: it never blocks
 * on the network.  The sender thread owns everything else: per destination
 * a batch being filled, its encoder (JSON or Influx), a libcurl easy handle
 * (connection reuse) and a spool.  All destinations are driven by one curl
 * multi handle, so one slow destination never holds back another.
 *
 * A batch is sent when it holds BatchSize records or FlushInterval has
 * passed.  Network errors, 5xx and 429 are retried with exponential backoff
 * (1 s doubling to 60 s, honouring Retry-After); the batch goes to the spool
 * as soon as one attempt fails, so a kill -9 loses at most the batch in
 * flight, and spooled batches are replayed oldest first, each exactly once,
 * before newer data.  A 4xx other than 408/429 is logged with the response
 * body and the batch moved to the spool's reject folder.
 *
 * With no destination, records are written to the given FILE (stdout) as
 * JSON lines, one record per line, flushed per record.
 */
#ifndef SENDER_H
#define SENDER_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "record.h"

struct sender;

struct sender_stats {
	uint64_t submitted;     /* records handed in */
	uint64_t delivered;     /* records acknowledged by a destination (2xx), summed over destinations */
	uint64_t queued;        /* records waiting in memory */
	uint64_t spool_bytes;   /* undelivered bytes on disk, all destinations */
	uint64_t dropped;       /* records lost because a spool was full */
	uint64_t rejected;      /* records in reject folders */
	uint64_t failures;      /* failed delivery attempts */
};

/*
 * Start the thread.  dests are copied.  spool_dir: DIR/spool (one
 * subdirectory per destination).  out: where records go with no destination.
 * NULL on error (logged).
 */
struct sender *sender_start(const struct config_destination *dests, size_t ndests,
			    const char *spool_dir, uint64_t spool_max_bytes, FILE *out);

/* Thread-safe; takes ownership of r. */
void sender_submit(struct sender *s, struct record *r);

/* Thread-safe: new destinations apply from the next batch; spools are kept per URL. */
void sender_set_destinations(struct sender *s, const struct config_destination *dests, size_t ndests);

void sender_get_stats(struct sender *s, struct sender_stats *out);

/*
 * Flush everything: deliver what can be delivered until `deadline` (ns,
 * CLOCK_REALTIME), spool the rest, stop and join the thread, free.  Returns
 * the number of records that were neither delivered nor spooled (0 unless
 * the disk failed).
 */
uint64_t sender_stop(struct sender *s, int64_t deadline);

#endif
