/*
 * stats: per-session accumulator and summary.
 *
 * Why one slot per planned sender sequence number instead of a running
 * aggregate: duplicate classification needs the reflector sequence number of
 * the first reflection of each packet, RFC 3550 jitter has to be taken in send
 * order although reflections arrive in any order, and exact nearest-rank
 * percentiles need every sample.  The slots are allocated once per session,
 * so stats_sent() and stats_reflected(), which run on the worker's packet
 * path, only index an array and never allocate.
 *
 * Why a late reflection stays lost even though it did arrive: twping counts it
 * so, and a probe that replaces twping must not change what LOST means.  The
 * late reflection still sets the slot's reflector sequence number, so a further
 * copy of it is reported as a duplicate rather than as a fresh arrival.
 *
 * Why SYNC is false for a session in which nothing came back: no timestamp
 * vouches for the clocks, and claiming synchronization without evidence would
 * be the optimistic error.  MAXERR is "unknown" (-1) for the same reason.
 *
 * Reordering is judged among in-time arrivals only: a late reflection is
 * counted as lost, and counting it as reordered as well would report the same
 * event twice.
 *
 * Why stats_hist() rounds in doubles: twping divides its delay in seconds
 * by the bucket width as doubles and rounds away from zero; doing the same
 * puts a delay that is an exact multiple of the width into the same bucket
 * as twping does, so MEDIAN and PDV agree with its figures to the digit.
 */
#include "stats.h"

#include "ntptime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int16_t stats_ttl(int ttl)
{
	return (ttl >= 0 && ttl <= 255) ? (int16_t)ttl : -1;
}

int stats_init(struct stats *st, uint32_t npackets, int64_t loss_timeout)
{
	uint32_t i;

	memset(st, 0, sizeof(*st));
	st->npackets = npackets;
	st->loss_timeout = loss_timeout;
	st->max_seq_rx = -1;
	st->tos_tx = -1;
	st->tos_bck_expected = -1;
	if (npackets == 0)
		return 0;
	st->pkt = calloc(npackets, sizeof(*st->pkt));
	if (!st->pkt) {
		st->npackets = 0;
		return -1;
	}
	for (i = 0; i < npackets; i++) {
		st->pkt[i].ttl_fwd = -1;
		st->pkt[i].ttl_bck = -1;
		st->pkt[i].tos_fwd = -1;
		st->pkt[i].tos_bck = -1;
	}
	return 0;
}

void stats_free(struct stats *st)
{
	free(st->pkt);
	st->pkt = NULL;
	st->npackets = 0;
}

void stats_sent(struct stats *st, uint32_t seq, int64_t t1, uint16_t err1)
{
	struct stats_pkt *p;

	if (seq >= st->npackets)
		return;
	p = &st->pkt[seq];
	if (p->sent)
		return;
	p->t1 = t1;
	p->err1 = err1;
	p->sent = 1;
	st->sent++;
}

void stats_tx_time(struct stats *st, uint32_t seq, int64_t t1)
{
	if (seq < st->npackets && st->pkt[seq].sent)
		st->pkt[seq].t1 = t1;
}

static void stats_store(struct stats_pkt *p, const struct stats_reflection *r)
{
	p->t2 = r->t2;
	p->t3 = r->t3;
	p->t4 = r->t4;
	p->err2 = r->err2;
	p->err3 = r->err3;
	p->err4 = r->err4;
	p->rseq = r->rseq;
	p->ttl_fwd = stats_ttl(r->ttl_fwd);
	p->ttl_bck = stats_ttl(r->ttl_bck);
	p->tos_fwd = stats_ttl(r->tos_fwd);
	p->tos_bck = stats_ttl(r->tos_bck);
}

enum stats_rx_result stats_reflected(struct stats *st, const struct stats_reflection *r)
{
	struct stats_pkt *p;

	if (r->sender_seq >= st->npackets || !st->pkt[r->sender_seq].sent) {
		st->unknown_seq++;
		return STATS_RX_UNKNOWN;
	}
	p = &st->pkt[r->sender_seq];

