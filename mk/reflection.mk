# How the responder reflects (issue 14 section 2): light/STAMP Sequence
# Numbers (stateless by default, --stateful), short test packets (ping -s 0,
# --pad-short), the DSCP/ECN of light replies (--reflect-dscp), the SIDs'
# random octets.
#   make reflection-test   tests/reflection.sh with the ASan/UBSan build (built
#                          here), over 127.0.0.1 and ::1 (python3); about 20 s.
#                          Part of `make check`.
.PHONY: reflection-test

reflection-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@TWAMP_CLIENT=build-address,undefined/twamp-client tests/reflection.sh

CHECK_EXTRA += reflection-test
