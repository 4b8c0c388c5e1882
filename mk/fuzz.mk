# ---- Fuzzing (issue 9): libFuzzer targets in fuzz/ ----
#   make fuzz FUZZ_SECONDS=60   each target for that long (corpus kept in
#                               build-fuzz/corpus/<target>/ between runs)
#   make fuzz-smoke             every target over its seeds and fuzz/regress/,
#                               then a few seconds of fuzzing (part of make check)
#   make fuzz-build             just the binaries, build-fuzz/fuzz/fuzz_<target>
# The project's objects are rebuilt with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build-fuzz/; each target
# links them with -fsanitize=fuzzer.  Seeds: fuzz/corpus/<target>/ (committed)
# plus what build-fuzz/fuzz/seeds extracts from the interop captures and the
# configuration test data into build-fuzz/corpus/<target>/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_DIR := build-fuzz
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 $(FEATURE_DEFS) -O1 -g -Wall -Wextra $(if $(WERROR),-Werror) \
	-Iinclude -Ifuzz -Itests $(PKG_CFLAGS) $(FUZZ_SAN) -MMD -MP
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(filter-out src/main.c,$(SRCS)))
FUZZ_COMMON := $(FUZZ_DIR)/fuzz/fuzz.o
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz/fuzz_%)
FUZZ_SEEDS_BIN := $(FUZZ_DIR)/fuzz/seeds
FUZZ_STAMP := $(FUZZ_DIR)/corpus/.seeded
# libFuzzer's own options for every run: quiet, bounded memory and time per input
FUZZ_OPTS := -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds fuzz-deps

# clang and libFuzzer are installed when missing (kept out of the default
# package list: the container's build stage does not need them)
fuzz-deps:
	@scripts/install-deps.sh --fuzz

$(FUZZ_DIR)/src/%.o: src/%.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz/%.o: fuzz/%.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/tests/util/%.o: tests/util/%.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/fuzz/fuzz_%: $(FUZZ_DIR)/fuzz/fuzz_%.o $(FUZZ_COMMON) $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lpthread -lm

# The seed extractor is a plain program (no libFuzzer main).
$(FUZZ_SEEDS_BIN): fuzz/seeds.c $(FUZZ_DIR)/tests/util/pcap.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $^ $(PKG_LIBS) -lpthread -lm

$(FUZZ_STAMP): $(FUZZ_SEEDS_BIN) $(wildcard tests/data/interop/*.pcap) $(wildcard tests/data/config/*/*)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_SEEDS_BIN) tests/data $(FUZZ_DIR)/corpus
	@touch $@

.SECONDARY: $(FUZZ_BINS:%=%.o) $(FUZZ_COMMON)

fuzz-build: $(FUZZ_BINS)
fuzz-seeds: $(FUZZ_STAMP)

# One target: new units go to build-fuzz/corpus/<t>/, read also from the
# committed seeds and the regression inputs.
FUZZ_RUN = mkdir -p $(FUZZ_DIR)/corpus/$(1) && \
	$(FUZZ_DIR)/fuzz/fuzz_$(1) $(FUZZ_OPTS) -max_total_time=$(2) $(FUZZ_DIR)/corpus/$(1) \
	$$(for d in fuzz/corpus/$(1) fuzz/regress/$(1); do test -d $$d && echo $$d; done)

fuzz: $(FUZZ_BINS) $(FUZZ_STAMP)
	@set -e; for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
		$(call FUZZ_RUN,$$t,$(FUZZ_SECONDS)) 2>&1 | tee $(FUZZ_DIR)/fuzz_$$t.log | \
		grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==ERROR|SUMMARY)"; \
		test $${PIPESTATUS[0]} -eq 0; done

# Each regression input runs as a file (it must not crash), then the corpus
# and a few seconds of fuzzing.
fuzz-smoke: $(FUZZ_BINS) $(FUZZ_STAMP)
	@set -e; for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t"; \
		r=$$(find fuzz/regress/$$t -type f 2>/dev/null | sort); \
		if [ -n "$$r" ]; then $(FUZZ_DIR)/fuzz/fuzz_$$t $$r >$(FUZZ_DIR)/regress_$$t.log 2>&1 || \
			{ tail -50 $(FUZZ_DIR)/regress_$$t.log; echo "FAIL: regression input of fuzz_$$t"; exit 1; }; \
			echo "   $$(echo $$r | wc -w) regression inputs pass"; fi; \
		$(call FUZZ_RUN,$$t,$(FUZZ_SMOKE_SECONDS)) >$(FUZZ_DIR)/smoke_$$t.log 2>&1 || \
			{ tail -50 $(FUZZ_DIR)/smoke_$$t.log; echo "FAIL: fuzz_$$t"; exit 1; }; \
		grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)" $(FUZZ_DIR)/smoke_$$t.log | sed 's/^/   /'; done

CHECK_EXTRA += fuzz-smoke

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_COMMON:.o=.d) $(FUZZ_BINS:%=%.d)
