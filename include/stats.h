/*
 * stats: per-session accumulator and summary.
 *
 * Definitions follow twping (perfSONAR owamp) so that its -M keys keep their
 * meaning, plus percentiles, mean, RFC 3550 jitter, loss ratio, reordering:
 *
 *   RTT  = (T4 - T1) - (T3 - T2)      FWD = T2 - T1      BCK = T4 - T3
 *   PROC = T3 - T2
 *   PDV  = P95 - P50 of each delay
 *   MAXERR = max over packets of err(T1)+err(T2)+err(T3)+err(T4);
 *   MAXERR_FWD of err(T1)+err(T2); MAXERR_BCK of err(T3)+err(T4).
 *   TTL FWD = the Sender TTL the reflector reports; TTL BCK = the TTL we received.
 *   DSCP/ECN FWD = the DS field the reflector reports (RFC 7750), BCK = the
 *   DS field of the reflection as we received it; each summarised as the
 *   value most packets carried, plus the packets whose DSCP differed from the
 *   one expected (ours forward; backward only where the reflector is known
 *   to answer with our DSCP, as TWAMP's Type-P asks) and the packets that
 *   arrived marked Congestion Experienced.
 *
 * Percentiles use the nearest-rank method on the exact samples:
 * P(p) = x[ceil(p/100 * n) - 1] of the ascending samples (so the median of an
 * even count is the lower middle).  twping rounds into 0.1 ms buckets; we do
 * not, so our figures are never coarser than its.
 *
 * A packet is lost when no reflection of it arrived within the loss timeout
 * of its send time (a reflection arriving later counts as lost, as in twping).
 * Duplicates: a second reflection of the same sender sequence number with the
 * same reflector sequence number was duplicated on the way back (DUPS_BCK);
 * with another reflector sequence number, the reflector saw the sender's
 * packet twice (DUPS_FWD).  Reordered: a first reflection whose sender
 * sequence number is lower than the highest already received (RFC 4737).
 *
 * Memory: stats_init allocates one slot per planned packet (per session, never
 * per packet); stats_summarize allocates one scratch array for sorting.
 * Not thread-safe: an accumulator belongs to one session, which belongs to one
 * worker.
 */
#ifndef STATS_H
#define STATS_H

#include <stdbool.h>
#include <stdint.h>

struct stats_pkt {
	int64_t t1, t2, t3, t4;      /* 0 = unknown */
	uint16_t err1, err2, err3, err4;   /* error estimates as on the wire */
	uint32_t rseq;               /* reflector's sequence number of the first reflection */
	int16_t ttl_fwd, ttl_bck;    /* -1 unknown */
	int16_t tos_fwd, tos_bck;    /* DS field octets (DSCP << 2 | ECN), -1 unknown */
	uint8_t sent : 1;
	uint8_t received : 1;        /* a reflection arrived in time */
	uint8_t late : 1;            /* a reflection arrived after the loss timeout */
};

struct stats {
	uint32_t npackets;           /* capacity: sender seq 0..npackets-1 */
	int64_t loss_timeout;        /* ns */
	struct stats_pkt *pkt;
	uint32_t sent;
	uint32_t dups_fwd, dups_bck;
	uint32_t reordered;
	uint32_t unknown_seq;        /* reflections of sequence numbers never sent */
	int64_t max_seq_rx;          /* highest sender seq received, -1 none */
	int tos_tx;                  /* DS field of our packets, -1 unknown (stats_init) */
	int tos_bck_expected;        /* DSCP << 2 the reflector should answer with, -1 unknown */
};

/* A reflection as the session saw it. */
struct stats_reflection {
	uint32_t sender_seq;
	uint32_t rseq;
	int64_t t2, t3, t4;
	uint16_t err2, err3, err4;
	int ttl_fwd;   /* Sender TTL field of the reflection, -1 unknown */
	int ttl_bck;   /* IP TTL / hop limit of the reflection as received, -1 unknown */
	int tos_fwd;   /* RFC 7750 Sender DSCP and ECN of the reflection, -1 unknown */
	int tos_bck;   /* DS field of the reflection as received, -1 unknown */
	/*
	 * Receive minus send time on CLOCK_MONOTONIC, ns, which judges lateness
	 * against the loss timeout when > 0 (a wall-clock step between T1 and
	 * T4 then neither loses nor saves the packet); 0: t4 - t1 judges.
	 */
	int64_t rtt_mono;
};

enum stats_rx_result {
	STATS_RX_OK = 0,
	STATS_RX_DUP_FWD,
	STATS_RX_DUP_BCK,
	STATS_RX_LATE,      /* arrived after its loss timeout: counted as lost */
	STATS_RX_UNKNOWN,   /* never sent or out of range: dropped, counted */
};

