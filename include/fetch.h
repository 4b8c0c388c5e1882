/*
 * fetch: download the probe's configuration files from the central side
 * (ConfigSource: web with libcurl, git with libgit2), validate them with
 * config_load() and install them atomically into the data directory.
 *
 * DESIGN
 * Runs on the daemon's config thread and blocks (bounded by timeouts).  One
 * struct fetch per data directory, used by one thread at a time; it owns
 * DIR/.incoming/ (staging, removed after every run), DIR/repo/ (the bare
 * git clone) and DIR/config.old/ (the previous files).  Separate instances may
 * run on separate threads: the only process-wide state is the libgit2 and
 * libcurl global initialisation (each library loaded by dynlib and
 * initialised at an instance's first run that needs it, reference-counted,
 * released by fetch_free; a library that cannot be loaded fails the run)
 * and a libgit2 socket-stream registration (timeouts, see below) that reads
 * its limits from thread-local storage set by fetch_run().
 *
 * One run:
 *   1. get every file of the generation from the source into memory:
 *        generation 1: twamp_global_config.json, twamp_targets_list.json
 *        generation 2: global_config.json, targets_list.json and,
 *                      optionally, local_config.json (a 404 / a missing file
 *                      in the repository keeps the installed one);
 *   2. if every file is byte-for-byte the installed one: FETCH_UNCHANGED,
 *      nothing written (this also covers a 304 and a new git commit that did
 *      not touch this probe's files);
 *   3. stage them in DIR/.incoming/ (fsynced) and validate that directory
 *      with config_load(), the code behind `twamp-client check-config`;
 *   4. install: the previous files are copied into DIR/config.old/ (temp,
 *      fsync, rename), then each staged file is renamed over its live name
 *      (targets first, global last) and DIR is fsynced.  Live names are only
 *      ever touched by rename(2): a kill at any moment leaves each file
 *      either wholly old or wholly new, never half-written.  A leftover
 *      .incoming/ is removed by the next run.
 * Any failure leaves DIR's configuration files untouched and returns
 * FETCH_FAILED with one line in err (URL without its password, file, key,
 * reason).  fetch_run() itself logs nothing but the ConfigInsecure warning
 * (once per instance and URL) and debug lines: the caller logs err.
 *
 * web: GET <ConfigURL>/<file> per file, HTTP Basic from ConfigUser /
 * ConfigPassword (or user:password@ in the URL), TLS verified
 * (ConfigCAFile replaces the system CAs; ConfigInsecure disables checks),
 * connect timeout 10 s, 60 s per request, 16 MiB per file, at most 5
 * redirects (credentials are not sent to another host), http/https only.
 * Conditional GET: after an install the ETag and Last-Modified of each file
 * are remembered (in memory) with a hash of the installed content; the next
 * run sends If-None-Match / If-Modified-Since only while the installed file
 * still has that hash, and a 304 reuses the installed copy.  Status >= 400
 * fails, except 404 for local_config.json.
 *
 * git: DIR/repo is a bare repository (no work tree) created on the first
 * run; every run asks the remote for its refs, fetches
 * +refs/heads/<branch> (ConfigBranch, else the remote HEAD) through an
 * anonymous remote (credentials are never written into DIR/repo/config),
 * and points HEAD (detached) at the remote commit, so force-pushes are
 * followed.  A branch missing on the remote is a clear failure.  Nothing of
 * the commit's tree is ever written to disk: the files are read as blobs
 * from the tree at ConfigPath, walked one component at a time, so no
 * symlink, directory or file count in a repository can write outside DIR
 * or fill it.  Each file must be a regular blob (a symlink, a submodule or
 * a directory is refused, naming the path) of at most 16 MiB, checked from
 * the object header before the blob is inflated; each tree on the way is
 * at most 16 MiB; a fetch transfers at most 256 MiB.  A refused file fails
 * the run and the installed files stay.  A DIR/repo with a work tree (made
 * by older versions, which hard-reset one) is removed, without following
 * its symlinks, and cloned again bare.  When the remote commit is the one
 * installed last and the installed files are unchanged, nothing is
 * downloaded.
 * Credentials: user:password@ in the URL (libgit2 presents them first), else
 * ConfigUser/ConfigPassword, through a callback that gives up after 3
 * attempts, so a wrong password fails fast.  Transports: https, http,
 * git://, file:// (and local paths).  ssh (ssh://, user@host:path) is
 * refused with a clear error: ConfigSource has no key-file key, libgit2 1.5
 * checks no known_hosts, and libssh2 waits on its socket without a timeout,
 * so a silent server would block the config thread for good.  TLS: libgit2's
 * verification against the system CAs; with ConfigCAFile the server
 * certificate is verified here with OpenSSL against that file (the file may
 * hold the root and any intermediates: each is a trust anchor) and the host
 * name; ConfigInsecure accepts any certificate.
 * libgit2 1.5 has no network timeouts of its own, so fetch registers a
 * socket stream (GIT_STREAM_STANDARD, also under TLS) with the same connect
 * timeout, a per-read/write idle timeout of 60 s and a whole-run deadline
 * of 300 s; its struct keeps libgit2 1.5's git_socket_stream layout, which
 * the ssh transport reads.
 *
 * {probe} in ConfigURL or ConfigPath becomes the probe name, so one server
 * or repository serves every probe its own files.  In URLs the name is
 * percent-encoded (bytes other than A-Z a-z 0-9 - . _ ~); in ConfigPath a
 * name containing '/', or equal to "." or "..", is refused.
 *
 * Test hook: TWAMP_FETCH_TIMEOUT_MS, read by fetch_new(), replaces the 60 s
 * per-request (web) and idle (git) timeout; the connect timeout becomes at
 * most that value and the git deadline five times it.
 */
