/*
 * spool: bounded on-disk FIFO of undelivered batches (see include/spool.h).
 *
 * Why one file per batch: a batch is the unit of delivery, so popping one is
 * an unlink, rejecting one a rename, and a crash can damage at most the file
 * being written -- which is still a .tmp and removed at the next open.  An
 * append-only log with an offset file would need its own crash recovery.
 *
 * Why the record count is in the file name: the sender reports delivered,
 * dropped and rejected records, and a spooled batch must be countable
 * without parsing it (and after a restart).
 *
 * The index in memory (sequence number, size, records per file) is an array
 * used as a queue; it is rebuilt from the directory listing by spool_open, so
 * the directory is the only state that survives a restart.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ntptime.h"

/* a 32-bit off_t makes readdir() fail (EOVERFLOW) on file systems with 64-bit inode numbers */
_Static_assert(sizeof(off_t) == 8, "off_t must have 64 bits: build with -D_FILE_OFFSET_BITS=64");

#define SPOOL_SEQ_DIGITS 20
/* far beyond any real count (2^63 batches), and max + 1 cannot wrap next_seq */
#define SPOOL_SEQ_MAX ((uint64_t)INT64_MAX)
#define SPOOL_NAME_MAX 64
#define SPOOL_REJECT "reject"
#define SPOOL_JOURNAL "open.journal"    /* the open batch; not a batch name: the listing leaves it to recover_journal */
#define SPOOL_RELIST_NS NS_PER_SEC      /* an unlisted spool tries again at most this often */

struct spool_entry {
	uint64_t seq;
	uint64_t size;
	uint32_t records;
};

struct spool {
	char *dir;
	int dfd;                      /* DIR, for *at() calls and fsync */
	int rfd;                      /* DIR/reject, -1 until needed */
	uint64_t max_bytes;
	struct spool_entry *e;        /* queue: e[head .. tail) */
	size_t head, tail, cap;
	uint64_t bytes, records;
	uint64_t next_seq;
	bool peeked;                  /* e[head] was handed out by spool_peek */
	uint64_t dropped_batches, dropped_records;
	uint64_t rejected_records;
	int jfd;                      /* DIR/open.journal, -1 when closed */
	bool listed;                  /* the index holds DIR's batches (see listed()) */
	int64_t relist_at;            /* CLOCK_MONOTONIC: the next listing attempt while unlisted */
};

enum name_kind { NAME_OTHER, NAME_BATCH, NAME_TMP };

