/*
 * Tests for spool.c: FIFO order (in memory and in the lexical order of the
 * file names), persistence over a reopen, the size bound with drop-oldest
 * and its counters, the reject folder, and what a read-only directory and a
 * full disk do (errors, never crashes; as root a small tmpfs is mounted for
 * that).  Ends with random operations checked against a simple model.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

static char base[64];
static char dir[128];
static bool mounted;

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static void setup_dir(void)
{
	snprintf(base, sizeof(base), "/tmp/test_spool.XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/spool/abc", base);
	log_set_level(LOGL_ERR);
}

static void teardown_dir(void)
{
	if (mounted) {
		umount2(base, MNT_DETACH);
		mounted = false;
	}
	rm_rf(base);
}

static void put_text(struct spool *s, const char *fmt, int i, uint32_t records)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), fmt, i);

	cr_assert_eq(spool_put(s, buf, (size_t)n, records), 0, "put %d", i);
}

/* Peek the oldest and compare it with fmt % i. */
static void expect_head(struct spool *s, const char *fmt, int i, uint32_t records)
{
	char want[128];
	void *data = NULL;
	size_t len = 0;
	uint32_t rec = 0;

	snprintf(want, sizeof(want), fmt, i);
	cr_assert_eq(spool_peek(s, &data, &len, &rec), 1, "nothing to peek, expected %s", want);
	cr_assert_eq(len, strlen(want));
	cr_assert_str_eq((char *)data, want);
	cr_assert_eq(rec, records);
	free(data);
}

static int count_files(const char *path, const char *suffix)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * A listing error on demand: this binary's readdir() stands in for libc's
 * (the executable's definition wins for spool.o too) and, while
 * readdir_fail_after >= 0, returns that many entries, then NULL with
 * readdir_errno -- as readdir() does with EOVERFLOW on a 32-bit off_t or EIO
 * on a failing card.  Under _FILE_OFFSET_BITS=64 (the Makefile's)
 * <dirent.h> renames readdir to readdir64, this definition included, so the
 * real one is looked up by that name (on 32-bit targets the other one is
 * the 32-bit off_t readdir).
 */
static int readdir_fail_after = -1;
static int readdir_errno;
static int readdir_faults;

struct dirent *readdir(DIR *d)
{
#if defined(_FILE_OFFSET_BITS) && _FILE_OFFSET_BITS == 64
	static const char real_name[] = "readdir64";
#else
	static const char real_name[] = "readdir";
#endif
	static struct dirent *(*real)(DIR *);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, real_name);
	if (readdir_fail_after == 0) {
		readdir_faults++;
		errno = readdir_errno;
		return NULL;
	}
	if (readdir_fail_after > 0)
		readdir_fail_after--;
	return real(d);
}

TestSuite(spool, .init = setup_dir, .fini = teardown_dir);

Test(spool, fifo_order_and_accounting)
{
	struct spool *s = spool_open(dir, 0);
	int i;

	cr_assert_not_null(s);
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(spool_peek(s, &(void *){ NULL }, &(size_t){ 0 }, NULL), 0);
	for (i = 0; i < 50; i++)
		put_text(s, "batch %04d", i, (uint32_t)i + 1);
	cr_assert_eq(spool_count(s), 50);
	cr_assert_eq(spool_bytes(s), 50 * 10);
	cr_assert_eq(spool_records(s), 50 * 51 / 2);
	cr_assert_eq(count_files(dir, ".batch"), 50);
	for (i = 0; i < 50; i++) {
		expect_head(s, "batch %04d", i, (uint32_t)i + 1);
		expect_head(s, "batch %04d", i, (uint32_t)i + 1);   /* peek does not consume */
		spool_pop(s);
	}
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(spool_bytes(s), 0);
	cr_assert_eq(spool_records(s), 0);
	cr_assert_eq(count_files(dir, ".batch"), 0);
	spool_pop(s);   /* empty: harmless */
	spool_reject(s);
	spool_close(s);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(spool, lexical_order_of_names_is_fifo_order)
{
	struct spool *s = spool_open(dir, 0);
	char *names[120];
	struct dirent *de;
	DIR *d;
	int i, n = 0;

	/* enough puts to cross digit-count boundaries of the sequence number */
	for (i = 0; i < 120; i++)
		put_text(s, "%d", i, 1);
	d = opendir(dir);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".batch"))
			names[n++] = strdup(de->d_name);
	closedir(d);
	cr_assert_eq(n, 120);
	qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		char path[512], buf[32] = { 0 }, want[32];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_RDONLY);
		cr_assert_geq(fd, 0);
		cr_assert_gt(read(fd, buf, sizeof(buf) - 1), 0);
		close(fd);
		snprintf(want, sizeof(want), "%d", i);
		cr_assert_str_eq(buf, want, "file %s", names[i]);
		free(names[i]);
	}
	spool_close(s);
}