#ifndef FETCH_H
#define FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define FETCH_MAX_FILE (16u << 20)         /* bytes per configuration file */
#define FETCH_MAX_TREE (16u << 20)         /* git: bytes of a tree object on ConfigPath */
#define FETCH_MAX_GIT_TRANSFER (256u << 20) /* bytes received per git fetch */
#define FETCH_MAX_REDIRS 5
#define FETCH_CONNECT_TIMEOUT_MS 10000
#define FETCH_TIMEOUT_MS 60000              /* web: per request; git: idle */
#define FETCH_GIT_DEADLINE_FACTOR 5         /* git: whole run = 5 x FETCH_TIMEOUT_MS */
#define FETCH_CRED_ATTEMPTS 3

struct fetch;

enum fetch_result {
	FETCH_UPDATED,     /* new files installed in DIR: reload */
	FETCH_UNCHANGED,   /* the source has exactly the installed files */
	FETCH_FAILED,      /* nothing changed in DIR; err says why */
	FETCH_NONE,        /* no ConfigSource (no method or URL): nothing to do */
};

/*
 * dir: the daemon's data directory (copied).  Initialises libgit2 and
 * libcurl (reference-counted).  NULL on error (logged).
 */
struct fetch *fetch_new(const char *dir);
void fetch_free(struct fetch *f);

/*
 * One download, validation and install (see above).  generation: 1 or 2.
 * probe_name: replaces {probe} (may be NULL when neither ConfigURL nor
 * ConfigPath uses it).  err: one line, always NUL-terminated ("" unless
 * FETCH_FAILED).  Blocks for at most the timeouts above.
 */
enum fetch_result fetch_run(struct fetch *f, const struct config_source *src, int generation,
			    const char *probe_name, char *err, size_t errlen);

const char *fetch_result_name(enum fetch_result r);

/* ------------------------------------------------------------------
 * Pure helpers, exposed for tests.  Each returns a malloc'ed string, or
 * NULL (out of memory, or the reason in err for fetch_expand).
 */

/*
 * tmpl with every "{probe}" replaced by probe.  url: percent-encode the
 * name; else (a path) refuse a name with '/', a control character, or "."
 * / "..".  A template without {probe} is returned as is, probe unused.
 */
char *fetch_expand(const char *tmpl, const char *probe, bool url, char *err, size_t errlen);

/* base + "/" + name, before any ?query or #fragment of base; one slash. */
char *fetch_url_join(const char *base, const char *name);

/* url_redact(url) (include/url.h): credentials in the userinfo and the query hidden. */
char *fetch_url_redact(const char *url);

/*
 * user and password of scheme://user:password@host/..., percent-decoded.
 * 0 with *user / *password malloc'ed (NULL when absent), -1 out of memory.
 */
int fetch_url_userinfo(const char *url, char **user, char **password);

#endif
