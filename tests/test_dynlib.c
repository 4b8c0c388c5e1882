/* dynlib: libcurl and libgit2 through dlopen(); each Criterion test runs in its own process. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dynlib.h"

Test(dynlib, debian_package_names)
{
	char b[64];

	cr_assert_str_eq(dynlib_debian_package("libcurl.so.4", b, sizeof(b)), "libcurl4");
	cr_assert_str_eq(dynlib_debian_package("libgit2.so.1.5", b, sizeof(b)), "libgit2-1.5");
	cr_assert_str_eq(dynlib_debian_package("libcurl-gnutls.so.4", b, sizeof(b)), "libcurl-gnutls4");
	cr_assert_str_eq(dynlib_debian_package("libfoo.so", b, sizeof(b)), "libfoo.so");
}

Test(dynlib, loads_both_and_calls_them)
{
	const char *why = "untouched";

	cr_assert_eq(dynlib_load(DYNLIB_CURL, &why), 0, "%s", why);
	cr_assert_str_eq(why, "untouched", "no message on success");
	cr_assert_str_eq(dl_curl.easy_strerror(CURLE_OK), "No error");
	cr_assert_eq(dynlib_load(DYNLIB_CURL, &why), 0, "a second call: the same table");
	cr_assert_eq(dynlib_load(DYNLIB_GIT2, &why), 0, "%s", why);
	cr_assert_gt(dl_git.libgit2_init(), 0);
	cr_assert_geq(dl_git.libgit2_shutdown(), 0);
}

Test(dynlib, missing_library_named_with_its_package)
{
	const char *why = NULL;

	setenv("TWAMP_LIBGIT2_PATH", "/nonexistent/libgit2.so.1.5", 1);
	cr_assert_eq(dynlib_load(DYNLIB_GIT2, &why), -1);
	cr_assert_not_null(why);
	cr_assert(strstr(why, "cannot load /nonexistent/libgit2.so.1.5 (TWAMP_LIBGIT2_PATH; Debian package libgit2-1.5): ") == why,
		  "%s", why);
	cr_assert_null(dl_git.remote_ls);
	cr_assert_eq(dynlib_load(DYNLIB_GIT2, &why), -1, "the failure stays for the process");
	cr_assert_eq(dynlib_load(DYNLIB_CURL, &why), 0, "the other library is independent: %s", why);
}

Test(dynlib, library_without_the_functions)
{
	const char *why = NULL;

	setenv("TWAMP_LIBCURL_PATH", "libm.so.6", 1);
	cr_assert_eq(dynlib_load(DYNLIB_CURL, &why), -1);
	cr_assert(strstr(why, "libm.so.6 (Debian package libcurl4) has no curl_global_init: ") == why, "%s", why);
	cr_assert_null(dl_curl.global_init, "no half-filled table");
	cr_assert_null(dl_curl.easy_init);
}

/*
 * A libgit2 of another minor version (TWAMP_LIBGIT2_PATH) has every function
 * but other structures: refused, naming both versions, instead of used.
 * The stand-in: every git_ function of the table, each answering as
 * git_libgit2_version() of 0.27.0 would.
 */
#define STUB_FN(n) "int git_" #n "(int *a, int *b, int *c)\n"                              \
		   "{ if (a) *a = 0; if (b) *b = 27; if (c) *c = 0; return 0; }\n"
Test(dynlib, libgit2_of_another_version_refused)
{
	static const char src[] = DYNLIB_GIT2_FUNCS(STUB_FN);
	char dir[] = "/tmp/test_dynlib.XXXXXX", path[128], so[128], cmd[512];
	const char *why = NULL;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stub.c", dir);
	snprintf(so, sizeof(so), "%s/libgit2-old.so", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "${CC:-cc} -shared -fPIC -w -o %s %s", so, path);
	cr_assert_eq(system(cmd), 0, "cannot build the stand-in library: %s", cmd);
	setenv("TWAMP_LIBGIT2_PATH", so, 1);
	cr_assert_eq(dynlib_load(DYNLIB_GIT2, &why), -1, "a libgit2 0.27 was taken for the 1.5 built against");
	cr_assert(strstr(why, "is libgit2 0.27.0, built for 1.5") != NULL, "%s", why);
	cr_assert_null(dl_git.remote_ls, "no half-filled table");
	unlink(so);
	unlink(path);
	rmdir(dir);
}
