/*
 * config: read the probe's JSON files into plain, validated structs.
 *
 * Every section is described by a key table (name, type, default, bounds,
 * where it goes in the struct), in the manner of linuxptp's config_tab, and
 * one function applies a table to a JSON object.  Keys the tables do not
 * name are ignored, since the central side may add keys for newer clients,
 * but each gets a warning (with the nearest known key: a misspelt
 * "Intervall" would otherwise silently mean the default).
 *
 * Nothing stops at the first problem: each one becomes a line
 * "FILE: KEY: reason" in a list kept by the loader, and the load fails at
 * the end when the list is not empty, freeing the half-built config.  That
 * way a user fixing a file sees everything at once, and the daemon never
 * runs with a partly understood config.
 *
 * The loader keeps its state on the caller's stack (json-c objects are per
 * call too), so config_load() may run on any thread.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron.h"
#include "ctlchan.h"
#include "fsutil.h"
#include "keyfile.h"
#include "log.h"
#include "strdist.h"
#include "wire.h"

#define GLOBAL2 "global_config.json"
#define TARGETS2 "targets_list.json"
#define LOCAL2 "local_config.json"
#define GLOBAL1 "twamp_global_config.json"
#define TARGETS1 "twamp_targets_list.json"

#define KEY_MAX 160   /* longest key path in a message, e.g. Destinations[3].BatchSize */
#define SHOW_MAX 80   /* longest value quoted in a message */

/* ------------------------------------------------------------ problems */

struct loader {
	struct config_errors *errs;   /* may be NULL: then only counted */
	struct config_errors *warns;  /* the config's warnings (NULL: dropped) */
	size_t nerr;
	const char *file;             /* base name of the file being read */
	const char *dir;              /* the configuration directory */
};

static void problem(struct loader *ld, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warning(struct loader *ld, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append "FILE: KEY: reason" to list (out of memory: the line is lost). */
static void add_line(struct config_errors *list, const char *file, const char *key,
		     const char *fmt, va_list ap)
{
	char *reason = NULL, *line = NULL, **lines;
	int n;

	n = vasprintf(&reason, fmt, ap);
	if (n < 0)
		return;
	if (key && *key)
		n = asprintf(&line, "%s: %s: %s", file, key, reason);
	else
		n = asprintf(&line, "%s: %s", file, reason);
	free(reason);
	if (n < 0)
		return;
	lines = realloc(list->lines, (list->n + 1) * sizeof(*lines));
	if (!lines) {
		free(line);
		return;
	}
	lines[list->n++] = line;
	list->lines = lines;
}

static void problem(struct loader *ld, const char *key, const char *fmt, ...)
{
	va_list ap;

	ld->nerr++; /* even out of memory, the count makes the load fail */
	if (!ld->errs)
		return;
	va_start(ap, fmt);
	add_line(ld->errs, ld->file, key, fmt, ap);
	va_end(ap);
}

static void warning(struct loader *ld, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!ld->warns)
		return;
	va_start(ap, fmt);
	add_line(ld->warns, ld->file, key, fmt, ap);
	va_end(ap);
}

void config_errors_clear(struct config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->n = 0;
}

/* "prefix.name", or "name" at the top level (cut to fit: only a message) */
static void keyjoin(char *buf, size_t len, const char *prefix, const char *name)
{
	int n;

	if (prefix && *prefix)
		n = snprintf(buf, len, "%s.%s", prefix, name);
	else
		n = snprintf(buf, len, "%s", name);
	if (n < 0 && len)
		buf[0] = '\0';
}

/* A value for a message: at most SHOW_MAX characters, no control characters. */
static const char *show(char *buf, size_t len, const char *s)
{
	size_t i, n = 0;

	for (i = 0; s[i] && n + 4 < len && i < SHOW_MAX; i++)
		buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] && n + 4 <= len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "an unknown type";
}

static char *xstrdup(struct loader *ld, const char *key, const char *s)
{
	char *d = strdup(s);

	if (!d)
		problem(ld, key, "out of memory");
	return d;
}

/* --------------------------------------------------------- key tables */

enum ktype {
	K_STR,     /* string */
	K_ID,      /* string, or a number kept as its text */
	K_TAGS,    /* string, or array of strings joined with spaces */
	K_URL,     /* http:// or https:// URL */
	K_HOST,    /* IPv4 or IPv6 literal, or a DNS name */
	K_CRON,    /* cron expression (kept as text) */
	K_ENUM,    /* one of names[], stored as its index in an enum */
	K_CHOICE,  /* one of names[], stored as the (lower-case) string */
	K_BOOL,
	K_INT,     /* int */
	K_U16,
	K_U32,
	K_U64,
	K_NS,      /* seconds (fractions allowed) -> int64_t ns */
	K_DOUBLE,
	K_CPUS,    /* Probe.CPUs: array of CPU numbers */
	K_DSCPS,   /* a DSCP 0..63, or an array of 1..SESSION_MAX_STREAMS of them */
	K_OBJECT,  /* nested object described by sub[] (fields in the same struct) */
};

