# Static checks CI keeps clean: clang-format over every C file, cppcheck over the code, the test
# tools, the fuzz harnesses and the benchmark, clang-tidy (.clang-tidy) over src/ with every
# warning an error, shellcheck over every shell script (tests/lint/shellcheck.sh). About
# 1-1.5 minutes on two cores, clang-tidy nearly all of it.
#   make check-lint   all four, failing on any finding (part of make check); make lint is the
#                     same target
# LINT_TIDY_PENDING: files whose clang-tidy findings their owners have still to fix or suppress;
# they skip clang-tidy until then. Shrink this list, never grow it.
.PHONY: check-lint
CHECK_TARGETS += check-lint
LINT_TIDY_PENDING :=
LINT_TIDY_SRCS := $(filter-out $(LINT_TIDY_PENDING),$(wildcard src/*/*.c) $(TESTSIM_SRCS))
check-lint:
	clang-format --dry-run --Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Isrc/common -Isrc -Itests/sim \
		src tests/sim tests/tools tests/fuzz bench
	clang-tidy --quiet --warnings-as-errors='*' $(LINT_TIDY_SRCS) -- $(CFLAGS)
	sh tests/lint/shellcheck.sh
	@echo "check-lint: clang-format, cppcheck, clang-tidy and shellcheck clean"
