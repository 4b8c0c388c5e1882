/*
 * url: userinfo lookup and the one URL redaction for logs (see include/url.h).
 *
 * Why a module of its own: the sender and the configuration download both
 * print URLs that may carry credentials, and two redactors had drifted
 * apart (one hid the whole userinfo, the other only the password, neither
 * the query).  Logging is not a hot path: the redactor allocates freely.
 */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool url_userinfo(const char *url, size_t *start, size_t *end)
{
	const char *s = strstr(url, "://"), *auth, *at = NULL;
	size_t alen;

	if (!s)
		return false;
	auth = s + 3;
	alen = strcspn(auth, "/?#");
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (!at)
		return false;
	*start = (size_t)(auth - url);
	*end = (size_t)(at - url);
	return true;
}

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* Is the query parameter name s[0, n) (still percent-encoded) one whose value is a secret? */
static bool secret_name(const char *s, size_t n)
{
	static const char *const exact[] = {
		"p", "pass", "pwd", "auth", "authorization", "sig", "signature",
		"credential", "credentials",
	};
	static const char *const suffix[] = { "password", "passwd", "token", "secret", "key" };
	char *name = malloc(n + 1);
	size_t len = 0, i;
	bool secret = false;

	if (!name)
		return true;   /* cannot tell: hide it */
	for (i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = hexdigit(s[i + 1])) >= 0 &&
		    (l = hexdigit(s[i + 2])) >= 0) {
			name[len++] = (char)(h * 16 + l);
			i += 2;
		} else {
			name[len++] = s[i];
		}
	}
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]) && !secret; i++)
		secret = len == strlen(exact[i]) && strncasecmp(name, exact[i], len) == 0;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]) && !secret; i++)
		secret = ends_with(name, len, suffix[i]);
	free(name);
	return secret;
}

char *url_redact(const char *url)
{
	char *out = NULL;
	size_t outlen = 0, us, ue, pos = 0, q;
	FILE *f;

	if (!url)
		return strdup("(none)");
	f = open_memstream(&out, &outlen);
	if (!f)
		return NULL;
	if (url_userinfo(url, &us, &ue)) {
		const char *colon = memchr(url + us, ':', ue - us);

		/* user:password -> user:***; a lone userinfo may itself be a token */
		(void)fwrite(url, 1, colon ? (size_t)(colon + 1 - url) : us, f);
		(void)fputs("***", f);
		pos = ue;
	}
	q = pos + strcspn(url + pos, "?#");
	(void)fwrite(url + pos, 1, q - pos, f);
	if (url[q] == '?') {
		size_t p = q + 1, qend = p + strcspn(url + p, "#");

		(void)fputc('?', f);
		while (p < qend) {
			size_t plen = strcspn(url + p, "&;#");
			const char *eq = memchr(url + p, '=', plen);

			if (eq && eq + 1 < url + p + plen &&
			    secret_name(url + p, (size_t)(eq - (url + p)))) {
				(void)fwrite(url + p, 1, (size_t)(eq + 1 - (url + p)), f);
				(void)fputs("***", f);
			} else {
				(void)fwrite(url + p, 1, plen, f);
			}
			p += plen;
			if (p < qend)
				(void)fputc(url[p++], f);   /* the separator */
		}
		q = qend;
	}
	(void)fputs(url + q, f);   /* the fragment, if any */
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