struct key {
	const char *name;
	const char *alias[2];      /* other accepted spellings */
	enum ktype type;
	bool required;
	bool inherit;              /* no table default: the caller filled the field */
	bool header;               /* goes into an HTTP request (header, credentials, URL):
				    * no control characters, or CR/LF would inject headers */
	bool regular;              /* a path others open (libcurl, OpenSSL): when it
				    * exists it must be a regular file (a FIFO blocks them) */
	size_t off;                /* offset of the field in the section's struct */
	double min, max;           /* numbers (K_NS in seconds) */
	double def;                /* numeric default (K_NS in seconds) */
	const char *sdef;          /* string default */
	const char *const *names;  /* K_ENUM, K_CHOICE */
	const struct key *sub;     /* K_OBJECT */
	size_t nsub;
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const char *const mode_names[] = {
	[SESSION_CONTROL] = "control", [SESSION_LIGHT] = "light", [SESSION_STAMP] = "stamp", NULL
};
static const char *const format_names[] = {
	[CONFIG_FMT_JSON] = "json", [CONFIG_FMT_INFLUX] = "influx", NULL
};
static const char *const method_names[] = { "web", "git", NULL };

_Static_assert(sizeof(enum session_mode) == sizeof(int), "K_ENUM stores an int");
_Static_assert(sizeof(enum config_format) == sizeof(int), "K_ENUM stores an int");

#define PADDING_MAX (WIRE_TEST_MAX_LEN - WIRE_STAMP_LEN) /* fits every mode's packet */

#define T(field) offsetof(struct config_target, field)
static const struct key target_keys[] = {
	{ .name = "IP", .type = K_HOST, .off = T(ip), .required = true },
	{ .name = "DSCP", .type = K_DSCPS, .off = T(dscps), .required = true, .min = 0, .max = 63 },
	{ .name = "Port", .type = K_U16, .off = T(port), .min = 1, .max = 65535, .def = 862 },
	{ .name = "Mode", .type = K_ENUM, .off = T(mode), .names = mode_names, .def = SESSION_CONTROL },
	{ .name = "PacketCount", .type = K_U32, .off = T(packet_count), .inherit = true, .min = 1,
	  .max = 100000 },
	{ .name = "Interval", .type = K_NS, .off = T(interval), .inherit = true, .min = 0.0001,
	  .max = 60 },
	{ .name = "Padding", .type = K_U32, .off = T(padding), .inherit = true, .min = 0,
	  .max = PADDING_MAX },
	{ .name = "Custom_comment", .type = K_STR, .off = T(custom_comment) },
	{ .name = "Custom_id", .alias = { "Custom_ID", "ID" }, .type = K_ID, .off = T(custom_id) },
	{ .name = "Description", .type = K_STR, .off = T(description) },
	{ .name = "Tags", .type = K_TAGS, .off = T(tags) },
	{ .name = "Latitude", .type = K_DOUBLE, .off = T(latitude), .min = -90, .max = 90 },
	{ .name = "Longitude", .type = K_DOUBLE, .off = T(longitude), .min = -180, .max = 180 },
	{ .name = "AuthMode", .type = K_STR, .off = T(auth_mode) },
	{ .name = "KeyID", .type = K_STR, .off = T(keyid) },
	{ .name = "SecretFile", .type = K_STR, .off = T(secret_file) },
};
#undef T
enum { TK_LAT = 11, TK_LON = 12 };

#define D(field) offsetof(struct config_destination, field)
static const struct key dest_keys[] = {
	{ .name = "DestinationURL", .type = K_URL, .off = D(url), .required = true },
	{ .name = "DestinationPassword", .type = K_STR, .off = D(password), .header = true },
	{ .name = "DestinationUser", .type = K_STR, .off = D(user), .header = true },
	{ .name = "DestinationToken", .type = K_STR, .off = D(token), .header = true },
	{ .name = "DestinationCAFile", .type = K_STR, .off = D(ca_file), .regular = true },
	{ .name = "DestinationInsecure", .type = K_BOOL, .off = D(insecure), .def = 0 },
	{ .name = "DestinationFormat", .type = K_ENUM, .off = D(format), .names = format_names,
	  .def = CONFIG_FMT_JSON },
	{ .name = "BatchSize", .type = K_U32, .off = D(batch_size), .min = 1, .max = 100000,
	  .def = 500 },
	{ .name = "FlushInterval", .type = K_NS, .off = D(flush_interval), .min = 0.01, .max = 3600,
	  .def = 5 },
};
#undef D
enum { DK_PASSWORD = 1, DK_USER = 2, DK_TOKEN = 3 };

#define S(field) offsetof(struct config_source, field)
static const struct key source_keys[] = {
	{ .name = "ConfigMethod", .type = K_CHOICE, .off = S(method), .names = method_names },
	{ .name = "ConfigURL", .type = K_STR, .off = S(url), .header = true },
	{ .name = "ConfigUser", .type = K_STR, .off = S(user), .header = true },
	{ .name = "ConfigPassword", .type = K_STR, .off = S(password), .header = true },
	{ .name = "ConfigBranch", .type = K_STR, .off = S(branch) },
	{ .name = "ConfigPath", .type = K_STR, .off = S(path) },
	{ .name = "ConfigCAFile", .type = K_STR, .off = S(ca_file), .regular = true },
	{ .name = "ConfigInsecure", .type = K_BOOL, .off = S(insecure), .def = 0 },
};
#undef S
enum { SK_METHOD = 0, SK_URL = 1 };

#define P(field) offsetof(struct config_probe, field)
static const struct key probe_keys[] = {
	{ .name = "Schedule", .type = K_CRON, .off = P(schedule), .sdef = "*/5 * * * *" },
	{ .name = "ConfigSchedule", .type = K_CRON, .off = P(config_schedule),
	  .sdef = "1 */12 * * *" },
	{ .name = "PacketCount", .type = K_U32, .off = P(packet_count), .min = 1, .max = 100000,
	  .def = 100 },
	{ .name = "Interval", .type = K_NS, .off = P(interval), .min = 0.0001, .max = 60, .def = 0.1 },
	{ .name = "Padding", .type = K_U32, .off = P(padding), .min = 0, .max = PADDING_MAX,
	  .def = CONFIG_PADDING_DEFAULT },
	{ .name = "LossTimeout", .type = K_NS, .off = P(loss_timeout), .min = 0.01, .max = 60,
	  .def = 2 },
	{ .name = "Workers", .type = K_INT, .off = P(workers), .min = 0, .max = 1024, .def = 0 },
	{ .name = "CPUs", .type = K_CPUS },
	{ .name = "MaxConcurrentSessions", .type = K_U32, .off = P(max_concurrent), .min = 1,
	  .max = 1000000, .def = 1000 },
	{ .name = "ConnectRate", .type = K_U32, .off = P(connect_rate), .min = 1, .max = 1000000,
	  .def = 2000 },
	{ .name = "SourceName", .type = K_STR, .off = P(source_name) },
	{ .name = "SpoolMaxBytes", .type = K_U64, .off = P(spool_max_bytes), .min = 1 << 20,
	  .max = 1099511627776.0 /* 1 TiB */, .def = 256 << 20 },
	{ .name = "MaxPBKDF2Count", .type = K_U32, .off = P(kdf_count_max), .min = 1024,
	  .max = CTLCHAN_COUNT_MAX, .def = SESSION_KDF_COUNT_DEFAULT },
};
#undef P

#define L(field) offsetof(struct config_local, field)
static const struct key address_keys[] = {
	{ .name = "Street", .type = K_ID, .off = L(street) },
	{ .name = "City", .type = K_ID, .off = L(city) },
	{ .name = "State", .type = K_ID, .off = L(state) },
	{ .name = "ZIP", .type = K_ID, .off = L(zip) },
};
static const struct key local_keys[] = {
	{ .name = "SourceName", .type = K_STR, .off = L(source_name) },
	{ .name = "Description", .type = K_STR, .off = L(description) },
	{ .name = "Tags", .type = K_TAGS, .off = L(tags) },
	{ .name = "Latitude", .type = K_DOUBLE, .off = L(latitude), .min = -90, .max = 90 },
	{ .name = "Longitude", .type = K_DOUBLE, .off = L(longitude), .min = -180, .max = 180 },
	{ .name = "Address", .type = K_OBJECT, .sub = address_keys, .nsub = NKEYS(address_keys) },
};
#undef L
enum { LK_LAT = 3, LK_LON = 4 };

/* ------------------------------------------------------- value checks */

static bool is_blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* Plain decimal: [+-]digits[.digits][e[+-]digits], blanks around; no hex, inf, nan. */
static bool decimal_syntax(const char *s)
{
	bool digits = false;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char)*s)) {
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* A bound or a value for a message: integers without exponent. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
}

