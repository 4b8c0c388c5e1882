/*
 * runsession: run one client session to completion on a private worker in
 * the calling thread (what `twamp-client ping` does), for tests.
 */
#ifndef RUNSESSION_H
#define RUNSESSION_H

#include "session.h"
#include "stats.h"

struct run_result {
	struct session *s;            /* free with run_result_free() */
	struct stats_summary sum;
	const struct session_info *info;
};

/* Returns 0; the session status is in r->info->status. */
int run_session(struct session_params *p, struct run_result *r);
void run_result_free(struct run_result *r);
/*
 * n sessions at once on one worker in the calling thread (as the daemon's
 * workers run many), until every one is done; r[i] as run_session() gives.
 */
int run_sessions(struct session_params *p, unsigned n, struct run_result *r);

/* "127.0.0.1" + port -> sockaddr (no name resolution) */
void run_addr(struct sockaddr_storage *ss, const char *ip, unsigned port);

#endif
