/*
 * Tests for fetch.c without servers: the pure helpers ({probe} expansion
 * against a simple reference over random inputs, URL joining, password
 * redaction and parsing), and the git path end to end over file:// on
 * repositories built here with libgit2: first install with config.old/,
 * unchanged, a commit touching another probe only, a validation failure
 * leaving DIR untouched, history rewritten, a deleted branch, a symlink
 * in the repository, two instances sharing libgit2's global state.
 * tests/fetch.sh covers web and the network transports with real servers.
 */
#include <criterion/criterion.h>

#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"

/* ------------------------------------------------------------ helpers */

Test(fetch, expand_plain_and_url)
{
	char err[128] = "";
	char *s;

	s = fetch_expand("https://h/cfg", NULL, true, err, sizeof(err));
	cr_assert_str_eq(s, "https://h/cfg");
	free(s);
	s = fetch_expand("https://h/{probe}/x/{probe}", "p-1.a_b~", true, err, sizeof(err));
	cr_assert_str_eq(s, "https://h/p-1.a_b~/x/p-1.a_b~");
	free(s);
	s = fetch_expand("https://h/{probe}", "a b/c?d%", true, err, sizeof(err));
	cr_assert_str_eq(s, "https://h/a%20b%2Fc%3Fd%25");
	free(s);
	s = fetch_expand("https://h/{probe}", "\xc3\xa9", true, err, sizeof(err));
	cr_assert_str_eq(s, "https://h/%C3%A9");
	free(s);
	cr_assert_null(fetch_expand("https://h/{probe}", NULL, true, err, sizeof(err)));
	cr_assert(strstr(err, "no name"), "%s", err);
	cr_assert_null(fetch_expand("https://h/{probe}", "", true, err, sizeof(err)));
}

Test(fetch, expand_path)
{
	char err[128] = "";
	char *s;

	s = fetch_expand("probes/{probe}", "p 1", false, err, sizeof(err));
	cr_assert_str_eq(s, "probes/p 1");
	free(s);
	cr_assert_null(fetch_expand("probes/{probe}", "../etc", false, err, sizeof(err)));
	cr_assert(strstr(err, "'/'"), "%s", err);
	cr_assert_null(fetch_expand("{probe}", "..", false, err, sizeof(err)));
	cr_assert_null(fetch_expand("{probe}", ".", false, err, sizeof(err)));
	cr_assert_null(fetch_expand("{probe}", "a\nb", false, err, sizeof(err)));
	s = fetch_expand("{probe}", "...", false, err, sizeof(err));
	cr_assert_str_eq(s, "...");
	free(s);
	s = fetch_expand("{probe", "x", false, err, sizeof(err)); /* not the tag */
	cr_assert_str_eq(s, "{probe");
	free(s);
}

/* The reference: the obvious character-by-character expansion. */
static void ref_expand(const char *tmpl, const char *probe, char *out)
{
	static const char *const hex = "0123456789ABCDEF";

	while (*tmpl) {
		if (strncmp(tmpl, "{probe}", 7) == 0) {
			for (const unsigned char *p = (const unsigned char *)probe; *p; p++) {
				if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
					*out++ = (char)*p;
				} else {
					*out++ = '%';
					*out++ = hex[*p >> 4];
					*out++ = hex[*p & 15];
				}
			}
			tmpl += 7;
		} else {
			*out++ = *tmpl++;
		}
	}
	*out = '\0';
}

Test(fetch, expand_random_against_reference)
{
	static const char *const pieces[] = { "{probe}", "{", "}", "probe", "/", "a", "{pro",
					      "be}", "%", "?" };
	char tmpl[256], probe[32], want[2048], err[128];

	srand(4242);
	for (int iter = 0; iter < 2000; iter++) {
		int np = rand() % 10, nl = 1 + rand() % 12;

		tmpl[0] = '\0';
		for (int i = 0; i < np; i++)
			strcat(tmpl, pieces[rand() % 10]);
		for (int i = 0; i < nl; i++)
			probe[i] = (char)(1 + rand() % 255);
		probe[nl] = '\0';
		ref_expand(tmpl, probe, want);
		char *got = fetch_expand(tmpl, probe, true, err, sizeof(err));

		cr_assert_not_null(got, "template '%s': %s", tmpl, err);
		cr_assert_str_eq(got, want, "template '%s'", tmpl);
		free(got);
	}
}

