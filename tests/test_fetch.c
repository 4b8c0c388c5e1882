/*
 * Tests for fetch.c without servers: the pure helpers ({probe} expansion
 * against a simple reference over random inputs, URL joining, password
 * redaction and parsing), and the git path end to end over file:// on
 * repositories built here with libgit2: first install with config.old/,
 * unchanged, a commit touching another probe only, a validation failure
 * leaving DIR untouched, history rewritten, a deleted branch, a symlink
 * in the repository, two instances sharing libgit2's global state; and
 * hostile repositories (fetch_hostile): a symlink replaced by a directory
 * in a force-push, 100,000 files, config files that are symlinks,
 * submodules, directories or too large, an old clone with a work tree.
 * Every hostile symlink points inside the test's temporary directory.
 * tests/fetch.sh covers web and the network transports with real servers.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <ftw.h>
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
 * A file the hostile repositories' symlinks point to: it lies inside the
 * test's own temporary directory (never a host file: the tests run as root),
 * and victim_intact() says whether it still holds what setup_git() wrote.
 */
static char victim[160];
#define VICTIM_CONTENT "victim: no fetch may write here\n"

static bool victim_intact(void)
{
	char buf[256] = "";
	FILE *fp = fopen(victim, "r");
	size_t n;

	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strcmp(buf, VICTIM_CONTENT) == 0;
}

/*
 * Commit files (name, content pairs; content NULL = a symlink to victim,
 * inside the test's temporary directory) as the whole tree of a new commit on refs/heads/<branch> of the bare
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
		const char *content = files[i + 1] ? files[i + 1] : victim;

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
	snprintf(victim, sizeof(victim), "%s/victim", root);
	sh("printf '" VICTIM_CONTENT "' > '%s'", victim);
	cr_assert(victim_intact());
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
	snprintf(path, sizeof(path), "%s/repo/HEAD", dir);
	cr_assert_eq(stat(path, &st), 0, "DIR/repo is not a bare repository");
	snprintf(path, sizeof(path), "%s/repo/p1", dir);
	cr_assert_neq(lstat(path, &st), 0, "DIR/repo has a work tree");

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
	cr_assert(victim_intact(), "the symlink's target %s was written", victim);

	/* a file edited locally is put back even though the commit did not change */
	commit("main", false, rw, 4);
	cr_assert_eq(fetch_run(f, &src, 2, "p1", err, sizeof(err)), FETCH_UNCHANGED, "%s", err);
	cr_assert(victim_intact(), "the symlink's target %s was written", victim);
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

/* A FIFO in place of an installed file (DIR is the operator's, not the
 * repository's) must not block the fetch, which compares and copies what is
 * installed: the download still installs, and the FIFO is replaced. */
