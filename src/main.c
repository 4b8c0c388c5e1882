/*
 * twamp-client: subcommand dispatch, option parsing and signal handling.
 *
 *   ping        one measurement session, printed like twping
 *   responder   TWAMP server + reflector, light/STAMP reflector
 *   bench       load ramp against reflectors (src/bench/)
 *
 * Start-up is read top to bottom: parse, validate (exit 2 on a usage error),
 * build the workers, run, tear down in reverse order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "check_config.h"
#include "cli.h"
#include "crypto.h"
#include "ctlchan.h"
#include "daemon.h"
#include "log.h"
#include "ntptime.h"
#include "reflector.h"
#include "report.h"
#include "session.h"
#include "stats.h"
#include "tsock.h"
#include "version.h"
#include "worker.h"

#define EXIT_USAGE 2
#define EXIT_PARTIAL 3   /* ping: some of several test sessions ran, the others were refused */

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: twamp-client COMMAND [options]\n"
		"\n"
		"commands:\n"
		"  run                 the probe daemon: measure every target each cycle, deliver records\n"
		"  ping HOST[:PORT]    measure delay, loss and jitter to a TWAMP server or reflector\n"
		"  responder           run a TWAMP server and reflector\n"
		"  bench TARGET...     ramp load against reflectors; find the sustained capacity\n"
		"  check-config DIR    validate a configuration directory, print every problem\n"
		"  health              exit 0 when the daemon completed a cycle recently (HEALTHCHECK)\n"
		"\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this text\n"
		"\n"
		"`twamp-client COMMAND --help` describes the options of each command.\n");
}

/* ---- shared option parsers ------------------------------------------- */

static int parse_seconds(const char *s, int64_t *ns)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 1e6)
		return -1;
	*ns = (int64_t)(v * 1e9 + 0.5);
	return 0;
}

/*
 * A number (decimal, 0x hex or 0 octal) up to max: 0, or -1.  It starts with
 * a digit: strtoull() would take a blank and a sign, " -1" as 2^64 - 1.  A
 * uint64_t, so 64-bit values (--seed) are whole where long has 32 bits
 * (armhf, i386).
 */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (parse_u64(s, max, &v))
		return -1;
	*out = (unsigned long)v;
	return 0;
}

/* --seed of ping, bench and the responder: any 64-bit value */
static int parse_seed(const char *s, uint64_t *out)
{
	return parse_u64(s, UINT64_MAX, out);
}

/*
 * "LO-HI", decimal, 1 <= LO <= HI <= 65535.  Not sscanf("%u-%u"): it wraps
 * out-of-range numbers silently (1-4294967396 was 1-100) and takes signs
 * and blanks.
 */
static int parse_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	a = strtoul(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	b = strtoul(end + 1, &end, 10);
	if (*end || errno || a == 0 || a > b || b > 65535)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* A DSCP as a number (0-63) or a PHB name: BE, CSn, AFxy, EF, VA. */
static int parse_dscp(const char *s)
{
	unsigned long v;

	if (!parse_uint(s, 63, &v))
		return (int)v;
	if (!strcasecmp(s, "BE") || !strcasecmp(s, "DF"))
		return 0;
	if (!strcasecmp(s, "EF"))
		return 46;
	if (!strcasecmp(s, "VA"))
		return 44;
	if (!strncasecmp(s, "CS", 2) && s[2] >= '0' && s[2] <= '7' && !s[3])
		return (s[2] - '0') << 3;
	if (!strncasecmp(s, "AF", 2) && s[2] >= '1' && s[2] <= '4' && s[3] >= '1' && s[3] <= '3' && !s[4])
		return ((s[2] - '0') << 3) | ((s[3] - '0') << 1);
	return -1;
}

static volatile sig_atomic_t got_signal;
static struct worker *signal_worker;

static void on_signal(int sig)
{
	got_signal = sig;
	if (signal_worker)
		wk_stop(signal_worker);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Many sessions, many sockets: take every descriptor the hard limit allows.  Returns the limit now. */
static unsigned long raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_cur;
}

/* ---- extensions (ping and responder --extensions) ----------------------- */

/* "dscp-ecn,reflect-octets,symmetrical", "all" or "none" -> WIRE_MODE_* bits. */
static int parse_extensions(const char *s, uint32_t *out)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
		{ "dscp-ecn", WIRE_MODE_DSCP_ECN },
		{ "reflect-octets", WIRE_MODE_REFLECT_OCTETS },
		{ "symmetrical", WIRE_MODE_SYMMETRICAL },
		{ "individual", WIRE_MODE_INDIV_SESSION },
		{ "all", REFL_EXTENSIONS },
		{ "none", 0 },
	};
	char buf[128], *save = NULL;
	uint32_t v = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(t, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		v |= names[i].bit;
	}
	*out = v;
	return 0;
}

/* ECN codepoint by number or RFC 3168 name. */
static int parse_ecn(const char *s)
{
	static const char *const names[] = { "not-ect", "ect1", "ect0", "ce" };

	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, names[i]) || (s[0] == '0' + i && !s[1]))
			return i;
	return -1;
}

/* ---- security modes (ping -A, responder --modes) ----------------------- */

/* Letters A E M O (any order, either case) -> WIRE_MODE_* bits; -1 on a bad letter. */

/* ---- ping -------------------------------------------------------------- */

static bool ping_json; /* --json seen: failures are JSON objects on stdout too */

/*
 * A failure of ping: "twamp-client ping: REASON" on stderr (a usage error
 * adds where the help is) and, once --json was seen, one JSON object
 * {"error": ERROR, "reason": REASON} on stdout for scripts.  Returns rc.
 */