/* n decimal digits at *p, no sign: *v; false when not digits or above max. */
static bool parse_digits(const char **p, int n, uint64_t max, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		unsigned d = (unsigned char)**p - '0';

		if (d > 9 || *v > (max - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	return true;
}

/*
 * Exactly the names write_batch and batch_name make: "<seq>-<records>.batch"
 * and "<seq>.tmp", seq 20 digits in 1..SPOOL_SEQ_MAX, records in decimal
 * without leading zeros (a lone "0" for none) up to SPOOL_RECORDS_MAX.
 * Anything else ("<seq>.batch", "-007", a sign, 4294967295 records) is
 * NAME_OTHER: it would be indexed under a name batch_name cannot rebuild,
 * never replayed, or inflate the counters.
 */
static enum name_kind parse_name(const char *name, uint64_t *seq, uint32_t *records)
{
	const char *p = name, *r;
	uint64_t v;
	int n;

	if (!parse_digits(&p, SPOOL_SEQ_DIGITS, SPOOL_SEQ_MAX, seq) || *seq == 0)
		return NAME_OTHER;
	*records = 0;
	if (strcmp(p, ".tmp") == 0)
		return NAME_TMP;
	if (*p++ != '-')
		return NAME_OTHER;
	for (r = p; *r >= '0' && *r <= '9'; r++)
		;
	n = (int)(r - p);
	if (n == 0 || n > 10 || (p[0] == '0' && n > 1) || strcmp(r, ".batch") != 0 ||
	    !parse_digits(&p, n, SPOOL_RECORDS_MAX, &v))
		return NAME_OTHER;
	*records = (uint32_t)v;
	return NAME_BATCH;
}

static void batch_name(char *buf, size_t len, const struct spool_entry *e)
{
	snprintf(buf, len, "%020" PRIu64 "-%" PRIu32 ".batch", e->seq, e->records);
}

static int mkdir_p(const char *path)
{
	char *p, *tmp = strdup(path);
	int rc = 0;

	if (!tmp)
		return -1;
	for (p = tmp; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		struct stat st;

		*p = '\0';
		if (*tmp && mkdir(tmp, 0700) < 0 && errno != EEXIST) {
			int err = errno;

			if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode)) {
				errno = err;
				rc = -1;
				break;
			}
		}
		*p = c;
		if (!c)
			break;
	}
	free(tmp);
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct spool_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int index_push(struct spool *s, const struct spool_entry *e)
{
	if (s->tail == s->cap) {
		if (s->head > 0) {
			memmove(s->e, s->e + s->head, (s->tail - s->head) * sizeof(*s->e));
			s->tail -= s->head;
			s->head = 0;
		} else {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct spool_entry *n = realloc(s->e, cap * sizeof(*n));

			if (!n)
				return -1;
			s->e = n;
			s->cap = cap;
		}
	}
	s->e[s->tail++] = *e;
	s->bytes += e->size;
	s->records += e->records;
	return 0;
}

/* Forget entry i (head or head + 1) of the index. */
static void index_remove(struct spool *s, size_t i)
{
	s->bytes -= s->e[i].size;
	s->records -= s->e[i].records;
	if (i == s->head) {
		s->head++;
	} else {
		memmove(s->e + i, s->e + i + 1, (s->tail - i - 1) * sizeof(*s->e));
		s->tail--;
	}
	if (s->head == s->tail)
		s->head = s->tail = 0;
}

static int sync_dir(const struct spool *s, int fd, const char *what)
{
	if (fsync(fd) < 0) {
		log_err("spool %s%s: fsync: %m", s->dir, what);
		return -1;
	}
	return 0;
}

/*
 * The next entry of a listing; NULL at its end, or on an error with errno
 * set: readdir() returns NULL for both and sets errno only for an error, so
 * errno is cleared before each call.
 */
static struct dirent *next_entry(DIR *d)
{
	errno = 0;
	return readdir(d);
}

/* closedir(d), and -1 with errno kept when the listing ended on an error (err). */
static int end_listing(DIR *d, int err)
{
	closedir(d);
	errno = err;
	return err ? -1 : 0;
}

/*
 * The highest sequence number and the record count of the reject folder.
 * 0, or -1 when it could not be listed (errno set; no folder is 0).
 */
static int scan_reject(struct spool *s, uint64_t *max_seq)
{
	DIR *d;
	struct dirent *de;
	int fd = openat(s->dfd, SPOOL_REJECT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	s->rejected_records = 0;
	if (fd < 0)
		return 0;   /* none yet, or not a folder: open_reject reports it when one is needed */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = next_entry(d))) {
		uint64_t seq;
		uint32_t rec;

		struct stat st;

		if (parse_name(de->d_name, &seq, &rec) != NAME_BATCH)
			continue;
		if (seq > *max_seq)
			*max_seq = seq;
		/* a symlink, directory or FIFO set aside here holds no records */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			s->rejected_records += rec;
	}
	return end_listing(d, errno);
}

static void drop_oldest(struct spool *s);
static void journal_set_aside(struct spool *s);
static int open_reject(struct spool *s);

/*
 * Move DIR/name, whatever it is (a symlink is moved, not followed), into
 * DIR/reject/ under a name not taken yet.  Logged either way.
 */