Test(spool, survives_a_restart_and_removes_stale_temporaries)
{
	struct spool *s = spool_open(dir, 0);
	char path[512];
	int i, fd;

	for (i = 0; i < 10; i++)
		put_text(s, "b%d", i, 2);
	for (i = 0; i < 3; i++)
		spool_pop(s);
	spool_close(s);

	/* a crash in the middle of a write, and a file that is none of ours (set aside, not deleted) */
	snprintf(path, sizeof(path), "%s/00000000000000000099.tmp", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "half", 4), 4);
	close(fd);
	snprintf(path, sizeof(path), "%s/README", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);

	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	cr_assert_eq(spool_count(s), 7);
	cr_assert_eq(spool_records(s), 14);
	cr_assert_eq(count_files(dir, ".tmp"), 0);
	cr_assert_neq(access(path, F_OK), 0, "README left among the batches");
	snprintf(path, sizeof(path), "%s/reject/README", dir);
	cr_assert_eq(access(path, F_OK), 0, "README not kept in reject/");
	put_text(s, "b%d", 10, 2);   /* numbered after what is there */
	for (i = 3; i <= 10; i++) {
		expect_head(s, "b%d", i, 2);
		spool_pop(s);
	}
	cr_assert_eq(spool_count(s), 0);
	spool_close(s);
}

Test(spool, size_bound_drops_the_oldest_and_counts)
{
	struct spool *s = spool_open(dir, 1000);
	char buf[100];
	int i;

	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < 25; i++) {
		buf[0] = (char)('A' + i);
		cr_assert_eq(spool_put(s, buf, sizeof(buf), 3), 0);
		cr_assert_leq(spool_bytes(s), 1000);
	}
	cr_assert_eq(spool_count(s), 10);
	cr_assert_eq(spool_bytes(s), 1000);
	cr_assert_eq(spool_dropped_batches(s), 15);
	cr_assert_eq(spool_dropped_records(s), 45);
	cr_assert_eq(count_files(dir, ".batch"), 10);
	for (i = 15; i < 25; i++) {
		void *data;
		size_t len;

		cr_assert_eq(spool_peek(s, &data, &len, NULL), 1);
		cr_assert_eq(((char *)data)[0], 'A' + i, "the newest are kept");
		free(data);
		spool_pop(s);
	}
	/* alone larger than the bound: refused, nothing dropped for it */
	cr_assert_eq(spool_put(s, buf, 1001, 1), -1);
	cr_assert_eq(spool_dropped_batches(s), 15);
	spool_close(s);

	/* a smaller bound at the next start applies at once */
	s = spool_open(dir, 0);
	for (i = 0; i < 5; i++)
		cr_assert_eq(spool_put(s, buf, sizeof(buf), 1), 0);
	spool_close(s);
	s = spool_open(dir, 250);
	cr_assert_eq(spool_count(s), 2);
	cr_assert_eq(spool_dropped_batches(s), 3);
	spool_close(s);
}

Test(spool, the_batch_being_sent_is_not_dropped)
{
	struct spool *s = spool_open(dir, 300);
	int i;

	for (i = 0; i < 3; i++)
		put_text(s, "%099d", i, 1);
	expect_head(s, "%099d", 0, 1);      /* in flight */
	put_text(s, "%099d", 3, 1);         /* over the bound: #1 goes, not #0 */
	cr_assert_eq(spool_dropped_batches(s), 1);
	expect_head(s, "%099d", 0, 1);
	spool_pop(s);
	expect_head(s, "%099d", 2, 1);
	spool_pop(s);
	expect_head(s, "%099d", 3, 1);
	spool_pop(s);
	cr_assert_eq(spool_count(s), 0);

	/* once released (the attempt failed), the oldest may go again */
	for (i = 4; i < 7; i++)
		put_text(s, "%099d", i, 1);
	expect_head(s, "%099d", 4, 1);
	spool_release(s);
	put_text(s, "%099d", 7, 1);
	expect_head(s, "%099d", 5, 1);
	spool_close(s);
}