static int ping_fail(int rc, const char *error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int ping_fail(int rc, const char *error, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (rc == EXIT_USAGE)
		cli_usage_error("ping", "%s", reason);
	else
		fprintf(stderr, "twamp-client ping: %s\n", reason);
	if (ping_json)
		report_json_error(stdout, "", -1, error, reason);
	return rc;
}

static void usage_ping(FILE *f)
{
	fprintf(f,
		"usage: twamp-client ping [options] HOST[:PORT]\n"
		"\n"
		"Runs one TWAMP session (or TWAMP Light / STAMP) against HOST and prints\n"
		"twping's statistics.  PORT defaults to 862.  IPv6 literals: [::1]:862.\n"
		"\n"
		"  -c COUNT          packets to send (default 100)\n"
		"  -i SECONDS[f|e]   mean interval between packets (default 0.1); suffix f: fixed\n"
		"                    (default), e: exponentially distributed (seeded, see --seed)\n"
		"  -s PADDING        octets of padding after the test header (default: what makes\n"
		"                    the reflection as large as the packet sent: 27, 0 for STAMP)\n"
		"  -D DSCP[,DSCP...] DSCP of the test packets: 0-63 or a PHB name (EF, AF41, CS5);\n"
		"                    several (up to 8): one test session each on one control\n"
		"                    connection, reported one after the other (--json: an array)\n"
		"  -L SECONDS        loss timeout: a reply later than this counts as lost (default 2)\n"
		"  -4, -6            use IPv4 / IPv6 only when resolving HOST\n"
		"  -S SRCADDR        source address of the control and test packets\n"
		"  -P LOW-HIGH       local UDP port range of the test socket\n"
		"  -Z                zero addresses in Request-TW-Session (for servers behind NAT)\n"
		"  -A MODES          TWAMP-Control modes we accept, strongest first: letters A\n"
		"                    (authenticated), E (encrypted), M (mixed: encrypted control,\n"
		"                    open test packets), O (unauthenticated); default O.  Keyed\n"
		"                    modes pad test packets to 112 octets by default\n"
		"  --max-pbkdf2-count N  largest Server Greeting Count (PBKDF2 iterations) we\n"
		"                    derive a key for; a server asking for more is refused\n"
		"                    (default 2048, what twampd sends; 1024-1048576)\n"
		"  -u KEYID          KeyID (user name) of the shared secret, for A, E and M\n"
		"  -k KEYFILE        file with the shared secret: twampd's pfs format, one\n"
		"                    'KEYID<TAB>hex-secret' per line; the line of -u is used.\n"
		"                    Without -k the environment variable TWAMP_SECRET holds the\n"
		"                    passphrase as text.  Secrets never go on the command line\n"
		"  --extensions LIST TWAMP extensions to use when the server offers them, comma-\n"
		"                    separated: dscp-ecn (RFC 7750: the reflector reports the DSCP\n"
		"                    and ECN it received), individual (RFC 5938 Start-N/Stop-N-\n"
		"                    Sessions), symmetrical (RFC 6038 equal sizes both ways, open\n"
		"                    test packets), reflect-octets (see --reflect-octets), all,\n"
		"                    none; default dscp-ecn,individual\n"
		"  --reflect-octets N  RFC 6038: ask the reflector to return the first N octets of\n"
		"                    our padding, and check every reflection does\n"
		"  --ecn CODEPOINT   ECN of the test packets: not-ect (default), ect0, ect1, ce or\n"
		"                    0-3; the records show what arrived at each end\n"
		"  --mode MODE       control (TWAMP with TWAMP-Control, default), light (TWAMP\n"
		"                    Light, RFC 5357 appendix I) or stamp (RFC 8762)\n"
		"  --ssid N          STAMP session identifier (default 1)\n"
		"  --control-timeout SECONDS  timeout of each control step (default 10)\n"
		"  --seed N          seed of the spacing and padding generator, 64 bits (default 1)\n"
		"  --spin US         wake US microseconds before each send and poll the rest, so\n"
		"                    packets leave on time (default 100; 0: sleep only, less CPU)\n"
		"  --timestamps kernel|user  kernel (default: SO_TIMESTAMPING RX and TX, where the\n"
		"                    kernel delivers them) or user-space send/receive times only\n"
		"  --hw-timestamps IFACE  NIC timestamps on IFACE (SIOCSHWTSTAMP; keep its clock on\n"
		"                    the system clock with phc2sys); falls back to software ones\n"
		"  -v                one line per packet, then the summary\n"
		"  -R                raw: one line per packet with T1 T2 T3 T4 in ns, then the summary\n"
		"  -M                twping's machine-readable output: its keys in its order\n"
		"                    (SENT, LOST, MIN ..., MEDIAN and PDV from <BUCKETS>), then ours\n"
		"  -b SECONDS        -M's BUCKET_WIDTH, as twping's -b (default 0.0001)\n"
		"  --json            one JSON object; a failure: {\"error\": ..., \"reason\": ...}\n"
		"  -q                no summary (useful with -v)\n"
		"  --debug           debug logging on stderr\n"
		"  -h, --help        this text\n"
		"\n"
		"Exit status: 0 when the test ran (whatever the loss), 1 when it could not run\n"
		"(the reason is printed on one line), 2 on a usage error, 3 when some of several\n"
		"test sessions (-D A,B,...) ran and the others could not (one line each on\n"
		"stderr; the ones that ran are reported).\n");
}

struct ping_ctx {
	struct worker *wk;
	bool done;
};

static void ping_done(struct session *s, void *arg)
{
	struct ping_ctx *c = arg;

	(void)s;
	c->done = true;
	wk_stop(c->wk);
}

struct ping_job {
	struct session_params *p;
	struct session *s;
};

static void ping_start_job(struct worker *wk, void *arg)
{
	struct ping_job *j = arg;

	j->s = session_start(wk, j->p);
	if (!j->s) {
		log_err("out of memory");
		wk_stop(wk);
	}
}

/*
 * The session options ping and bench share: -s, -L, -4/-6, -S, --control-timeout
 * (t), --timestamps (T), --seed (e), --spin (p).  1: handled; 0: not one of
 * them; -1: a bad value (the caller reports it).
 */
struct common_opts {
	struct session_params *p;
	int *family;
	const char **src;
	int64_t *spin;
};

static int common_session_opt(int opt, const char *arg, const struct common_opts *c)
{
	unsigned long v;

	switch (opt) {
	case 's':
		if (parse_uint(arg, WIRE_TEST_MAX_LEN - WIRE_STAMP_LEN, &v))
			return -1;
		c->p->padding = (uint32_t)v;
		return 1;
	case 'L':
		return parse_seconds(arg, &c->p->loss_timeout) || !c->p->loss_timeout ? -1 : 1;
	case 't':
		return parse_seconds(arg, &c->p->ctl_timeout) || !c->p->ctl_timeout ? -1 : 1;
	case '4':
	case '6':
		*c->family = opt == '4' ? AF_INET : AF_INET6;
		return 1;
	case 'S':
		*c->src = arg;
		return 1;
	case 'T':
		if (strcmp(arg, "user") != 0 && strcmp(arg, "kernel") != 0)
			return -1;
		c->p->user_timestamps = !strcmp(arg, "user");
		return 1;
	case 'e':
		return parse_seed(arg, &c->p->seed) ? -1 : 1;
	case 'p':
		if (parse_uint(arg, 100000, &v))
			return -1;
		*c->spin = (int64_t)v * NS_PER_US;
		return 1;
	default:
		return 0;
	}
}

static int cmd_ping(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "seed", required_argument, NULL, 'e' },
		{ "ssid", required_argument, NULL, 'd' },
		{ "control-timeout", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'g' },
		{ "spin", required_argument, NULL, 'p' },
		{ "timestamps", required_argument, NULL, 'T' },
		{ "hw-timestamps", required_argument, NULL, 'H' },
		{ "extensions", required_argument, NULL, 'X' },
		{ "reflect-octets", required_argument, NULL, 'r' },
		{ "ecn", required_argument, NULL, 'E' },
		{ "max-pbkdf2-count", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *hw_iface = NULL;
	int64_t spin = 100 * NS_PER_US;
	struct session_params p;
	struct common_opts co;
	struct ping_ctx ctx = { 0 };
	struct ping_job job = { .p = &p };
	struct stats_summary sum;
	int family = AF_UNSPEC, opt, rc = 1;
	bool verbose = false, machine = false, json = false, quiet = false, raw = false;
	const char *src = NULL, *target, *keyfile = NULL, *keyid = NULL, *modes = NULL;
	char host[256], err[300], from_host[NI_MAXHOST] = "";
	double bucket_width = STATS_BUCKET_WIDTH_DEFAULT;
	static uint8_t secret[REFL_SECRET_MAX];
	unsigned long v;

	session_params_default(&p);
	co = (struct common_opts){ .p = &p, .family = &family, .src = &src, .spin = &spin };
	/* --json anywhere (before "--") makes every failure a JSON object, also
	 * one met in an option before it */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (!strcmp(argv[i], "--json"))
			ping_json = true;
	opterr = 0; /* ':' and '?' are worded by cli_getopt_problem() */
	while ((opt = getopt_long(argc, argv, ":c:i:s:D:L:46S:P:ZvMRqhA:u:k:b:", longopts, NULL)) != -1) {
		int common = common_session_opt(opt, optarg, &co);

		if (common < 0)
			goto bad_opt;
		if (common > 0)
			continue;
		switch (opt) {
		case 'A':
			modes = optarg;
			if (wire_parse_modes(optarg, &p.allowed_modes) < 0) {
				return ping_fail(EXIT_USAGE, "usage", "-A %s: use the letters A, E, M and O", optarg);
			}
			break;
		case 'u':
			keyid = optarg;
			if (strlen(optarg) > 80) {
				return ping_fail(EXIT_USAGE, "usage", "-u: a KeyID has at most 80 characters");
			}
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, 10000000, &v) || v == 0)
				goto bad_opt;
			p.count = (uint32_t)v;
			break;
		case 'i': {
			char buf[64];
			size_t n = strlen(optarg);

			snprintf(buf, sizeof(buf), "%s", optarg);
			p.exponential = false;
			if (n && (buf[n - 1] == 'e' || buf[n - 1] == 'f')) {
				p.exponential = buf[n - 1] == 'e';
				buf[n - 1] = 0;
			}
			if (parse_seconds(buf, &p.interval))
				goto bad_opt;
			break;
		}
		case 'D': {
			/* several, comma-separated: one test session each, one control connection */
			char buf[256], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", optarg);
			p.nstreams = 0;
			for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int d = parse_dscp(t);

				if (d < 0 || p.nstreams == SESSION_MAX_STREAMS)
					goto bad_opt;
				p.stream_dscp[p.nstreams++] = d;
			}
			if (!p.nstreams)
				goto bad_opt;
			p.dscp = p.stream_dscp[0];
			break;
		}
		case 'P':
			if (parse_range(optarg, &p.port_lo, &p.port_hi))
				goto bad_opt;
			break;
		case 'Z':
			p.zero_addr = true;
			break;
		case 'm':
			if (!strcmp(optarg, "control"))
				p.mode = SESSION_CONTROL;
			else if (!strcmp(optarg, "light"))
				p.mode = SESSION_LIGHT;
			else if (!strcmp(optarg, "stamp"))
				p.mode = SESSION_STAMP;
			else
				goto bad_opt;
			break;
		case 'd':
			if (parse_uint(optarg, 65535, &v))
				goto bad_opt;
			p.ssid = (uint16_t)v;
			break;
		case 'X':
			if (parse_extensions(optarg, &p.extensions) < 0) {
				return ping_fail(EXIT_USAGE, "usage", "--extensions %s: use dscp-ecn, individual, "
						 "reflect-octets, symmetrical, all or none, comma-separated", optarg);
			}
			break;
		case 'r':
			if (parse_uint(optarg, 4096, &v) || !v)
				goto bad_opt;
			p.pad_reflect = (uint16_t)v;
			p.extensions |= WIRE_MODE_REFLECT_OCTETS;
			break;
		case 'E':
			if ((p.ecn = parse_ecn(optarg)) < 0) {
				return ping_fail(EXIT_USAGE, "usage", "--ecn %s: use not-ect, ect0, ect1, ce or 0-3",
					optarg);
			}
			break;
		case 'W':
			if (parse_uint(optarg, CTLCHAN_COUNT_MAX, &v) || v < 1024) {
				return ping_fail(EXIT_USAGE, "usage", "--max-pbkdf2-count %s: give 1024-%u",
					optarg, CTLCHAN_COUNT_MAX);
			}
			p.kdf_count_max = (uint32_t)v;
			break;
		case 'v':
			verbose = true;
			break;
		case 'R':
			raw = true;
			break;
		case 'H':
			hw_iface = optarg;
			break;
		case 'M':
			machine = true;
			break;
		case 'b': {
			char *end;

			bucket_width = strtod(optarg, &end);
			if (end == optarg || *end || !(bucket_width >= 1e-9 && bucket_width <= 10)) {
				return ping_fail(EXIT_USAGE, "usage", "-b %s: give a bucket width of 1e-9 to 10 seconds",
						 optarg);
			}
			break;
		}
		case 'j':
			json = ping_json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'g':
			log_set_level(LOGL_DEBUG);
			break;
		case 'h':
			usage_ping(stdout);
			return 0;
		default:
			cli_getopt_problem(err, sizeof(err), opt, argv, longopts);
			return ping_fail(EXIT_USAGE, "usage", "%s", err);
		}
	}
	if (optind != argc - 1)
		return ping_fail(EXIT_USAGE, "usage", optind == argc ? "give a HOST[:PORT]" :
				 "give exactly one HOST[:PORT] ('%s' and '%s')", argv[optind], argv[optind + 1]);
	if (p.mode == SESSION_STAMP && !p.ssid)
		p.ssid = 1;
	if (p.mode == SESSION_LIGHT && p.padding != SESSION_PADDING_DEFAULT &&
	    WIRE_TEST_SENDER_LEN + p.padding < WIRE_TEST_REFLECT_LEN)
		fprintf(stderr, "twamp-client ping: warning: -s %u makes %u-octet light test packets, shorter "
			"than the %d-octet reflection: a reflector may drop them (ours does, unless run with "
			"--pad-short) or answer them padded\n", p.padding, WIRE_TEST_SENDER_LEN + p.padding,
			WIRE_TEST_REFLECT_LEN);
	if (p.nstreams > 1 && p.mode != SESSION_CONTROL) {
		return ping_fail(EXIT_USAGE, "usage", "several DSCPs need TWAMP-Control (--mode control): "
				 "light and STAMP have no control connection to share");
	}
	if (p.allowed_modes & ~WIRE_MODE_OPEN) {
		const char *env = getenv("TWAMP_SECRET");

		if (!keyid || (!keyfile && !(env && *env))) {
			return ping_fail(EXIT_USAGE, "usage", "-A %s needs -u and -k (or the TWAMP_SECRET "
					 "environment variable)", modes);
		}
		snprintf(p.keyid, sizeof(p.keyid), "%s", keyid);
		if (keyfile) {
			if (refl_key_find(keyfile, keyid, secret, &p.secret_len, err, sizeof(err)) < 0) {
				return ping_fail(EXIT_USAGE, "usage", "%s", err);
			}
		} else {
			size_t n = strlen(env);

			if (n > sizeof(secret)) {
				return ping_fail(EXIT_USAGE, "usage", "TWAMP_SECRET is longer than %zu octets",
					sizeof(secret));
			}
			/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): key octets with a length */
			memcpy(secret, env, n);
			p.secret_len = n;
		}
		p.secret = secret;
	} else if (keyid || keyfile) {
		return ping_fail(EXIT_USAGE, "usage", "-u and -k need -A with A, E or M");
	}
	target = argv[optind];
	switch (tsock_resolve(target, family, 862, &p.server, host, sizeof(host), err, sizeof(err))) {
	case 0:
		break;
	case -2: /* written wrongly */
		return ping_fail(EXIT_USAGE, "usage", "%s", err);
	default:
		return ping_fail(1, "unreachable", "%s: unreachable: %s", target, err);
	}
	if (src && tsock_resolve(src, p.server.ss_family, 0, &p.local, NULL, 0, err, sizeof(err)) < 0) {
		return ping_fail(EXIT_USAGE, "usage", "source address: %s", err);
	}

	raise_nofile();
	install_signals();
	if (hw_iface)
		tsock_enable_hw(hw_iface);
	if (log_get_level() >= LOGL_DEBUG)
		tsock_probe(true);
	ctx.wk = wk_create(0, -1, 16);
	if (!ctx.wk)
		return ping_fail(1, "local error", "cannot start the worker");
	signal_worker = ctx.wk;
	wk_set_spin(ctx.wk, spin);
	p.on_done = ping_done;
	p.ctx = &ctx;
	wk_submit(ctx.wk, ping_start_job, &job);
	wk_run(ctx.wk);
	signal_worker = NULL;
	if (!ctx.done) {
		ping_fail(1, "interrupted", "%s: interrupted", target);
		goto out;
	}
	{
		unsigned n = session_nstreams(job.s), nok = 0, k = 0;

		for (unsigned i = 0; i < n; i++)
			nok += session_info(session_stream(job.s, i))->status == SESSION_OK;
		if (!nok) {
			const char *what = session_status_name(session_info(job.s)->status);

			ping_fail(1, what, "%s: %s: %s", target, what, session_info(job.s)->error);
			goto out;
		}
		/* several on one connection, some refused: say which, then report the others */
		for (unsigned i = 0; nok < n && i < n; i++) {
			const struct session *st = session_stream(job.s, i);

			if (session_info(st)->status == SESSION_OK)
				fprintf(stderr, "twamp-client ping: %s: test session %u of %u (DSCP %d): accepted\n",
					target, i + 1, n, session_params(st)->dscp);
			else
				fprintf(stderr, "twamp-client ping: %s: test session %u of %u (DSCP %d): %s: %s\n",
					target, i + 1, n, session_params(st)->dscp,
					session_status_name(session_info(st)->status), session_info(st)->error);
		}

		/* twping's FROM_HOST: the name of our address, never waited for long */
		if (machine || json)
			tsock_addr_name(&session_info(job.s)->local_test, 1000, from_host, sizeof(from_host));
		if (json && n > 1)
			fputs("[\n", stdout);
		for (unsigned i = 0; i < n; i++) {
			const struct session *st = session_stream(job.s, i);
			struct report r = {
				.info = session_info(st), .params = session_params(st),
				.st = session_stats(st), .sum = &sum,
				.from_host = from_host, .to_host = host, .bucket_width = bucket_width,
			};

			if (r.info->status != SESSION_OK) {
				if (json) /* its place in the array says why it did not run */
					report_json_error(stdout, k++ ? "," : "", r.params->dscp,
							  session_status_name(r.info->status), r.info->error);
				continue;
			}
			if (session_summarize(st, &sum) < 0) {
				log_err("out of memory");
				if (json && n > 1)
					fputs("]\n", stdout);
				goto out;
			}
			if (k && !json)
				fputs("\n", stdout); /* one block per test session */
			if (raw)
				report_raw(stdout, &r);
			if (verbose)
				report_packets(stdout, &r);
			if (json) {
				if (k)
					fputs(",", stdout);
				report_json(stdout, &r);
			} else if (machine) {
				report_machine(stdout, &r);
			} else if (!quiet) {
				report_text(stdout, &r);
			}
			k++;
		}
		if (json && n > 1)
			fputs("]\n", stdout);
		rc = nok == n ? 0 : EXIT_PARTIAL;
	}