Test(fetch_git, fifo_in_dir_does_not_block, .timeout = 30)
{
	const char *v1[] = { "twamp_global_config.json", GLOBAL, "twamp_targets_list.json",
			     TARGETS("v1") };
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512], path[256];
	struct fetch *f = fetch_new(dir);
	struct stat st;

	cr_assert(f);
	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	commit("main", false, v1, 4);
	cr_assert_eq(fetch_run(f, &src, 1, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	/* the same commit again: the fetch compares what DIR holds with it */
	snprintf(path, sizeof(path), "%s/twamp_targets_list.json", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(fetch_run(f, &src, 1, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("twamp_targets_list.json", TARGETS("v1"));
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "the FIFO is still there");
	fetch_free(f);
}

/* ------------------------------------- hostile trees (no work tree, blobs only) */

/*
 * Trees for the hostile-repository tests are built entry by entry: tb_*
 * insert into a treebuilder of the bare repository, commit_tree() makes the
 * tip of refs/heads/<branch> (orphan: a force-push rewriting history).
 */
static git_repository *hrepo;

static void tb_blob(git_treebuilder *tb, const char *name, const char *data, size_t len,
		    git_filemode_t mode)
{
	git_oid oid;

	cr_assert_eq(git_blob_create_from_buffer(&oid, hrepo, data, len), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, tb, name, &oid, mode), 0);
}

static void tb_tree(git_treebuilder *tb, const char *name, git_treebuilder *sub)
{
	git_oid oid;

	cr_assert_eq(git_treebuilder_write(&oid, sub), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, tb, name, &oid, GIT_FILEMODE_TREE), 0);
	git_treebuilder_free(sub);
}

static git_treebuilder *tb_new(void)
{
	git_treebuilder *tb;

	cr_assert_eq(git_treebuilder_new(&tb, hrepo, NULL), 0);
	return tb;
}

/* p1/ with a valid global_config.json and targets_list.json(comment) */
static git_treebuilder *tb_p1(const char *targets)
{
	git_treebuilder *p1 = tb_new();

	tb_blob(p1, "global_config.json", GLOBAL, strlen(GLOBAL), GIT_FILEMODE_BLOB);
	if (targets)
		tb_blob(p1, "targets_list.json", targets, strlen(targets), GIT_FILEMODE_BLOB);
	return p1;
}

static void commit_tree(const char *branch, bool orphan, git_treebuilder *root_tb)
{
	git_oid tree_oid, commit_oid, parent_oid;
	git_tree *tree;
	git_commit *parent = NULL;
	git_signature *sig;
	git_reference *r;
	char ref[128];

	cr_assert_eq(git_treebuilder_write(&tree_oid, root_tb), 0);
	git_treebuilder_free(root_tb);
	cr_assert_eq(git_tree_lookup(&tree, hrepo, &tree_oid), 0);
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	if (!orphan && git_reference_name_to_id(&parent_oid, hrepo, ref) == 0)
		cr_assert_eq(git_commit_lookup(&parent, hrepo, &parent_oid), 0);
	cr_assert_eq(git_signature_new(&sig, "t", "t@example.net", 1767225600, 0), 0);
	cr_assert_eq(git_commit_create(&commit_oid, hrepo, NULL, sig, sig, NULL, "c", tree,
				       parent ? 1 : 0, (const git_commit **)&parent),
		     0);
	cr_assert_eq(git_reference_create(&r, hrepo, ref, &commit_oid, 1, NULL), 0);
	git_reference_free(r);
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(tree);
}

/* What lies under DIR: regular files, symlinks, the largest file, any path named p1. */
static struct {
	long files, links;
	long long biggest;
	bool p1;
} scan;

static int scan_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_SL)
		scan.links++;
	else if (flag == FTW_F) {
		scan.files++;
		if ((long long)st->st_size > scan.biggest)
			scan.biggest = (long long)st->st_size;
	}
	if (strcmp(path + ftw->base, "p1") == 0)
		scan.p1 = true;
	return 0;
}

static void scan_dir(const char *d)
{
	memset(&scan, 0, sizeof(scan));
	cr_assert_eq(nftw(d, scan_cb, 16, FTW_PHYS), 0, "nftw %s", d);
}

/* No checked-out work tree anywhere under DIR: nothing of the repository's tree. */
static void expect_no_work_tree(void)
{
	scan_dir(dir);
	cr_assert_not(scan.p1, "a path named p1 under %s: the repository's tree was checked out",
		      dir);
	cr_assert_eq(scan.links, 0, "%ld symlinks under %s", scan.links, dir);
}

static void hostile_setup(void)
{
	setup_git();
	cr_assert_eq(git_repository_open(&hrepo, bare), 0);
}

static void hostile_teardown(void)
{
	git_repository_free(hrepo);
	hrepo = NULL;
	teardown_git();
}

TestSuite(fetch_hostile, .init = hostile_setup, .fini = hostile_teardown, .timeout = 600);

/*
 * Commit A holds x -> <root>/outside (a directory of the test); a force-push
 * replaces it by commit B where x is a directory holding x/pwn.  A checkout
 * would create <root>/outside/pwn; the fetch must write nothing there.
 */
Test(fetch_hostile, symlink_then_directory_writes_nothing_outside)
{
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512], outside[160];
	struct fetch *f = fetch_new(dir);
	git_treebuilder *root_tb, *x;
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	snprintf(outside, sizeof(outside), "%s/outside", root);
	cr_assert_eq(mkdir(outside, 0755), 0);

	root_tb = tb_new();
	tb_tree(root_tb, "p1", tb_p1(TARGETS("A")));
	tb_blob(root_tb, "x", outside, strlen(outside), GIT_FILEMODE_LINK);
	commit_tree("main", false, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("A"));

	root_tb = tb_new();
	tb_tree(root_tb, "p1", tb_p1(TARGETS("B")));
	x = tb_new();
	tb_blob(x, "pwn", "pwned\n", 6, GIT_FILEMODE_BLOB);
	tb_tree(root_tb, "x", x);
	commit_tree("main", true, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("B"));

	d = opendir(outside);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	cr_assert_eq(n, 0, "the fetch created %d entries in %s (outside its data directory)", n,
		     outside);
	expect_no_work_tree();
	fetch_free(f);
}

