/* TD quotes over a 64-byte REPORTDATA from configfs-tsm. Tests point the agent at an emulated
 * report directory (QUOTE_TEST_TSM_DIR_ENV, tests/tools/tdx-tsm-sim.c); the agent itself has no
 * other source. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"

#define QUOTE_REPORT_DATA_LEN 64
#define QUOTE_MAX_LEN	      (64 * 1024) /* an outblob larger than this is refused */
#define QUOTE_TIMEOUT_MS      30000	  /* the host's quote service may be slow, never endless */
#define TSM_PROVIDER_TDX      "tdx_guest"
/* Test hook (docs/testing.md): the report directory of an emulation such as tdx-tsm-sim. */
#define QUOTE_TEST_TSM_DIR_ENV "TDX_UNLOCK_TEST_TSM_REPORT_DIR"

struct quote_source;

/* Opens configfs-tsm (a test hook directory is logged loudly). */
int quote_source_open(const struct agent_config *c, struct quote_source **out);
void quote_source_free(struct quote_source *qs);
const char *quote_source_describe(const struct quote_source *qs);

/* Produces a quote whose REPORTDATA is report_data within timeout_ms (capped at
 * QUOTE_TIMEOUT_MS); *quote is malloc'ed (not a secret). */
int quote_source_get(struct quote_source *qs, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		     unsigned timeout_ms, uint8_t **quote, size_t *quote_len);

/* configfs-tsm, one request: creates a fresh entry under report_dir (mounting configfs when the
 * default path is used and it is not mounted), runs tsm_entry_quote() on it and removes it. */
int tsm_report_quote(const char *report_dir, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		     unsigned timeout_ms, uint8_t **quote, size_t *quote_len);

/* The request on an existing entry: provider must be tdx_guest; reads generation, writes exactly
 * the 64-byte inblob, reads outblob (at most QUOTE_MAX_LEN bytes, within timeout_ms; empty is an
 * error), and requires generation to have advanced by exactly one (no concurrent writer).
 * Returns 0, -EPROTO (wrong provider, bad generation, empty/oversized outblob), -ETIMEDOUT, or
 * another negative errno. */
int tsm_entry_quote(const char *entry_dir, const uint8_t report_data[QUOTE_REPORT_DATA_LEN],
		    unsigned timeout_ms, uint8_t **quote, size_t *quote_len);
