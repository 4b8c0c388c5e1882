/* dynlib: libcurl and libgit2 through dlopen(); each Criterion test runs in its own process. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

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
