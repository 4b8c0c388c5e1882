# ---- Static analysis (issue 9): analyze = cppcheck-check + clang-tidy-check ----
#   make analyze           both; any finding fails (so does `make check`)
#   make cppcheck-check    cppcheck on src/ (include/ through the sources)
#   make clang-tidy-check  clang-tidy with the checks chosen in .clang-tidy
#   make analyze ANALYZE_SRCS=src/wire.c   one file
# Findings that are false positives carry an inline suppression next to the
# code with the reason (`/* cppcheck-suppress id ; why */` or
# `/* NOLINTNEXTLINE(check): why */`);
# README.md "Static analysis" explains the choice of checks.

CPPCHECK ?= cppcheck
CLANG_TIDY ?= clang-tidy
ANALYZE_JOBS ?= 2
ANALYZE_SRCS ?= $(SRCS)

# style is on, except variableScope: declaring at the top of a block is how
# this code base is written, not a defect.  readdirCalled is off: it asks for
# readdir_r(), which glibc deprecated (2.24) because readdir() is safe on
# a DIR that only one thread uses, as ours are.  The library .cfg files tell
# cppcheck which calls allocate, free, or never return.  Without system
# include paths cppcheck does not parse /usr/include (its recommended use).
# cppcheck 2.10 does not know C11's _Thread_local (it then reports the
# members of a thread-local struct as unused): GCC's __thread is the same.
CPPCHECK_FLAGS := --std=c11 $(FEATURE_DEFS) -D_Thread_local=__thread -Iinclude -j$(ANALYZE_JOBS) -q \
	--enable=warning,style,performance,portability --suppress=variableScope \
	--suppress=readdirCalled \
	--library=gnu --library=posix --library=libcurl --library=openssl \
	--inline-suppr --error-exitcode=1 \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]'

# The compiler's view of the code: the project's flags, with the libraries'
# directories as -isystem so that their headers are never reported.
TIDY_CFLAGS := -std=c11 $(FEATURE_DEFS) -Wall -Wextra -Iinclude \
	$(patsubst -I%,-isystem %,$(PKG_CFLAGS))

.PHONY: analyze analyze-deps cppcheck-check clang-tidy-check

analyze: cppcheck-check clang-tidy-check

analyze-deps:
	@scripts/install-deps.sh --analyze

cppcheck-check: analyze-deps
	$(CPPCHECK) $(CPPCHECK_FLAGS) $(ANALYZE_SRCS)

# One clang-tidy per file, ANALYZE_JOBS at a time; xargs fails when one does.
# "N warnings generated" counts what the system headers raised and clang-tidy
# then dropped: not shown.
clang-tidy-check: analyze-deps
	@echo "$(CLANG_TIDY) on $(words $(ANALYZE_SRCS)) files ($(ANALYZE_JOBS) jobs)"
	@set -o pipefail; printf '%s\n' $(ANALYZE_SRCS) | xargs -P$(ANALYZE_JOBS) -I{} \
		$(CLANG_TIDY) --quiet --warnings-as-errors='*' {} -- $(TIDY_CFLAGS) 2>&1 | \
		{ grep -v '^[0-9]* warnings\? generated\.$$' || true; }

CHECK_EXTRA += analyze
