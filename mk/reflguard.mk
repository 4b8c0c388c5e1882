# The responder against forged datagrams, idle and competing peers (issue 13
# section 3): loop guard, --rate-limit, the control timeout after an empty
# Start-Sessions, a second responder on a busy port.
#   make reflguard-test   tests/reflguard.sh with the ASan/UBSan build (built
#                         here), in a network namespace of its own; root (raw
#                         socket); about 20 seconds.  Part of `make check`.
.PHONY: reflguard-test

reflguard-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@TWAMP_CLIENT=build-address,undefined/twamp-client tests/reflguard.sh

CHECK_EXTRA += reflguard-test
