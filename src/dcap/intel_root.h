/* The Intel SGX Root CA certificate (DER), the production trust anchor of every DCAP quote. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of the DER: 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3. */
extern const uint8_t intel_sgx_root_ca_der[];
extern const size_t intel_sgx_root_ca_der_len;