	if (p->received || p->late) {
		/*
		 * A copy made on the way back carries the reflector's receive
		 * time T2 unchanged (T3 too, unless the reflector itself sent the
		 * copy and stamped it again); a second reflection of a test packet
		 * duplicated on the way out has its own T2 (and, from a stateful
		 * reflector, its own Sequence Number).  The Sequence Number alone
		 * cannot tell them apart when a stateless reflector copies ours.
		 */
		if (r->rseq == p->rseq && r->t2 == p->t2) {
			st->dups_bck++;
			return STATS_RX_DUP_BCK;
		}
		st->dups_fwd++;
		return STATS_RX_DUP_FWD;
	}

	stats_store(p, r);
	if ((r->rtt_mono > 0 ? r->rtt_mono : r->t4 - p->t1) > st->loss_timeout) {
		p->late = 1;
		return STATS_RX_LATE;
	}

	p->received = 1;
	if ((int64_t)r->sender_seq < st->max_seq_rx)
		st->reordered++;
	else
		st->max_seq_rx = r->sender_seq;
	return STATS_RX_OK;
}

static int64_t stats_delay_rtt(const struct stats_pkt *p)
{
	return (p->t4 - p->t1) - (p->t3 - p->t2);
}

static int64_t stats_delay_fwd(const struct stats_pkt *p)
{
	return p->t2 - p->t1;
}

static int64_t stats_delay_bck(const struct stats_pkt *p)
{
	return p->t4 - p->t3;
}

static int stats_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t stats_rank_permille(const int64_t *sorted, uint64_t n, unsigned int permille)
{
	uint64_t rank = ((uint64_t)permille * n + 999) / 1000;

	return sorted[rank ? rank - 1 : 0];
}

static int64_t stats_rank(const int64_t *sorted, uint32_t n, unsigned int pct)
{
	return stats_rank_permille(sorted, n, pct * 10);
}

uint32_t stats_samples(const struct stats *st, int64_t *rtt, int64_t *proc)
{
	uint32_t i, k = 0;

	for (i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];

		if (!p->received)
			continue;
		rtt[k] = stats_delay_rtt(p);
		proc[k] = p->t3 - p->t2;
		k++;
	}
	return k;
}

/*
 * Fill one distribution from the received packets.  buf holds room for n
 * samples; it is filled in sequence (= send) order for the jitter, then
 * sorted for the order statistics.
 */
static void stats_dist_fill(const struct stats *st, int64_t (*delay)(const struct stats_pkt *),
			    int64_t *buf, uint32_t n, struct stats_dist *d)
{
	long double sum = 0;
	double jitter = 0;
	uint32_t i, k = 0;

	memset(d, 0, sizeof(*d));
	if (n == 0)
		return;

	for (i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];

		if (!p->received)
			continue;
		buf[k] = delay(p);
		sum += buf[k];
		if (k > 0) {
			double diff = (double)buf[k] - (double)buf[k - 1];

			if (diff < 0)
				diff = -diff;
			jitter += (diff - jitter) / 16.0;
		}
		k++;
	}

	qsort(buf, n, sizeof(*buf), stats_cmp_i64);
	d->valid = true;
	d->n = n;
	d->min = buf[0];
	d->max = buf[n - 1];
	d->median = stats_rank(buf, n, 50);
	d->p90 = stats_rank(buf, n, 90);
	d->p95 = stats_rank(buf, n, 95);
	d->p99 = stats_rank(buf, n, 99);
	d->mean = (double)(sum / n);
	d->pdv = d->p95 - d->median;
	d->jitter = jitter;
}

static void stats_ttl_update(int v, int *min, int *max)
{
	if (v < 0)
		return;
	if (*min < 0 || v < *min)
		*min = v;
	if (*max < 0 || v > *max)
		*max = v;
}

/* The index of the largest count (the lowest index on ties), -1 when all are 0. */
static int stats_mode(const uint32_t *count, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++)
		if (count[i] && (best < 0 || count[i] > count[best]))
			best = i;
	return best;
}

static void stats_maxerr_update(double v, double *max)
{
	if (v > *max)
		*max = v;
}