Test(fetch, url_join)
{
	static const char *const cases[][3] = {
		{ "https://h/cfg", "f.json", "https://h/cfg/f.json" },
		{ "https://h/cfg/", "f.json", "https://h/cfg/f.json" },
		{ "https://h/cfg//", "/f.json", "https://h/cfg/f.json" },
		{ "https://h", "f.json", "https://h/f.json" },
		{ "https://h/cfg?token=a/b", "f.json", "https://h/cfg/f.json?token=a/b" },
		{ "https://h/cfg/#frag", "f.json", "https://h/cfg/f.json#frag" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = fetch_url_join(cases[i][0], cases[i][1]);

		cr_assert_str_eq(s, cases[i][2]);
		free(s);
	}
}

Test(fetch, url_redact)
{
	static const char *const cases[][2] = {
		{ "https://u:pw@h/x", "https://u:***@h/x" },
		{ "https://u@h/x", "https://***@h/x" },   /* a lone userinfo may be a token */
		{ "https://h/c.json?token=T&x=1", "https://h/c.json?token=***&x=1" },
		{ "https://h/x@y", "https://h/x@y" },
		{ "https://u:p@ss@h:8443/r.git", "https://u:***@h:8443/r.git" },
		{ "git@github.example:r.git", "git@github.example:r.git" },
		{ "file:///srv/cfg.git", "file:///srv/cfg.git" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = fetch_url_redact(cases[i][0]);

		cr_assert_str_eq(s, cases[i][1]);
		free(s);
	}
}

Test(fetch, url_userinfo)
{
	char *u, *p;

	cr_assert_eq(fetch_url_userinfo("https://probe%40x:p%3Aw%2F@h/r", &u, &p), 0);
	cr_assert_str_eq(u, "probe@x");
	cr_assert_str_eq(p, "p:w/");
	free(u);
	free(p);
	cr_assert_eq(fetch_url_userinfo("https://probe@h/r", &u, &p), 0);
	cr_assert_str_eq(u, "probe");
	cr_assert_null(p);
	free(u);
	cr_assert_eq(fetch_url_userinfo("https://h/r@x", &u, &p), 0);
	cr_assert_null(u);
	cr_assert_null(p);
	cr_assert_eq(fetch_url_userinfo("https://u:%zz%4@h", &u, &p), 0);
	cr_assert_str_eq(p, "%zz%4");
	free(u);
	free(p);
}

Test(fetch, result_names_and_none)
{
	char tmpl[] = "/tmp/fetch-unit.XXXXXX", err[256];
	struct config_source src = { 0 };
	struct fetch *f;

	cr_assert_str_eq(fetch_result_name(FETCH_UPDATED), "UPDATED");
	cr_assert_str_eq(fetch_result_name(FETCH_NONE), "NONE");
	cr_assert_not_null(mkdtemp(tmpl));
	f = fetch_new(tmpl);
	cr_assert_not_null(f);
	cr_assert_eq(fetch_run(f, &src, 1, "p", err, sizeof(err)), FETCH_NONE);
	cr_assert_str_eq(err, "");
	/* ssh is refused before any connection (it would have no timeout) */
	src.method = "git";
	src.url = "ssh://git:pw-1234@127.0.0.1:1/cfg.git";
	cr_assert_eq(fetch_run(f, &src, 1, "p", err, sizeof(err)), FETCH_FAILED);
	cr_assert_str_eq(err, "ssh://git:***@127.0.0.1:1/cfg.git: ssh is not supported (no key file "
			      "option, no host key check, no timeouts in libgit2 1.5): use https, "
			      "http, git:// or file://");
	src.url = "git@config.example.net:cfg.git";
	cr_assert_eq(fetch_run(f, &src, 1, "p", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "ssh is not supported"), "%s", err);
	src.method = "ftp";
	cr_assert_eq(fetch_run(f, &src, 1, "p", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "not web or git"), "%s", err);
	fetch_free(f);
	rmdir(tmpl);
}

/* ----------------------------------------------------- git over file:// */

static char root[64];
static char bare[128], dir[128];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/*
 * Commit files (name, content pairs; content NULL = a symlink to /etc/passwd)
 * as the whole tree of a new commit on refs/heads/<branch> of the bare
 * repository, with parent the branch's tip unless orphan.
 */
static void commit(const char *branch, bool orphan, const char *const *files, size_t n)
{
	git_repository *repo;
	git_treebuilder *root_tb, *sub_tb;
	git_oid blob, tree_oid, sub_oid, commit_oid, parent_oid;
	git_tree *tree;
	git_commit *parent = NULL;
	git_signature *sig;
	char ref[128];

	cr_assert_eq(git_repository_open(&repo, bare), 0);
	cr_assert_eq(git_treebuilder_new(&root_tb, repo, NULL), 0);
	cr_assert_eq(git_treebuilder_new(&sub_tb, repo, NULL), 0);
	for (size_t i = 0; i < n; i += 2) {
		const char *content = files[i + 1] ? files[i + 1] : "/etc/passwd";

		cr_assert_eq(git_blob_create_from_buffer(&blob, repo, content, strlen(content)), 0);
		cr_assert_eq(git_treebuilder_insert(NULL, sub_tb, files[i], &blob,
						    files[i + 1] ? GIT_FILEMODE_BLOB
								 : GIT_FILEMODE_LINK),
			     0);
	}
	cr_assert_eq(git_treebuilder_write(&sub_oid, sub_tb), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, root_tb, "p1", &sub_oid, GIT_FILEMODE_TREE), 0);
	cr_assert_eq(git_treebuilder_write(&tree_oid, root_tb), 0);
	cr_assert_eq(git_tree_lookup(&tree, repo, &tree_oid), 0);
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	if (!orphan && git_reference_name_to_id(&parent_oid, repo, ref) == 0)
		cr_assert_eq(git_commit_lookup(&parent, repo, &parent_oid), 0);
	cr_assert_eq(git_signature_new(&sig, "t", "t@example.net", 1767225600, 0), 0);
	cr_assert_eq(git_commit_create(&commit_oid, repo, NULL, sig, sig, NULL, "c", tree,
				       parent ? 1 : 0, (const git_commit **)&parent),
		     0);
	{
		git_reference *r;

		cr_assert_eq(git_reference_create(&r, repo, ref, &commit_oid, 1, NULL), 0);
		git_reference_free(r);
	}
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(tree);
	git_treebuilder_free(sub_tb);
	git_treebuilder_free(root_tb);
	git_repository_free(repo);
}

#define GLOBAL "{ \"Destinations\": [] }"
#define TARGETS(c) "{ \"Targets\": [ { \"IP\": \"192.0.2.1\", \"DSCP\": 2, \"Custom_comment\": \"" c "\" } ] }"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (!fp)
		return buf;
	if (fread(buf, 1, 65535, fp) == 0)
		buf[0] = '\0';
	fclose(fp);
	return buf;
}