static void reject_stray(struct spool *s, const char *name, const char *why)
{
	char dst[300];
	int i, rc = -1;

	if (open_reject(s) < 0)
		goto fail;
	for (i = 0; i < 100; i++) {
		struct stat st;

		if (i == 0)
			snprintf(dst, sizeof(dst), "%s", name);
		else
			snprintf(dst, sizeof(dst), "%s.%d", name, i);
		rc = renameat2(s->dfd, name, s->rfd, dst, RENAME_NOREPLACE);
		if (rc < 0 && errno == EINVAL) {
			/* a file system without RENAME_NOREPLACE: look first (only this thread writes here) */
			if (fstatat(s->rfd, dst, &st, AT_SYMLINK_NOFOLLOW) == 0)
				errno = EEXIST;
			else if (errno == ENOENT)
				rc = renameat(s->dfd, name, s->rfd, dst);
		}
		if (rc == 0 || errno != EEXIST)
			break;
	}
	if (rc == 0) {
		sync_dir(s, s->rfd, "/" SPOOL_REJECT);
		log_warn("spool %s/%s: %s: moved to %s/%s", s->dir, name, why, SPOOL_REJECT, dst);
		return;
	}
fail:
	log_err("spool %s/%s: %s: cannot move to %s/: %m (left in place)", s->dir, name, why,
		SPOOL_REJECT);
}

static int write_all(int fd, const char *p, size_t len);

/*
 * A journal left by a crash or kill -9: keep its complete records (each ends
 * with '\n'), close a JSON array, and make it the newest batch.  Its records
 * may not have had their first delivery attempt yet, so it must not be lost;
 * a torn last record (the kernel may cut a write short at SIGKILL) is cut off.
 */