/*
 * A number from a JSON number or numeric string.  text receives the value as
 * written, for messages.  1: *out set; -1: problem reported.
 */
static int get_number(struct loader *ld, const char *key, struct json_object *v, double *out,
		      char *text, size_t textlen)
{
	const char *s;

	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		*out = json_object_get_double(v);
		show(text, textlen, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		if (!isfinite(*out)) {
			problem(ld, key, "%s is not a finite number", text);
			return -1;
		}
		return 1;
	case json_type_string:
		s = json_object_get_string(v);
		while (isspace((unsigned char)*s))
			s++;
		show(text, textlen, s);
		for (size_t n = strlen(text); n && isspace((unsigned char)text[n - 1]); n--)
			text[n - 1] = '\0';
		if (!decimal_syntax(s)) {
			problem(ld, key, "'%s' is not a number", text);
			return -1;
		}
		*out = strtod(s, NULL);
		if (!isfinite(*out)) {
			problem(ld, key, "%s is not a finite number", text);
			return -1;
		}
		return 1;
	default:
		problem(ld, key, "expected a number or a numeric string, got %s", type_name(v));
		return -1;
	}
}

static int check_range(struct loader *ld, const char *key, double v, const char *text,
		       double min, double max, bool integer)
{
	char lo[32], hi[32];

	if (integer && v != floor(v)) {
		problem(ld, key, "%s is not an integer", text);
		return -1;
	}
	if (v < min || v > max) {
		fmt_num(lo, sizeof(lo), min);
		fmt_num(hi, sizeof(hi), max);
		problem(ld, key, "%s is out of range %s..%s", text, lo, hi);
		return -1;
	}
	return 0;
}

/* RFC 1123 host name: labels of letters, digits, hyphens; the last not all digits. */
static bool dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool all_digits = true;

	if (len && s[len - 1] == '.')
		len--; /* a fully qualified name may end with a dot */
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (i == len && all_digits)
				return false; /* 999.1.1.1 is a bad address, not a name */
			label = 0;
			all_digits = true;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!isdigit((unsigned char)c))
			all_digits = false;
		label++;
	}
	return true;
}

static bool host_ok(const char *s)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1 ||
	       dns_name_ok(s);
}

static bool url_ok(const char *s)
{
	size_t skip;

	if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	if (s[skip] == '\0' || s[skip] == '/')
		return false; /* no host */
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------ applying a table */

static void *field(void *obj, const struct key *k)
{
	return (char *)obj + k->off;
}

static void set_string(void *obj, const struct key *k, char *s)
{
	char **p = field(obj, k);

	free(*p);
	*p = s;
}

static void set_number(void *obj, const struct key *k, double v)
{
	void *p = field(obj, k);

	switch (k->type) {
	case K_INT:
	case K_ENUM: {
		int i = (int)v;

		memcpy(p, &i, sizeof(i));
		break;
	}
	case K_U16:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case K_U32:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case K_U64:
		*(uint64_t *)p = (uint64_t)v;
		break;
	case K_NS:
		*(int64_t *)p = llround(v * 1e9);
		break;
	case K_DOUBLE:
		*(double *)p = v;
		break;
	case K_BOOL:
		*(bool *)p = v != 0;
		break;
	default:
		break;
	}
}

/* Fill obj with the table's defaults (keys marked inherit are left alone). */
static void set_defaults(struct loader *ld, void *obj, const struct key *tab, size_t n,
			 const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		const struct key *k = &tab[i];
		char key[KEY_MAX];
		char *s;

		if (k->inherit || k->type == K_CPUS || k->type == K_DSCPS)
			continue;
		if (k->type == K_OBJECT) {
			set_defaults(ld, obj, k->sub, k->nsub, prefix);
			continue;
		}
		switch (k->type) {
		case K_STR:
		case K_ID:
		case K_TAGS:
		case K_URL:
		case K_HOST:
		case K_CRON:
		case K_CHOICE:
			if (!k->sdef)
				break;
			keyjoin(key, sizeof(key), prefix, k->name);
			s = xstrdup(ld, key, k->sdef);
			if (s)
				set_string(obj, k, s);
			break;
		default:
			set_number(obj, k, k->def);
			break;
		}
	}
}

static int apply_string(struct loader *ld, const char *key, const struct key *k,
			struct json_object *v, void *obj)
{
	char shown[SHOW_MAX + 8], err[160];
	const char *s;
	struct cron cr;
	char *d;

	if (!json_object_is_type(v, json_type_string)) {
		problem(ld, key, "expected a string, got %s", type_name(v));
		return -1;
	}
	s = json_object_get_string(v);
	show(shown, sizeof(shown), s);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		problem(ld, key, "'%s...' contains a NUL character", shown);
		return -1;
	}
	if (k->header) {
		for (const char *p = s; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				/* the value is not shown: it may be a password */
				problem(ld, key, "contains a control character (%s at offset %zu): it goes "
					"into an HTTP request, where CR or LF would inject a header",
					*p == '\r' ? "CR" : *p == '\n' ? "LF" : "a control character",
					(size_t)(p - s));
				return -1;
			}
		}
	}
	if (k->regular) {
		struct stat st;

		/* stat() never blocks; a missing file stays the opener's error, as before */
		if (stat(s, &st) == 0 && !S_ISREG(st.st_mode)) {
			problem(ld, key, "%s is %s, not a regular file", shown, fsutil_type_name(st.st_mode));
			return -1;
		}
	}
	switch (k->type) {
	case K_URL:
		if (!url_ok(s)) {
			problem(ld, key, "'%s' is not an http:// or https:// URL", shown);
			return -1;
		}
		break;
	case K_HOST:
		if (!host_ok(s)) {
			problem(ld, key, "'%s' is not an IPv4/IPv6 address or a valid DNS name",
				shown);
			return -1;
		}
		break;
	case K_CRON:
		if (cron_parse(s, &cr, err, sizeof(err)) < 0) {
			problem(ld, key, "bad cron expression '%s': %s", shown, err);
			return -1;
		}
		break;
	case K_CHOICE:
	case K_ENUM:
		for (int i = 0; k->names[i]; i++) {
			if (strcasecmp(s, k->names[i]) == 0) {
				if (k->type == K_ENUM) {
					set_number(obj, k, i);
					return 0;
				}
				s = k->names[i];
				goto store;
			}
		}
		{
			char list[128] = "";

			for (int i = 0; k->names[i]; i++) {
				if (i)
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, k->names[i], sizeof(list) - strlen(list) - 1);
			}
			problem(ld, key, "'%s' is not one of %s", shown, list);
		}
		return -1;
	default:
		break;
	}
