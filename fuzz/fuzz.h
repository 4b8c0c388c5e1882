/*
 * fuzz: helpers shared by the libFuzzer targets in this folder (see
 * mk/fuzz.mk and README.md, "Fuzzing").
 *
 * Every target is one file fuzz_<name>.c defining LLVMFuzzerTestOneInput and
 * linked with the project's objects built with -fsanitize=fuzzer-no-link.
 * Inputs that describe a conversation are read front to back with the
 * fz_take() family: a target stops where the input ends, so a short input
 * is a short conversation, never an error.
 *
 * The socket helpers (loopback TCP listener, HTTP answering machine) let a
 * target reach the project's real network entry points; every wait in them
 * is bounded, so a target never hangs on an input.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

/* The next len octets (NULL, and nothing consumed, when fewer are left). */
const uint8_t *fz_take(struct fz *f, size_t len);
/* Next octet / big-endian 16-bit value; def when the input has ended. */
uint8_t fz_u8(struct fz *f, uint8_t def);
uint16_t fz_u16(struct fz *f, uint16_t def);
/*
 * A length-prefixed chunk: u16 length, then that many octets (fewer when the
 * input ends first: the chunk is cut).  NULL at the end of the input.
 */
const uint8_t *fz_chunk(struct fz *f, size_t *len);

/* Quiet logging (errors only) for the whole fuzzing process. */
void fz_quiet(void);

/*
 * A private directory for this process under $TMPDIR (or /tmp), made on the
 * first call and removed with its content at exit.
 */
const char *fz_tmpdir(void);
/* Write data to dir/name (created or truncated); 0 or -1. */
int fz_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Remove path and everything below it (no error when it does not exist). */
void fz_rmtree(const char *path);

/* Loopback IPv4 address with this port (host order). */
void fz_loopback(struct sockaddr_storage *ss, uint16_t port);
/* A listening TCP socket on 127.0.0.1, port chosen by the kernel: fd, or -1. */
int fz_tcp_listen(uint16_t *port);
/* A UDP socket bound to 127.0.0.1, port chosen by the kernel: fd, or -1. */
int fz_udp_bind(uint16_t *port);
/* Set SO_RCVTIMEO and SO_SNDTIMEO of fd to ms. */
void fz_timeouts(int fd, int ms);
/* Read exactly len octets (bounded by fd's receive timeout): 0, or -1. */
int fz_read_full(int fd, uint8_t *buf, size_t len);
/* Write all of buf (MSG_NOSIGNAL): 0, or -1. */
int fz_write_full(int fd, const uint8_t *buf, size_t len);
/* Wait at most ms for fd to become readable: true when it is. */
bool fz_wait_readable(int fd, int ms);

/*
 * HTTP answering machine: a thread serving 127.0.0.1:port that reads each
 * request (headers and a Content-Length body), answers it with the current
 * response octets verbatim (no framing added), and closes the connection.
 * fz_http_start() starts it once and returns the port; fz_http_set() sets
 * the answer for the requests that follow (the octets are copied) and
 * resets the served counter; fz_http_served() counts requests answered
 * since.
 */
uint16_t fz_http_start(void);
void fz_http_set(const uint8_t *resp, size_t len);
unsigned fz_http_served(void);

#endif
