# twamp-client build.  `make` builds build/twamp-client; `make check` installs
# missing Debian packages, builds, runs every test, then the same tests under
# AddressSanitizer+UndefinedBehaviorSanitizer and ThreadSanitizer.
#
#   make SANITIZE=address,undefined    sanitizer build in build-address,undefined/
#   make WERROR=1                      warnings are errors (CI)

SHELL := /bin/bash
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libcurl json-c libgit2 liburcu openssl
SANITIZE ?=
WERROR ?=

ifeq ($(SANITIZE),)
BUILD := build
SANFLAGS :=
else
BUILD := build-$(SANITIZE)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

OPT ?= -O2

# The version: git describe when the checkout has a tag, else
# VERSION_BASE+g<commit>, else VERSION_BASE, which is include/version.h's
# TWAMP_VERSION_FALLBACK (the one place it is written).  Only
# src/version.o sees it; a stamp file rebuilds it when the version changes.
VERSION_BASE := $(shell sed -n 's/^\#define TWAMP_VERSION_FALLBACK "\(.*\)"$$/\1/p' include/version.h)
ifndef VERSION
VERSION := $(shell git describe --tags --dirty 2>/dev/null || \
	{ c=$$(git describe --always --dirty 2>/dev/null) && echo "$(VERSION_BASE)+g$$c"; } || \
	echo "$(VERSION_BASE)")
endif
# The libraries' flags come from $(PKG_CONFIG): for a cross build, the target's
# (make CC=arm-linux-gnueabihf-gcc PKG_CONFIG=arm-linux-gnueabihf-pkg-config).
# Before anything is compiled every module must be there: a missing one stops
# make with one line per module naming the Debian package that provides it.
# Goals that compile nothing (clean, the dependency installers, check and run,
# whose sub-makes check after installing) skip the check.
NOLIB_GOALS := clean deps test-deps unit-deps check run
PKG_DEB_libcurl := libcurl4-openssl-dev
PKG_DEB_json-c := libjson-c-dev
PKG_DEB_libgit2 := libgit2-dev
PKG_DEB_liburcu := liburcu-dev
PKG_DEB_openssl := libssl-dev
PKG_DEB_criterion := libcriterion-dev
# a cross pkg-config (TRIPLET-pkg-config) wants the target's packages: PKG:ARCH
PKG_ARCH = $(if $(filter %-pkg-config,$(notdir $(PKG_CONFIG))),:$(shell dpkg-architecture \
	-t$(patsubst %-pkg-config,%,$(notdir $(PKG_CONFIG))) -qDEB_HOST_ARCH 2>/dev/null))
