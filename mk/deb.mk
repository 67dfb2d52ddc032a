# make deb: the Debian packages tdx-unlock and tdx-keyd (debian/), built by dpkg-buildpackage
# from a copy of the checkout in $(DEB_DIR)/src, so the build never cleans this tree's build/.
#   make deb          $(DEB_DIR)/tdx-unlock_<v>_amd64.deb, $(DEB_DIR)/tdx-keyd_<v>_amd64.deb
#   make check-deb    lintian (no errors), package file lists == make install, versions agree
# The copy links deps/prefix-static and deps/cache of this checkout: the static libraries are
# built once (make static-deps) and reused, never rebuilt by the package build.
DEB_DIR  := $(BUILD)/deb
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEBS     := $(DEB_DIR)/tdx-unlock_$(VERSION)_$(DEB_ARCH).deb $(DEB_DIR)/tdx-keyd_$(VERSION)_$(DEB_ARCH).deb

.PHONY: deb check-deb
deb: $(DEBS)

# Rebuilt when a file of the checkout changes (tracked or new, not ignored: what a commit holds).
DEB_SOURCES = git ls-files -z --cached --others --exclude-standard
$(DEBS) &: $(shell $(DEB_SOURCES) 2>/dev/null | tr '\0' ' ') $(STATIC_DEPS)
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	$(DEB_SOURCES) | xargs -0 cp --parents -t $(DEB_DIR)/src
	ln -s $(STATIC_PREFIX) $(DEB_DIR)/src/deps/prefix-static
	ln -s $(CURDIR)/deps/cache $(DEB_DIR)/src/deps/cache
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="parallel=2 noddebs" \
		dpkg-buildpackage -b -us -uc --no-pre-clean >../dpkg-buildpackage.log 2>&1 \
		|| { tail -30 ../dpkg-buildpackage.log; exit 1; }
	@echo "deb: $(DEBS)"

check-deb: $(DEBS) $(STATIC_BIN) $(KEYD_BIN)
	@BUILD=$(BUILD) DEB_DIR=$(DEB_DIR) VERSION=$(VERSION) bash tests/pkg/check-deb.sh $(DEBS)

CHECK_TARGETS += check-deb