out:
	session_free(job.s);
	wk_destroy(ctx.wk);
	crypto_wipe(secret, sizeof(secret));
	return rc;
bad_opt:
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == opt) {
			return ping_fail(EXIT_USAGE, "usage", "invalid value '%s' for --%s", optarg, o->name);
		}
	return ping_fail(EXIT_USAGE, "usage", "invalid value '%s' for -%c", optarg, opt);
}

/* ---- responder ----------------------------------------------------------- */

static void usage_responder(FILE *f)
{
	fprintf(f,
		"usage: twamp-client responder [options]\n"
		"\n"
		"A TWAMP server (RFC 5357; unauthenticated, and with --keys the authenticated,\n"
		"encrypted and mixed modes of RFC 4656/5618) with its session reflector,\n"
		"and optionally TWAMP Light / STAMP reflectors on plain UDP ports.\n"
		"\n"
		"  --listen ADDR:PORT     control address (repeatable; default [::]:862, which\n"
		"                         takes IPv4 and IPv6)\n"
		"  --light ADDR:PORT      TWAMP Light and STAMP reflector (repeatable)\n"
		"  --test-ports LOW-HIGH  UDP ports of the test sessions (default: any free port)\n"
		"  --max-sessions N       test sessions in all (default 100000)\n"
		"  --max-per-client N     test sessions per client address (default 1000)\n"
		"  --max-per-connection N test sessions per control connection (1-64, default 16)\n"
		"  --max-connections N    control connections in all (default 50000)\n"
		"  --max-conn-per-client N  control connections per client address (default 1000);\n"
		"                         past a limit a connection is closed at once, and logged\n"
		"  --control-timeout S    seconds a client may take between control messages\n"
		"                         while none of its test sessions runs (default 30)\n"
		"  --refwait S            seconds without a test packet before a started session is\n"
		"                         dropped (REFWAIT, default 900)\n"
		"  --greeting-count N     Count field of the Server Greeting, the PBKDF2 iteration\n"
		"                         count of the keyed modes (default 1024, at least 1024)\n"
		"  --keys FILE            shared secrets, twampd's pfs format: one\n"
		"                         'KEYID<TAB>hex-secret' per line, '#' comments\n"
		"  --modes LIST           modes offered: letters O (unauthenticated), A\n"
		"                         (authenticated), E (encrypted), M (mixed); default O, and\n"
		"                         OAEM with --keys.  A client with an unknown KeyID or the\n"
		"                         wrong secret is denied (Accept 1) and disconnected\n"
		"  --extensions LIST      extensions offered in the greeting (default all):\n"
		"                         dscp-ecn (RFC 7750), individual (RFC 5938),\n"
		"                         reflect-octets and symmetrical (RFC 6038),\n"
		"                         comma-separated, or none\n"
		"  --pad-short            light/STAMP ports: answer test packets shorter than 41\n"
		"                         octets (twampy's default, ping -s 0) with 41 octets; off:\n"
		"                         they are dropped (counted as malformed), because a light\n"
		"                         port answers any source and a larger reflection would\n"
		"                         amplify.  Control-mode sessions always answer them\n"
		"                         padded to the reflection size, as twampd does\n"
		"  --stateful             light/STAMP: the reflector's Sequence Number counts per\n"
		"                         sender (address, port, STAMP SSID) from 0 (RFC 8762\n"
		"                         stateful mode); a sender idle for --refwait starts again\n"
		"                         from 0; 16384 senders per worker, the longest idle one\n"
		"                         evicted when full (counted).  Default: stateless, the\n"
		"                         sender's own Sequence Number is returned\n"
		"  --reflect-dscp DSCP    light/STAMP: reflect with this DSCP (0-63 or a name: BE,\n"
		"                         CSn, AFxy, EF, VA) instead of the DSCP received.  Either\n"
		"                         way the ECN field received is returned, except CE, which\n"
		"                         is answered as ECT(0).  Control-mode sessions use the\n"
		"                         DSCP of their request (Type-P)\n"
		"  --rate-limit PPS[:BURST]  light/STAMP reflections per second to one source\n"
		"                         address, BURST of them at once (default 1000:1000, a\n"
		"                         hundred sessions at 10 packets/s); past it packets are\n"
		"                         not answered (counted, logged).  Each worker counts on\n"
		"                         its own; loopback sources are never limited; 'off'\n"
		"                         disables it.  Datagrams from a reflector port of this\n"
		"                         host (ours, 862, another responder's light port) are\n"
		"                         never answered: a forged one would loop for ever\n"
		"  --workers N            reflector threads (default: number of CPUs)\n"
		"  --delay MS             impairment: add MS milliseconds to every reflection\n"
		"  --jitter MS            impairment: add a uniform random 0..MS milliseconds\n"
		"  --loss PCT             impairment: drop PCT percent of the test packets\n"
		"  --duplicate PCT        impairment: send PCT percent of the reflections twice\n"
		"  --reorder PCT          impairment: hold PCT percent back behind the next one\n"
		"  --seed N               seed of the impairments, 64 bits (default: random)\n"
		"  --debug                debug logging\n"
		"  --hw-timestamps IFACE  NIC receive timestamps (T2) on IFACE; falls back to software\n"
		"  -h, --help             this text\n"
		"\n"
		"On SIGINT/SIGTERM it prints its counters on stderr and exits 0.\n");
}

