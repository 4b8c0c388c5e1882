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
/*
 * ping --json when there is nothing (or, for one stream of several, nothing
 * of this stream) to report: one line, PREFIX then the object {"dscp": DSCP,
 * "error": ERROR, "reason": REASON}, "dscp" left out when DSCP < 0.  ERROR is
 * a short class ("usage", "unreachable", a session status such as "connection
 * refused"), REASON the line also printed on stderr.
 */
void report_json_error(FILE *f, const char *prefix, int dscp, const char *error, const char *reason);
/* One line per packet with its four timestamps in ns (-R), in sequence order. */
void report_raw(FILE *f, const struct report *r);
/* One line per packet, in sequence order. */
void report_packets(FILE *f, const struct report *r);

#endif