Test(spool, reject_folder)
{
	struct spool *s = spool_open(dir, 0);
	char rdir[256];

	snprintf(rdir, sizeof(rdir), "%s/reject", dir);
	put_text(s, "r%d", 0, 4);
	put_text(s, "r%d", 1, 5);
	expect_head(s, "r%d", 0, 4);
	spool_reject(s);
	cr_assert_eq(spool_count(s), 1);
	cr_assert_eq(spool_rejected_records(s), 4);
	cr_assert_eq(count_files(rdir, ".batch"), 1);
	cr_assert_eq(spool_put_reject(s, "direct", 6, 7), 0);
	cr_assert_eq(spool_rejected_records(s), 11);
	cr_assert_eq(count_files(rdir, ".batch"), 2);
	expect_head(s, "r%d", 1, 5);
	spool_close(s);

	/* after a restart: rejected records still counted, new names do not collide */
	rm_rf(rdir);
	s = spool_open(dir, 0);
	spool_close(s);
	s = spool_open(dir, 0);
	expect_head(s, "r%d", 1, 5);
	spool_reject(s);
	spool_close(s);
	s = spool_open(dir, 0);
	cr_assert_eq(spool_rejected_records(s), 5);
	cr_assert_eq(spool_count(s), 0);
	put_text(s, "r%d", 2, 1);
	expect_head(s, "r%d", 2, 1);
	spool_reject(s);
	cr_assert_eq(count_files(rdir, ".batch"), 2);
	spool_close(s);
	s = spool_open(dir, 0);
	cr_assert_eq(spool_rejected_records(s), 6);
	spool_close(s);
}

Test(spool, a_vanished_file_is_skipped)
{
	struct spool *s = spool_open(dir, 0);
	struct dirent *de;
	char path[512];
	DIR *d;

	put_text(s, "v%d", 0, 1);
	put_text(s, "v%d", 1, 1);
	d = opendir(dir);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "00000000000000000001-", 21) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			cr_assert_eq(unlink(path), 0);
		}
	closedir(d);
	expect_head(s, "v%d", 1, 1);
	cr_assert_eq(spool_count(s), 1);
	spool_close(s);
}

/*
 * A listing that fails part-way (EOVERFLOW, as with a 32-bit off_t) is an
 * error: logged with the path, no batch offered nor written -- never an
 * empty spool -- and the batches replay, in order, from the next listing
 * that works (retried at most once a second).
 */
Test(spool, a_listing_error_is_an_error_and_retried, .timeout = 20)
{
	struct spool *s = spool_open(dir, 0);
	char logpath[300], logbuf[4096] = "";
	void *data = NULL;
	size_t len;
	int saved, fd;
	ssize_t n;

	cr_assert_not_null(s);
	for (int i = 0; i < 3; i++)
		put_text(s, "b%d", i, (uint32_t)i + 1);
	spool_close(s);

	/* the third entry fails (., .. and the batches come in any order) */
	snprintf(logpath, sizeof(logpath), "%s/log", base);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	readdir_fail_after = 2;
	readdir_errno = EOVERFLOW;
	s = spool_open(dir, 0);
	cr_assert_not_null(s, "a listing error is not a reason to run without a spool");
	cr_assert_eq(readdir_faults, 1, "the listing met the fault");
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(spool_peek(s, &data, &len, NULL), -1, "unlisted: an error, not an empty spool");
	cr_assert_eq(spool_put(s, "new", 3, 1), -1, "nothing written into an unlisted directory");
	cr_assert_eq(spool_journal_append(s, "j\n", 2), -1);
	readdir_fail_after = -1;   /* count_files lists too */
	dup2(saved, 2);
	close(saved);
	close(fd);
	fd = open(logpath, O_RDONLY);
	n = read(fd, logbuf, sizeof(logbuf) - 1);
	close(fd);
	logbuf[n > 0 ? n : 0] = '\0';
	cr_assert(strstr(logbuf, dir) && strstr(logbuf, "cannot list") &&
		  strstr(logbuf, strerror(EOVERFLOW)), "log: %s", logbuf);
	/* the batches are all still there, none set aside */
	cr_assert_eq(count_files(dir, ".batch"), 3);
	cr_assert_leq(count_files(dir, ".journal"), 0);

	/* the fault stays: a retry a second later fails again, and says so no more often than once a minute */
	sleep(1);
	readdir_fail_after = 0;
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(readdir_faults, 2, "retried after a second");
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(readdir_faults, 2, "not more often");

	/* the fault gone: the next retry lists the three batches, in order */
	readdir_fail_after = -1;
	usleep(1100 * 1000);
	cr_assert_eq(spool_count(s), 3);
	cr_assert_eq(spool_records(s), 6);
	expect_head(s, "b%d", 0, 1);
	spool_pop(s);
	put_text(s, "b%d", 3, 4);   /* numbered after the others */
	expect_head(s, "b%d", 1, 2);
	spool_pop(s);
	expect_head(s, "b%d", 2, 3);
	spool_pop(s);
	expect_head(s, "b%d", 3, 4);
	spool_pop(s);
	cr_assert_eq(spool_count(s), 0);
	spool_close(s);
}

