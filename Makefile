# tdx-unlock — build, test and benchmark entry points.
#   make          both binaries (build/tdx-unlock, build/tdx-keyd) and the test tools
#   make static   statically linked tdx-unlock for the initramfs (see mk/static.mk)
#   make check    every test (unit, integration, boot)     make bench   performance figures
#   make demo     scenario 1 of the boot tests, with progress output
#   make lint     = make check-lint (mk/lint.mk): clang-format, cppcheck, clang-tidy
# Module fragments live in mk/*.mk; each adds its targets to CHECK_TARGETS / BENCH_TARGETS.

# Debian's own tools first: the tests' python3 must be Debian's (python3-cryptography from
# deps/debian-packages.txt), not a python3 another installer put earlier on PATH.
export PATH := /usr/sbin:/usr/bin:/sbin:/bin:$(PATH)

CC         ?= gcc
PKG_CONFIG ?= pkg-config
BUILD      ?= build
# The one version of both binaries and the Debian packages (mk/install.mk, debian/changelog).
VERSION    := $(shell cat VERSION)

COMMON_PKGS := openssl json-c
AGENT_PKGS  := libcryptsetup devmapper libcurl
KEYD_PKGS   := libevent libevent_openssl libevent_pthreads libcurl
ALL_PKGS    := $(sort $(COMMON_PKGS) $(AGENT_PKGS) $(KEYD_PKGS))

HARDEN_CFLAGS  := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
                  -fcf-protection -fPIE
WARN_CFLAGS    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
                  -Wmissing-prototypes -Wno-missing-field-initializers
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack

# keyd dlopen()s PKCS#11 modules: p11-kit's pkcs11.h only, no library to link.
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(ALL_PKGS) p11-kit-1 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(ALL_PKGS) 2>/dev/null)
AGENT_LIBS := $(shell $(PKG_CONFIG) --libs $(COMMON_PKGS) $(AGENT_PKGS) 2>/dev/null)

override CFLAGS  := -std=gnu11 $(HARDEN_CFLAGS) $(WARN_CFLAGS) -Isrc/common -Isrc $(PKG_CFLAGS) $(CFLAGS)
override LDFLAGS := $(HARDEN_LDFLAGS) $(LDFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread

COMMON_SRCS := $(wildcard src/common/*.c)
AGENT_SRCS  := $(filter-out src/agent/main.c,$(wildcard src/agent/*.c))
KEYD_SRCS   := $(filter-out src/keyd/main.c,$(wildcard src/keyd/*.c))
DCAP_SRCS   := $(wildcard src/dcap/*.c)
TOOL_SRCS   := $(wildcard tests/tools/*.c)
BENCH_SRCS  := $(wildcard bench/*.c)
TESTSIM_SRCS := $(wildcard tests/sim/*.c)
UNIT_SRCS   := $(wildcard tests/unit/test-*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/libcommon.a
AGENT_LIB  := $(BUILD)/libagent.a
KEYD_LIB   := $(BUILD)/libkeyd.a
DCAP_LIB   := $(BUILD)/libdcap.a
# The quote simulator: linked into tests, test tools and benchmarks only, never into the agent.
TESTSIM_LIB := $(BUILD)/libtestsim.a
PROJECT_LIBS := $(AGENT_LIB) $(KEYD_LIB) $(DCAP_LIB) $(COMMON_LIB)
TEST_LIBS    := $(TESTSIM_LIB) $(PROJECT_LIBS)

AGENT_BIN  := $(BUILD)/tdx-unlock
KEYD_BIN   := $(BUILD)/tdx-keyd
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/%,$(TOOL_SRCS))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/%,$(BENCH_SRCS))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

CHECK_TARGETS :=
BENCH_TARGETS :=

.PHONY: all check check-unit bench lint format clean demo
# Keep object files of tools and tests (make would delete them as intermediates).
.SECONDARY:
all: $(AGENT_BIN) $(KEYD_BIN) $(TOOL_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(COMMON_LIB): $(call obj,$(COMMON_SRCS))
$(AGENT_LIB): $(call obj,$(AGENT_SRCS))
$(KEYD_LIB): $(call obj,$(KEYD_SRCS))
$(DCAP_LIB): $(call obj,$(DCAP_SRCS))
$(TESTSIM_LIB): $(call obj,$(TESTSIM_SRCS))
$(BUILD)/obj/tests/%.o $(BUILD)/obj/bench/%.o: override CFLAGS += -Itests/sim
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $^,,/dev/null 2>/dev/null || ar rcs $@)

# The agent never links the server's code or libevent: it goes into the initramfs.
$(AGENT_BIN): $(call obj,src/agent/main.c) $(AGENT_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(AGENT_LIB) $(COMMON_LIB) -Wl,--end-group \
		$(AGENT_LIBS) -lpthread

$(KEYD_BIN): $(call obj,src/keyd/main.c) $(PROJECT_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(PROJECT_LIBS) -Wl,--end-group $(LDLIBS)

# Every benchmark lives under bench/ (C programs, scripts) and runs from make bench. A static
# pattern rule: a stale object of a benchmark that once lived in tests/tools is never picked.
$(BENCH_BINS): $(BUILD)/%: $(BUILD)/obj/bench/%.o $(TEST_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(TEST_LIBS) -Wl,--end-group $(LDLIBS)

$(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(TEST_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(TEST_LIBS) -Wl,--end-group $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(TEST_LIBS) -Wl,--end-group \
		$(LDLIBS) -lcmocka

# Unit tests: every tests/unit/test-*.c is one cmocka program; tests that need ../shared data
# find it through TDX_TESTDATA and print "skipped" when it is absent.
TDX_TESTDATA ?= $(abspath ../shared/testdata/tdx)
export TDX_TESTDATA
check-unit: $(UNIT_BINS) all
	@sh tests/unit/run.sh $(UNIT_BINS)

-include $(wildcard mk/*.mk)

check: check-unit $(CHECK_TARGETS)
	@echo "make check: all tests passed"

bench: all $(BENCH_TARGETS)

FORMAT_FILES = $(wildcard src/*/*.c src/*/*.h tests/*/*.c tests/*/*.h bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)
# One lint definition: check-lint in mk/lint.mk (also part of make check).
lint: check-lint

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