int stats_summarize(const struct stats *st, struct stats_summary *out)
{
	int64_t *buf = NULL;
	uint32_t i, received = 0;
	bool first = true;
	uint32_t dscp_n[2][64] = { { 0 } }, ecn_n[2][4] = { { 0 } };

	memset(out, 0, sizeof(*out));
	out->ttl_fwd_min = out->ttl_fwd_max = -1;
	out->ttl_bck_min = out->ttl_bck_max = -1;
	out->maxerr = out->maxerr_fwd = out->maxerr_bck = -1;
	out->sent = st->sent;
	out->dups_fwd = st->dups_fwd;
	out->dups_bck = st->dups_bck;
	out->reordered = st->reordered;
	out->unknown_seq = st->unknown_seq;
	out->sync = true;

	for (i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];
		double e1, e2, e3, e4;
		int64_t proc;

		if (!p->sent)
			continue;
		if (first || p->t1 < out->first_send)
			out->first_send = p->t1;
		if (first || p->t1 > out->last_send)
			out->last_send = p->t1;
		first = false;

		if (!p->received)
			continue;
		received++;

		proc = p->t3 - p->t2;
		if (!out->proc_valid || proc < out->proc_min)
			out->proc_min = proc;
		if (!out->proc_valid || proc > out->proc_max)
			out->proc_max = proc;
		out->proc_valid = true;

		stats_ttl_update(p->ttl_fwd, &out->ttl_fwd_min, &out->ttl_fwd_max);
		stats_ttl_update(p->ttl_bck, &out->ttl_bck_min, &out->ttl_bck_max);
		if (p->tos_fwd >= 0) {
			dscp_n[0][p->tos_fwd >> 2]++;
			ecn_n[0][p->tos_fwd & 3]++;
			if (st->tos_tx >= 0 && (p->tos_fwd >> 2) != (st->tos_tx >> 2))
				out->dscp_changed_fwd++;
		}
		if (p->tos_bck >= 0) {
			dscp_n[1][p->tos_bck >> 2]++;
			ecn_n[1][p->tos_bck & 3]++;
			if (st->tos_bck_expected >= 0 && (p->tos_bck >> 2) != (st->tos_bck_expected >> 2))
				out->dscp_changed_bck++;
		}

		if (!ntptime_errest_synced(p->err1) || !ntptime_errest_synced(p->err2) ||
		    !ntptime_errest_synced(p->err3) || !ntptime_errest_synced(p->err4))
			out->sync = false;
		e1 = ntptime_errest_seconds(p->err1);
		e2 = ntptime_errest_seconds(p->err2);
		e3 = ntptime_errest_seconds(p->err3);
		e4 = ntptime_errest_seconds(p->err4);
		stats_maxerr_update(e1 + e2 + e3 + e4, &out->maxerr);
		stats_maxerr_update(e1 + e2, &out->maxerr_fwd);
		stats_maxerr_update(e3 + e4, &out->maxerr_bck);
	}

	out->dscp_tx = st->tos_tx >= 0 ? st->tos_tx >> 2 : -1;
	out->ecn_tx = st->tos_tx >= 0 ? st->tos_tx & 3 : -1;
	out->dscp_fwd = stats_mode(dscp_n[0], 64);
	out->dscp_bck = stats_mode(dscp_n[1], 64);
	out->ecn_fwd = stats_mode(ecn_n[0], 4);
	out->ecn_bck = stats_mode(ecn_n[1], 4);
	out->ce_fwd = ecn_n[0][3];
	out->ce_bck = ecn_n[1][3];
	out->dscp_remarked = out->dscp_changed_fwd || out->dscp_changed_bck;
	out->received = received;
	out->lost = out->sent - received;
	out->loss_ratio = out->sent ? (double)out->lost / out->sent : 0;
	if (received == 0) {
		out->sync = false;
		return 0;
	}

	buf = malloc((size_t)received * sizeof(*buf));
	if (!buf)
		return -1;
	stats_dist_fill(st, stats_delay_rtt, buf, received, &out->rtt);
	stats_dist_fill(st, stats_delay_fwd, buf, received, &out->fwd);
	stats_dist_fill(st, stats_delay_bck, buf, received, &out->bck);
	free(buf);
	return 0;
}

