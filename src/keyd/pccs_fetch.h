/* Refresh of the collateral cache from a PCCS (or Intel PCS) over libcurl: the five v4 PCS
 * responses of one FMSPC written into <collateral_dir>/<fmspc>/, one atomic rename per file. */
#pragma once

#include <stdint.h>

/* Fetches TDX TCB info and QE identity (with their issuer chains), the PCK CRLs of both PCK CAs
 * (platform, with its chain, and processor: a platform's PCK certificate comes from one of the
 * two) and the root CA CRL from base_url (e.g.
 * https://pccs.example:8081). Each request is bounded by timeout_ms and 1 MiB. A failed fetch
 * leaves the files already in place untouched. Returns 0 or a negative errno (logged). */
int pccs_fetch_collateral(const char *base_url, const uint8_t fmspc[6], const char *collateral_dir,
			  unsigned timeout_ms);

/* Runs pccs_fetch_collateral() for every <fmspc> directory under collateral_dir. Returns the
 * number refreshed, or a negative errno when the directory cannot be read. */
int pccs_refresh_all(const char *base_url, const char *collateral_dir, unsigned timeout_ms);
