# Fault injection and soak (issue 9 sections 3-5).
#
#   make fault-test   tests/faults.sh with the ASan/UBSan build (built here):
#                     misbehaving responders and destinations, full and read-only
#                     disks, signals at bad moments, 100,000 targets, responder
#                     abuse (amplification, limits, slowloris, connection and SYN
#                     floods).  Root for the tmpfs mounts and the network
#                     namespace; about two minutes.  Part of `make check`.
#   make soak         tests/soak.sh with the plain build: 1,000 targets every
#                     minute for SOAK_SECONDS (default 3600) against a local
#                     responder and sink; prints RSS, descriptors, threads and
#                     delivery latency per cycle and fails when they drift or a
#                     record is lost.  Opt-in.
.PHONY: fault-test soak

SOAK_SECONDS ?= 3600

fault-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@TWAMP_CLIENT=build-address,undefined/twamp-client tests/faults.sh

soak: $(BIN)
	@SOAK_SECONDS=$(SOAK_SECONDS) TWAMP_CLIENT=$(BIN) tests/soak.sh

CHECK_EXTRA += fault-test
