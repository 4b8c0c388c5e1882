# bench-test: tests/bench.sh, `twamp-client bench` against our own responder
# on loopback with short steps (about 15 s): the table, the closing lines,
# CSV, JSON, the PNG and SVG pictures, the progress line, every threshold.
.PHONY: bench-test
bench-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/bench.sh
CHECK_EXTRA += bench-test