store:
	d = xstrdup(ld, key, s);
	if (!d)
		return -1;
	set_string(obj, k, d);
	return 0;
}

static int apply_tags(struct loader *ld, const char *key, const struct key *k,
		      struct json_object *v, void *obj)
{
	size_t n, len = 0;
	char *s, ekey[KEY_MAX + 32];

	if (json_object_is_type(v, json_type_string))
		return apply_string(ld, key, k, v, obj);
	if (!json_object_is_type(v, json_type_array)) {
		problem(ld, key, "expected a string or an array of strings, got %s", type_name(v));
		return -1;
	}
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_string) ||
		    strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e)) {
			snprintf(ekey, sizeof(ekey), "%s[%zu]", key, i);
			if (json_object_is_type(e, json_type_string))
				problem(ld, ekey, "contains a NUL character");
			else
				problem(ld, ekey, "expected a string, got %s", type_name(e));
			return -1;
		}
		len += (size_t)json_object_get_string_len(e) + 1;
	}
	s = malloc(len + 1);
	if (!s) {
		problem(ld, key, "out of memory");
		return -1;
	}
	s[0] = '\0';
	for (size_t i = 0, off = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t el = (size_t)json_object_get_string_len(e);

		if (i)
			s[off++] = ' ';
		memcpy(s + off, json_object_get_string(e), el);
		off += el;
		s[off] = '\0';
	}
	set_string(obj, k, s);
	return 0;
}

static int apply_cpus(struct loader *ld, const char *key, struct json_object *v,
		      struct config_probe *p)
{
	char ekey[KEY_MAX + 32], text[SHOW_MAX + 8];
	size_t n;
	int bad = 0;

	if (!json_object_is_type(v, json_type_array)) {
		problem(ld, key, "expected an array of CPU numbers, got %s", type_name(v));
		return -1;
	}
	n = json_object_array_length(v);
	if (n > CONFIG_MAX_CPUS) {
		problem(ld, key, "%zu CPUs listed, at most %d", n, CONFIG_MAX_CPUS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		double d;

		snprintf(ekey, sizeof(ekey), "%s[%zu]", key, i);
		if (get_number(ld, ekey, json_object_array_get_idx(v, i), &d, text, sizeof(text)) < 0 ||
		    check_range(ld, ekey, d, text, 0, 1023, true) < 0) {
			bad = -1;
			continue;
		}
		p->cpus[i] = (int)d;
	}
	if (bad)
		return -1;
	p->ncpus = (int)n;
	return 0;
}

static int apply_dscps(struct loader *ld, const char *key, const struct key *k, struct json_object *v,
		       void *obj)
{
	struct config_dscps *l = field(obj, k);
	char ekey[KEY_MAX + 32], text[SHOW_MAX + 8];
	bool list = json_object_is_type(v, json_type_array);
	size_t n = list ? json_object_array_length(v) : 1;
	int bad = 0;

	if (n == 0 || n > SESSION_MAX_STREAMS) {
		problem(ld, key, "%zu DSCP values listed: give 1 to %d (one test session each)", n,
			SESSION_MAX_STREAMS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		double d;

		if (list)
			snprintf(ekey, sizeof(ekey), "%s[%zu]", key, i);
		else
			snprintf(ekey, sizeof(ekey), "%s", key);
		if (get_number(ld, ekey, list ? json_object_array_get_idx(v, i) : v, &d, text, sizeof(text)) < 0 ||
		    check_range(ld, ekey, d, text, k->min, k->max, true) < 0) {
			bad = -1;
			continue;
		}
		l->v[i] = (int)d;
	}
	if (bad)
		return -1;
	l->n = (unsigned)n;
	return 0;
}

/* One key present with value v (not null, not an empty string). */
static int apply_key(struct loader *ld, const char *key, const struct key *k,
		     struct json_object *v, void *obj)
{
	char text[SHOW_MAX + 8];
	double d;

	switch (k->type) {
	case K_STR:
	case K_URL:
	case K_HOST:
	case K_CRON:
	case K_ENUM:
	case K_CHOICE:
		return apply_string(ld, key, k, v, obj);
	case K_ID:
		if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
			char *s = xstrdup(ld, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));

			if (!s)
				return -1;
			set_string(obj, k, s);
			return 0;
		}
		if (!json_object_is_type(v, json_type_string)) {
			problem(ld, key, "expected a string or a number, got %s", type_name(v));
			return -1;
		}
		return apply_string(ld, key, k, v, obj);
	case K_TAGS:
		return apply_tags(ld, key, k, v, obj);
	case K_BOOL:
		if (json_object_is_type(v, json_type_boolean)) {
			set_number(obj, k, json_object_get_boolean(v));
			return 0;
		}
		if (json_object_is_type(v, json_type_string)) {
			const char *s = json_object_get_string(v);

			if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
				set_number(obj, k, strcasecmp(s, "true") == 0);
				return 0;
			}
			problem(ld, key, "'%s' is not true or false", show(text, sizeof(text), s));
			return -1;
		}
		problem(ld, key, "expected true or false, got %s", type_name(v));
		return -1;
	case K_INT:
	case K_U16:
	case K_U32:
	case K_U64:
	case K_NS:
	case K_DOUBLE:
		if (get_number(ld, key, v, &d, text, sizeof(text)) < 0 ||
		    check_range(ld, key, d, text, k->min, k->max,
				k->type != K_NS && k->type != K_DOUBLE) < 0)
			return -1;
		set_number(obj, k, d);
		return 0;
	case K_CPUS:
		return apply_cpus(ld, key, v, obj);
	case K_DSCPS:
		return apply_dscps(ld, key, k, v, obj);
	case K_OBJECT:
		break; /* handled by apply_table() */
	}
	return -1;
}