static void recover_journal(struct spool *s)
{
	struct spool_entry e = { 0 };
	char name[SPOOL_NAME_MAX], *buf = NULL;
	struct stat st;
	size_t got = 0, keep = 0, i;
	int fd = openat(s->dfd, SPOOL_JOURNAL, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			log_err("spool %s/%s: cannot open: %m", s->dir, SPOOL_JOURNAL);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(buf = malloc((size_t)st.st_size + 1))) {
		log_err("spool %s/%s: cannot recover (not a readable regular file, or out of memory)",
			s->dir, SPOOL_JOURNAL);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	for (i = 0; i < got; i++)
		if (buf[i] == '\n') {
			e.records++;
			keep = i + 1;
		}
	if (!e.records) {
		unlinkat(s->dfd, SPOOL_JOURNAL, 0);
		goto out;
	}
	if (ftruncate(fd, (off_t)keep) < 0 || lseek(fd, 0, SEEK_END) < 0 ||
	    (buf[0] == '[' && write_all(fd, "]", 1) < 0) || fsync(fd) < 0) {
		log_err("spool %s/%s: cannot recover: %m", s->dir, SPOOL_JOURNAL);
		goto out;
	}
	e.seq = s->next_seq++;
	e.size = keep + (buf[0] == '[');
	batch_name(name, sizeof(name), &e);
	if (renameat(s->dfd, SPOOL_JOURNAL, s->dfd, name) < 0) {
		log_err("spool %s/%s: cannot rename to %s: %m", s->dir, SPOOL_JOURNAL, name);
		goto out;
	}
	(void)sync_dir(s, s->dfd, "");
	if (index_push(s, &e) < 0)
		log_err("spool %s: out of memory indexing %s", s->dir, name);
	log_info("spool %s: the open batch of the last run (%" PRIu32 " records%s) recovered as %s",
		 s->dir, e.records, keep < got ? ", a torn last record cut off" : "", name);
out:
	free(buf);
	close(fd);
}

/*
 * Index DIR from its listing: batches, stale temporaries and strays (set
 * aside), the reject folder's highest sequence number, a journal left by a
 * crash.  0; -1 when a listing failed (readdir's error, logged with the
 * path: the index is left empty and the spool unlisted, see listed()), -2
 * out of memory (logged).
 */
static int list_dir(struct spool *s)
{
	DIR *d = NULL;
	struct dirent *de;
	uint64_t max_seq = 0;
	const char *what = "";
	int fd, err;

	s->head = s->tail = 0;
	s->bytes = s->records = 0;
	fd = dup(s->dfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	rewinddir(d);   /* the dup shares its offset with dfd: list from the start every time */
	while ((de = next_entry(d))) {
		struct spool_entry e = { 0 };
		struct stat st;
		enum name_kind kind;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, SPOOL_REJECT) == 0)
			continue;
		if (strcmp(de->d_name, SPOOL_JOURNAL) == 0) {
			/* recovered below when it is a regular file; anything else is set aside */
			if (fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
				reject_stray(s, de->d_name, "not a regular file");
			continue;
		}
		kind = parse_name(de->d_name, &e.seq, &e.records);
		if (kind == NAME_OTHER) {
			reject_stray(s, de->d_name, "not a name this spool writes");
			continue;
		}
		if (fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			log_warn("spool %s/%s: stat: %m (skipped)", s->dir, de->d_name);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			reject_stray(s, de->d_name, "not a regular file");
			continue;
		}
		if (kind == NAME_TMP) {
			/* a write that never completed: the batch is still in memory or lost with the crash */
			if (unlinkat(s->dfd, de->d_name, 0) < 0)
				log_warn("spool %s/%s: cannot remove stale temporary: %m", s->dir, de->d_name);
			else
				log_info("spool %s/%s: removed stale temporary", s->dir, de->d_name);
			continue;
		}
		e.size = (uint64_t)st.st_size;
		if (index_push(s, &e) < 0) {
			log_err("spool %s: out of memory", s->dir);
			closedir(d);
			s->head = s->tail = 0;
			s->bytes = s->records = 0;
			return -2;
		}
		if (e.seq > max_seq)
			max_seq = e.seq;
	}
	err = errno;
	closedir(d);
	if (err)
		goto fail;
	if (s->tail > 1)
		qsort(s->e, s->tail, sizeof(*s->e), entry_cmp);
	/* rejected files keep their names: new sequence numbers must not collide with them */
	if (scan_reject(s, &max_seq) < 0) {
		err = errno;
		what = "/" SPOOL_REJECT;
		goto fail;
	}
	s->next_seq = max_seq + 1;
	s->listed = true;
	recover_journal(s);
	journal_set_aside(s);
	return 0;
fail:
	/*
	 * Never an empty spool: the batches stay on disk, unreplayed, and nothing
	 * is written (a new sequence number could collide with an unlisted one)
	 * until a listing succeeds.
	 */
	s->head = s->tail = 0;
	s->bytes = s->records = 0;
	s->listed = false;
	errno = err;
	LOG_RL(LOGL_ERR, 60, "spool %s%s: cannot list: %m; its batches wait, unreplayed, and new ones "
	       "stay in memory until a listing succeeds (retried)", s->dir, what);
	return -1;
}

/*
 * Whether the index holds DIR's batches.  A spool whose listing failed tries
 * again here, at most once per SPOOL_RELIST_NS, from every call that needs
 * the index (spool_count included, so the sender's polling retries it).
 */
static bool listed(struct spool *s)
{
	int64_t now;

	if (s->listed)
		return true;
	now = ntptime_mono();
	if (now < s->relist_at)
		return false;
	s->relist_at = now + SPOOL_RELIST_NS;
	if (list_dir(s) < 0)
		return false;
	log_info("spool %s: listed: %zu batch%s (%" PRIu64 " byte%s, %" PRIu64 " record%s) to replay",
		 s->dir, spool_count(s), spool_count(s) == 1 ? "" : "es", s->bytes, log_s(s->bytes),
		 s->records, log_s(s->records));
	return true;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes)
{
	struct spool *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		log_err("spool %s: out of memory", dir);
		free(s);
		return NULL;
	}
	s->dfd = s->rfd = s->jfd = -1;
	s->max_bytes = max_bytes;
	if (mkdir_p(dir) < 0) {
		log_err("spool %s: cannot create: %m", dir);
		goto fail;
	}
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		log_err("spool %s: cannot open: %m", dir);
		goto fail;
	}
	rc = list_dir(s);
	if (rc == -2)
		goto fail;
	s->relist_at = ntptime_mono() + SPOOL_RELIST_NS;
	if (s->tail)
		log_info("spool %s: %zu batch%s (%" PRIu64 " byte%s, %" PRIu64 " record%s) to replay",
			 dir, spool_count(s), spool_count(s) == 1 ? "" : "es", s->bytes, log_s(s->bytes),
			 s->records, log_s(s->records));
	while (s->max_bytes && s->bytes > s->max_bytes && s->tail > s->head)
		drop_oldest(s);
	return s;
