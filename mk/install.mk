# make install: the files of both Debian packages, under DESTDIR and PREFIX (README, "Install").
#   make install [DESTDIR=/tmp/root] [PREFIX=/usr/local]   both halves below
#   make install-agent    tdx-unlock (static), tdx-enroll-image, dracut module, initramfs-tools
#                         hook and script, agent.conf example, the agent's man pages
#   make install-keyd     tdx-keyd, its unit, sysusers.d and tmpfiles.d entries, keyd.json
#                         example, the server's man pages
# The agent installed is the static one (it goes into the initramfs); AGENT_INSTALL overrides.
# Directories systemd and dracut define come from pkg-config, with Debian's paths as fallback
# (dracut-core ships dracut.pc; a machine without it still installs).
# The version of both binaries and of the packages: the VERSION file (debian/changelog agrees,
# tests/pkg/check-version.sh checks).

VERSION_DEF := -DPROJECT_VERSION='"$(VERSION)"'
$(BUILD)/obj/src/common/cmd_dispatch.o: override CFLAGS += $(VERSION_DEF)
$(BUILD)/static/obj/src/common/cmd_dispatch.o: STATIC_CFLAGS += $(VERSION_DEF)
$(BUILD)/obj/src/common/cmd_dispatch.o $(BUILD)/static/obj/src/common/cmd_dispatch.o: VERSION

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc
pc_var      = $(or $(shell $(PKG_CONFIG) --variable=$(2) $(1) 2>/dev/null),$(3))
SYSTEMDUNITDIR    ?= $(call pc_var,systemd,systemdsystemunitdir,/lib/systemd/system)
SYSUSERSDIR       ?= $(call pc_var,systemd,sysusersdir,/usr/lib/sysusers.d)
TMPFILESDIR       ?= $(call pc_var,systemd,tmpfilesdir,/usr/lib/tmpfiles.d)
DRACUTMODULESDIR  ?= $(call pc_var,dracut,dracutmodulesdir,/usr/lib/dracut/modules.d)
INITRAMFSTOOLSDIR ?= /usr/share/initramfs-tools
AGENT_INSTALL ?= $(BUILD)/static/tdx-unlock

DRACUT_MODULE_DIR := $(DRACUTMODULESDIR)/91tdx-unlock
# Every file of dracut-module/ (scripts *.sh executable) and of hook/.
DRACUT_SCRIPTS    := $(notdir $(wildcard dracut-module/*.sh))
DRACUT_DATA       := $(filter-out %.sh,$(notdir $(wildcard dracut-module/*)))
MAN_AGENT := man/tdx-unlock.8 man/tdx-enroll-image.8 man/tdx-unlock-agent.conf.5
MAN_KEYD  := man/tdx-keyd.8 man/tdx-keyd.json.5 man/tdx-keyd-policy.5

# Files that name the installed binaries by their default path point at $(SBINDIR) instead.
sbin_subst = sed -e 's\#:-/usr/sbin/tdx-unlock}\#:-$(SBINDIR)/tdx-unlock}\#' \
	-e 's\#=/usr/sbin/tdx-keyd \#=$(SBINDIR)/tdx-keyd \#'

.PHONY: install install-agent install-keyd
install: install-agent install-keyd

install-agent: $(AGENT_INSTALL)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DRACUT_MODULE_DIR) \
		$(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks \
		$(DESTDIR)$(DOCDIR)/tdx-unlock/examples $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(AGENT_INSTALL) $(DESTDIR)$(SBINDIR)/tdx-unlock
	install -m 0755 scripts/tdx-enroll-image $(DESTDIR)$(SBINDIR)/tdx-enroll-image
	for f in $(DRACUT_SCRIPTS); do $(sbin_subst) dracut-module/$$f >$(DESTDIR)$(DRACUT_MODULE_DIR)/$$f \
		&& chmod 0755 $(DESTDIR)$(DRACUT_MODULE_DIR)/$$f || exit 1; done
	install -m 0644 $(addprefix dracut-module/,$(DRACUT_DATA)) $(DESTDIR)$(DRACUT_MODULE_DIR)/
	for f in $(notdir $(wildcard hook/hooks/*)); do $(sbin_subst) hook/hooks/$$f \
		>$(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/$$f && chmod 0755 $(DESTDIR)$(INITRAMFSTOOLSDIR)/hooks/$$f \
		|| exit 1; done
	for f in $(patsubst hook/%,%,$(wildcard hook/scripts/*/*)); do \
		install -D -m 0755 hook/$$f $(DESTDIR)$(INITRAMFSTOOLSDIR)/$$f || exit 1; done
	install -m 0644 etc/agent.conf.example $(DESTDIR)$(DOCDIR)/tdx-unlock/examples/agent.conf
	install -m 0644 $(filter %.5,$(MAN_AGENT)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MAN_AGENT)) $(DESTDIR)$(MANDIR)/man8/

install-keyd: $(KEYD_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/tdx-keyd/examples \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(KEYD_BIN) $(DESTDIR)$(SBINDIR)/tdx-keyd
	$(sbin_subst) systemd/tdx-keyd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/tdx-keyd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tdx-keyd.service
	install -m 0644 systemd/tdx-keyd.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/tdx-keyd.conf
	install -m 0644 systemd/tdx-keyd.tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/tdx-keyd.conf
	install -m 0644 etc/keyd.json.example $(DESTDIR)$(DOCDIR)/tdx-keyd/examples/keyd.json
	install -m 0644 $(filter %.5,$(MAN_KEYD)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MAN_KEYD)) $(DESTDIR)$(MANDIR)/man8/
