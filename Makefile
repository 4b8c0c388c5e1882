# twamp-client build.  `make` builds build/twamp-client; `make check` installs
# missing Debian packages, builds, runs every test, then the same tests under
# AddressSanitizer+UndefinedBehaviorSanitizer and ThreadSanitizer.
#
#   make SANITIZE=address,undefined    sanitizer build in build-address,undefined/
#   make WERROR=1                      warnings are errors (CI)

SHELL := /bin/bash
CC ?= cc
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
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra $(if $(WERROR),-Werror) \
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

.PHONY: all deps test-deps check test unit-test cli-test influx-test fetch-test tsan-test dscp-test run bench clean

all: $(BIN)

deps:
	@scripts/install-deps.sh

# make check's packages: the build's and every tool tests/*.sh use
test-deps:
	@scripts/install-deps.sh --test

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
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJS) $(TEST_HELPER_OBJS) $(LDFLAGS) $(LDLIBS) -lcriterion

$(BUILD)/tests/util/%.o: tests/util/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

# Unit and in-process integration tests (Criterion), then the command-line tests.
test: unit-test cli-test

# Criterion reports a test as passed even when LeakSanitizer or UBSan printed a
# report from its process: any such report fails the run here.  Every binary
# runs; the target fails at the end, naming the binaries that failed.
unit-test: $(TEST_BINS)
	@bad=; for t in $(TEST_BINS); do echo "== $$t"; \
		$$t --jobs 1 2>&1 | tee $(BUILD)/tests/last.log; \
		[ $${PIPESTATUS[0]} = 0 ] || bad="$$bad $$t"; \
		if grep -q "Sanitizer\|runtime error:" $(BUILD)/tests/last.log; then \
			echo "FAIL: sanitizer report in $$t"; bad="$$bad $$t"; fi; done; \
		[ -z "$$bad" ] || { echo "FAIL: unit tests:$$bad"; exit 1; }

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
	@scripts/check-suite.sh record $(CHECK_DIR)
	$(CHECK_RUN) build $(MAKE) --no-print-directory WERROR=1 all $(TEST_BINS)
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

run: deps $(BIN)
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
