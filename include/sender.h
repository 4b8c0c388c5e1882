/*
 * sender: the thread that delivers records.
 *
 * DESIGN
 * Workers (through the scheduler) hand finished records to sender_submit(),
 * which only links them into a queue and wakes the thread: it never blocks
 * on the network.  The queue is a mutex-protected list plus an eventfd that
 * curl_multi_poll() watches (why not wfcqueue: see src/io/sender.c).  The sender thread owns everything else: per destination
 * a batch being filled, its encoder (JSON or Influx), a libcurl easy handle
 * (connection reuse) and a spool.  All destinations are driven by one curl
 * multi handle, so one slow destination never holds back another.
 *
 * Durability: the disk first.  Each record is appended to its destination's
 * open batch on disk (the spool's journal, write() without fsync) as soon as
 * the sender thread takes it from the queue; a batch is sealed when it holds
 * BatchSize records or FlushInterval has passed since its first, and sealing
 * fsyncs it into the spool; every batch is then sent from the spool and
 * removed on a 2xx.  So a kill -9 (or a crash) loses no record the sender
 * thread has taken (only records still in the queue, normally for
 * microseconds), and a power cut loses at most each destination's open
 * batch.  What may be delivered twice: the batch in flight at the kill
 * (sent, its 2xx not yet seen or its file not yet unlinked) -- each record
 * carries a record_id for the sink to deduplicate.
 * Network errors, 5xx and 429 are retried with exponential backoff (1 s
 * doubling to 60 s, honouring Retry-After up to 10 minutes); spooled batches
 * are sent oldest first.  A 2xx status counts as delivered even when the rest
 * of the response is cut short (curl's error is logged, nothing is resent).  A 4xx other than 408/429 is logged with the response body and the
 * batch moved to the spool's reject folder.  Destinations are independent:
 * each has its own back-off, spool and request in flight.  Only when the
 * spool cannot be written does a batch wait in memory (at most a few per
 * destination, then the oldest are dropped and counted).
 *
 * fsync policy (an SD card is slow and wears): per sealed batch one fsync of
 * the file and one of the directory; none per record; none for the removal
 * of a delivered batch (a power cut may bring it back: one duplicate).
 *
 * record_id: "<16 hex digits>-<n>", a random 64-bit id drawn at each start
 * (getrandom) and a counter from 1, so it is unique per probe without any
 * state to persist (collision odds between two runs: 2^-64).
 *
 * Spools: DIR/spool/<16 hex digits: FNV-1a 64 of the URL>/, each bounded by
 * spool_max_bytes (the bound is per destination).  A spooled batch keeps
 * its format: the Content-Type is chosen per batch from its content.
 *
 * HTTP: connect timeout 10 s, whole request 30 s, TLS verified unless
 * DestinationInsecure (logged as a warning when the destination is set up);
 * DestinationCAFile becomes CURLOPT_CAINFO.  Authorization: "Token <token>"
 * when DestinationToken is set, else standard Basic of user:password when
 * DestinationUser is set, else "Basic <DestinationPassword>" verbatim (the
 * original probe's form).
 *
 * With no destination, records are written to the given FILE (stdout) as
 * JSON lines, one record per line, flushed per record (counted as
 * delivered).
 *
 * Test hook: the environment variable TWAMP_SENDER_BACKOFF_MS, read by
 * sender_start(), replaces the 1 s initial back-off (the maximum stays 60
 * times the initial value), so tests can exercise retries in milliseconds.
 * TWAMP_SENDER_TIMEOUT_MS likewise shortens the 30 s limit of a whole
 * request (at most 30000), so a destination that never answers times out in
 * test time.
 */
#ifndef SENDER_H
#define SENDER_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "record.h"

struct sender;

/* Record counts are per destination: a record sent to two destinations counts twice. */
struct sender_stats {
	uint64_t submitted;     /* records handed in (once each) */
	uint64_t delivered;     /* records acknowledged by a destination (2xx), summed over destinations */
	uint64_t queued;        /* records waiting in memory */
	uint64_t spool_bytes;   /* undelivered bytes on disk, all destinations */
	uint64_t spooled;       /* undelivered records on disk (earlier runs' included), all destinations */
	uint64_t dropped;       /* records lost: a spool was full, or could not be written */
	uint64_t rejected;      /* records moved to reject folders since start */
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
 * CLOCK_REALTIME, turned into a CLOCK_MONOTONIC deadline once) -- spooled batches of earlier runs too, to a healthy
 * destination --, spool the rest, stop and join the thread, free.  A
 * destination that is failing is not waited for: what it has stays spooled
 * for the next start.  Returns the number
 * of records that were neither delivered, spooled nor rejected over the
 * sender's life (stats.dropped: 0 unless a spool was full or the disk failed).
 */
uint64_t sender_stop(struct sender *s, int64_t deadline);
/* The same, and the final figures into *final (may be NULL): what --once reports. */
uint64_t sender_stop_final(struct sender *s, int64_t deadline, struct sender_stats *final);

/*
 * A Retry-After as libcurl reports it (CURLINFO_RETRY_AFTER: the delay in
 * seconds, or an HTTP-date minus now; 0 for none or garbage, negative for a
 * date in the past) as the minimum back-off in ns: 0 for seconds <= 0, at
 * most 10 minutes (SENDER_RETRY_AFTER_MAX), whatever the value (a year-20260
 * date is 5.8e11 s) and on 32-bit too.  Exposed for tests.
 */
int64_t sender_retry_after_ns(int64_t seconds);

#endif
