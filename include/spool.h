/*
 * spool: a bounded on-disk FIFO of undelivered batches, one per destination.
 *
 * Each batch is one file DIR/<seq>-<records>.batch (seq zero-padded to 20
 * digits and increasing, so the lexical order of the names is the FIFO
 * order; records is the number of records in it).  The file holds exactly
 * the HTTP body, so an operator can replay one by hand with
 * `curl --data-binary @FILE`.  A batch is written to DIR/<seq>.tmp,
 * fsync'ed, renamed and the directory fsync'ed, so a crash or kill -9 leaves
 * either the whole batch or none; spool_open removes stale .tmp files.
 * spool_open accepts exactly the names written here (seq 1..2^63-1, records
 * 0..SPOOL_RECORDS_MAX in plain decimal, regular files; the journal): anything
 * else in DIR -- another name, a symlink, a directory, a FIFO -- is moved,
 * never followed, to DIR/reject/ (as NAME, or NAME.1 ... when taken) with a
 * warning naming it, and counts nowhere.  The open batch is a journal
 * (DIR/open.journal, see spool_journal_append) that sealing renames into the
 * newest batch; a journal found by spool_open (a crash) becomes one too.
 * Removing a delivered batch (spool_pop) does not fsync the directory: a
 * power cut may bring it back, to be sent once more.
 *
 * Past max_bytes (0: unbounded) the oldest batches are dropped, counted and
 * logged (rate-limited) -- except the batch spool_peek handed out, which is
 * being sent, until spool_pop, spool_reject or spool_release.  So the bound
 * can be exceeded by that one batch.  A new batch is written before older
 * ones are dropped for it, so a failed write costs nothing; a full disk is
 * an error (-1), not a reason to drop.  A batch larger than max_bytes on its
 * own is refused (-1).  Rejected batches (a 4xx from the destination) are
 * moved to DIR/reject/ and kept; they do not count against max_bytes.
 *
 * Errors (disk full, read-only, permissions) are logged with the path and
 * returned; nothing here aborts.  Only the sender thread uses a spool (no
 * locking).
 *
 * A listing of DIR that fails (readdir's error, such as EOVERFLOW for a
 * 64-bit inode number with a 32-bit off_t, or EIO) is an error, never an
 * empty spool: it is logged with the path and the spool stays unlisted --
 * its batches wait on disk, spool_put, spool_put_reject and the journal
 * refuse (-1: the sender keeps its batches in memory), spool_peek returns
 * -1 and spool_count 0 -- while every one of these calls lists DIR again, at
 * most once a second, until a listing succeeds and the batches replay.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* The most records one batch may hold (the sender's BatchSize is at most 100,000). */
#define SPOOL_RECORDS_MAX 1000000u

/* Creates DIR (and its parents) if needed and indexes the batches already there. NULL on error (logged). */
struct spool *spool_open(const char *dir, uint64_t max_bytes);
void spool_close(struct spool *s);

/* Append a batch of `records` records.  0, or -1 when it could not be written (disk full, read-only: logged). */
int spool_put(struct spool *s, const void *data, size_t len, uint32_t records);
/*
 * The open batch, written as it fills: DIR/open.journal.  Records are
 * appended with write() and no fsync, so they survive a kill -9 or a crash of
 * the process (the kernel's page cache holds them), not a power cut.  Each
 * record must end with '\n' and contain no other '\n' (both encoders
 * guarantee it; the JSON batch is "[rec\n,rec\n...]").  spool_journal_seal
 * appends `tail` ("]" for JSON), fsyncs, renames the journal to the newest
 * batch and fsyncs DIR: from then on it survives a power cut too.
 * spool_open turns a journal left by a crash into the newest batch (its
 * complete records; a JSON array closed).  append/seal: 0 or -1 (logged; the
 * journal is then discarded and the caller keeps its copy in memory).
 */
int spool_journal_append(struct spool *s, const void *data, size_t len);
int spool_journal_seal(struct spool *s, const void *tail, size_t tail_len, uint32_t records);
void spool_journal_discard(struct spool *s);
/* Write a batch straight into the reject folder.  0 or -1 (logged). */
int spool_put_reject(struct spool *s, const void *data, size_t len, uint32_t records);
/*
 * The oldest batch, malloc'ed into *data (NUL-terminated, the NUL not counted
 * in *len) and its record count into *records (may be NULL); 1 when there is
 * one, 0 when empty, -1 on error.  The batch stays in the spool, protected
 * from drop-oldest, until spool_pop or spool_reject.
 */
int spool_peek(struct spool *s, void **data, size_t *len, uint32_t *records);
/* The peeked batch is no longer being sent (the attempt failed): drop-oldest may take it again. */
void spool_release(struct spool *s);
/* Remove the oldest batch (after it was delivered). */
void spool_pop(struct spool *s);
/* Move the oldest batch to the reject folder. */
void spool_reject(struct spool *s);

const char *spool_dir(const struct spool *s);
uint64_t spool_bytes(const struct spool *s);
size_t spool_count(struct spool *s);                     /* may retry a failed listing */
uint64_t spool_records(const struct spool *s);           /* records in the queued batches */
uint64_t spool_dropped_batches(const struct spool *s);   /* dropped for space, cumulative */
uint64_t spool_dropped_records(const struct spool *s);
uint64_t spool_rejected_records(const struct spool *s);  /* in the reject folder, incl. earlier runs */

#endif