fail:
	spool_close(s);
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->dfd >= 0)
		close(s->dfd);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->jfd >= 0)
		close(s->jfd);   /* an unsealed journal stays: recovered at the next open */
	free(s->e);
	free(s->dir);
	free(s);
}

/* The oldest batch that may be dropped (not the one being sent); SIZE_MAX when none. */
static size_t droppable(const struct spool *s)
{
	size_t i = s->head + (s->peeked ? 1 : 0);

	return i < s->tail ? i : SIZE_MAX;
}

static void drop_oldest(struct spool *s)
{
	size_t i = droppable(s);
	struct spool_entry e;
	char name[SPOOL_NAME_MAX];

	if (i == SIZE_MAX)
		return;
	e = s->e[i];
	batch_name(name, sizeof(name), &e);
	if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
		log_err("spool %s/%s: cannot remove: %m", s->dir, name);
	index_remove(s, i);
	s->dropped_batches++;
	s->dropped_records += e.records;
	LOG_RL(LOGL_WARN, 60,
	       "spool %s full (%" PRIu64 " bytes max): dropped the oldest batch (%" PRIu32
	       " records); %" PRIu64 " batches, %" PRIu64 " records dropped so far",
	       s->dir, s->max_bytes, e.records, s->dropped_batches, s->dropped_records);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The end of every durable write here: fsync fd, close it (always), rename
 * DIR/from to DIR/final (final may be in reject/), fsync final's directory,
 * final_dfd.  0, or -1 logged with errno kept (from stays where it was).
 */
static int seal_file(struct spool *s, int fd, const char *from, const char *final, int final_dfd)
{
	int err;

	if (fsync(fd) < 0) {
		err = errno;
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: fsync: %m", s->dir, from);
		close(fd);
		errno = err;
		return -1;
	}
	if (close(fd) < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: close: %m", s->dir, from);
		return -1;
	}
	if (renameat(s->dfd, from, s->dfd, final) < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: cannot rename to %s: %m", s->dir, from, final);
		return -1;
	}
	/* on failure the file is complete but its name may not survive a power cut: keep going */
	(void)sync_dir(s, final_dfd, final_dfd == s->dfd ? "" : "/" SPOOL_REJECT);
	return 0;
}

/*
 * Write data to DIR/<seq>.tmp, fsync, rename to `final` (relative to DIR,
 * may be in reject/), fsync the directories.  0 or -1 (logged, temporary
 * removed).
 */
static int write_batch(struct spool *s, uint64_t seq, const char *final, int final_dfd,
		       const void *data, size_t len)
{
	char tmp[SPOOL_NAME_MAX];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%020" PRIu64 ".tmp", seq);
	fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: cannot create: %m", s->dir, tmp);
		return -1;
	}
	if (write_all(fd, data, len) < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: write: %m", s->dir, tmp);
		goto fail;
	}
	err = seal_file(s, fd, tmp, final, final_dfd);
	fd = -1;
	if (err == 0)
		return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(s->dfd, tmp, 0);
	errno = err;
	return -1;
}

/*
 * A batch just written as DIR/name: index it, then drop the oldest past the
 * bound (written first, dropped after: a failed write never costs older
 * data; the new batch itself is never dropped for itself).
 */
static void admit(struct spool *s, const struct spool_entry *e, const char *name)
{
	if (index_push(s, e) < 0) {
		/* the file is safe on disk and will be indexed at the next start */
		log_err("spool %s: out of memory indexing %s", s->dir, name);
		return;
	}
	while (s->max_bytes && s->bytes > s->max_bytes && droppable(s) != SIZE_MAX &&
	       droppable(s) != s->tail - 1)
		drop_oldest(s);
}

int spool_put(struct spool *s, const void *data, size_t len, uint32_t records)
{
	struct spool_entry e = { .size = len, .records = records };
	char name[SPOOL_NAME_MAX];

	if (!listed(s))
		return -1;
	e.seq = s->next_seq;
	if (s->max_bytes && len > s->max_bytes) {
		log_err("spool %s: a batch of %zu bytes is larger than the spool (%" PRIu64 " bytes)",
			s->dir, len, s->max_bytes);
		return -1;
	}
	batch_name(name, sizeof(name), &e);
	s->next_seq++;
	if (write_batch(s, e.seq, name, s->dfd, data, len) < 0)
		return -1;
	admit(s, &e, name);
	return 0;
}