/* The reject folder's listing counts too: its names hold sequence numbers a new batch must not reuse. */
Test(spool, a_reject_folder_listing_error_is_an_error)
{
	struct spool *s = spool_open(dir, 0);

	put_text(s, "r%d", 0, 1);
	spool_reject(s);
	put_text(s, "r%d", 1, 1);
	spool_close(s);
	/* DIR: ., .., reject, one batch; then reject/: the fault in the latter */
	readdir_fail_after = 6;
	readdir_errno = EIO;
	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	cr_assert_eq(readdir_faults, 1);
	cr_assert_eq(spool_peek(s, &(void *){ NULL }, &(size_t){ 0 }, NULL), -1);
	cr_assert_eq(spool_put(s, "x", 1, 1), -1);
	readdir_fail_after = -1;
	cr_assert_eq(count_files(dir, ".batch"), 1);
	spool_close(s);
	s = spool_open(dir, 0);
	expect_head(s, "r%d", 1, 1);
	cr_assert_eq(spool_rejected_records(s), 1);
	spool_close(s);
}

Test(spool, an_unreadable_batch_gives_an_error)
{
	struct spool *s = spool_open(dir, 0);
	struct dirent *de;
	char path[512];
	void *data;
	size_t len;
	DIR *d;

	put_text(s, "u%d", 0, 1);
	d = opendir(dir);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".batch")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			cr_assert_eq(unlink(path), 0);
			cr_assert_eq(mkdir(path, 0700), 0);
		}
	closedir(d);
	cr_assert_eq(spool_peek(s, &data, &len, NULL), -1);
	cr_assert_eq(spool_count(s), 1);
	spool_reject(s);   /* set aside */
	cr_assert_eq(spool_count(s), 0);
	spool_close(s);
}

/* Criterion does not run .fini after a skip: clean up first. */
#define skip_test(...)                       \
	do {                                 \
		teardown_dir();              \
		cr_skip_test(__VA_ARGS__);   \
	} while (0)

static bool mount_tmpfs(const char *opts)
{
	if (geteuid() != 0)
		return false;
	if (mount("tmpfs", base, "tmpfs", 0, opts) < 0) {
		cr_log_info("mount tmpfs: %s", strerror(errno));
		return false;
	}
	mounted = true;
	return true;
}

