# make static: tdx-unlock statically linked for the initramfs (docs/static-build.md).
#   make static          $(BUILD)/static/tdx-unlock (stripped) and tdx-unlock.debug (symbols)
#   make static-deps     only the libraries built from Debian sources (deps/build-static-deps.sh)
#   make check-static    static properties, bare-chroot smoke test, agent tests on the static binary
#   make clean-static-deps   forget the built libraries and the download cache
# Same sources as the dynamic agent: every src/agent/*.c and src/common/*.c, nothing of keyd.
# Libraries: json-c, argon2, uuid from Debian's .a; a reduced OpenSSL, libcryptsetup, libdevmapper
# and libcurl built from Debian's sources into deps/prefix-static.

STATIC_DIR      := $(BUILD)/static
STATIC_BIN      := $(STATIC_DIR)/tdx-unlock
STATIC_PREFIX   := $(CURDIR)/deps/prefix-static
STATIC_DEPS     := $(STATIC_PREFIX)/.complete
STATIC_PKGS     := $(COMMON_PKGS) $(AGENT_PKGS)
STATIC_SRCS     := src/agent/main.c $(AGENT_SRCS) $(COMMON_SRCS)
STATIC_MAX_SIZE := 4194304
STATIC_PC        = PKG_CONFIG_PATH=$(STATIC_PREFIX)/lib/pkgconfig $(PKG_CONFIG)

# Default -static-pie (glibc's rcrt1.o): ASLR for the executable itself, as every archive linked
# is position-independent (Debian's gcc defaults to PIE, the deps script passes -fPIE). Packed
# relative relocations (DT_RELR, glibc >= 2.36) save the ~480 KiB that RELA costs static-pie.
# STATIC_PIE=0 links classic -static instead; file(1) then says "statically linked" rather than
# "static-pie linked".
STATIC_PIE ?= 1
ifeq ($(STATIC_PIE),1)
STATIC_LDFLAGS := -static-pie -Wl,-z,pack-relative-relocs
else
STATIC_LDFLAGS := -static -no-pie
endif
STATIC_LDFLAGS += -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -Wl,--gc-sections
# Recursive: the prefix only exists once static-deps has run.
STATIC_CFLAGS = -std=gnu11 $(HARDEN_CFLAGS) $(WARN_CFLAGS) -ffunction-sections -fdata-sections \
	-Isrc/common -Isrc $(shell $(STATIC_PC) --cflags $(STATIC_PKGS))
STATIC_LIBS = $(shell $(STATIC_PC) --static --libs $(STATIC_PKGS))

static_obj = $(patsubst %.c,$(STATIC_DIR)/obj/%.o,$(1))

.PHONY: static static-deps clean-static-deps check-static bench-static FORCE
FORCE:
static: $(STATIC_BIN)

# The script exits in milliseconds when the prefix matches its recipe, and only then rewrites
# nothing, so objects are recompiled only after a real rebuild of the libraries.
$(STATIC_DEPS): FORCE
	@deps/build-static-deps.sh
static-deps: $(STATIC_DEPS)
clean-static-deps:
	rm -rf $(STATIC_PREFIX) deps/cache

$(STATIC_DIR)/obj/%.o: %.c $(STATIC_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(STATIC_CFLAGS) -MMD -MP -c -o $@ $<

# Relink when Debian updates one of the system archives the binary embeds.
STATIC_SYSTEM_ARCHIVES := $(wildcard $(addprefix /usr/lib/$(shell $(CC) -print-multiarch)/, \
	libjson-c.a libargon2.a libuuid.a))

# glibc functions that need its shared libraries at run time when linked statically. These two
# are known and harmless in the initramfs (docs/static-build.md); any other one (dlopen,
# getpwnam, getgrnam, iconv_open, ...) would make the agent try to load shared objects there:
# the link fails. (The reduced OpenSSL has no DSO loader, so dlopen is gone.)
STATIC_ALLOWED_NSS := getaddrinfo gethostbyname

$(STATIC_DIR)/tdx-unlock.debug: $(call static_obj,$(STATIC_SRCS)) $(STATIC_SYSTEM_ARCHIVES)
	$(CC) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) -Wl,-Map=$(STATIC_DIR)/tdx-unlock.map \
		-o $@ $(call static_obj,$(STATIC_SRCS)) $(STATIC_LIBS) 2>$(STATIC_DIR)/link-warnings.txt || { cat $(STATIC_DIR)/link-warnings.txt; exit 1; }
	@sh tests/static/nss-link-check.sh $(STATIC_DIR)/link-warnings.txt $(STATIC_ALLOWED_NSS) || \
		{ rm -f $@; exit 1; }

$(STATIC_BIN): $(STATIC_DIR)/tdx-unlock.debug
	objcopy --strip-all $< $@
	@echo "static: $@ $$(stat -c %s $@) bytes"

# Test only, never shipped: tdx-tsm-sim (configfs-tsm and RTMR3 emulation, tests/tools) for the
# QEMU test initramfs, which has no libraries for a dynamic build.
STATIC_SIM      := $(STATIC_DIR)/tdx-tsm-sim
STATIC_SIM_SRCS := tests/tools/tdx-tsm-sim.c $(TESTSIM_SRCS) $(COMMON_SRCS)
$(STATIC_DIR)/obj/tests/%.o: STATIC_CFLAGS += -Itests/sim
$(STATIC_SIM): $(call static_obj,$(STATIC_SIM_SRCS)) $(STATIC_SYSTEM_ARCHIVES)
	$(CC) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) -o $@ $(call static_obj,$(STATIC_SIM_SRCS)) \
		$(STATIC_LIBS) 2>$(STATIC_DIR)/sim-link-warnings.txt || \
		{ cat $(STATIC_DIR)/sim-link-warnings.txt; exit 1; }

check-static: $(STATIC_BIN) all
	@BUILD=$(BUILD) STATIC_MAX_SIZE=$(STATIC_MAX_SIZE) STATIC_PREFIX=$(STATIC_PREFIX) \
		AGENT_BIN=$(AGENT_BIN) bash tests/static/check-static.sh $(STATIC_BIN)

bench-static: $(STATIC_BIN)
	@echo "static binary: $$(stat -c %s $(STATIC_BIN)) bytes," \
		"zstd -19: $$(zstd -19 -q -c $(STATIC_BIN) | wc -c) bytes"
	@python3 tests/static/size-by-component.py $(STATIC_DIR)/tdx-unlock.map $(STATIC_BIN)

CHECK_TARGETS += check-static
BENCH_TARGETS += bench-static

-include $(shell find $(STATIC_DIR)/obj -name '*.d' 2>/dev/null)