/*
 * The JSON member for k, under its name or an alias.  false when absent; a
 * JSON null member is found with *v == NULL (json-c's null).
 */
static bool lookup(struct json_object *jobj, const struct key *k, struct json_object **v,
		   const char **name)
{
	*name = k->name;
	if (json_object_object_get_ex(jobj, k->name, v))
		return true;
	for (int i = 0; i < 2 && k->alias[i]; i++) {
		if (json_object_object_get_ex(jobj, k->alias[i], v)) {
			*name = k->alias[i];
			return true;
		}
	}
	return false;
}

/* null, or a string with nothing in it: the key counts as not given */
static bool blank_value(const struct key *k, struct json_object *v)
{
	if (json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	if (k->type == K_STR || k->type == K_ID || k->type == K_TAGS)
		return json_object_get_string_len(v) == 0;
	return is_blank(json_object_get_string(v));
}

/*
 * Keys of jobj that none of names[] (n of them) spells: a warning each, naming
 * the nearest known key when it is near enough to be a slip ("Intervall").
 * Only a warning: the central side may add keys for newer clients.
 */
static void unknown_keys(struct loader *ld, struct json_object *jobj, const char *prefix,
			 const char *const *names, size_t n)
{
	json_object_object_foreach(jobj, name, val) {
		const char *near;
		char shown[SHOW_MAX + 8];
		size_t i;

		(void)val;
		for (i = 0; i < n && strcmp(name, names[i]) != 0; i++)
			;
		if (i < n)
			continue;
		near = strdist_closest(name, names, n);
		if (near)
			warning(ld, prefix, "unknown key \"%s\" (did you mean \"%s\"?)",
				show(shown, sizeof(shown), name), near);
		else
			warning(ld, prefix, "unknown key \"%s\" (ignored)", show(shown, sizeof(shown), name));
	}
}

/* unknown_keys() against a key table: names and aliases */
static void unknown_table_keys(struct loader *ld, struct json_object *jobj, const char *prefix,
			       const struct key *tab, size_t n)
{
	/* each key and its two aliases; a table has at most 32 keys (apply_table's
	 * `present` is a 32-bit mask), so none is left out */
	const char *names[3 * 32] = { 0 };
	size_t m = 0;

	assert(n <= 32);
	for (size_t i = 0; i < n && i < 32; i++) {
		names[m++] = tab[i].name;
		for (int a = 0; a < 2 && tab[i].alias[a]; a++)
			names[m++] = tab[i].alias[a];
	}
	unknown_keys(ld, jobj, prefix, names, m);
}

/*
 * Apply tab to jobj into obj (set_defaults() has filled it).  Bit i of *present is set when
 * key i has a value (not absent, null or blank), valid or not.
 */
static void apply_table(struct loader *ld, const struct key *tab, size_t n,
			struct json_object *jobj, const char *prefix, void *obj, uint32_t *present)
{
	*present = 0;
	unknown_table_keys(ld, jobj, prefix, tab, n);
	for (size_t i = 0; i < n; i++) {
		const struct key *k = &tab[i];
		struct json_object *v = NULL;
		char key[KEY_MAX];
		const char *name;
		bool found = lookup(jobj, k, &v, &name);

		keyjoin(key, sizeof(key), prefix, name);
		if (!found || blank_value(k, v)) {
			if (k->required)
				problem(ld, key, !found ? "missing" : v ? "empty" : "missing (null)");
			continue;
		}
		*present |= 1u << i;
		if (k->type == K_OBJECT) {
			uint32_t sub_present;

			if (json_object_is_type(v, json_type_object))
				apply_table(ld, k->sub, k->nsub, v, key, obj, &sub_present);
			else
				problem(ld, key, "expected an object, got %s", type_name(v));
			continue;
		}
		apply_key(ld, key, k, v, obj);
	}
}

/* Latitude and Longitude come as a pair. */
static bool geo_pair(struct loader *ld, const char *prefix, uint32_t present, int lat, int lon)
{
	bool has_lat = present & (1u << lat), has_lon = present & (1u << lon);
	char key[KEY_MAX];

	if (has_lat == has_lon)
		return has_lat;
	keyjoin(key, sizeof(key), prefix, has_lat ? "Longitude" : "Latitude");
	problem(ld, key, "missing (%s is given)", has_lat ? "Latitude" : "Longitude");
	return false;
}

/* -------------------------------------------------------------- files */

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 || errno != ENOENT;
}