/*
 * 100,000 files in big/ (five nested levels of ten, a few KB packed): the
 * fetch reads p1/'s two blobs and writes none of them.
 */
Test(fetch_hostile, large_tree_is_not_written)
{
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512];
	struct fetch *f = fetch_new(dir);
	git_treebuilder *root_tb, *level;
	git_oid blob, sub;

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	cr_assert_eq(git_blob_create_from_buffer(&blob, hrepo, "x\n", 2), 0);
	level = tb_new();
	for (int i = 0; i < 10; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(git_treebuilder_insert(NULL, level, name, &blob, GIT_FILEMODE_BLOB), 0);
	}
	for (int depth = 1; depth < 5; depth++) {
		git_treebuilder *up = tb_new();

		cr_assert_eq(git_treebuilder_write(&sub, level), 0);
		git_treebuilder_free(level);
		for (int i = 0; i < 10; i++) {
			char name[8];

			snprintf(name, sizeof(name), "d%d", i);
			cr_assert_eq(git_treebuilder_insert(NULL, up, name, &sub, GIT_FILEMODE_TREE),
				     0);
		}
		level = up;
	}
	root_tb = tb_new();
	tb_tree(root_tb, "big", level);
	tb_tree(root_tb, "p1", tb_p1(TARGETS("big")));
	commit_tree("main", false, root_tb);

	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("big"));
	scan_dir(dir);
	cr_assert_lt(scan.files, 200, "%ld files under %s: the 100,000 of big/ were written",
		     scan.files, dir);
	expect_no_work_tree();
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UNCHANGED, "%s", err);
	fetch_free(f);
}

/* targets_list.json as a symlink, a submodule, a directory, 16 MiB + 1: refused by name. */
Test(fetch_hostile, config_file_not_a_regular_blob_is_refused)
{
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512], outside[160];
	struct fetch *f = fetch_new(dir);
	git_treebuilder *root_tb, *p1, *sub;
	git_oid some_commit;
	size_t big = FETCH_MAX_FILE + 1;
	char *huge = malloc(big);
	static const char *const why[] = { "(a symbolic link)", "(a submodule)", "(a directory)",
					   "larger than the 16 MiB limit (16777217 bytes)" };

	cr_assert_not_null(huge);
	memset(huge, ' ', big);
	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	snprintf(outside, sizeof(outside), "%s/outside", root);
	cr_assert_eq(mkdir(outside, 0755), 0);
	root_tb = tb_new();
	tb_tree(root_tb, "p1", tb_p1(TARGETS("good")));
	commit_tree("main", false, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	cr_assert_eq(git_reference_name_to_id(&some_commit, hrepo, "refs/heads/main"), 0);

	for (int k = 0; k < 4; k++) {
		root_tb = tb_new();
		p1 = tb_p1(NULL);
		switch (k) {
		case 0:
			tb_blob(p1, "targets_list.json", victim, strlen(victim), GIT_FILEMODE_LINK);
			break;
		case 1:
			cr_assert_eq(git_treebuilder_insert(NULL, p1, "targets_list.json",
							    &some_commit, GIT_FILEMODE_COMMIT),
				     0);
			break;
		case 2:
			sub = tb_new();
			tb_blob(sub, "t", TARGETS("in a dir"), strlen(TARGETS("in a dir")),
				GIT_FILEMODE_BLOB);
			tb_tree(p1, "targets_list.json", sub);
			break;
		case 3:
			tb_blob(p1, "targets_list.json", huge, big, GIT_FILEMODE_BLOB);
			break;
		}
		tb_tree(root_tb, "p1", p1);
		commit_tree("main", false, root_tb);
		cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_FAILED,
			     "case %d: %s", k, err);
		cr_assert(strstr(err, "p1/targets_list.json: ") && strstr(err, why[k]),
			  "case %d: '%s' should name p1/targets_list.json and say '%s'", k, err,
			  why[k]);
		expect_file("targets_list.json", TARGETS("good"));
		cr_assert(victim_intact());
		expect_no_work_tree();
		cr_assert_lt(scan.biggest, 1 << 20, "case %d: a %lld-byte file under %s", k,
			     scan.biggest, dir);
	}
	/* ConfigPath itself a symlink (to a directory of the test): not followed */
	root_tb = tb_new();
	tb_blob(root_tb, "p1", outside, strlen(outside), GIT_FILEMODE_LINK);
	commit_tree("main", false, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_FAILED, "%s", err);
	cr_assert(strstr(err, "p1/global_config.json: not in the repository (p1 is a symbolic link)"),
		  "%s", err);
	expect_file("targets_list.json", TARGETS("good"));
	expect_no_work_tree();
	free(huge);
	fetch_free(f);
}