static int add_addr(struct sockaddr_storage *arr, int *n, const char *spec, const char *what)
{
	char err[300];

	if (*n >= REFL_MAX_ADDRS) {
		fprintf(stderr, "twamp-client responder: at most %d %s addresses\n", REFL_MAX_ADDRS, what);
		return -1;
	}
	if (tsock_resolve(spec, AF_UNSPEC, 862, &arr[*n], NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "twamp-client responder: --%s %s: %s\n", what, spec, err);
		return -1;
	}
	(*n)++;
	return 0;
}

static int parse_pct(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 100)
		return -1;
	*out = v;
	return 0;
}

static int cmd_responder(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "light", required_argument, NULL, 'L' },
		{ "test-ports", required_argument, NULL, 'P' },
		{ "max-sessions", required_argument, NULL, 'm' },
		{ "max-per-client", required_argument, NULL, 'c' },
		{ "max-per-connection", required_argument, NULL, 'n' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-conn-per-client", required_argument, NULL, 'T' },
		{ "control-timeout", required_argument, NULL, 't' },
		{ "refwait", required_argument, NULL, 'r' },
		{ "greeting-count", required_argument, NULL, 'g' },
		{ "keys", required_argument, NULL, 'K' },
		{ "modes", required_argument, NULL, 'O' },
		{ "pad-short", no_argument, NULL, 'p' },
		{ "extensions", required_argument, NULL, 'X' },
		{ "workers", required_argument, NULL, 'w' },
		{ "delay", required_argument, NULL, 'd' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "loss", required_argument, NULL, 'o' },
		{ "duplicate", required_argument, NULL, 'u' },
		{ "reorder", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'G' },
		{ "hw-timestamps", required_argument, NULL, 'H' },
		{ "rate-limit", required_argument, NULL, 'Z' },
		{ "stateful", no_argument, NULL, 'S' },
		{ "reflect-dscp", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *hw_iface = NULL;
	struct refl_config c;
	struct responder *r;
	struct refl_counters k;
	struct refl_key *keys = NULL;
	size_t nkeys = 0;
	const char *keyfile = NULL;
	int opt, nlisten = 0;
	unsigned long v;
	double d;
	sigset_t set;
	int sig;
	bool max_sessions_set = false;

	refl_config_default(&c);
	c.nlisten = 0;
	c.nworkers = wk_ncpus();
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (add_addr(c.listen, &nlisten, optarg, "listen") < 0)
				return EXIT_USAGE;
			break;
		case 'L':
			if (add_addr(c.light, &c.nlight, optarg, "light") < 0)
				return EXIT_USAGE;
			break;
		case 'P':
			if (parse_range(optarg, &c.port_lo, &c.port_hi))
				goto bad_opt;
			break;
		case 'm':
			if (parse_uint(optarg, 10000000, &v) || !v)
				goto bad_opt;
			c.max_sessions = (unsigned)v;
			max_sessions_set = true;
			break;
		case 'c':
			if (parse_uint(optarg, 10000000, &v) || !v)
				goto bad_opt;
			c.max_per_client = (unsigned)v;
			break;
		case 'n':
			if (parse_uint(optarg, 64, &v) || !v)
				goto bad_opt;
			c.max_per_conn = (unsigned)v;
			break;
		case 'C':
		case 'T':
			if (parse_uint(optarg, 10000000, &v) || !v)
				goto bad_opt;
			*(opt == 'C' ? &c.max_conns : &c.max_conns_per_client) = (unsigned)v;
			break;
		case 't':
			if (parse_seconds(optarg, &c.ctl_timeout) || !c.ctl_timeout)
				goto bad_opt;
			break;
		case 'r':
			if (parse_seconds(optarg, &c.refwait) || !c.refwait)
				goto bad_opt;
			break;
		case 'g':
			if (parse_uint(optarg, UINT32_MAX, &v))
				goto bad_opt;
			if (v < 1024) {
				fprintf(stderr, "twamp-client responder: --greeting-count must be at least 1024 "
					"(RFC 4656)\n");
				return EXIT_USAGE;
			}
			c.greeting_count = (uint32_t)v;
			break;
		case 'K':
			keyfile = optarg;
			break;
		case 'O':
			if (wire_parse_modes(optarg, &c.modes) < 0) {
				fprintf(stderr, "twamp-client responder: --modes %s: use the letters O, A, E "
					"and M\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			c.pad_short = true;
			break;
		case 'S':
			c.stateful = true;
			break;
		case 'D': {
			int dscp = parse_dscp(optarg);

			if (dscp < 0)
				goto bad_opt;
			c.reflect_dscp_set = true;
			c.reflect_dscp = (uint8_t)dscp;
			break;
		}
		case 'X':
			if (parse_extensions(optarg, &c.extensions) < 0) {
				fprintf(stderr, "twamp-client responder: --extensions %s: use dscp-ecn, "
					"individual, reflect-octets, symmetrical, all or none, comma-separated\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			if (parse_uint(optarg, 1024, &v) || !v)
				goto bad_opt;
			c.nworkers = (int)v;
			break;
		case 'd':
		case 'j':
			if (parse_seconds(optarg, opt == 'd' ? &c.imp.delay : &c.imp.jitter))
				goto bad_opt;
			/* given in milliseconds */
			if (opt == 'd')
				c.imp.delay /= 1000;
			else
				c.imp.jitter /= 1000;
			break;
		case 'o':
		case 'u':
		case 'R':
			if (parse_pct(optarg, &d))
				goto bad_opt;
			*(opt == 'o' ? &c.imp.loss : opt == 'u' ? &c.imp.duplicate : &c.imp.reorder) = d;
			break;
		case 's':
			if (parse_seed(optarg, &c.imp.seed))
				goto bad_opt;
			break;
		case 'G':
			log_set_level(LOGL_DEBUG);
			break;
		case 'H':
			hw_iface = optarg;
			break;
		case 'Z': {
			char *colon = strchr(optarg, ':');

			if (!strcmp(optarg, "off") || !strcmp(optarg, "0")) {
				c.rate_limit = 0;
				break;
			}
			if (colon)
				*colon = 0;
			if (parse_uint(optarg, 100000000, &v) || !v) {
				if (colon)
					*colon = ':';
				fprintf(stderr, "twamp-client responder: --rate-limit %s: give PPS[:BURST] "
					"(1 to 100000000 packets/s, burst 1 to 100000000) or off\n", optarg);
				return EXIT_USAGE;
			}
			c.rate_limit = (unsigned)v;
			c.rate_burst = (unsigned)v < REFL_RATE_BURST ? (unsigned)v : REFL_RATE_BURST;
			if (colon) {
				*colon = ':';
				if (parse_uint(colon + 1, 100000000, &v) || !v) {
					fprintf(stderr, "twamp-client responder: --rate-limit %s: give PPS[:BURST] "
						"(1 to 100000000 packets/s, burst 1 to 100000000) or off\n", optarg);
					return EXIT_USAGE;
				}
				c.rate_burst = (unsigned)v;
			}
			break;
		}
		case 'h':
			usage_responder(stdout);
			return 0;
		default: {
			char why[160];

			cli_getopt_problem(why, sizeof(why), opt, argv, longopts);
			cli_usage_error("responder", "%s", why);
			return EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		cli_usage_error("responder", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (nlisten == 0 && c.nlight == 0) {
		if (add_addr(c.listen, &nlisten, "[::]:862", "listen") < 0)
			return 1;
	}
	c.nlisten = nlisten;
	if (keyfile) {
		char err[512];

		if (refl_keys_load(keyfile, &keys, &nkeys, err, sizeof(err)) < 0) {
			fprintf(stderr, "twamp-client responder: %s\n", err);
			return 1;
		}
		if (nkeys == 0) {
			fprintf(stderr, "twamp-client responder: key file %s holds no key\n", keyfile);
			return 1;
		}
		c.keys = keys;
		c.nkeys = nkeys;
	}
	if ((c.modes & ~WIRE_MODE_OPEN) && !keyfile) {
		fprintf(stderr, "twamp-client responder: --modes with A, E or M needs --keys FILE\n");
		return EXIT_USAGE;
	}

	{
		/* a test session with a control connection of its own holds two descriptors */
		unsigned long nofile = raise_nofile(), room = nofile > 64 ? (nofile - 64) / 2 : 0;

		if (max_sessions_set && room < c.max_sessions)
			log_warn("RLIMIT_NOFILE is %lu, its hard limit: room for about %lu concurrent "
				 "sessions with a control connection each, fewer than --max-sessions %u; "
				 "raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) to %lu",
				 nofile, room, c.max_sessions, 2UL * c.max_sessions + 64);
		else
			log_info("descriptors: RLIMIT_NOFILE %lu, room for about %lu concurrent sessions "
				 "with a control connection each (up to %d session%s can share one)",
				 nofile, room, c.max_per_conn, log_s(c.max_per_conn));
	}
	/* the workers inherit a blocked set; this thread waits for the signal */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (hw_iface)
		tsock_enable_hw(hw_iface);
	tsock_probe(true);
	r = responder_start(&c);
	refl_keys_free(keys, nkeys); /* the responder keeps its own copy */
	if (!r)
		return 1;
	for (int i = 0; i < c.nlisten; i++) {
		char a[INET6_ADDRSTRLEN];

		log_info("TWAMP server on [%s]:%u", tsock_addr_str(&c.listen[i], a, sizeof(a)),
			 responder_port(r, i));
	}
	for (int i = 0; i < c.nlight; i++) {
		char a[INET6_ADDRSTRLEN];

		log_info("light/STAMP reflector on [%s]:%u", tsock_addr_str(&c.light[i], a, sizeof(a)),
			 responder_light_port(r, i));
	}
	if (c.nlight) {
		char dscp[32];

		if (c.reflect_dscp_set)
			snprintf(dscp, sizeof(dscp), "DSCP %u", c.reflect_dscp);
		else
			snprintf(dscp, sizeof(dscp), "the DSCP received");
		log_info("light/STAMP reflections: %s Sequence Numbers, %s, packets shorter than 41 "
			 "octets %s", c.stateful ? "per-sender (--stateful)" : "the sender's (stateless)", dscp,
			 c.pad_short ? "padded (--pad-short)" : "dropped");
	}
	if (c.rate_limit)
		log_info("%d worker(s), test ports %s, light/STAMP rate limit %u/s (burst %u) per source "
			 "address and worker", c.nworkers, c.port_lo ? "from the range" : "any free port",
			 c.rate_limit, c.rate_burst);
	else
		log_info("%d worker(s), test ports %s, no light/STAMP rate limit", c.nworkers,
			 c.port_lo ? "from the range" : "any free port");
	sigwait(&set, &sig);
	responder_counters(r, &k);
	responder_stop(r);
	log_info("stopping on signal %d: %llu connection%s, %llu session%s (%llu refused), %llu test "
		 "packet%s received, %llu reflected, %llu dropped by --loss, %llu malformed, %llu from "
		 "foreign addresses, %llu before start, %llu connection%s refused by the limits, %llu "
		 "from reflector ports of this host (loop guard), %llu over --rate-limit, %llu "
		 "--stateful sender%s evicted",
		 sig, (unsigned long long)k.connections, log_s(k.connections), (unsigned long long)k.sessions,
		 log_s(k.sessions), (unsigned long long)k.refused, (unsigned long long)k.rx, log_s(k.rx),
		 (unsigned long long)k.reflected, (unsigned long long)k.dropped_loss,
		 (unsigned long long)k.malformed, (unsigned long long)k.foreign,
		 (unsigned long long)k.early, (unsigned long long)k.conn_refused, log_s(k.conn_refused),
		 (unsigned long long)k.looped, (unsigned long long)k.rate_limited,
		 (unsigned long long)k.seq_evicted, log_s(k.seq_evicted));
	return 0;
bad_opt:
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == opt)
			fprintf(stderr, "twamp-client responder: invalid value '%s' for --%s\n", optarg, o->name);
	return EXIT_USAGE;
}

/* ---- bench ------------------------------------------------------------- */

static void usage_bench(FILE *f)
{
	fprintf(f,
		"usage: twamp-client bench [options] TARGET[:PORT]...\n"
		"\n"
		"Ramps load against one or more reflectors step by step (concurrent sessions\n"
		"and packets/s), holds each step, and prints per step the offered and achieved\n"
		"packets/s, loss, duplicates, RTT and reflector processing time percentiles,\n"
		"control-connection setup time and refusals.  Stops at the first step over a\n"
		"threshold and ends with 'sustained capacity: S sessions, R packets/s', the\n"
		"last step that met them.  Sessions are spread round-robin over the targets.\n"
		"PORT defaults to 862.\n"
		"\n"
		"  --mode MODE         control (TWAMP-Control, default), light or stamp\n"
		"  --sessions N        concurrent sessions in the first step (default 10)\n"
		"  --sessions-step N   sessions added at each step (default: the first step's)\n"
		"  --max-sessions N    never more sessions than N (default: no cap)\n"
		"  --rate PPS          packets/s of all sessions together, first step (default 1000)\n"
		"  --rate-step PPS     packets/s added at each step (default: the first step's)\n"
		"  --max-rate PPS      never more than PPS packets/s (default: no cap)\n"
		"  --growth F          multiply sessions and rate by F (> 1) at each step instead\n"
		"                      of adding the steps\n"
		"  --hold SECONDS      how long each step sends (default 5)\n"
		"  --steps N           at most N steps (default: until a threshold or a time limit)\n"
		"  --max-seconds N     end the ramp after N seconds in all (default 300)\n"
		"  --max-loss PCT      loss threshold in percent (default 1)\n"
		"  --max-inflation X   RTT p99 threshold, X times the baseline (default 10; 0: off)\n"
		"  --baseline-rtt MS   baseline of --max-inflation (default: the first step's\n"
		"                      RTT p99, at least 0.1 ms)\n"
		"  --max-p99 MS        absolute RTT p99 threshold in ms (default: none)\n"
		"  -L SECONDS          loss timeout (default 1)\n"
		"  -s PADDING          padding octets (default as ping: 27, 0 for STAMP)\n"
		"  -D DSCP             DSCP of the test packets: 0-63 or a PHB name\n"
		"  -4, -6              use IPv4 / IPv6 only when resolving the targets\n"
		"  -S SRCADDR          source address\n"
		"  --control-timeout SECONDS  timeout of each control step (default 10)\n"
		"  --timestamps kernel|user  as ping (default kernel)\n"
		"  --seed N            seed of the padding, 64 bits (default 1)\n"
		"  --workers N         client worker threads (default: the CPUs this process may\n"
		"                      use; place them with taskset)\n"
		"  --spin US           as ping, per worker (default 0: sleep until each send)\n"
		"  --csv FILE          one CSV line per step\n"
		"  --json FILE         the steps, thresholds and result as one JSON document\n"
		"  --plot FILE         latency and loss against load: a PNG through gnuplot when it\n"
		"                      is installed, otherwise (or for FILE.html / FILE.svg) an HTML\n"
		"                      page with an inline SVG, written as FILE with .html\n"
		"  -q                  no progress line (shown only when stderr is a terminal)\n"
		"  --debug             debug logging on stderr\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 when the ramp ran (whatever stopped it), 1 when not one\n"
		"reflection came back, even late, or an output file could not be written (they\n"
		"are checked before the ramp starts), 2 on a usage error.\n");
}

static int parse_pos_double(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

static int cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "sessions", required_argument, NULL, 1 },
		{ "sessions-step", required_argument, NULL, 2 },
		{ "max-sessions", required_argument, NULL, 3 },
		{ "rate", required_argument, NULL, 4 },
		{ "rate-step", required_argument, NULL, 5 },
		{ "max-rate", required_argument, NULL, 6 },
		{ "growth", required_argument, NULL, 7 },
		{ "hold", required_argument, NULL, 8 },
		{ "steps", required_argument, NULL, 9 },
		{ "max-seconds", required_argument, NULL, 10 },
		{ "max-loss", required_argument, NULL, 11 },
		{ "max-inflation", required_argument, NULL, 12 },
		{ "baseline-rtt", required_argument, NULL, 13 },
		{ "max-p99", required_argument, NULL, 14 },
		{ "control-timeout", required_argument, NULL, 't' },
		{ "timestamps", required_argument, NULL, 'T' },
		{ "seed", required_argument, NULL, 'e' },
		{ "workers", required_argument, NULL, 'w' },
		{ "spin", required_argument, NULL, 'p' },
		{ "csv", required_argument, NULL, 'C' },
		{ "json", required_argument, NULL, 'J' },
		{ "plot", required_argument, NULL, 'G' },
		{ "debug", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct bench_opts o;   /* large: not on the stack */
	struct common_opts co;
	const char *src = NULL;
	int family = AF_UNSPEC, opt;
	unsigned long v;
	double d;
	int64_t ns;
	char err[300];

	bench_opts_default(&o);
	co = (struct common_opts){ .p = &o.tmpl, .family = &family, .src = &src, .spin = &o.spin };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":L:s:D:46S:qh", longopts, NULL)) != -1) {
		int common = common_session_opt(opt, optarg, &co);

		if (common < 0)
			goto bad_opt;
		if (common > 0)
			continue;
		switch (opt) {
		case 'm':
			if (!strcmp(optarg, "control"))
				o.tmpl.mode = SESSION_CONTROL;
			else if (!strcmp(optarg, "light"))
				o.tmpl.mode = SESSION_LIGHT;
			else if (!strcmp(optarg, "stamp"))
				o.tmpl.mode = SESSION_STAMP;
			else
				goto bad_opt;
			break;
		case 1:
		case 2:
		case 3:
			if (parse_uint(optarg, 1000000, &v) || (opt != 2 && !v))
				goto bad_opt;
			*(opt == 1 ? &o.sessions : opt == 2 ? &o.sessions_step : &o.max_sessions) = (uint32_t)v;
			break;
		case 4:
		case 5:
		case 6:
			if (parse_pos_double(optarg, &d) || (opt != 5 && d <= 0))
				goto bad_opt;
			*(opt == 4 ? &o.rate : opt == 5 ? &o.rate_step : &o.max_rate) = d;
			break;
		case 7:
			if (parse_pos_double(optarg, &d) || d <= 1 || d > 100)
				goto bad_opt;
			o.growth = d;
			break;
		case 8:
			if (parse_seconds(optarg, &o.hold) || o.hold < 10 * NS_PER_MS)
				goto bad_opt;
			break;
		case 9:
			if (parse_uint(optarg, 1000000, &v) || !v)
				goto bad_opt;
			o.max_steps = (uint32_t)v;
			break;
		case 10:
			if (parse_seconds(optarg, &o.max_time) || !o.max_time)
				goto bad_opt;
			break;
		case 11:
			if (parse_pct(optarg, &o.max_loss))
				goto bad_opt;
			break;
		case 12:
			if (parse_pos_double(optarg, &o.max_inflation) || (o.max_inflation > 0 && o.max_inflation < 1))
				goto bad_opt;
			break;
		case 13:
		case 14:
			/* milliseconds */
			if (parse_seconds(optarg, &ns) || !ns)
				goto bad_opt;
			*(opt == 13 ? &o.baseline_rtt : &o.max_p99) = ns / 1000;
			break;
		case 'D':
			o.tmpl.dscp = parse_dscp(optarg);
			if (o.tmpl.dscp < 0)
				goto bad_opt;
			break;
		case 'w':
			if (parse_uint(optarg, 256, &v) || !v)
				goto bad_opt;
			o.nworkers = (int)v;
			break;
		case 'C':
			o.csv = optarg;
			break;
		case 'J':
			o.json = optarg;
			break;
		case 'G':
			o.plot = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'g':
			log_set_level(LOGL_DEBUG);
			break;
		case 'h':
			usage_bench(stdout);
			return 0;
		default:
			cli_getopt_problem(err, sizeof(err), opt, argv, longopts);
			cli_usage_error("bench", "%s", err);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		cli_usage_error("bench", "give at least one TARGET[:PORT]");
		return EXIT_USAGE;
	}
	if (argc - optind > BENCH_MAX_TARGETS) {
		fprintf(stderr, "twamp-client bench: at most %d targets\n", BENCH_MAX_TARGETS);
		return EXIT_USAGE;
	}
	if (o.max_sessions && o.max_sessions < o.sessions) {
		fprintf(stderr, "twamp-client bench: --max-sessions is below --sessions\n");
		return EXIT_USAGE;
	}
	if (o.max_rate > 0 && o.max_rate < o.rate) {
		fprintf(stderr, "twamp-client bench: --max-rate is below --rate\n");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		struct bench_opts *b = &o;
		int rc = tsock_resolve(argv[i], family, 862, &b->target[b->ntargets], NULL, 0, err, sizeof(err));

		if (rc == -2) { /* written wrongly */
			cli_usage_error("bench", "%s", err);
			return EXIT_USAGE;
		}
		if (rc < 0) {
			fprintf(stderr, "twamp-client bench: %s: unreachable: %s\n", argv[i], err);
			return 1;
		}
		snprintf(b->target_name[b->ntargets], sizeof(b->target_name[0]), "%s", argv[i]);
		b->ntargets++;
	}
	if (src && tsock_resolve(src, o.target[0].ss_family, 0, &o.tmpl.local, NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "twamp-client bench: source address: %s\n", err);
		return EXIT_USAGE;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	return bench_run(&o);
bad_opt:
	for (const struct option *lo = longopts; lo->name; lo++)
		if (lo->val == opt) {
			fprintf(stderr, "twamp-client bench: invalid value '%s' for --%s\n", optarg, lo->name);
			return EXIT_USAGE;
		}
	fprintf(stderr, "twamp-client bench: invalid value '%s' for -%c\n", optarg, opt);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("twamp-client %s\n", twamp_version);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return daemon_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "health"))
		return daemon_health(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check-config"))
		return check_config_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ping"))
		return cmd_ping(argc - 1, argv + 1);
	if (!strcmp(argv[1], "responder"))
		return cmd_responder(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return cmd_bench(argc - 1, argv + 1);
	fprintf(stderr, "twamp-client: unknown %s '%s'\nsee 'twamp-client --help'\n",
		argv[1][0] == '-' ? "option" : "command", argv[1]);
	return EXIT_USAGE;
}
