# What ping reports (issue 14): twping parity of -M, partly refused test
# sessions against scripted twampd peers, the security mode, a light/STAMP ping
# to a closed port.
#   make report-test   tests/report.sh with the ASan/UBSan build (built here), on
#                      loopback (python3); about 15 seconds.  Part of `make check`.
.PHONY: report-test

report-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@TWAMP_CLIENT=build-address,undefined/twamp-client tests/report.sh

CHECK_EXTRA += report-test