/*
 * A data directory from an older version holds a clone with a work tree
 * (here with a symlink to <root>/outside in it): it is replaced by a bare
 * repository, without following the symlink, and the fetch works.
 */
Test(fetch_hostile, old_clone_with_work_tree_becomes_bare)
{
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512], outside[160], path[256];
	struct fetch *f = fetch_new(dir);
	git_treebuilder *root_tb;
	git_repository *old;
	git_checkout_options co;
	git_oid head;
	struct stat st;

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	snprintf(outside, sizeof(outside), "%s/outside", root);
	cr_assert_eq(mkdir(outside, 0755), 0);
	sh("echo keep > '%s/keep'", outside);
	root_tb = tb_new();
	tb_tree(root_tb, "p1", tb_p1(TARGETS("old")));
	tb_blob(root_tb, "x", outside, strlen(outside), GIT_FILEMODE_LINK);
	commit_tree("main", false, root_tb);
	/*
	 * The old layout: a repository with a work tree checked out at the commit
	 * (objects borrowed from the bare one through alternates; git_clone would
	 * leak libgit2 1.5's pcre2 blocks under ASan while matching insteadOf).
	 */
	snprintf(path, sizeof(path), "%s/repo", dir);
	cr_assert_eq(git_repository_init(&old, path, 0), 0);
	sh("echo '%s/objects' > '%s/.git/objects/info/alternates'", bare, path);
	cr_assert_eq(git_reference_name_to_id(&head, hrepo, "refs/heads/main"), 0);
	cr_assert_eq(git_repository_set_head_detached(old, &head), 0);
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	cr_assert_eq(git_checkout_head(old, &co), 0);
	cr_assert_not(git_repository_is_bare(old));
	git_repository_free(old);
	snprintf(path, sizeof(path), "%s/repo/x", dir);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISLNK(st.st_mode), "the old clone has the symlink in its work tree");

	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);
	expect_file("targets_list.json", TARGETS("old"));
	snprintf(path, sizeof(path), "%s/repo/.git", dir);
	cr_assert_neq(lstat(path, &st), 0, "%s still exists: not migrated to a bare repository",
		      path);
	snprintf(path, sizeof(path), "%s/repo", dir);
	cr_assert_eq(git_repository_open(&old, path), 0);
	cr_assert(git_repository_is_bare(old));
	git_repository_free(old);
	expect_no_work_tree();
	snprintf(path, sizeof(path), "%s/keep", outside);
	cr_assert_eq(stat(path, &st), 0, "removing the old clone followed its symlink");
	fetch_free(f);
}

/*
 * A directory of 500,000 entries is one tree object of 18 MB (small when
 * packed): refused from its header before it is parsed into memory.
 */
Test(fetch_hostile, huge_directory_listing_is_refused)
{
	struct config_source src = { .method = "git", .path = "p1" };
	char url[256], err[512];
	struct fetch *f = fetch_new(dir);
	git_treebuilder *root_tb, *p1;
	git_oid blob;

	snprintf(url, sizeof(url), "file://%s", bare);
	src.url = url;
	root_tb = tb_new();
	tb_tree(root_tb, "p1", tb_p1(TARGETS("good")));
	commit_tree("main", false, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_UPDATED, "%s", err);

	cr_assert_eq(git_blob_create_from_buffer(&blob, hrepo, "x\n", 2), 0);
	p1 = tb_p1(TARGETS("huge dir"));
	for (int i = 0; i < 500000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "e%07d", i);
		cr_assert_eq(git_treebuilder_insert(NULL, p1, name, &blob, GIT_FILEMODE_BLOB), 0);
	}
	root_tb = tb_new();
	tb_tree(root_tb, "p1", p1);
	commit_tree("main", false, root_tb);
	cr_assert_eq(fetch_run(f, &src, 2, NULL, err, sizeof(err)), FETCH_FAILED, "%s", err);
	cr_assert(strstr(err, ": p1: a directory listing larger than the 16 MiB limit ("), "%s",
		  err);
	expect_file("targets_list.json", TARGETS("good"));
	expect_no_work_tree();
	fetch_free(f);
}