static int open_reject(struct spool *s)
{
	if (s->rfd >= 0)
		return 0;
	if (mkdirat(s->dfd, SPOOL_REJECT, 0700) < 0 && errno != EEXIST) {
		log_err("spool %s/%s: cannot create: %m", s->dir, SPOOL_REJECT);
		return -1;
	}
	/* a symlink named reject must not take batches out of the spool */
	s->rfd = openat(s->dfd, SPOOL_REJECT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->rfd < 0) {
		log_err("spool %s/%s: cannot open: %m", s->dir, SPOOL_REJECT);
		return -1;
	}
	return 0;
}

int spool_put_reject(struct spool *s, const void *data, size_t len, uint32_t records)
{
	struct spool_entry e = { .size = len, .records = records };
	char name[SPOOL_NAME_MAX], path[SPOOL_NAME_MAX + sizeof(SPOOL_REJECT)];

	if (!listed(s) || open_reject(s) < 0)
		return -1;
	e.seq = s->next_seq;
	batch_name(name, sizeof(name), &e);
	snprintf(path, sizeof(path), SPOOL_REJECT "/%s", name);
	s->next_seq++;
	if (write_batch(s, e.seq, path, s->rfd, data, len) < 0)
		return -1;
	s->rejected_records += records;
	return 0;
}

/*
 * A journal that recover_journal() could not turn into a batch (a full disk,
 * no memory, not a regular file) is never reused nor truncated: its records
 * are moved to reject/ with a warning, kept for the operator.
 */
static void journal_set_aside(struct spool *s)
{
	struct stat st;

	if (fstatat(s->dfd, SPOOL_JOURNAL, &st, AT_SYMLINK_NOFOLLOW) == 0)
		reject_stray(s, SPOOL_JOURNAL, "an open batch of an earlier run that could not be recovered");
}

static int journal_create(struct spool *s)
{
	/* O_EXCL: never truncate, nor open (a FIFO would block), what is already there */
	return openat(s->dfd, SPOOL_JOURNAL,
		      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int spool_journal_append(struct spool *s, const void *data, size_t len)
{
	/* unlisted: the journal of the last run is not recovered yet, and must not grow */
	if (!listed(s))
		return -1;
	if (s->jfd < 0) {
		s->jfd = journal_create(s);
		if (s->jfd < 0 && errno == EEXIST) {
			/* left by an earlier run, or by a failed recovery: recover it, else set it aside */
			recover_journal(s);
			journal_set_aside(s);
			s->jfd = journal_create(s);
		}
		if (s->jfd < 0) {
			LOG_RL(LOGL_ERR, 10, "spool %s/%s: cannot create: %m", s->dir, SPOOL_JOURNAL);
			return -1;
		}
	}
	if (write_all(s->jfd, data, len) < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: write: %m", s->dir, SPOOL_JOURNAL);
		spool_journal_discard(s);
		return -1;
	}
	return 0;
}

void spool_journal_discard(struct spool *s)
{
	if (s->jfd < 0)
		return;
	close(s->jfd);
	s->jfd = -1;
	unlinkat(s->dfd, SPOOL_JOURNAL, 0);
}

int spool_journal_seal(struct spool *s, const void *tail, size_t tail_len, uint32_t records)
{
	struct spool_entry e = { .records = records };
	char name[SPOOL_NAME_MAX];
	struct stat st;
	int fd = s->jfd, rc;

	if (fd < 0)
		return -1;
	s->jfd = -1;
	if (write_all(fd, tail, tail_len) < 0 || fstat(fd, &st) < 0) {
		LOG_RL(LOGL_ERR, 10, "spool %s/%s: write: %m", s->dir, SPOOL_JOURNAL);
		goto fail;
	}
	e.size = (uint64_t)st.st_size;
	if (s->max_bytes && e.size > s->max_bytes) {
		log_err("spool %s: a batch of %" PRIu64 " bytes is larger than the spool (%" PRIu64
			" bytes)", s->dir, e.size, s->max_bytes);
		goto fail;
	}
	e.seq = s->next_seq++;
	batch_name(name, sizeof(name), &e);
	rc = seal_file(s, fd, SPOOL_JOURNAL, name, s->dfd);
	fd = -1;
	if (rc < 0)
		goto fail;
	admit(s, &e, name);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(s->dfd, SPOOL_JOURNAL, 0);
	return -1;
}

int spool_peek(struct spool *s, void **data, size_t *len, uint32_t *records)
{
	if (!listed(s))
		return -1;   /* not known to be empty */
	while (s->head < s->tail) {
		struct spool_entry *e = &s->e[s->head];
		char name[SPOOL_NAME_MAX];
		struct stat st;
		char *buf;
		size_t got = 0;
		int fd;

		batch_name(name, sizeof(name), e);
		fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) {
				/* removed behind our back: nothing to send */
				log_warn("spool %s/%s: vanished", s->dir, name);
				s->peeked = false;
				index_remove(s, s->head);
				continue;
			}
			log_err("spool %s/%s: cannot open: %m", s->dir, name);
			return -1;
		}
		if (fstat(fd, &st) < 0) {
			log_err("spool %s/%s: stat: %m", s->dir, name);
			close(fd);
			return -1;
		}
		buf = malloc((size_t)st.st_size + 1);
		if (!buf) {
			log_err("spool %s/%s: out of memory (%lld bytes)", s->dir, name,
				(long long)st.st_size);
			close(fd);
			return -1;
		}
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				log_err("spool %s/%s: read: %m", s->dir, name);
				free(buf);
				close(fd);
				return -1;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		buf[got] = '\0';
		/* keep the accounting true to the disk */
		s->bytes = s->bytes - e->size + got;
		e->size = got;
		s->peeked = true;
		*data = buf;
		*len = got;
		if (records)
			*records = e->records;
		return 1;
	}
	return 0;
}