static void expect_file(const char *name, const char *content)
{
	char path[256];
	char *got;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	got = slurp(path);
	cr_assert_str_eq(got, content, "%s", path);
	free(got);
}

static void setup_git(void)
{
	git_repository *repo;

	git_libgit2_init();
	snprintf(root, sizeof(root), "/tmp/fetch-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(bare, sizeof(bare), "%s/cfg.git", root);
	snprintf(dir, sizeof(dir), "%s/data", root);
	cr_assert_eq(git_repository_init(&repo, bare, 1), 0);
	cr_assert_eq(git_repository_set_head(repo, "refs/heads/main"), 0);
	git_repository_free(repo);
	cr_assert_eq(mkdir(dir, 0755), 0);
}

static void teardown_git(void)
{
	sh("rm -rf '%s'", root);
	git_libgit2_shutdown();
}

TestSuite(fetch_git, .init = setup_git, .fini = teardown_git);

Test(fetch_git, install_unchanged_fail_rewrite_delete)
{
	const char *v1[] = { "global_config.json", GLOBAL, "targets_list.json", TARGETS("v1") };
	const char *v2[] = { "global_config.json", GLOBAL, "targets_list.json", TARGETS("v2"),
			     "other.txt", "x" };
	const char *bad[] = { "global_config.json", GLOBAL, "targets_list.json", "{ \"Targets\": 5 }" };
	const char *rw[] = { "global_config.json", GLOBAL, "targets_list.json", TARGETS("rewritten") };
	const char *link[] = { "global_config.json", GLOBAL, "targets_list.json", NULL };
	struct config_source src = { .method = "git", .path = "{probe}" };
	char url[256], err[512], path[256];
	struct fetch *f, *f2;
	struct stat st;

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	/* the installed set before the first download */
	snprintf(path, sizeof(path), "%s/global_config.json", dir);
	sh("echo '" GLOBAL "' > '%s'", path);
	snprintf(path, sizeof(path), "%s/targets_list.json", dir);
	sh("echo '" TARGETS("local") "' > '%s'", path);

	f = fetch_new(dir);
	f2 = fetch_new(root); /* a second instance: libgit2 stays initialised for f */
	cr_assert(f && f2);
	fetch_free(f2);

	commit("main", false, v1, 4);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("v1"));
	expect_file("config.old/targets_list.json", TARGETS("local") "\n");
	snprintf(path, sizeof(path), "%s/.incoming", dir);
	cr_assert_neq(stat(path, &st), 0, ".incoming/ left behind");
	snprintf(path, sizeof(path), "%s/repo/p1/targets_list.json", dir);
	cr_assert_eq(stat(path, &st), 0, "no work tree in DIR/repo");

	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UNCHANGED, "%s", err);

	commit("main", false, v2, 6);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("v2"));
	expect_file("config.old/targets_list.json", TARGETS("v1"));

	commit("main", false, bad, 4);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "targets_list.json: Targets: expected an array") &&
		  strstr(err, "(1 problem)") && strstr(err, "(branch main, commit "),
		  "%s", err);
	expect_file("targets_list.json", TARGETS("v2"));

	commit("main", true, rw, 4); /* history rewritten: an unrelated commit */
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("rewritten"));

	commit("main", false, link, 4);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "p1/targets_list.json: not a regular file"), "%s", err);
	expect_file("targets_list.json", TARGETS("rewritten"));

	/* a file edited locally is put back even though the commit did not change */
	commit("main", false, rw, 4);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UNCHANGED, "%s", err);
	snprintf(path, sizeof(path), "%s/targets_list.json", dir);
	sh("echo '" TARGETS("edited") "' > '%s'", path);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("rewritten"));

	src.branch = "gone";
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "branch 'gone' not found on the remote"), "%s", err);
	src.branch = NULL;

	cr_assert_eq(fetch_run(f, &src, 2, "../x", err, sizeof(err)), FETCH_FAILED);
	cr_assert(strstr(err, "ConfigSource.ConfigPath: probe name unusable"), "%s", err);
	fetch_free(f);
}

Test(fetch_git, damaged_clone_is_replaced)
{
	const char *v1[] = { "twamp_global_config.json", GLOBAL, "twamp_targets_list.json",
			     TARGETS("v1") };
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512], path[256];
	struct fetch *f = fetch_new(dir);

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	commit("main", false, v1, 4);
	snprintf(path, sizeof(path), "%s/repo", dir);
	sh("mkdir -p '%s' && echo junk > '%s/.git'", path, path);
	cr_assert_eq(fetch_run(f, &src, 1, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("twamp_targets_list.json", TARGETS("v1"));
	fetch_free(f);
}
