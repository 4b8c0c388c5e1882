# What ping reports (issue 14): twping parity of -M, partly refused test
# sessions against scripted twampd peers, the security mode, a light/STAMP ping
# to a closed port.
#   make report-test   tests/report.sh on loopback (python3); about 15 seconds.
#                      Part of `make check`.
.PHONY: report-test

report-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/report.sh

CHECK_EXTRA += report-test
