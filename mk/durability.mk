# Delivery durability (issue 13 section 4).
#
#   make killnine-test   tests/killnine.sh: a real daemon, responder and sink in a
#                        network namespace; `run --once` killed with SIGKILL at
#                        random (seeded, printed) moments under a hanging, a failing
#                        and a healthy sink; asserts 0 records lost and duplicates
#                        only of the batch in flight, and --once's exit status (3
#                        while records stay spooled).  Root; about 2 minutes.  Part
#                        of `make check`.
.PHONY: killnine-test

killnine-test: $(BIN)
	@TWAMP_CLIENT=$(BIN) tests/killnine.sh

CHECK_EXTRA += killnine-test
