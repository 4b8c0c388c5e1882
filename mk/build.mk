# Build machinery (issue 15): the dependency groups, PKG_CONFIG and CC, and the
# timestamp probe's start-up cost.  Both suites are part of `make check`.
#   make build-test    tests/build.sh: scripts/install-deps.sh's groups (build
#                      without Criterion, --unit with it, an architecture where
#                      libcriterion-dev has no candidate) against fake apt/dpkg
#                      commands; the Makefile's pkg-config check (a missing
#                      module stops `make` before compiling, naming the -dev
#                      package) and that it runs $(PKG_CONFIG); `make unit-test`
#                      without Criterion; the Dockerfile's build stage.  Never
#                      installs or removes a package.
#   make tsprobe-test  tests/tsprobe.sh: ping with SO_TIMESTAMPING refused or
#                      swallowed by an LD_PRELOAD shim (tests/ts_shim.c): the
#                      probe ends at the refusal (< 300 ms), gives up on stamps
#                      that never come (< 700 ms), and ping still measures.
.PHONY: build-test tsprobe-test

build-test:
	@MAKE="$(MAKE)" tests/build.sh

tsprobe-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/tsprobe.sh

CHECK_EXTRA += build-test tsprobe-test
