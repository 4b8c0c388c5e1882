# Cross builds (issue 15): armhf and arm64, the Raspberry Pi's, from x86-64.
#   make cross-check   scripts/install-deps.sh --cross (the cross toolchains and
#                      qemu-user, host packages); for each of armhf and arm64 a
#                      sysroot under build-cross/ARCH/ by scripts/cross-sysroot.sh
#                      (the target's -dev packages and their closure downloaded
#                      with a private apt state and unpacked, never installed:
#                      libgit2-dev and libcriterion-dev cannot be co-installed
#                      for two architectures, apt would remove the host's);
#                      builds the binary and the unit tests with -Werror
#                      (CC=TRIPLET-gcc --sysroot, the sysroot's pkg-config);
#                      runs the armhf binary under qemu-arm (tests/cross.sh:
#                      responder, ping in every mode, run --once on the demo and
#                      with a git source and an HTTP destination); checks that
#                      the host's installed packages are the same before and
#                      after.  Part of `make check` on x86-64.
#   make cross-unit-test  the arm64 Criterion suites under qemu-aarch64, through
#                      a binfmt_misc of a user namespace of their own (Criterion
#                      re-executes itself; the host's binfmt_misc is untouched).
#                      Not yet in make check: 5 of 22 suites fail under
#                      emulation (README, "Cross builds").
CROSS_ARCHES := armhf arm64
CROSS_TRIPLET_armhf := arm-linux-gnueabihf
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
# the Makefile's modules' -dev packages (PKG_DEB_*), and the C library's
CROSS_PKGS_armhf := libc6-dev $(foreach m,$(PKGS),$(PKG_DEB_$(m)))
# Criterion has an arm64 package in Debian 12, none for armhf
CROSS_PKGS_arm64 := $(CROSS_PKGS_armhf) $(PKG_DEB_criterion)
CROSS_DIR := build-cross
CROSS_MAKE = $(MAKE) --no-print-directory WERROR=1 BUILD=$(CURDIR)/$(CROSS_DIR)/$(1)/build \
	CC="$(CROSS_TRIPLET_$(1))-gcc --sysroot=$(CURDIR)/$(CROSS_DIR)/$(1)/sysroot" \
	PKG_CONFIG=$(CURDIR)/$(CROSS_DIR)/$(1)/pkg-config

.PHONY: cross-check cross-build cross-unit-test

cross-build:
	@scripts/install-deps.sh --cross
	$(foreach a,$(CROSS_ARCHES),@scripts/cross-sysroot.sh $(a) $(CROSS_DIR)/$(a) $(CROSS_PKGS_$(a))$(newline))
	$(call CROSS_MAKE,armhf) all
	$(call CROSS_MAKE,arm64) all unit-bins

cross-check:
	@mkdir -p $(CROSS_DIR) && dpkg-query -W -f '$${Package}:$${Architecture} $${Version}\n' | sort >$(CROSS_DIR)/host-packages.before
	@$(MAKE) --no-print-directory cross-build
	@HOST_PACKAGES_BEFORE=$(CROSS_DIR)/host-packages.before \
		tests/cross.sh qemu-arm-static $(CURDIR)/$(CROSS_DIR)/armhf/sysroot $(CROSS_DIR)/armhf/build/twamp-client

cross-unit-test: cross-build
	@bad=; for t in $(CROSS_DIR)/arm64/build/tests/test_*; do case $$t in *.d) continue;; esac; \
		echo "== $$t (qemu-aarch64)"; \
		CC="$(CROSS_TRIPLET_arm64)-gcc --sysroot=$(CURDIR)/$(CROSS_DIR)/arm64/sysroot" \
		QEMU_LD_PREFIX=$(CURDIR)/$(CROSS_DIR)/arm64/sysroot \
			unshare --user --map-root-user --mount --fork scripts/binfmt-run.sh aarch64 $$t --jobs 1 || bad="$$bad $$t"; done; \
		[ -z "$$bad" ] || { echo "FAIL: arm64 unit tests:$$bad"; exit 1; }

ifeq ($(shell uname -m),x86_64)
CHECK_EXTRA += cross-check
endif
