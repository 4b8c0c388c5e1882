/*
 * url: the URL helpers that several io/ modules need (the destination
 * sender, the configuration download): finding the userinfo, and the one
 * redaction used wherever a URL goes into a log line or an error message.
 *
 * Redaction (url_redact):
 *   - a userinfo user:password@ becomes user:***@
 *   - a userinfo without ':' (token@) becomes ***@: it is often a token
 *     (GitHub takes one as the user name)
 *   - the value of every query parameter whose name (percent-decoded,
 *     case-insensitive) is one of  p, pass, pwd, auth, authorization, sig,
 *     signature, credential, credentials,  or ends in  password, passwd,
 *     token, secret, key  (so password, token, access_token, api_key, apikey,
 *     x-api-key, secret, client_secret, key ...) becomes "***"; parameters
 *     are separated by '&' or ';' and end at '#'.  InfluxDB 1.x takes its
 *     credentials as ?u=USER&p=PASSWORD: u stays, p is hidden.
 * Everything else (host, port, path, other parameters, fragment) is kept, so
 * the line still says which destination it is about.
 */
#ifndef URL_H
#define URL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The userinfo of scheme://userinfo@host... as url[*start, *end) (the last
 * '@' before the path ends it); false when there is none.
 */
bool url_userinfo(const char *url, size_t *start, size_t *end);

/* url redacted as above, malloc'ed; "(none)" for NULL; NULL when out of memory. */
char *url_redact(const char *url);

#endif