static int line_of(const char *buf, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

/*
 * Read and parse path as one JSON object.  NULL with a problem reported, or
 * NULL without one when the file does not exist and optional is set.
 */
static struct json_object *read_json(struct loader *ld, const char *path, bool optional)
{
	struct json_object *obj = NULL;
	struct json_tokener *tok = NULL;
	char *buf = NULL, ebuf[4200];
	size_t len = 0, cap, start = 0;
	struct stat st;
	int fd;

	fd = fsutil_open_regular(path, &st, ebuf, sizeof(ebuf));
	if (fd < 0) {
		if (!(optional && errno == ENOENT))
			problem(ld, NULL, "%s", ebuf);
		return NULL;
	}
	if (st.st_size > (off_t)CONFIG_MAX_FILE_SIZE) {
		problem(ld, NULL, "larger than %u MiB", CONFIG_MAX_FILE_SIZE >> 20);
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		problem(ld, NULL, "out of memory");
		goto out;
	}
	for (;;) { /* the file may grow while we read it: read to EOF, within the limit */
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap * 2 > CONFIG_MAX_FILE_SIZE + 1 ? CONFIG_MAX_FILE_SIZE + 1 : cap * 2;
			char *nbuf;

			/* cppcheck-suppress knownConditionTrueFalse ; false positive: true
			 * once cap reached CONFIG_MAX_FILE_SIZE + 1, false before */
			if (ncap <= cap) {
				problem(ld, NULL, "larger than %u MiB", CONFIG_MAX_FILE_SIZE >> 20);
				goto out;
			}
			nbuf = realloc(buf, ncap + 1);
			if (!nbuf) {
				problem(ld, NULL, "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			problem(ld, NULL, "read error: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CONFIG_MAX_FILE_SIZE) {
		problem(ld, NULL, "larger than %u MiB", CONFIG_MAX_FILE_SIZE >> 20);
		goto out;
	}
	buf[len] = '\0';
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		start = 3; /* a UTF-8 byte order mark, as some editors write */
	if (is_blank(buf + start) && strlen(buf + start) == len - start) {
		problem(ld, NULL, "empty file");
		goto out;
	}
	{
		const char *nul = memchr(buf, '\0', len);

		if (nul) {
			problem(ld, NULL, "not valid JSON: NUL byte at line %d",
				line_of(buf, (size_t)(nul - buf)));
			goto out;
		}
	}
	tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!tok) {
		problem(ld, NULL, "out of memory");
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf + start, (int)(len - start + 1)); /* with the NUL */
	if (!obj) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		size_t end = start + json_tokener_get_parse_end(tok);

		if (end > len)
			end = len;
		if (jerr == json_tokener_continue || jerr == json_tokener_success)
			problem(ld, NULL, "not valid JSON: unexpected end of file at line %d",
				line_of(buf, len));
		else
			problem(ld, NULL, "not valid JSON: %s at line %d", json_tokener_error_desc(jerr),
				line_of(buf, end));
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		problem(ld, NULL, "expected a JSON object at the top level, got %s", type_name(obj));
		json_object_put(obj);
		obj = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	free(buf);
	close(fd);
	return obj;
}

/* -------------------------------------------------------------- sections */

static void parse_source(struct loader *ld, struct json_object *v, struct config_source *src)
{
	uint32_t present;

	set_defaults(ld, src, source_keys, NKEYS(source_keys), "ConfigSource");
	apply_table(ld, source_keys, NKEYS(source_keys), v, "ConfigSource", src, &present);
	if ((present & (1u << SK_METHOD)) && !(present & (1u << SK_URL)))
		problem(ld, "ConfigSource.ConfigURL", "missing (ConfigMethod is given)");
	if ((present & (1u << SK_URL)) && !(present & (1u << SK_METHOD)))
		problem(ld, "ConfigSource.ConfigMethod", "missing (web or git)");
	if (src->method && src->url && strcmp(src->method, "web") == 0 && !url_ok(src->url)) {
		char shown[SHOW_MAX + 8];

		problem(ld, "ConfigSource.ConfigURL", "'%s' is not an http:// or https:// URL",
			show(shown, sizeof(shown), src->url));
	}
}

static void parse_dest(struct loader *ld, struct json_object *v, const char *prefix,
		       struct config_destination *d)
{
	char key[KEY_MAX];
	uint32_t present;

	if (!json_object_is_type(v, json_type_object)) {
		problem(ld, prefix, "expected an object, got %s", type_name(v));
		return;
	}
	set_defaults(ld, d, dest_keys, NKEYS(dest_keys), prefix);
	apply_table(ld, dest_keys, NKEYS(dest_keys), v, prefix, d, &present);
	if ((present & (1u << DK_TOKEN)) && (present & (1u << DK_PASSWORD | 1u << DK_USER))) {
		keyjoin(key, sizeof(key), prefix, "DestinationToken");
		problem(ld, key, "cannot be combined with DestinationPassword or DestinationUser");
	} else if ((present & (1u << DK_USER)) && !(present & (1u << DK_PASSWORD))) {
		keyjoin(key, sizeof(key), prefix, "DestinationPassword");
		problem(ld, key, "missing (DestinationUser is given)");
	}
}

static void parse_global(struct loader *ld, struct json_object *g, struct config *c)
{
	static const char *const sections[] = { "ConfigSource", "Destination", "Destinations", "Probe" };
	struct json_object *v;
	uint32_t present;

	unknown_keys(ld, g, "", sections, NKEYS(sections));
	if (json_object_object_get_ex(g, "ConfigSource", &v) && v) {
		if (json_object_is_type(v, json_type_object))
			parse_source(ld, v, &c->source);
		else
			problem(ld, "ConfigSource", "expected an object, got %s", type_name(v));
	}

	/* "Destinations" (an array) wins over the seed's single "Destination" */
	if (json_object_object_get_ex(g, "Destinations", &v) && v) {
		size_t n;

		if (!json_object_is_type(v, json_type_array)) {
			problem(ld, "Destinations", "expected an array, got %s", type_name(v));
		} else if ((n = json_object_array_length(v)) > 0) {
			c->dests = calloc(n, sizeof(*c->dests));
			if (!c->dests) {
				problem(ld, "Destinations", "out of memory");
			} else {
				c->ndests = n;
				for (size_t i = 0; i < n; i++) {
					char prefix[KEY_MAX];

					snprintf(prefix, sizeof(prefix), "Destinations[%zu]", i);
					parse_dest(ld, json_object_array_get_idx(v, i), prefix,
						   &c->dests[i]);
				}
			}
		}
	} else if (json_object_object_get_ex(g, "Destination", &v) && v) {
		c->dests = calloc(1, sizeof(*c->dests));
		if (!c->dests) {
			problem(ld, "Destination", "out of memory");
		} else {
			c->ndests = 1;
			parse_dest(ld, v, "Destination", &c->dests[0]);
		}
	}

	if (json_object_object_get_ex(g, "Probe", &v) && v) {
		if (json_object_is_type(v, json_type_object))
			apply_table(ld, probe_keys, NKEYS(probe_keys), v, "Probe", &c->probe,
				    &present);
		else
			problem(ld, "Probe", "expected an object, got %s", type_name(v));
	}
}

/*
 * AuthMode, KeyID, SecretFile: the modes a target's sessions accept and, for
 * the keyed ones, the secret, read now so that a missing file or KeyID is a
 * configuration error (the last good configuration keeps running).
 */
static void target_security(struct loader *ld, struct config_target *tg, const char *prefix)
{
	char key[KEY_MAX + 16], err[300], *path = NULL;

	tg->allowed_modes = WIRE_MODE_OPEN;
	if (tg->auth_mode && wire_parse_modes(tg->auth_mode, &tg->allowed_modes) < 0) {
		snprintf(key, sizeof(key), "%s.AuthMode", prefix);
		problem(ld, key, "\"%s\": use the letters A (authenticated), E (encrypted), M (mixed) "
			"and O (unauthenticated)", tg->auth_mode);
		return;
	}
	if (tg->keyid && strlen(tg->keyid) > 80) {
		snprintf(key, sizeof(key), "%s.KeyID", prefix);
		problem(ld, key, "longer than 80 characters");
		return;
	}
	if (!(tg->allowed_modes & ~WIRE_MODE_OPEN))
		return;
	if (tg->mode != SESSION_CONTROL) {
		snprintf(key, sizeof(key), "%s.AuthMode", prefix);
		problem(ld, key, "the keyed modes need Mode control");
		return;
	}
	if (!tg->keyid || !tg->secret_file) {
		snprintf(key, sizeof(key), "%s.%s", prefix, tg->keyid ? "SecretFile" : "KeyID");
		problem(ld, key, "missing: AuthMode \"%s\" needs KeyID and SecretFile", tg->auth_mode);
		return;
	}
	snprintf(key, sizeof(key), "%s.SecretFile", prefix);
	if (tg->secret_file[0] != '/' && ld->dir) {
		if (asprintf(&path, "%s/%s", ld->dir, tg->secret_file) < 0) {
			problem(ld, key, "out of memory");
			return;
		}
	}
	tg->secret = malloc(REFL_SECRET_MAX);
	if (!tg->secret)
		problem(ld, key, "out of memory");
	else if (refl_key_find(path ? path : tg->secret_file, tg->keyid, tg->secret, &tg->secret_len, err,
			       sizeof(err)) < 0)
		problem(ld, key, "%s", err);
	free(path);
}

/* ------------------------------------------------------ target identity */

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = (b->len + (size_t)n + 1) * 2;
			char *ns = realloc(b->s, ncap);

			if (!ns) {
				b->oom = true;
				return;
			}
			b->s = ns;
			b->cap = ncap;
		}
	}
}

