#ifndef LPS_TEST_SHA256_H
#define LPS_TEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of `len` bytes at `data`. */
void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