void spool_release(struct spool *s)
{
	s->peeked = false;
}

void spool_pop(struct spool *s)
{
	char name[SPOOL_NAME_MAX];

	if (s->head == s->tail)
		return;
	batch_name(name, sizeof(name), &s->e[s->head]);
	/*
	 * No fsync of the directory: should a power cut undo the unlink, the batch
	 * is sent once more (the sink deduplicates by record_id), and one fsync
	 * fewer per batch spares an SD card.
	 */
	if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
		/* it was delivered: forget it anyway (it would be sent again after a restart) */
		log_err("spool %s/%s: cannot remove delivered batch: %m", s->dir, name);
	s->peeked = false;
	index_remove(s, s->head);
}

void spool_reject(struct spool *s)
{
	char name[SPOOL_NAME_MAX], path[SPOOL_NAME_MAX + sizeof(SPOOL_REJECT)];
	struct spool_entry e;

	if (s->head == s->tail)
		return;
	e = s->e[s->head];
	batch_name(name, sizeof(name), &e);
	snprintf(path, sizeof(path), SPOOL_REJECT "/%s", name);
	if (open_reject(s) < 0 || renameat(s->dfd, name, s->dfd, path) < 0) {
		log_err("spool %s/%s: cannot move to %s/: %m (left in place)", s->dir, name,
			SPOOL_REJECT);
	} else {
		sync_dir(s, s->rfd, "/" SPOOL_REJECT);
		sync_dir(s, s->dfd, "");
		s->rejected_records += e.records;
	}
	s->peeked = false;
	index_remove(s, s->head);
}

const char *spool_dir(const struct spool *s)
{
	return s->dir;
}

uint64_t spool_bytes(const struct spool *s)
{
	return s->bytes;
}

size_t spool_count(struct spool *s)
{
	return listed(s) ? s->tail - s->head : 0;
}

uint64_t spool_records(const struct spool *s)
{
	return s->records;
}

uint64_t spool_dropped_batches(const struct spool *s)
{
	return s->dropped_batches;
}

uint64_t spool_dropped_records(const struct spool *s)
{
	return s->dropped_records;
}

uint64_t spool_rejected_records(const struct spool *s)
{
	return s->rejected_records;
}