/* Returns 0 or -1 (allocation failure). */
int stats_init(struct stats *st, uint32_t npackets, int64_t loss_timeout);
void stats_free(struct stats *st);
/* seq must be < npackets; repeated calls for one seq are ignored. */
void stats_sent(struct stats *st, uint32_t seq, int64_t t1, uint16_t err1);
enum stats_rx_result stats_reflected(struct stats *st, const struct stats_reflection *r);
/*
 * The kernel's transmit time of packet seq, which replaces the user-space T1
 * written in the packet for the sender's own figures (RTT, forward delay).
 */
void stats_tx_time(struct stats *st, uint32_t seq, int64_t t1);

/* Distribution of one delay, ns.  valid is false when there were no samples. */
struct stats_dist {
	bool valid;
	uint32_t n;
	int64_t min, max, median, p90, p95, p99;
	double mean;       /* ns */
	int64_t pdv;       /* p95 - median */
	double jitter;     /* RFC 3550 interarrival jitter, ns, in send order */
};

struct stats_summary {
	uint32_t sent, received, lost;
	uint32_t dups_fwd, dups_bck, reordered, unknown_seq;
	double loss_ratio;                    /* lost / sent, 0 when nothing sent */
	struct stats_dist rtt, fwd, bck;
	bool proc_valid;
	int64_t proc_min, proc_max;           /* ns */
	int ttl_fwd_min, ttl_fwd_max;         /* -1 unknown */
	int ttl_bck_min, ttl_bck_max;
	int dscp_tx, ecn_tx;                  /* what we sent, -1 unknown */
	int dscp_fwd, dscp_bck;               /* most common DSCP seen each way, -1 unknown */
	int ecn_fwd, ecn_bck;                 /* most common ECN codepoint each way, -1 unknown */
	uint32_t dscp_changed_fwd, dscp_changed_bck;  /* packets with another DSCP than expected */
	uint32_t ce_fwd, ce_bck;              /* packets that arrived Congestion Experienced */
	bool dscp_remarked;                   /* some packet's DSCP was changed on the way */
	bool sync;                            /* every timestamp had the S bit */
	double maxerr, maxerr_fwd, maxerr_bck;  /* seconds; <0 when unknown */
	int64_t first_send, last_send;        /* ns, 0 when nothing sent */
	bool clock_stepped;                   /* see stats_summary_clock_stepped() */
};

/* Returns 0, or -1 when the scratch allocation failed. */
int stats_summarize(const struct stats *st, struct stats_summary *out);
/*
 * The wall clock stepped during the session (session_info.clock_stepped):
 * T1..T4 mix two clocks, so every delay (round trip, one-way, reflector
 * processing) is marked unknown and clock_stepped set; the counts (sent,
 * lost, duplicates, reordering, DSCP, TTL) stand.
 */
void stats_summary_clock_stepped(struct stats_summary *s);

/*
 * Nearest rank on n >= 1 ascending samples: x[ceil(permille/1000 * n) - 1]
 * (permille 500 = median, 999 = p99.9).  The percentiles above use it.
 */
int64_t stats_rank_permille(const int64_t *sorted, uint64_t n, unsigned int permille);

/*
 * twping's bucketed figures (perfSONAR owamp 5.2.3, its -M keys MEDIAN, PDV,
 * <BUCKETS>, <TTLBUCKETS>).  Each delay of a first reflection received in
 * time falls into bucket ceil(d / width) (floor for a negative delay: away
 * from zero).  A percentile p is the first bucket, in ascending order, at
 * which the running count reaches p * SENT: lost packets count as infinitely
 * late, so with more than half of them lost there is no median (valid false).
 * The figure is the bucket index times the width.  PDV = P95 - P50 of those.
 */
#define STATS_BUCKET_WIDTH_DEFAULT 0.0001   /* s, twping's default (-b) */

enum { STATS_RTT, STATS_FWD, STATS_BCK };

struct stats_bucket {
	int64_t index;               /* in units of the width */
	uint32_t n[3];               /* packets: round trip, forward, backward */
};

struct stats_hist {
	double width;                /* s */
	bool median_valid[3], p95_valid[3];
	int64_t median[3], p95[3];   /* bucket indexes, by STATS_RTT/FWD/BCK */
	struct stats_bucket *b;      /* ascending index, every bucket with a count */
	uint32_t nb;
	uint32_t ttl[256][2];        /* packets per TTL value: forward, backward */
};

/* Bucket of a delay of ns nanoseconds at width seconds (> 0). */
int64_t stats_bucket_index(int64_t ns, double width);
/* Returns 0, or -1 when the allocation failed; free with stats_hist_free(). */
int stats_hist(const struct stats *st, double width, struct stats_hist *h);
void stats_hist_free(struct stats_hist *h);

/*
 * Copy the RTT and the reflector processing time (T3 - T2) of every
 * reflection received in time, in sequence order, into rtt[] and proc[]
 * (each with room for st->npackets); returns how many.  For callers that
 * pool the samples of many sessions (bench), without a copy per packet.
 */
uint32_t stats_samples(const struct stats *st, int64_t *rtt, int64_t *proc);

#endif