int64_t stats_bucket_index(int64_t ns, double width)
{
	double q = ((double)ns / 1e9) / width;

	q = q < 0 ? floor(q) : ceil(q);
	/* delays of unsynchronized clocks may be years: keep the index in range */
	if (q > 4e18)
		return INT64_C(4000000000000000000);
	if (q < -4e18)
		return -INT64_C(4000000000000000000);
	return (int64_t)q;
}

/*
 * The first bucket at which the running count of the ascending indexes
 * reaches ceil(permille / 1000 * sent); none when fewer packets came back.
 */
static bool stats_hist_rank(const int64_t *sorted, uint32_t received, uint32_t sent,
			    unsigned int permille, int64_t *out)
{
	uint64_t k = ((uint64_t)permille * sent + 999) / 1000;

	if (k == 0)
		k = 1;
	if (k > received)
		return false;
	*out = sorted[k - 1];
	return true;
}

int stats_hist(const struct stats *st, double width, struct stats_hist *h)
{
	uint32_t n = 0, k, pos[3] = { 0 };
	int64_t *idx;

	memset(h, 0, sizeof(*h));
	h->width = width;
	for (uint32_t i = 0; i < st->npackets; i++)
		n += st->pkt[i].received;
	if (n == 0)
		return 0;
	idx = malloc(3 * (size_t)n * sizeof(*idx));
	h->b = malloc(3 * (size_t)n * sizeof(*h->b));
	if (!idx || !h->b) {
		free(idx);
		stats_hist_free(h);
		return -1;
	}
	k = 0;
	for (uint32_t i = 0; i < st->npackets; i++) {
		const struct stats_pkt *p = &st->pkt[i];

		if (!p->received)
			continue;
		idx[STATS_RTT * n + k] = stats_bucket_index(stats_delay_rtt(p), width);
		idx[STATS_FWD * n + k] = stats_bucket_index(stats_delay_fwd(p), width);
		idx[STATS_BCK * n + k] = stats_bucket_index(stats_delay_bck(p), width);
		if (p->ttl_fwd >= 0)
			h->ttl[p->ttl_fwd][0]++;
		if (p->ttl_bck >= 0)
			h->ttl[p->ttl_bck][1]++;
		k++;
	}
	for (int t = 0; t < 3; t++) {
		qsort(idx + (size_t)t * n, n, sizeof(*idx), stats_cmp_i64);
		h->median_valid[t] = stats_hist_rank(idx + (size_t)t * n, n, st->sent, 500, &h->median[t]);
		h->p95_valid[t] = stats_hist_rank(idx + (size_t)t * n, n, st->sent, 950, &h->p95[t]);
	}
	/* merge the three sorted lists into one row per bucket index */
	for (;;) {
		int64_t lo = 0;
		bool any = false;
		struct stats_bucket *b;

		for (int t = 0; t < 3; t++)
			if (pos[t] < n && (!any || idx[(size_t)t * n + pos[t]] < lo)) {
				lo = idx[(size_t)t * n + pos[t]];
				any = true;
			}
		if (!any)
			break;
		b = &h->b[h->nb++];
		b->index = lo;
		for (int t = 0; t < 3; t++) {
			b->n[t] = 0;
			while (pos[t] < n && idx[(size_t)t * n + pos[t]] == lo) {
				b->n[t]++;
				pos[t]++;
			}
		}
	}
	free(idx);
	return 0;
}

void stats_hist_free(struct stats_hist *h)
{
	free(h->b);
	h->b = NULL;
	h->nb = 0;
}

void stats_summary_clock_stepped(struct stats_summary *s)
{
	struct stats_dist *d[3] = { &s->rtt, &s->fwd, &s->bck };

	for (int i = 0; i < 3; i++)
		memset(d[i], 0, sizeof(*d[i]));  /* valid = false: every delay figure unknown */
	s->proc_valid = false;
	s->proc_min = s->proc_max = 0;
	s->clock_stepped = true;
}
