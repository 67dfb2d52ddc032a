# Packaging (issue 11): the Debian packages, and the checks of what an operator meets.
#   make deb          $(DEB_DIR)/tdx-unlock_<v>_amd64.deb, $(DEB_DIR)/tdx-keyd_<v>_amd64.deb, built
#                     by dpkg-buildpackage from a copy of the checkout in $(DEB_DIR)/src (so the
#                     package build never cleans this tree's build/)
#   make check-deb    lintian (no errors), package file lists == make install, versions agree
#   make check-cli    --version, every subcommand's --help, device errors, journal priorities
#   make check-man    every man page renders without warnings
#   make check-hook   the initramfs-tools hook fails without the agent or its configuration
#   make check-deps   the install list leaves initramfs-tools alone; deb-src derivation
#   make check-keyd-unit  the tdx-keyd package's unit under systemd as PID 1 (systemd-nspawn)
# The copy links deps/prefix-static and deps/cache of this checkout: the static libraries are
# built once (make static-deps) and reused, never rebuilt by the package build.
DEB_DIR  := $(BUILD)/deb
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEBS     := $(DEB_DIR)/tdx-unlock_$(VERSION)_$(DEB_ARCH).deb $(DEB_DIR)/tdx-keyd_$(VERSION)_$(DEB_ARCH).deb

.PHONY: deb check-deb check-cli check-man check-hook check-deps check-keyd-unit
deb: $(DEBS)

# Rebuilt when a file of the checkout changes (tracked or new, not ignored: what a commit holds).
DEB_SOURCES = git ls-files -z --cached --others --exclude-standard
# The static libraries by file name: mk/static.mk (which defines STATIC_DEPS) is read after this.
$(DEBS) &: $(filter-out tests/%,$(shell $(DEB_SOURCES) 2>/dev/null | tr '\0' ' ')) \
		$(CURDIR)/deps/prefix-static/.complete
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	$(DEB_SOURCES) | xargs -0 cp --parents -t $(DEB_DIR)/src
	ln -s $(STATIC_PREFIX) $(DEB_DIR)/src/deps/prefix-static
	mkdir -p $(CURDIR)/deps/cache && ln -s $(CURDIR)/deps/cache $(DEB_DIR)/src/deps/cache
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="parallel=2 noddebs" \
		dpkg-buildpackage -b -us -uc --no-pre-clean >../dpkg-buildpackage.log 2>&1 \
		|| { tail -30 ../dpkg-buildpackage.log; exit 1; }
	@echo "deb: $(DEBS)"

check-deb: $(DEBS) $(STATIC_BIN) $(KEYD_BIN)
	@BUILD=$(BUILD) DEB_DIR=$(DEB_DIR) VERSION=$(VERSION) bash tests/pkg/check-deb.sh $(DEBS)

check-cli: $(AGENT_BIN) $(KEYD_BIN)
	@bash tests/pkg/check-cli.sh $(AGENT_BIN) $(KEYD_BIN)

check-man:
	@bash tests/pkg/check-man.sh $(wildcard man/*.[1-8])

# The hook as make install puts it (the dynamic agent is enough for the hook's decisions).
check-hook: $(AGENT_BIN)
	@rm -rf $(BUILD)/hook-root && $(MAKE) --no-print-directory -s install-agent \
		DESTDIR=$(CURDIR)/$(BUILD)/hook-root PREFIX=/usr AGENT_INSTALL=$(AGENT_BIN) >/dev/null
	@bash tests/pkg/check-hook.sh $(BUILD)/hook-root/usr/share/initramfs-tools/hooks/tdx-unlock $(AGENT_BIN)

check-deps:
	@bash tests/pkg/check-deps.sh

check-keyd-unit: $(DEBS) $(BUILD)/tdx-quotegen
	@BUILD=$(BUILD) bash tests/pkg/check-keyd-unit.sh $(word 2,$(DEBS))

CHECK_TARGETS += check-cli check-man check-hook check-deps check-deb check-keyd-unit