ifneq ($(filter-out $(NOLIB_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(shell command -v $(firstword $(PKG_CONFIG))),)
$(error $(PKG_CONFIG) not found: apt-get -o DPkg::Lock::Timeout=300 install -y pkg-config (a cross build needs TRIPLET-pkg-config, from the same package), or set PKG_CONFIG)
endif
PKG_MISSING := $(strip $(foreach m,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(m) && echo y),,$(m))))
ifneq ($(PKG_MISSING),)
$(foreach m,$(PKG_MISSING),$(info Makefile: $(PKG_CONFIG) finds no module $(m): apt-get -o DPkg::Lock::Timeout=300 install -y $(PKG_DEB_$(m))$(PKG_ARCH)))
$(error $(words $(PKG_MISSING)) library module(s) missing: $(PKG_MISSING) (scripts/install-deps.sh installs them all))
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
# Criterion, for the unit tests only: `make` and `make run` never need it
HAVE_CRITERION := $(shell $(PKG_CONFIG) --exists criterion && echo yes)
CRITERION_LIBS := $(if $(HAVE_CRITERION),$(shell $(PKG_CONFIG) --libs criterion))
endif
# The feature macros, one place (mk/fuzz.mk and mk/analyze.mk use them too).
# 64-bit off_t and time_t on 32-bit targets (armhf, i386; no-ops on 64-bit):
# with a 32-bit off_t readdir() fails with EOVERFLOW on file systems with
# 64-bit inode numbers, and a 32-bit time_t ends in 2038.  _TIME_BITS=64
# (glibc 2.34+, needs _FILE_OFFSET_BITS=64) changes the ABI of every call that
# passes a time_t, struct timespec/timeval/stat or struct tm; glibc's own are
# redirected to their 64-bit variants (clock_gettime, gmtime_r, stat/fstat,
# nanosleep, pthread_cond_timedwait, epoll_pwait2, ntp_adjtime, recvmmsg and
# its SCM_TIMESTAMPING, setsockopt SO_RCVTIMEO/SO_SNDTIMEO).  The third-party
# libraries of Debian 12 armhf are built with a 32-bit time_t, so what matters
# is whether we pass such a type to one of them.  We do not: libcurl gets
# only long and curl_off_t values (CURLOPT_*TIMEOUT_MS, CURLINFO_RETRY_AFTER;
# no CURLOPT_TIMEVALUE, curl_getdate or CURLINFO_FILETIME), OpenSSL no time
# (no X509_cmp_time, X509_VERIFY_PARAM_set_time, ASN1_TIME_set: certificates
# are checked against libcrypto's own clock), libgit2 none (git_time_t is
# int64 anyway; no git_signature or index times), json-c and liburcu none
# (liburcu's inline futex calls pass a NULL timeout).  So _TIME_BITS=64 is
# safe and defined; include/ntptime.h refuses a build with a 32-bit time_t.
# Any new library call taking a time type must be checked against this list.
FEATURE_DEFS := -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
CFLAGS += -std=c11 $(FEATURE_DEFS) $(OPT) -g -Wall -Wextra $(if $(WERROR),-Werror) \
	  -Iinclude $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread -lm

