/* The firmware's Confidential Computing Event Log (CCEL, the data behind the ACPI CCEL table:
 * /sys/firmware/acpi/tables/data/CCEL): TCG crypto-agile event records, parsed through the
 * bounded reader and replayed into RTMR0-3.
 *
 * Layout: one legacy TCG_PCR_EVENT carrying the "Spec ID Event03" header (the digest algorithms
 * and their sizes), then TCG_PCR_EVENT2 records {u32 mr_index, u32 type, u32 n_digests,
 * n x {u16 alg, digest}, u32 size, data}, then 0xff (or 0x00) padding to the end of the area.
 * CC MR index 1..4 is RTMR0..3; every event but EV_NO_ACTION extends its register with its
 * SHA-384 digest: rtmr = SHA-384(rtmr || digest). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCEL_DIGEST_LEN 48
#define CCEL_NUM_RTMR	4
#define CCEL_MAX_LEN	(512 * 1024) /* the ACPI area is 64-256 KiB in practice */
#define CCEL_MAX_EVENTS 4096

/* TCG PC Client event types this project names (others print as hex). */
#define EV_NO_ACTION			 0x00000003u
#define EV_SEPARATOR			 0x00000004u
#define EV_EVENT_TAG			 0x00000006u
#define EV_IPL				 0x0000000du
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_ACTION			 0x80000007u

/* Linux EFI stub tagged events (drivers/firmware/efi/libstub), measured into PCR 9 = RTMR2. */
#define LINUX_INITRD_EVENT_TAG_ID	0x8F3B22ECu
#define LINUX_LOAD_OPTIONS_EVENT_TAG_ID 0x8F3B22EDu

struct ccel_event {
	uint32_t rtmr; /* 0..3 (CC MR index - 1); meaningless for EV_NO_ACTION */
	uint32_t type;
	uint8_t digest[CCEL_DIGEST_LEN]; /* the SHA-384 digest the event extends with */
	const uint8_t *data;		 /* event data, inside the caller's buffer */
	uint32_t data_len;
};

struct ccel_log {
	struct ccel_event *events; /* EV_NO_ACTION records are left out */
	size_t n_events;
	size_t used_len; /* bytes up to the end of the last record; the padding follows */
};

/* Parses buf (which must outlive log). Returns 0, or -EBADMSG with the reason (e.g. "event 12:
 * truncated in digest 1") logged and copied into reason. */
int ccel_parse(const uint8_t *buf, size_t len, struct ccel_log *log, char *reason,
	       size_t reason_len);
void ccel_log_done(struct ccel_log *log);

/* RTMR0-3 as the log's events produce them from all-zero registers. */
int ccel_replay(const struct ccel_log *log, uint8_t rtmr[CCEL_NUM_RTMR][CCEL_DIGEST_LEN]);

/* "EV_SEPARATOR", ... or NULL for a type without a name here. */
const char *ccel_event_type_name(uint32_t type);
/* A name ccel_event_type_name() returns, or a number ("0x80000003", "13"). */
int ccel_event_type_parse(const char *s, uint32_t *type);

/* What event i of a TDVF direct boot is: "kernel" (the one boot application in RTMR1; a chain
 * of several, e.g. shim and grub, names none), "initrd" or "cmdline" (the Linux EFI stub's
 * tagged events in RTMR2); NULL for anything else. */
const char *ccel_event_kind(const struct ccel_log *log, size_t i);
