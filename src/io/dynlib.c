/*
 * dynlib: libcurl and libgit2 opened at run time (see include/dynlib.h).
 */
#include "dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The sonames come from the build (Makefile: scripts/soname.sh on the -dev
 * package's libcurl.so / libgit2.so).  A compile without them (static
 * analysis, fuzzing: nothing there loads a library) gets an empty name,
 * which dynlib_load() reports instead of guessing one.
 */
#ifndef TWAMP_LIBCURL_SONAME
#define TWAMP_LIBCURL_SONAME ""
#else
_Static_assert(sizeof(TWAMP_LIBCURL_SONAME) > 1,
	       "scripts/soname.sh found no libcurl.so: install libcurl4-openssl-dev");
#endif
#ifndef TWAMP_LIBGIT2_SONAME
#define TWAMP_LIBGIT2_SONAME ""
#else
_Static_assert(sizeof(TWAMP_LIBGIT2_SONAME) > 1,
	       "scripts/soname.sh found no libgit2.so: install libgit2-dev");
#endif

struct dynlib_curl dl_curl;
struct dynlib_git2 dl_git;

struct lib {
	const char *soname, *env, *what;
	pthread_once_t once;
	int rc;
	char why[512];
};

static struct lib libs[] = {
	[DYNLIB_CURL] = { TWAMP_LIBCURL_SONAME, "TWAMP_LIBCURL_PATH", "libcurl", PTHREAD_ONCE_INIT, 0, "" },
	[DYNLIB_GIT2] = { TWAMP_LIBGIT2_SONAME, "TWAMP_LIBGIT2_PATH", "libgit2", PTHREAD_ONCE_INIT, 0, "" },
};

const char *dynlib_debian_package(const char *soname, char *buf, size_t cap)
{
	const char *so = strstr(soname, ".so.");
	size_t n;

	if (!so) {
		snprintf(buf, cap, "%s", soname);
		return buf;
	}
	/* Debian's library packages: name + soversion, a '-' between two digits */
	n = (size_t)(so - soname);
	snprintf(buf, cap, "%.*s%s%s", (int)n, soname,
		 n && soname[n - 1] >= '0' && soname[n - 1] <= '9' ? "-" : "", so + 4);
	return buf;
}

/* The library of l, opened; NULL with l->why set. */
static void *open_lib(struct lib *l, const char **file)
{
	const char *over = secure_getenv(l->env);
	char pkg[128];
	void *h;

	*file = over && *over ? over : l->soname;
	if (!**file) {
		snprintf(l->why, sizeof(l->why), "cannot load %s: this build did not record its soname",
			 l->what);
		return NULL;
	}
	dlerror();
	h = dlopen(*file, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();

		snprintf(l->why, sizeof(l->why), "cannot load %s (%s%sDebian package %s): %s", *file,
			 *file == over ? l->env : "", *file == over ? "; " : "",
			 dynlib_debian_package(l->soname, pkg, sizeof(pkg)), e ? e : "unknown error");
	}
	return h;
}

/* name from h, or NULL (l->rc -1, l->why set: the first missing one is named). */
static void *sym(struct lib *l, void *h, const char *file, const char *name)
{
	char pkg[128];
	void *p;

	if (l->rc < 0)
		return NULL;
	dlerror();
	p = dlsym(h, name);
	if (!p) {
		const char *e = dlerror();

		snprintf(l->why, sizeof(l->why), "%s (Debian package %s) has no %s: %s", file,
			 dynlib_debian_package(l->soname, pkg, sizeof(pkg)), name, e ? e : "null symbol");
		l->rc = -1;
	}
	return p;
}

/* Each slot converted from dlsym's void * to its own type (POSIX allows the conversion). */
#define DYNLIB_GET_CURL(n) dl_curl.n = (__typeof__(dl_curl.n))sym(l, h, file, "curl_" #n);
#define DYNLIB_GET_GIT2(n) dl_git.n = (__typeof__(dl_git.n))sym(l, h, file, "git_" #n);

/* A library loaded whole is never unloaded: its handle stays open for the process. */
static void load_curl(void)
{
	struct lib *l = &libs[DYNLIB_CURL];
	const char *file;
	void *h = open_lib(l, &file);

	if (!h) {
		l->rc = -1;
		return;
	}
	DYNLIB_CURL_FUNCS(DYNLIB_GET_CURL)
	if (l->rc < 0) {
		memset(&dl_curl, 0, sizeof(dl_curl)); /* never half filled */
		dlclose(h);
	}
}

static void load_git2(void)
{
	struct lib *l = &libs[DYNLIB_GIT2];
	const char *file;
	void *h = open_lib(l, &file);

	if (!h) {
		l->rc = -1;
		return;
	}
	DYNLIB_GIT2_FUNCS(DYNLIB_GET_GIT2)
	if (l->rc == 0) {
		/* libgit2 changes its structures between minor versions: only the one
		 * whose headers this was built with (a TWAMP_LIBGIT2_PATH may name another) */
		int maj = 0, min = 0, rev = 0;

		dl_git.libgit2_version(&maj, &min, &rev);
		if (maj != LIBGIT2_VER_MAJOR || min != LIBGIT2_VER_MINOR) {
			snprintf(l->why, sizeof(l->why), "%s is libgit2 %d.%d.%d, built for %d.%d", file, maj, min,
				 rev, LIBGIT2_VER_MAJOR, LIBGIT2_VER_MINOR);
			l->rc = -1;
		}
	}
	if (l->rc < 0) {
		memset(&dl_git, 0, sizeof(dl_git));
		dlclose(h);
	}
}

static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned curl_users;

int dynlib_curl_up(const char **why)
{
	int rc = 0;

	if (dynlib_load(DYNLIB_CURL, why) < 0)
		return -1;
	pthread_mutex_lock(&curl_lock);
	if (curl_users == 0 && dl_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		if (why)
			*why = "curl_global_init failed";
		rc = -1;
	} else {
		curl_users++;
	}
	pthread_mutex_unlock(&curl_lock);
	return rc;
}

void dynlib_curl_down(void)
{
	pthread_mutex_lock(&curl_lock);
	if (curl_users && --curl_users == 0)
		dl_curl.global_cleanup();
	pthread_mutex_unlock(&curl_lock);
}

int dynlib_load(enum dynlib_lib lib, const char **why)
{
	struct lib *l = &libs[lib];

	pthread_once(&l->once, lib == DYNLIB_CURL ? load_curl : load_git2);
	if (l->rc < 0 && why)
		*why = l->why;
	return l->rc;
}
