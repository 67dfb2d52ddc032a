# libFuzzer harnesses (tests/fuzz/fuzz-*.c) for every parser of untrusted bytes.
#   make fuzz              build every harness, then run each for FUZZ_SECONDS (default 20) on a
#                          seed corpus made by our own tools (tests/tools/fuzz-seeds, tdx-quotegen)
#   make fuzz-build        only build them (clang, -fsanitize=fuzzer,address,undefined)
#   make check-fuzz        smoke run, FUZZ_SMOKE_SECONDS (default 4) each; part of make check
# Crashes are written to $(BUILD)/fuzz/artifacts/<harness>/; re-run one with
#   $(BUILD)/fuzz/fuzz-jwe $(BUILD)/fuzz/artifacts/fuzz-jwe/crash-...
.PHONY: fuzz fuzz-build fuzz-seeds check-fuzz
CHECK_TARGETS += check-fuzz

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 20
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_DIR           := $(BUILD)/fuzz
FUZZ_SAN           := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# Library code is built again with clang and instrumentation; warnings are gcc's job (make all).
FUZZ_CFLAGS        := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Isrc/common -Isrc \
                      -Itests/sim $(PKG_CFLAGS)
FUZZ_HARNESSES     := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS          := $(addprefix $(FUZZ_DIR)/,$(FUZZ_HARNESSES))
FUZZ_LIB_SRCS      := $(COMMON_SRCS) $(AGENT_SRCS) $(KEYD_SRCS) $(DCAP_SRCS) $(TESTSIM_SRCS)
FUZZ_LIB           := $(FUZZ_DIR)/libfuzzdeps.a

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRCS))
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		-Wl,--start-group $(FUZZ_LIB) -Wl,--end-group $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Seeds made by our own tools (tests/fuzz/make-seeds.sh), never copied from ../shared.
fuzz-seeds: $(BUILD)/fuzz-seeds $(BUILD)/tdx-quotegen
	@sh tests/fuzz/make-seeds.sh $(BUILD) $(FUZZ_DIR)

# Each harness for N seconds on a scratch copy of its seeds (tests/fuzz/run.sh).
fuzz_run = sh tests/fuzz/run.sh $(FUZZ_DIR) $(1) $(FUZZ_HARNESSES)

fuzz: fuzz-build fuzz-seeds
	@$(call fuzz_run,$(FUZZ_SECONDS))

check-fuzz: fuzz-build fuzz-seeds
	@$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
