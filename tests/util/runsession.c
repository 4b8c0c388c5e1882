#include "runsession.h"

#include <arpa/inet.h>
#include <string.h>

#include "worker.h"

struct job {
	struct session_params *p;
	struct session *s;
	struct worker *wk;
};

static void done(struct session *s, void *ctx)
{
	struct job *j = ctx;

	(void)s;
	wk_stop(j->wk);
}

static void start(struct worker *wk, void *arg)
{
	struct job *j = arg;

	j->s = session_start(wk, j->p);
	if (!j->s)
		wk_stop(wk);
}

int run_session(struct session_params *p, struct run_result *r)
{
	struct job j = { .p = p };

	memset(r, 0, sizeof(*r));
	j.wk = wk_create(0, -1, 16);
	if (!j.wk)
		return -1;
	p->on_done = done;
	p->ctx = &j;
	wk_submit(j.wk, start, &j);
	wk_run(j.wk);
	wk_destroy(j.wk);
	if (!j.s)
		return -1;
	r->s = j.s;
	r->info = session_info(j.s);
	stats_summarize(session_stats(j.s), &r->sum);
	return 0;
}

struct multi {
	struct session_params *p;
	struct session **s;
	unsigned n, left;
	struct worker *wk;
};

static void multi_done(struct session *s, void *ctx)
{
	struct multi *m = ctx;

	(void)s;
	if (--m->left == 0)
		wk_stop(m->wk);
}

static void multi_start(struct worker *wk, void *arg)
{
	struct multi *m = arg;

	for (unsigned i = 0; i < m->n; i++) {
		m->s[i] = session_start(wk, &m->p[i]);
		if (!m->s[i] && --m->left == 0)
			wk_stop(wk);
	}
}

int run_sessions(struct session_params *p, unsigned n, struct run_result *r)
{
	struct session *s[64] = { 0 };
	struct multi m = { .p = p, .s = s, .n = n, .left = n };
	int rc = 0;

	if (n == 0 || n > 64)
		return -1;
	memset(r, 0, n * sizeof(*r));
	m.wk = wk_create(0, -1, 64);
	if (!m.wk)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		p[i].on_done = multi_done;
		p[i].ctx = &m;
	}
	wk_submit(m.wk, multi_start, &m);
	wk_run(m.wk);
	wk_destroy(m.wk);
	for (unsigned i = 0; i < n; i++) {
		if (!s[i]) {
			rc = -1;
			continue;
		}
		r[i].s = s[i];
		r[i].info = session_info(s[i]);
		stats_summarize(session_stats(s[i]), &r[i].sum);
	}
	return rc;
}

void run_result_free(struct run_result *r)
{
	session_free(r->s);
	r->s = NULL;
}

void run_addr(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &a->sin_addr);
	}
}