/* An optional string, length-prefixed so that no content can fake a separator. */
static void sb_str(struct sbuf *b, const char *tag, const char *s)
{
	if (s)
		sb_printf(b, "|%s%zu:%s", tag, strlen(s), s);
	else
		sb_printf(b, "|%s-", tag);
}

/*
 * tg->key: every field of the entry, so that entries measuring anything
 * differently (one DSCP per entry, as the original's lists are written, or
 * another Padding, PacketCount, security...) never share a key.  The IP,
 * port and mode come first: the scheduler groups siblings by that prefix.
 */
static void target_key(struct loader *ld, struct config_target *tg, const char *prefix)
{
	struct sbuf b = { 0 };

	sb_printf(&b, "%zu:%s|%u|%s|dscp", strlen(tg->ip ? tg->ip : ""), tg->ip ? tg->ip : "",
		  tg->port, mode_names[tg->mode]);
	for (unsigned i = 0; i < tg->dscps.n; i++)
		sb_printf(&b, "%c%d", i ? ',' : '=', tg->dscps.v[i]);
	sb_printf(&b, "|n%lu|i%lld|p%lu|a%lu", (unsigned long)tg->packet_count,
		  (long long)tg->interval, (unsigned long)tg->padding,
		  (unsigned long)tg->allowed_modes);
	sb_str(&b, "k", tg->keyid);
	sb_str(&b, "f", tg->secret_file);
	sb_str(&b, "cc", tg->custom_comment);
	sb_str(&b, "ci", tg->custom_id);
	sb_str(&b, "d", tg->description);
	sb_str(&b, "t", tg->tags);
	if (tg->has_geo)
		sb_printf(&b, "|g%.17g,%.17g", tg->latitude, tg->longitude);
	if (b.oom) {
		free(b.s);
		problem(ld, prefix, "out of memory");
		return;
	}
	tg->key = b.s;
}

static void target_free(struct config_target *t)
{
	free(t->ip);
	free(t->custom_comment);
	free(t->custom_id);
	free(t->description);
	free(t->tags);
	free(t->auth_mode);
	free(t->keyid);
	free(t->secret_file);
	if (t->secret)
		explicit_bzero(t->secret, REFL_SECRET_MAX);
	free(t->secret);
	free(t->key);
}

/* By key, then by position (all point into one array). */
static int cmp_target_ptr(const void *a, const void *b)
{
	const struct config_target *x = *(const struct config_target *const *)a;
	const struct config_target *y = *(const struct config_target *const *)b;
	int r = strcmp(x->key, y->key);

	return r ? r : (x > y) - (x < y);
}

#define DUP_WARN_MAX 20   /* warning lines about identical entries, then a count */

/*
 * Identical entries would measure the same thing twice at the same offset,
 * and the second would always be skipped as "still running": keep the
 * first, drop the others, and say so (a warning, not an error: the list is
 * usable).  Runs only on a list without problems (every key set).
 */
