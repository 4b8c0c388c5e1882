/*
 * dynlib: libcurl and libgit2, loaded with dlopen() when first needed.
 *
 * DESIGN
 * Only the daemon's configuration download (src/io/fetch.c) and its
 * delivery (src/io/sender.c) use these two libraries; with their ~35
 * dependencies they were two thirds of the CPU of a `ping` or `--version`
 * (the dynamic loader maps and relocates them at every start).  So the
 * binary does not link them (no ELF NEEDED entry): dynlib_load() opens one
 * by the soname the build linked against (the -dev package's, from the
 * Makefile: TWAMP_LIBCURL_SONAME, TWAMP_LIBGIT2_SONAME) and fills its table
 * of function pointers, once per process (pthread_once, any thread).  The
 * headers are still used for types and constants, and every pointer is
 * declared with the type of the real prototype (__typeof__), so a mismatch
 * is a compile error.
 *
 * Call dynlib_load() before using a table (the load synchronises with the
 * filling); a failure (library missing, a function missing) is permanent for
 * the process and described by one line that names the library and its
 * Debian package, for the caller to report as a failed download or delivery.
 *
 * Test and debug knob: TWAMP_LIBCURL_PATH / TWAMP_LIBGIT2_PATH, when set
 * (and the process is not set-id), name the file to open instead of the
 * soname.
 */
#ifndef DYNLIB_H
#define DYNLIB_H

#include <curl/curl.h>
#include <git2.h>
#include <git2/sys/stream.h>

enum dynlib_lib { DYNLIB_CURL, DYNLIB_GIT2 };

/* 0 when lib is loaded (now or before); -1 with *why (static, one line) when it cannot be. */
int dynlib_load(enum dynlib_lib lib, const char **why);
/*
 * libcurl loaded and its global state set up (curl_global_init), counted
 * across every user in the process (the download and the delivery, on
 * their own threads); dynlib_curl_down() after each successful up, the last
 * one cleans up.  0, or -1 with *why.
 */
int dynlib_curl_up(const char **why);
void dynlib_curl_down(void);

/* The Debian package of a soname ("libgit2.so.1.5" -> "libgit2-1.5"), into buf. */
const char *dynlib_debian_package(const char *soname, char *buf, size_t cap);

/* The libcurl functions we call: curl_<name>. */
#define DYNLIB_CURL_FUNCS(X)                                                                 \
	X(global_init) X(global_cleanup) X(easy_init) X(easy_cleanup) X(easy_reset)           \
	X(easy_setopt) X(easy_getinfo) X(easy_perform) X(easy_strerror) X(slist_append)       \
	X(slist_free_all) X(multi_init) X(multi_cleanup) X(multi_add_handle)                  \
	X(multi_remove_handle) X(multi_perform) X(multi_poll) X(multi_info_read)              \
	X(multi_strerror)

/* The libgit2 functions we call: git_<name> (fetch.c's own git_* helpers are not here). */
#define DYNLIB_GIT2_FUNCS(X)                                                                 \
	X(libgit2_version) X(libgit2_init) X(libgit2_shutdown) X(stream_register) X(error_last) X(error_set)     \
	X(error_set_str) X(error_set_oom) X(credential_userpass_plaintext_new)                \
	X(credential_username_new) X(repository_open_ext) X(repository_is_bare)               \
	X(repository_free) X(repository_init) X(repository_config) X(repository_odb)          \
	X(repository_set_head_detached) X(config_set_bool) X(config_free) X(odb_read_header)  \
	X(odb_free) X(tree_lookup) X(tree_free) X(tree_entry_byname) X(tree_entry_filemode)   \
	X(tree_entry_id) X(commit_owner) X(commit_tree_id) X(commit_lookup) X(commit_free)    \
	X(blob_lookup) X(blob_rawsize) X(blob_rawcontent) X(blob_free)                        \
	X(remote_init_callbacks) X(fetch_options_init) X(remote_create_options_init)          \
	X(remote_create_with_opts) X(remote_connect) X(remote_ls) X(remote_default_branch)    \
	X(remote_disconnect) X(remote_download) X(remote_free) X(oid_cpy) X(oid_tostr)        \
	X(oid_equal) X(reference_create) X(reference_free) X(buf_dispose)

#define DYNLIB_FIELD_CURL(name) __typeof__(curl_##name) *(name);
#define DYNLIB_FIELD_GIT2(name) __typeof__(git_##name) *(name);

struct dynlib_curl {
	DYNLIB_CURL_FUNCS(DYNLIB_FIELD_CURL)
};

struct dynlib_git2 {
	DYNLIB_GIT2_FUNCS(DYNLIB_FIELD_GIT2)
};

/* Filled by dynlib_load(); read-only after it returned 0. */
extern struct dynlib_curl dl_curl;
extern struct dynlib_git2 dl_git;

/*
 * curl_easy_setopt and curl_easy_getinfo are variadic: libcurl reads the
 * value as the option's number says (curl.h's CURLOPTTYPE_* and CURLINFO_*
 * ranges), and a value of another type is undefined behaviour (an int or a
 * long for a curl_off_t on 32-bit).  These two check it at compile time:
 *   option < 10000 (CURLOPTTYPE_LONG):             a long
 *   10000..29999 (object, string, slist, function): a pointer
 *   30000..39999 (CURLOPTTYPE_OFF_T):              a curl_off_t
 *   40000.. (CURLOPTTYPE_BLOB):                    a pointer
 * and for getinfo a long *, curl_off_t *, double *, char ** or pointer.
 */
#define DYNLIB_IS_PTR(v) (__builtin_classify_type(v) == 5) /* GCC/clang: pointer_type_class */
#define DYNLIB_CURLOPT_OK(opt, val)                                                          \
	((opt) < CURLOPTTYPE_OBJECTPOINT ? _Generic((val), long: 1, default: 0)               \
	 : (opt) < CURLOPTTYPE_OFF_T	 ? DYNLIB_IS_PTR(val)                                  \
	 : (opt) < CURLOPTTYPE_BLOB	 ? _Generic((val), curl_off_t: 1, default: 0)          \
					 : DYNLIB_IS_PTR(val))
#define DYNLIB_CURLINFO_OK(info, p)                                                          \
	(((info) & CURLINFO_TYPEMASK) == CURLINFO_LONG	  ? _Generic((p), long *: 1, default: 0) \
	 : ((info) & CURLINFO_TYPEMASK) == CURLINFO_OFF_T  ? _Generic((p), curl_off_t *: 1, default: 0) \
	 : ((info) & CURLINFO_TYPEMASK) == CURLINFO_DOUBLE ? _Generic((p), double *: 1, default: 0) \
	 : ((info) & CURLINFO_TYPEMASK) == CURLINFO_STRING                                     \
		 ? _Generic((p), char **: 1, const char **: 1, default: 0)                      \
		 : DYNLIB_IS_PTR(p))
#define DYNLIB_STATIC_CHECK(cond, msg) ((void)sizeof(struct { _Static_assert(cond, msg); char c; }))

#define dl_curl_setopt(h, opt, val)                                                          \
	(DYNLIB_STATIC_CHECK(DYNLIB_CURLOPT_OK(opt, val),                                     \
			     "curl_easy_setopt: value of the wrong type for " #opt),              \
	 dl_curl.easy_setopt((h), (opt), (val)))
#define dl_curl_getinfo(h, info, p)                                                          \
	(DYNLIB_STATIC_CHECK(DYNLIB_CURLINFO_OK(info, p),                                     \
			     "curl_easy_getinfo: pointer of the wrong type for " #info),          \
	 dl_curl.easy_getinfo((h), (info), (p)))

#endif
