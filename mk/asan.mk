# The unit programs and the loopback integration suites again, built with AddressSanitizer +
# UndefinedBehaviorSanitizer (leak detection on) into their own build folder. Part of make check.
#   make check-asan              build (incrementally) into $(ASAN_BUILD), run the suites below
#   make check-asan ASAN_SUITES="check-keyd"   only some of them
# tests/asan/run.sh runs the suites: every sanitizer report goes to $(ASAN_BUILD)/san-reports/
# (log_path), also from background servers and from processes whose exit code a test expects to
# be non-zero; any file there fails the run and is printed. Wall-time bounds in the suites scale
# by TEST_TIME_FACTOR=3 (ASan code is slower). Not run under ASan: check-keyd-hygiene and
# check-agent-hygiene (gcore of an ASan process would have to walk its shadow mappings, terabytes
# of address space, and ASan's quarantine changes what freed memory holds, so the scan would not
# test the real binary), the static agent (ASan needs the dynamic runtime) and the QEMU boots (the
# initramfs carries the static agent).
.PHONY: check-asan
CHECK_TARGETS += check-asan

ASAN_BUILD  ?= build-asan
ASAN_SUITES ?= check-unit check-keyd check-keyd-fleet check-agent check-luks check-protocol-interop
# -O1 and no _FORTIFY_SOURCE: fortified libc calls would bypass ASan's own checks. Warnings stay
# on but not errors: gcc's flow-based warnings give false positives on instrumented code, and the
# -Werror gate is the normal build.
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer -O1 -U_FORTIFY_SOURCE -Wno-error
ASAN_REPORTS = $(abspath $(ASAN_BUILD))/san-reports

check-asan:
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@# The build itself runs without the report path: it executes nothing sanitized.
	$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" all $(ASAN_BUILD)/protocol-interop \
		$(patsubst tests/unit/%.c,$(ASAN_BUILD)/tests/%,$(UNIT_SRCS))
	@ASAN_REPORTS=$(ASAN_REPORTS) ASAN_SUITES="$(ASAN_SUITES)" sh tests/asan/run.sh \
		$(MAKE) --no-print-directory -k BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" $(ASAN_SUITES)
