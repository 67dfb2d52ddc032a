/* The collateral cache: per-FMSPC directories of PCS responses and CRLs (layout in
 * docs/keyd.md), loaded on first use and kept in memory until they expire. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "dcap.h"

struct collateral_store;

int collateral_store_new(const char *dir, struct collateral_store **out);
void collateral_store_free(struct collateral_store *s);

/* Collateral for fmspc, valid until the store is freed. Loads <dir>/<fmspc hex>/ when it is not
 * cached or the cached copy has expired at `now`; expired collateral is still returned (the
 * verifier refuses it, with its reason). Returns -ENOENT (logged) when there is none, and
 * -ESTALE with the reason when what is on disk is older than collateral accepted before (a
 * lower tcbEvaluationDataNumber per FMSPC or QE identity, a lower CRL number per CA: the
 * highest accepted are kept in <dir>/.rollback-state.json); a cached copy keeps being served
 * in both cases. */
int collateral_store_get(struct collateral_store *s, const uint8_t fmspc[6], time_t now,
			 const struct dcap_collateral **out, char *reason, size_t reason_len);

/* Loads the collateral files of one <fmspc> directory (layout in docs/keyd.md): what
 * collateral_store_get() reads; errors are logged with the directory named. */
int collateral_dir_load(const char *dir, struct dcap_collateral **out);

/* -ESTALE, with the item named in reason, when fresh has a lower TCB evaluation number or CRL
 * number (same CA) than have: the PCCS refresh keeps newer cached collateral. */
int collateral_not_older(const uint8_t fmspc[6], const struct dcap_collateral *have,
			 const struct dcap_collateral *fresh, char *reason, size_t reason_len);
