/*
 * record: allocation helpers of the result record (see include/record.h).
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

struct record *record_new(enum record_kind kind)
{
	struct record *r = calloc(1, sizeof(*r));

	if (r)
		r->kind = kind;
	return r;
}

int record_set(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

void record_free(struct record *r)
{
	if (!r)
		return;
	free(r->from_host);
	free(r->from_addr);
	free(r->to_host);
	free(r->to_addr);
	free(r->error);
	free(r->custom_comment);
	free(r->custom_id);
	free(r->description);
	free(r->tags);
	free(r->probe_description);
	free(r->probe_tags);
	free(r);
}
