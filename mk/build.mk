# Build machinery and start-up cost (issue 15).  Part of `make check`.
#   make tsprobe-test  tests/tsprobe.sh: ping with SO_TIMESTAMPING refused or
#                      swallowed by an LD_PRELOAD shim (tests/ts_shim.c): the
#                      probe ends at the refusal (< 300 ms), gives up on stamps
#                      that never come (< 700 ms), and ping still measures.
.PHONY: tsprobe-test

tsprobe-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/tsprobe.sh

CHECK_EXTRA += tsprobe-test