static void merge_identical(struct loader *ld, struct config *c)
{
	struct config_target **by_key;
	size_t *first, n = c->ntargets, kept = 0, dropped = 0;
	char key[KEY_MAX];

	if (n < 2)
		return;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized by its element */
	by_key = malloc(n * sizeof(*by_key));
	first = malloc(n * sizeof(*first));
	if (!by_key || !first) {
		free(by_key);
		free(first);
		problem(ld, "Targets", "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		by_key[i] = &c->targets[i];
		first[i] = i;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers */
	qsort(by_key, n, sizeof(*by_key), cmp_target_ptr);
	for (size_t i = 1; i < n; i++)
		if (strcmp(by_key[i]->key, by_key[i - 1]->key) == 0) /* in list order within a key */
			first[by_key[i] - c->targets] = first[by_key[i - 1] - c->targets];
	for (size_t i = 0; i < n; i++) {
		if (first[i] == i) {
			if (kept != i)
				c->targets[kept] = c->targets[i];
			kept++;
			continue;
		}
		if (dropped++ < DUP_WARN_MAX) {
			snprintf(key, sizeof(key), "Targets[%zu]", i);
			warning(ld, key, "identical to Targets[%zu]: measured once", first[i]);
		}
		target_free(&c->targets[i]);
	}
	if (dropped > DUP_WARN_MAX)
		warning(ld, "Targets", "%zu more entr%s identical to an earlier one: measured once",
			dropped - DUP_WARN_MAX, dropped - DUP_WARN_MAX == 1 ? "y" : "ies");
	c->ntargets = kept;
	free(by_key);
	free(first);
}

static void parse_targets(struct loader *ld, struct json_object *t, struct config *c)
{
	struct json_object *arr;
	size_t n;

	static const char *const top[] = { "Targets" };

	unknown_keys(ld, t, "", top, NKEYS(top));
	if (!json_object_object_get_ex(t, "Targets", &arr)) {
		problem(ld, "Targets", "missing");
		return;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		problem(ld, "Targets", "expected an array, got %s", type_name(arr));
		return;
	}
	n = json_object_array_length(arr);
	if (n == 0)
		return;
	c->targets = calloc(n, sizeof(*c->targets));
	if (!c->targets) {
		problem(ld, "Targets", "out of memory");
		return;
	}
	c->ntargets = n;
	for (size_t i = 0; i < n; i++) {
		struct config_target *tg = &c->targets[i];
		struct json_object *e = json_object_array_get_idx(arr, i);
		char prefix[KEY_MAX];
		uint32_t present;

		snprintf(prefix, sizeof(prefix), "Targets[%zu]", i);
		if (!json_object_is_type(e, json_type_object)) {
			problem(ld, prefix, "expected an object, got %s", type_name(e));
			continue;
		}
		/* the Probe section gives what the target does not say */
		tg->packet_count = c->probe.packet_count;
		tg->interval = c->probe.interval;
		tg->padding = c->probe.padding;
		set_defaults(ld, tg, target_keys, NKEYS(target_keys), prefix);
		apply_table(ld, target_keys, NKEYS(target_keys), e, prefix, tg, &present);
		tg->has_geo = geo_pair(ld, prefix, present, TK_LAT, TK_LON);
		tg->dscp = tg->dscps.v[0];
		if (tg->dscps.n > 1 && tg->mode != SESSION_CONTROL) {
			char key[KEY_MAX + 8];

			snprintf(key, sizeof(key), "%s.DSCP", prefix);
			problem(ld, key, "several DSCP values need Mode control (one control connection "
				"carries their test sessions)");
		}
		target_security(ld, tg, prefix);
		target_key(ld, tg, prefix);
	}
	if (ld->nerr == 0)
		merge_identical(ld, c);
}

static void parse_local(struct loader *ld, struct json_object *l, struct config_local *loc)
{
	uint32_t present;

	set_defaults(ld, loc, local_keys, NKEYS(local_keys), "");
	apply_table(ld, local_keys, NKEYS(local_keys), l, "", loc, &present);
	loc->has_geo = geo_pair(ld, "", present, LK_LAT, LK_LON);
}

/* ------------------------------------------------------------- loading */

static char *path_join(struct loader *ld, const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		problem(ld, NULL, "out of memory");
		return NULL;
	}
	return p;
}

/* global_only: the targets file is neither read nor required (config_load_global) */
static int load(const char *dir, struct config **out, struct config_errors *errs, bool global_only)
{
	struct loader ld = { .errs = errs, .file = dir, .dir = dir };
	char *g1 = NULL, *t1 = NULL, *g2 = NULL, *t2 = NULL, *l2 = NULL;
	struct json_object *gj = NULL, *tj = NULL, *lj = NULL;
	const char *gname, *tname;
	struct config *c;
	struct stat st;
	bool hg1, ht1, hg2, ht2;
	char ebuf[128];

	config_errors_clear(errs);
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		problem(&ld, NULL, "out of memory");
		return -1;
	}
	ld.warns = &c->warnings;
	set_defaults(&ld, &c->probe, probe_keys, NKEYS(probe_keys), "Probe");
	if (stat(dir, &st) < 0) {
		problem(&ld, NULL, "%s", strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		problem(&ld, NULL, "not a directory");
		goto out;
	}
	g1 = path_join(&ld, dir, GLOBAL1);
	t1 = path_join(&ld, dir, TARGETS1);
	g2 = path_join(&ld, dir, GLOBAL2);
	t2 = path_join(&ld, dir, TARGETS2);
	l2 = path_join(&ld, dir, LOCAL2);
	if (!g1 || !t1 || !g2 || !t2 || !l2)
		goto out;
	hg1 = file_exists(g1);
	ht1 = file_exists(t1);
	hg2 = file_exists(g2);
	ht2 = file_exists(t2);

	if (hg2 || ht2) {
		c->generation = 2;
		gname = GLOBAL2;
		tname = TARGETS2;
		c->global_path = g2;
		c->targets_path = t2;
		g2 = t2 = NULL;
	} else if (hg1 || (ht1 && !global_only)) {
		c->generation = 1;
		gname = GLOBAL1;
		tname = TARGETS1;
		c->global_path = g1;
		c->targets_path = t1;
		g1 = t1 = NULL;
	} else {
		problem(&ld, NULL, "no configuration: neither %s nor %s exists", GLOBAL2, GLOBAL1);
		goto out;
	}
	if (!(c->generation == 2 ? hg2 : hg1)) {
		ld.file = gname;
		problem(&ld, NULL, "missing (%s is present)", tname);
	} else {
		ld.file = gname;
		gj = read_json(&ld, c->global_path, false);
		if (gj)
			parse_global(&ld, gj, c);
	}
	ld.file = tname;
	if (global_only) {
		/* the targets come later (from ConfigSource) */
	} else if (!(c->generation == 2 ? ht2 : ht1)) {
		problem(&ld, NULL, "missing (%s is present)", gname);
	} else {
		tj = read_json(&ld, c->targets_path, false);
		if (tj)
			parse_targets(&ld, tj, c);
	}
	if (c->generation == 2) {
		ld.file = LOCAL2;
		lj = read_json(&ld, l2, true);
		if (lj)
			parse_local(&ld, lj, &c->local);
	}
out:
	json_object_put(gj);
	json_object_put(tj);
	json_object_put(lj);
	free(g1);
	free(t1);
	free(g2);
	free(t2);
	free(l2);
	if (ld.nerr) {
		if (errs && errs->n == 0)
			problem(&ld, NULL, "out of memory"); /* keep at least one line if possible */
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int config_load(const char *dir, struct config **out, struct config_errors *errs)
{
	return load(dir, out, errs, false);
}

int config_load_global(const char *dir, struct config **out, struct config_errors *errs)
{
	return load(dir, out, errs, true);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->global_path);
	free(c->targets_path);
	free(c->source.method);
	free(c->source.url);
	free(c->source.user);
	free(c->source.password);
	free(c->source.branch);
	free(c->source.path);
	free(c->source.ca_file);
	for (size_t i = 0; i < c->ndests; i++) {
		struct config_destination *d = &c->dests[i];

		free(d->url);
		free(d->password);
		free(d->user);
		free(d->token);
		free(d->ca_file);
	}
	free(c->dests);
	free(c->probe.schedule);
	free(c->probe.config_schedule);
	free(c->probe.source_name);
	free(c->local.source_name);
	free(c->local.description);
	free(c->local.tags);
	free(c->local.street);
	free(c->local.city);
	free(c->local.state);
	free(c->local.zip);
	for (size_t i = 0; i < c->ntargets; i++)
		target_free(&c->targets[i]);
	free(c->targets);
	config_errors_clear(&c->warnings);
	free(c);
}

void config_probe_name(const struct config *c, char *buf, size_t len)
{
	const char *env = getenv("PROBE_SOURCE");
	char host[256];

	if (!buf || len == 0)
		return;
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (c && c->local.source_name && *c->local.source_name) {
		snprintf(buf, len, "%s", c->local.source_name);
		return;
	}
	if (c && c->probe.source_name && *c->probe.source_name) {
		snprintf(buf, len, "%s", c->probe.source_name);
		return;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s", host);
}