SRCS := $(wildcard src/*.c src/workers/*.c src/sched/*.c src/io/*.c src/bench/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS := $(filter-out $(BUILD)/src/main.o,$(OBJS))
BIN := $(BUILD)/twamp-client

# libcurl and libgit2 are loaded with dlopen() by src/io/dynlib.c, only by the
# daemon's download and delivery: the binary does not link them (start-up of
# ping, responder, --version), the test binaries still do.  dlopen() asks for
# the soname the -dev package links to, recorded here at build time.
BIN_LDLIBS = $(filter-out -lcurl -lgit2,$(LDLIBS))
DYNLIB_DEFS := -DTWAMP_LIBCURL_SONAME='"$(shell CC='$(CC)' scripts/soname.sh curl)"' \
	       -DTWAMP_LIBGIT2_SONAME='"$(shell CC='$(CC)' scripts/soname.sh git2)"'
$(BUILD)/src/io/dynlib.o: CFLAGS += $(DYNLIB_DEFS)

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(wildcard tests/util/*.c)
TEST_HELPER_OBJS := $(TEST_HELPERS:%.c=$(BUILD)/%.o)

.PHONY: all deps test-deps unit-deps unit-bins check test unit-test cli-test influx-test fetch-test tsan-test dscp-test run bench clean

all: $(BIN)

deps:
	@scripts/install-deps.sh

# make check's packages: the build's and every tool tests/*.sh use
test-deps:
	@scripts/install-deps.sh --test

# the unit tests' Criterion (libcriterion-dev; Debian 12 has none for armhf)
unit-deps:
	@scripts/install-deps.sh --unit

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(BIN_LDLIBS)

$(BUILD)/version.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@

$(BUILD)/src/version.o: $(BUILD)/version.stamp
$(BUILD)/src/version.o: CFLAGS += -DTWAMP_VERSION='"$(VERSION)"'

.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS) $(TEST_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJS) $(TEST_HELPER_OBJS) $(LDFLAGS) $(LDLIBS) $(CRITERION_LIBS)

$(BUILD)/tests/util/%.o: tests/util/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

# Unit and in-process integration tests (Criterion), then the command-line tests.
test: unit-test cli-test

# Criterion reports a test as passed even when LeakSanitizer or UBSan printed a
# report from its process: any such report fails the run here.  Every binary
# runs; the target fails at the end, naming the binaries that failed.
# Without Criterion ($(PKG_CONFIG) has no criterion module) nothing is built:
# every unit suite counts as failed, with the reason scripts/install-deps.sh
# gives (not installed, or not packaged for this architecture).
ifeq ($(HAVE_CRITERION),)
unit-bins:
	@echo "unit tests not built: Criterion missing (make unit-test says why)"

unit-test:
	@echo "FAIL: unit tests: $(PKG_CONFIG) has no module criterion, the unit tests cannot be built"
	@scripts/install-deps.sh --unit --no-install $(if $(PKG_ARCH),--arch $(patsubst :%,%,$(PKG_ARCH))) || true
	@echo "unit-test: 0 passed, $(words $(TEST_BINS)) failed (every unit suite: $(notdir $(TEST_BINS)))"
	@exit 1
else
unit-bins: $(TEST_BINS)

unit-test: $(TEST_BINS)
	@bad=; for t in $(TEST_BINS); do echo "== $$t"; \
		$$t --jobs 1 2>&1 | tee $(BUILD)/tests/last.log; \
		[ $${PIPESTATUS[0]} = 0 ] || bad="$$bad $$t"; \
		if grep -q "Sanitizer\|runtime error:" $(BUILD)/tests/last.log; then \
			echo "FAIL: sanitizer report in $$t"; bad="$$bad $$t"; fi; done; \
		[ -z "$$bad" ] || { echo "FAIL: unit tests:$$bad"; exit 1; }
endif

# InfluxDB 1.x (Debian's influxdb, installed by the script when missing) receives
# the sender's and the daemon's line protocol; the test reads it back.
influx-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/influx.sh

# Configuration downloads against real nginx (http, https, auth_basic, git
# http-backend) and git daemon servers that the script starts on loopback
# (installing nginx, fcgiwrap and git when missing).
fetch-test:
	@SANITIZE=$(SANITIZE) tests/fetch.sh

# The sender under ThreadSanitizer from several submitting threads (not a
# Criterion test: Criterion cannot start under TSan).
$(BUILD)/tests/tsan_sender: tests/tsan_sender.c tests/test_sender.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)

tsan-test: $(BUILD)/tests/tsan_sender
	@$(BUILD)/tests/tsan_sender

# RFC 7750 monitoring against iptables re-marking DSCP / setting CE between two
# network namespaces the script makes (root; installs iptables when missing).
dscp-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/dscp.sh

cli-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/cli.sh; r=$$?; TWAMP_CLIENT=$(BIN) tests/daemon.sh && exit $$r

# Criterion's own start-up aborts under ThreadSanitizer ("Could not initialize
# inheritable arena", Criterion issue 274), so the TSan pass runs the
# multi-threaded responder and the client through the command-line tests.
#
# Every suite runs even when an earlier one failed (scripts/check-suite.sh
# keeps each one's log and counts in build/check/); the last line is the sum
# over all of them, `N passed, N failed`, and make check fails when a suite
# failed or a test changed /etc/passwd, /etc/group, /etc/hosts or
# /etc/resolv.conf (their sha256, recorded once every package is installed,
# is compared after every suite).
CHECK_DIR := build/check
CHECK_RUN = @scripts/check-suite.sh run $(CHECK_DIR)
TSAN_ENV := env TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tests/tsan.supp"
check:
	@scripts/check-suite.sh begin $(CHECK_DIR)
	$(CHECK_RUN) test-deps scripts/install-deps.sh --test --analyze --fuzz
	$(CHECK_RUN) unit-deps scripts/install-deps.sh --unit
	@scripts/check-suite.sh record $(CHECK_DIR)
	$(CHECK_RUN) build $(MAKE) --no-print-directory WERROR=1 all unit-bins
	$(CHECK_RUN) unit-test $(MAKE) --no-print-directory WERROR=1 unit-test
	$(CHECK_RUN) cli-test $(MAKE) --no-print-directory WERROR=1 cli-test
	$(CHECK_RUN) influx-test $(MAKE) --no-print-directory WERROR=1 influx-test
	$(CHECK_RUN) fetch-test $(MAKE) --no-print-directory WERROR=1 fetch-test
	$(CHECK_RUN) packaging-test $(MAKE) --no-print-directory WERROR=1 packaging-test
	$(CHECK_RUN) dscp-test $(MAKE) --no-print-directory WERROR=1 dscp-test
	$(CHECK_RUN) asan-build $(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined all
	$(CHECK_RUN) asan-unit-test $(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined unit-test
	$(CHECK_RUN) asan-cli-test $(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined cli-test
	$(CHECK_RUN) asan-fetch-test $(MAKE) --no-print-directory WERROR=1 SANITIZE=address,undefined fetch-test
	$(CHECK_RUN) tsan-cli-test $(TSAN_ENV) $(MAKE) --no-print-directory WERROR=1 SANITIZE=thread OPT=-O1 cli-test
	$(CHECK_RUN) tsan-test $(TSAN_ENV) $(MAKE) --no-print-directory WERROR=1 SANITIZE=thread OPT=-O1 tsan-test
	$(foreach t,$(CHECK_EXTRA),$(CHECK_RUN) $(t) $(MAKE) --no-print-directory WERROR=1 $(t)$(newline))
	@scripts/check-suite.sh summary $(CHECK_DIR)

# the build's packages only (never Criterion), then the build, then the demo
run:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory $(BIN)
	@scripts/run-demo.sh $(BIN)

# The benchmark suite (bench/suite): ping-loopback, scale, accuracy (root),
# responder capacity, bench/responder-capacity and the twping comparison
# when present; results in bench/results/<date>.md.
bench: $(BIN)
	@bench/suite $(BIN)

clean:
	rm -rf build build-*

-include $(OBJS:.o=.d) $(TEST_HELPER_OBJS:.o=.d)

# Further targets live in mk/*.mk, one file per concern (fuzzing, static
# analysis, fault injection...). Each may add goals to CHECK_EXTRA, which
# `make check` runs after the sanitizer passes.
CHECK_EXTRA :=
include $(sort $(wildcard mk/*.mk))
define newline


endef

# ---- Packaging and containers (issue 7): install, packaging-test, container-check ----
#   make install PREFIX=/usr/local DESTDIR=/tmp/stage
#     the binary, the systemd unit (paths rewritten for PREFIX), the man page,
#     README and the configuration examples, the default data directory
#   make packaging-test   tests/packaging.sh: make install's file list, the unit
#     (systemd-analyze), the man page, the compose files (docker-compose config)
#   make container-check  tests/container.sh (opt-in, slow the first time): builds
#     the image with podman on a debootstrap'ed debian:bookworm-slim, runs it
#     against a responder on the host (records, health, SIGTERM, volume
#     ownership), the systemd unit under systemd, the demo compose file end to end
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/twamp-client
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

.PHONY: install packaging-test container-check

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DATADIR)/twamp-client/default-data
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/twamp-client
	sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/|$(DATADIR)/|g' \
		packaging/twamp-client.service >$(DESTDIR)$(UNITDIR)/twamp-client.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/twamp-client.service
	$(INSTALL) -m 0644 packaging/twamp-client.1 $(DESTDIR)$(MANDIR)/man1/twamp-client.1
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@set -e; for f in $$(find config_example -type f | sort); do \
		echo "$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DOCDIR)/examples/$${f#config_example/}"; \
		$(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(DOCDIR)/examples/$${f#config_example/}"; done
	$(INSTALL) -m 0644 packaging/default-data/*.json $(DESTDIR)$(DATADIR)/twamp-client/default-data/

packaging-test: $(BIN)
	@MAKE="$(MAKE)" TWAMP_CLIENT=$(BIN) tests/packaging.sh

container-check: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/container.sh
