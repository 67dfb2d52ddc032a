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

# Seeds: protocol messages from our builders and vectors, quotes and collateral from the quote
# simulator, a LUKS2 header made by cryptsetup and enrolled like tdx-unlock enroll does. Never
# copied from ../shared.
fuzz-seeds: $(BUILD)/fuzz-seeds $(BUILD)/tdx-quotegen
	@rm -rf $(FUZZ_DIR)/seeds && mkdir -p $(FUZZ_DIR)/seeds/quote $(FUZZ_DIR)/seeds/collateral
	@set -e; q=$(FUZZ_DIR)/seeds/qsim; mkdir -p $$q; \
	$(BUILD)/tdx-quotegen ca --out $$q/ca >/dev/null; \
	$(BUILD)/tdx-quotegen collateral --ca $$q/ca --out $$q/coll >/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$q/ca --out $(FUZZ_DIR)/seeds/quote/v4 2>/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$q/ca --version 5 --body-type 3 \
		--out $(FUZZ_DIR)/seeds/quote/v5 2>/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$q/ca --debug --out $(FUZZ_DIR)/seeds/quote/v4-debug 2>/dev/null; \
	d=$(FUZZ_DIR)/dcap-ca; rm -rf $$d; mkdir -p $(FUZZ_DIR)/seeds/dcap-verify; \
	$(BUILD)/tdx-quotegen ca --out $$d >/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$d --out $(FUZZ_DIR)/seeds/dcap-verify/v4 2>/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$d --version 5 --body-type 3 \
		--out $(FUZZ_DIR)/seeds/dcap-verify/v5 2>/dev/null; \
	$(BUILD)/tdx-quotegen quote --ca $$d --debug --out $(FUZZ_DIR)/seeds/dcap-verify/debug \
		2>/dev/null; \
	$(BUILD)/fuzz-seeds $(FUZZ_DIR)/seeds $(FUZZ_DIR)/seeds/dcap-verify/v4; \
	c=$(FUZZ_DIR)/seeds/collateral; \
	{ printf '\000'; cat $$q/coll/tcb_info.json; } > $$c/tcb-info; \
	{ printf '\001'; cat $$q/coll/qe_identity.json; } > $$c/qe-identity; \
	{ printf '\002'; cat $$q/ca/pck_chain.pem; } > $$c/pck-chain; \
	{ printf '\002'; cat $$q/coll/tcb_signing_chain.pem; } > $$c/tcb-chain; \
	{ printf '\003'; cat $$q/coll/pck_crl.der; } > $$c/pck-crl; \
	{ printf '\003'; cat $$q/coll/root_crl.der; } > $$c/root-crl; \
	{ printf '\004'; printf '2026-11-25T09:15:00.5+01:00'; } > $$c/time; \
	rm -rf $$q; \
	l=$(FUZZ_DIR)/seeds/lk; h=$(FUZZ_DIR)/seeds/luks-header; mkdir -p $$l $$h; \
	truncate -s 20M $$l/img; head -c 32 /dev/urandom > $$l/key; \
	cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --hash sha256 --key-file $$l/key $$l/img; \
	printf '{"type":"tdx-unlock","keyslots":["0"],"resource":"default/disk/root",%s}' \
		'"salt":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","version":1' > $$l/tok.json; \
	cryptsetup token import --json-file $$l/tok.json $$l/img; \
	dd if=$$l/img bs=4096 skip=1 count=3 status=none | tr -d '\000' > $$h/enrolled; \
	sed 's/aes-xts-plain64/cipher_null-ecb/g' $$h/enrolled > $$h/cipher-null; \
	mkdir -p $(FUZZ_DIR)/seeds/luks-allowlist; cp $$h/* $(FUZZ_DIR)/seeds/luks-allowlist/; \
	rm -rf $$l; \
	e=$(FUZZ_DIR)/seeds/eventlog; mkdir -p $$e; \
	python3 tests/integration/image_measure.py ccel $$e/raw $$(printf '%096d' 1) \
		$$(printf '%096d' 2) $$(printf '%096d' 3) >/dev/null; \
	{ printf '\000'; cat $$e/raw; } > $$e/ccel; rm -f $$e/raw; \
	{ printf '\001INIT sha384/%096d\n' 0; printf 'tdx-unlock released 2f1c3a6e\n'; } > $$e/aael; \
	u=$(FUZZ_DIR)/seeds/pkcs11-uri; mkdir -p $$u; \
	printf 'pkcs11:token=tdx;object=root;id=%%01;type=secret-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tdx-keyd/pin' > $$u/full; \
	printf 'pkcs11:token=My%%20HSM;serial=42;object=k?module-path=/m.so&pin-value=1234' > $$u/pin-value

# Runs each harness for $(1) seconds on a scratch copy of its seeds (the corpus grows there).
define fuzz_run
	@mkdir -p $(FUZZ_DIR)/artifacts
	@fail=0; for h in $(FUZZ_HARNESSES); do \
		name=$${h#fuzz-}; corpus=$(FUZZ_DIR)/corpus/$$name; \
		mkdir -p $$corpus $(FUZZ_DIR)/artifacts/$$h; \
		if [ -d $(FUZZ_DIR)/seeds/$$name ]; then cp -n $(FUZZ_DIR)/seeds/$$name/* $$corpus/; fi; \
		printf '== %-22s %3ss: ' $$h $(1); \
		if FUZZ_DCAP_CA=$(FUZZ_DIR)/dcap-ca $(FUZZ_DIR)/$$h -max_total_time=$(1) -timeout=10 -rss_limit_mb=1024 \
			-max_len=131072 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$h/ $$corpus \
			> $(FUZZ_DIR)/$$h.log 2>&1; then \
			grep -E '^stat::number_of_executed_units|^stat::peak_rss' $(FUZZ_DIR)/$$h.log | \
				sed 's/stat:://' | tr '\n' ' '; \
			echo "corpus $$(ls $$corpus | wc -l) ok"; \
		else echo "FAILED (see $(FUZZ_DIR)/$$h.log)"; tail -30 $(FUZZ_DIR)/$$h.log; fail=1; fi; \
	done; exit $$fail
endef

fuzz: fuzz-build fuzz-seeds
	$(call fuzz_run,$(FUZZ_SECONDS))

check-fuzz: fuzz-build fuzz-seeds
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
