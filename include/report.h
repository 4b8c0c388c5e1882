/*
 * report: what `twamp-client ping` prints about one finished session: a
 * human summary in twping's layout, twping's -M machine-readable keys, one
 * JSON object, and per-packet lines.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>

#include "session.h"
#include "stats.h"

struct report {
	const struct session_info *info;
	const struct session_params *params;
	const struct stats *st;
	const struct stats_summary *sum;
	const char *from_host;   /* the name of our address (twping's FROM_HOST) */
	const char *to_host;     /* the target as given */
	double bucket_width;     /* s, -M's BUCKET_WIDTH; 0: STATS_BUCKET_WIDTH_DEFAULT */
};

void report_text(FILE *f, const struct report *r);
void report_machine(FILE *f, const struct report *r);
void report_json(FILE *f, const struct report *r);
/* A test session that did not run: {"dscp": N, "error": status, "reason": text}, after prefix. */
void report_json_error(FILE *f, const char *prefix, const struct session_info *in,
		       const struct session_params *p);
/* One line per packet with its four timestamps in ns (-R), in sequence order. */
void report_raw(FILE *f, const struct report *r);
/* One line per packet, in sequence order. */
void report_packets(FILE *f, const struct report *r);

#endif