Test(spool, read_only_directory_gives_errors)
{
	struct spool *s;
	char sub[256];

	if (geteuid() == 0) {
		if (!mount_tmpfs("size=64k"))
			skip_test("cannot mount a tmpfs");
		s = spool_open(dir, 0);
		cr_assert_not_null(s);
		put_text(s, "ro%d", 0, 1);
		cr_assert_eq(mount("tmpfs", base, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64k"), 0,
			     "remount ro: %s", strerror(errno));
	} else {
		s = spool_open(dir, 0);
		cr_assert_not_null(s);
		put_text(s, "ro%d", 0, 1);
		cr_assert_eq(chmod(dir, 0500), 0);
	}
	cr_assert_eq(spool_put(s, "x", 1, 1), -1);
	cr_assert_eq(spool_put_reject(s, "x", 1, 1), -1);
	cr_assert_eq(spool_count(s), 1);
	cr_assert_eq(spool_bytes(s), 3);
	expect_head(s, "ro%d", 0, 1);          /* what is there can still be read */
	spool_reject(s);                       /* cannot move: logged, forgotten */
	cr_assert_eq(spool_count(s), 0);
	spool_close(s);

	/* reopening still works (the batch is there again); a new subdirectory cannot be made */
	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	cr_assert_eq(spool_count(s), 1);
	spool_close(s);
	snprintf(sub, sizeof(sub), "%s/new", dir);
	cr_assert_null(spool_open(sub, 0));
	if (!mounted)
		chmod(dir, 0700);
}

Test(spool, full_disk_gives_errors)
{
	struct spool *s;
	char *buf;
	int i, ok = 0;

	if (geteuid() != 0)
		skip_test("needs root to mount a small tmpfs");
	if (!mount_tmpfs("size=64k"))
		skip_test("cannot mount a tmpfs");
	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	buf = malloc(10000);
	memset(buf, 'f', 10000);
	for (i = 0; i < 20; i++) {
		if (spool_put(s, buf, 10000, 1) == 0)
			ok++;
		else
			break;
	}
	cr_assert_lt(i, 20, "a 64 KiB tmpfs took 200 kB");
	cr_assert_gt(ok, 0);
	cr_assert_eq(spool_count(s), (size_t)ok);
	cr_assert_eq(count_files(dir, ".tmp"), 0, "temporary left behind");
	cr_assert_eq(count_files(dir, ".batch"), ok);
	cr_assert_eq(spool_put(s, buf, 10000, 1), -1, "still full");
	/* delivering one makes room again */
	{
		void *data;
		size_t len;

		cr_assert_eq(spool_peek(s, &data, &len, NULL), 1);
		cr_assert_eq(len, 10000);
		free(data);
	}
	spool_pop(s);
	cr_assert_eq(spool_put(s, buf, 10000, 1), 0);
	free(buf);
	spool_close(s);
}

/* Random operations against a model: a list of (id, size, records) with the same bound. */
struct model_entry {
	int id;
	size_t size;
	uint32_t records;
};

Test(spool, random_operations_match_a_model)
{
	struct model_entry m[512];
	size_t mn = 0, i;
	uint64_t max = 2000, bytes, dropped = 0;
	bool peeked = false;
	unsigned seed = 7;
	struct spool *s = spool_open(dir, max);
	int op, next_id = 0;
	char buf[400];

	for (op = 0; op < 1500; op++) {
		int what = rand_r(&seed) % 10;

		if (what < 5) {
			size_t size = 12 + (size_t)(rand_r(&seed) % 300);
			uint32_t rec = (uint32_t)(rand_r(&seed) % 9);

			memset(buf, '.', size);
			snprintf(buf, sizeof(buf), "%08d", next_id);
			buf[8] = '.';
			cr_assert_eq(spool_put(s, buf, size, rec), 0);
			m[mn++] = (struct model_entry){ next_id++, size, rec };
			/* model: drop the oldest (not a peeked head, not the new one) while over */
			for (bytes = 0, i = 0; i < mn; i++)
				bytes += m[i].size;
			while (bytes > max) {
				size_t k = peeked ? 1 : 0;

				if (k >= mn - 1)
					break;
				bytes -= m[k].size;
				dropped++;
				memmove(&m[k], &m[k + 1], (mn - k - 1) * sizeof(m[0]));
				mn--;
			}
		} else if (what < 7) {
			void *data;
			size_t len;
			uint32_t rec;
			int rc = spool_peek(s, &data, &len, &rec);

			cr_assert_eq(rc, mn ? 1 : 0);
			if (rc == 1) {
				char want[16];

				snprintf(want, sizeof(want), "%08d", m[0].id);
				cr_assert_eq(strncmp(data, want, 8), 0, "head %.8s, model %s", (char *)data,
					     want);
				cr_assert_eq(len, m[0].size);
				cr_assert_eq(rec, m[0].records);
				free(data);
				peeked = true;
			}
		} else if (what < 9) {
			if (what == 7)
				spool_pop(s);
			else
				spool_reject(s);
			if (mn) {
				memmove(&m[0], &m[1], (mn - 1) * sizeof(m[0]));
				mn--;
			}
			peeked = false;
		} else {
			spool_close(s);
			s = spool_open(dir, max);
			cr_assert_not_null(s);
			peeked = false;
			/* counters restart; the bound applies at once (a peeked batch may have exceeded it) */
			dropped = 0;
			for (bytes = 0, i = 0; i < mn; i++)
				bytes += m[i].size;
			while (bytes > max && mn) {
				bytes -= m[0].size;
				memmove(&m[0], &m[1], (mn - 1) * sizeof(m[0]));
				mn--;
				dropped++;
			}
		}
		for (bytes = 0, i = 0; i < mn; i++)
			bytes += m[i].size;
		cr_assert_eq(spool_count(s), mn, "op %d", op);
		cr_assert_eq(spool_bytes(s), bytes, "op %d", op);
		cr_assert_eq(spool_dropped_batches(s), dropped, "op %d", op);
	}
	spool_close(s);
}

/* ---- issue 13: only the names the spool writes; everything else to reject/ ---- */

static void plant(const char *name, const char *text)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* lstat of DIR/sub/name: its type (S_IFMT bits), 0 when absent. */
static mode_t kind_at(const char *sub, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s/%s", dir, sub, name);
	return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0;
}

Test(spool, names_it_did_not_write_are_moved_to_reject_and_real_batches_replay)
{
	static const char *const stray[] = {
		"00000000000000000005.batch",            /* no record count: never replayable */
		"00000000000000000006-007.batch",        /* leading zeros */
		"00000000000000000007-4294967295.batch", /* inflates the counters */
		"00000000000000000008-+1.batch",
		"00000000000000000009--1.batch",
		"000000000000000000010-1.batch",         /* 21 digits */
		"0000000000000000011-1.batch",           /* 19 digits */
		"+0000000000000000012-1.batch",
		"99999999999999999999-1.batch",          /* above UINT64_MAX */
		"18446744073709551599-1.batch",          /* above the sequence limit */
		"00000000000000000000-1.batch",          /* sequence 0 is never written */
		"00000000000000000013-1.batch.bak",
		"00000000000000000014-1.BATCH",
		"00000000000000000015-1000001.batch",    /* above SPOOL_RECORDS_MAX */
		"README",
		".hidden",
	};
	char outside[256], path[512], buf[64];
	struct spool *s = spool_open(dir, 0);
	size_t i;
	int fd;

	cr_assert_not_null(s);
	put_text(s, "real%d", 0, 2);
	put_text(s, "real%d", 1, 3);
	spool_close(s);
	for (i = 0; i < sizeof(stray) / sizeof(stray[0]); i++)
		plant(stray[i], "stray");
	/* the same name twice: the second one must not overwrite the first in reject/ */
	cr_assert_eq(mkdir(dir, 0700) < 0 && errno == EEXIST, 1);
	snprintf(path, sizeof(path), "%s/reject", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/reject/README", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "earlier", 7), 7);
	close(fd);
	/* rejected batches with a bad count in reject/ must not count either */
	snprintf(path, sizeof(path), "%s/reject/00000000000000000030-4294967295.batch", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	snprintf(path, sizeof(path), "%s/reject/00000000000000000031-4.batch", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));

	/* hostile entries with a valid name: a symlink to a file outside, a directory, a FIFO */
	snprintf(outside, sizeof(outside), "%s/outside", base);
	fd = open(outside, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "keep me", 7), 7);
	close(fd);
	snprintf(path, sizeof(path), "%s/00000000000000000016-3.batch", dir);
	cr_assert_eq(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/00000000000000000017.tmp", dir);
	cr_assert_eq(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/00000000000000000018-1.batch", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/00000000000000000019-1.batch", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/link-to-base", dir);
	cr_assert_eq(symlink(base, path), 0);

	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	cr_assert_eq(spool_count(s), 2, "only the two real batches are queued");
	cr_assert_eq(spool_records(s), 5);
	cr_assert_eq(spool_bytes(s), 10);
	cr_assert_eq(spool_rejected_records(s), 4, "only reject/...31-4.batch counts");
	for (i = 0; i < sizeof(stray) / sizeof(stray[0]); i++) {
		cr_assert_eq(kind_at("", stray[i]), 0, "%s left in the spool", stray[i]);
		cr_assert_eq(kind_at("/reject", strcmp(stray[i], "README") ? stray[i] : "README.1"),
			     S_IFREG, "%s not in reject/", stray[i]);
	}
	snprintf(path, sizeof(path), "%s/reject/README", dir);
	fd = open(path, O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 7, "reject/README overwritten");
	close(fd);
	cr_assert_eq(kind_at("/reject", "00000000000000000016-3.batch"), S_IFLNK);
	cr_assert_eq(kind_at("/reject", "00000000000000000017.tmp"), S_IFLNK);
	cr_assert_eq(kind_at("/reject", "00000000000000000018-1.batch"), S_IFDIR);
	cr_assert_eq(kind_at("/reject", "00000000000000000019-1.batch"), S_IFIFO);
	cr_assert_eq(kind_at("/reject", "link-to-base"), S_IFLNK);
	cr_assert_eq(kind_at("", "00000000000000000016-3.batch"), 0);
	/* nothing was followed: the target outside is untouched and nothing landed in base */
	fd = open(outside, O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 7);
	cr_assert_eq(memcmp(buf, "keep me", 7), 0);
	close(fd);
	cr_assert_eq(count_files(base, ".batch"), 0);

	/* the real batches still replay, in order, and new ones are numbered after them */
	expect_head(s, "real%d", 0, 2);
	spool_pop(s);
	put_text(s, "real%d", 2, 1);
	spool_close(s);
	s = spool_open(dir, 0);
	cr_assert_eq(spool_count(s), 2);
	cr_assert_eq(spool_records(s), 4);
	expect_head(s, "real%d", 1, 3);
	spool_pop(s);
	expect_head(s, "real%d", 2, 1);
	spool_pop(s);
	cr_assert_eq(spool_count(s), 0);
	cr_assert_eq(count_files(dir, ".batch"), 0);
	spool_close(s);
}

Test(spool, a_symlink_named_reject_is_not_followed)
{
	char outdir[256], path[512];
	struct spool *s;

	snprintf(outdir, sizeof(outdir), "%s/elsewhere", base);
	cr_assert_eq(mkdir(outdir, 0700), 0);
	s = spool_open(dir, 0);
	spool_close(s);
	snprintf(path, sizeof(path), "%s/reject", dir);
	cr_assert_eq(symlink(outdir, path), 0);
	plant("README", "stray");
	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	put_text(s, "x%d", 0, 1);
	cr_assert_eq(spool_put_reject(s, "y", 1, 1), -1, "wrote through the symlink");
	expect_head(s, "x%d", 0, 1);
	spool_reject(s);
	spool_close(s);
	cr_assert_eq(rmdir(outdir), 0, "the symlink's target is not empty: %s", strerror(errno));
}

/* The open batch's journal: appended, sealed into the newest batch behind the older ones. */
Test(spool, journal_seals_into_the_newest_batch)
{
	struct spool *s = spool_open(dir, 0);

	cr_assert_not_null(s);
	put_text(s, "old %d", 1, 1);
	cr_assert_eq(spool_journal_append(s, "[{\"a\":1}\n", 9), 0);
	cr_assert_eq(spool_journal_append(s, ",{\"a\":2}\n", 9), 0);
	cr_assert_eq(count_files(dir, ".journal"), 1);
	cr_assert_eq(spool_count(s), 1, "an open batch is not queued");
	cr_assert_eq(spool_journal_seal(s, "]", 1, 2), 0);
	cr_assert_eq(count_files(dir, ".journal"), 0);
	cr_assert_eq(spool_count(s), 2);
	cr_assert_eq(spool_records(s), 3);
	expect_head(s, "old %d", 1, 1);
	spool_pop(s);
	{
		void *data = NULL;
		size_t len = 0;
		uint32_t rec = 0;

		cr_assert_eq(spool_peek(s, &data, &len, &rec), 1);
		cr_assert_str_eq((char *)data, "[{\"a\":1}\n,{\"a\":2}\n]");
		cr_assert_eq(rec, 2);
		free(data);
	}
	spool_close(s);
}

/*
 * A journal left by a kill -9 (the process never sealed it), with a record
 * torn by the kill: spool_open keeps the complete records as the newest
 * batch, closes the JSON array, and counts them; an empty one is removed.
 */
static void recover(const char *journal, const char *want, uint32_t records)
{
	char path[256];
	struct spool *s;
	FILE *f;

	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	put_text(s, "old %d", 7, 1);
	spool_close(s);
	snprintf(path, sizeof(path), "%s/open.journal", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(journal, f);
	fclose(f);

	s = spool_open(dir, 0);
	cr_assert_not_null(s);
	cr_assert_eq(count_files(dir, ".journal"), 0);
	cr_assert_eq(spool_count(s), want ? 2 : 1);
	cr_assert_eq(spool_records(s), 1 + records);
	expect_head(s, "old %d", 7, 1);
	spool_pop(s);
	if (want) {
		void *data = NULL;
		size_t len = 0;
		uint32_t rec = 0;

		cr_assert_eq(spool_peek(s, &data, &len, &rec), 1);
		cr_assert_str_eq((char *)data, want);
		cr_assert_eq(len, strlen(want));
		cr_assert_eq(rec, records);
		free(data);
		spool_pop(s);
	}
	/* a new batch after the recovered one: sequence numbers never collide */
	put_text(s, "new %d", 8, 1);
	expect_head(s, "new %d", 8, 1);
	spool_close(s);
}

Test(spool, journal_of_a_killed_process_is_recovered_json)
{
	recover("[{\"a\":1}\n,{\"a\":2}\n,{\"a\":", "[{\"a\":1}\n,{\"a\":2}\n]", 2);
}

Test(spool, journal_of_a_killed_process_is_recovered_influx)
{
	recover("m a=1i 1\nm a=2i 2\nm a=3i 3\nm a=", "m a=1i 1\nm a=2i 2\nm a=3i 3\n", 3);
}

Test(spool, an_empty_or_torn_only_journal_is_removed)
{
	recover("[{\"a\":", NULL, 0);
}

/*
 * A journal already there when the first record of a run is appended (an
 * earlier run's, its recovery failed at open): never truncated, nor opened if
 * it is a FIFO (that would block the sender thread for good).  Its records
 * become a batch; what cannot be recovered goes to reject/.
 */
Test(spool, an_existing_journal_is_recovered_not_truncated, .timeout = 20)
{
	char path[256];
	struct spool *s = spool_open(dir, 0);
	void *data = NULL;
	size_t len = 0;
	uint32_t rec = 0;
	FILE *f;

	cr_assert_not_null(s);
	snprintf(path, sizeof(path), "%s/open.journal", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("[{\"old\":1}\n,{\"old\":2}\n", f);
	fclose(f);
	cr_assert_eq(spool_journal_append(s, "[{\"a\":1}\n", 9), 0);
	cr_assert_eq(spool_count(s), 1, "the earlier journal was not recovered");
	cr_assert_eq(spool_records(s), 2);
	cr_assert_eq(spool_peek(s, &data, &len, &rec), 1);
	cr_assert_str_eq((char *)data, "[{\"old\":1}\n,{\"old\":2}\n]");
	cr_assert_eq(rec, 2);
	free(data);
	spool_pop(s);
	cr_assert_eq(spool_journal_seal(s, "]", 1, 1), 0);
	cr_assert_eq(spool_peek(s, &data, &len, &rec), 1);
	cr_assert_str_eq((char *)data, "[{\"a\":1}\n]");
	free(data);
	spool_pop(s);

	/* a FIFO in its place: set aside, a new journal written */
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(spool_journal_append(s, "[{\"b\":1}\n", 9), 0);
	cr_assert_eq(kind_at("/reject", "open.journal"), S_IFIFO);
	cr_assert_eq(spool_journal_seal(s, "]", 1, 1), 0);
	cr_assert_eq(spool_peek(s, &data, &len, &rec), 1);
	cr_assert_str_eq((char *)data, "[{\"b\":1}\n]");
	free(data);
	spool_close(s);
}
