/*
 * fetch_driver: drives src/io/fetch.c for tests/fetch.sh.
 *
 *   fetch_driver DIR KEY=VALUE...     one run
 *   fetch_driver DIR                  one run per line of standard input
 *                                     (KEY=VALUE words), until EOF or "quit"
 *
 * One struct fetch lives for the whole process, so conditional GETs and the
 * remembered git commit work across the runs of one stdin session.
 *
 * KEYs: gen (1 or 2, default 1), probe, method, url, user, password,
 * branch, path, ca, insecure (0/1).  An empty value means "not set".
 * Values cannot contain spaces.
 *
 * Each run prints one line to standard output and flushes it:
 *   RESULT <UPDATED|UNCHANGED|FAILED|NONE> <err line>
 * and logs like the daemon would: the err line as an error on stderr.
 * TWAMP_FETCH_TIMEOUT_MS is honoured (read by fetch_new).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fetch.h"
#include "log.h"

struct args {
	int gen;
	char *probe;
	struct config_source src;
};

static void args_free(struct args *a)
{
	free(a->probe);
	free(a->src.method);
	free(a->src.url);
	free(a->src.user);
	free(a->src.password);
	free(a->src.branch);
	free(a->src.path);
	free(a->src.ca_file);
	memset(a, 0, sizeof(*a));
}

static int set_arg(struct args *a, const char *word)
{
	const char *eq = strchr(word, '=');
	const char *v;
	char **slot = NULL;
	size_t kl;

	if (!eq) {
		fprintf(stderr, "fetch_driver: expected KEY=VALUE, got '%s'\n", word);
		return -1;
	}
	kl = (size_t)(eq - word);
	v = eq + 1;
#define KEY(k) (kl == strlen(k) && strncmp(word, k, kl) == 0)
	if (KEY("gen")) {
		a->gen = atoi(v);
		return 0;
	}
	if (KEY("insecure")) {
		a->src.insecure = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
		return 0;
	}
	if (KEY("probe"))
		slot = &a->probe;
	else if (KEY("method"))
		slot = &a->src.method;
	else if (KEY("url"))
		slot = &a->src.url;
	else if (KEY("user"))
		slot = &a->src.user;
	else if (KEY("password"))
		slot = &a->src.password;
	else if (KEY("branch"))
		slot = &a->src.branch;
	else if (KEY("path"))
		slot = &a->src.path;
	else if (KEY("ca"))
		slot = &a->src.ca_file;
#undef KEY
	if (!slot) {
		fprintf(stderr, "fetch_driver: unknown key in '%s'\n", word);
		return -1;
	}
	free(*slot);
	*slot = *v ? strdup(v) : NULL;
	return 0;
}

static void run(struct fetch *f, struct args *a)
{
	char err[1024];
	enum fetch_result r;

	r = fetch_run(f, &a->src, a->gen ? a->gen : 1, a->probe, err, sizeof(err));
	if (r == FETCH_FAILED)
		log_err("config download failed: %s", err);
	else if (r == FETCH_UPDATED)
		log_info("config updated");
	printf("RESULT %s %s\n", fetch_result_name(r), err);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct fetch *f;
	struct args a = { 0 };
	char line[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: fetch_driver DIR [KEY=VALUE...]\n");
		return 2;
	}
	if (getenv("FETCH_DEBUG"))
		log_set_level(LOGL_DEBUG);
	f = fetch_new(argv[1]);
	if (!f)
		return 2;
	if (argc > 2) {
		for (int i = 2; i < argc; i++)
			if (set_arg(&a, argv[i]) < 0) {
				args_free(&a);
				fetch_free(f);
				return 2;
			}
		run(f, &a);
		args_free(&a);
		fetch_free(f);
		return 0;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *w;
		int bad = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (set_arg(&a, w) < 0)
				bad = 1;
		if (bad)
			printf("RESULT BADARGS\n");
		else
			run(f, &a);
		fflush(stdout);
		args_free(&a);
	}
	fetch_free(f);
	return 0;
}
