# Wall-clock steps (issue 14 section 1): ping and run under libfaketime with
# CLOCK_REALTIME stepped -1 h, +1 h and +1 day mid-session and between cycles
# while CLOCK_MONOTONIC stays real.
#   make clock-test   tests/clock.sh with the ASan/UBSan build (built here);
#                     about 90 seconds (the daemon part waits for minute
#                     boundaries of its faked clock).  Part of `make check`.
.PHONY: clock-test

clock-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@TWAMP_CLIENT=build-address,undefined/twamp-client tests/clock.sh

CHECK_EXTRA += clock-test
