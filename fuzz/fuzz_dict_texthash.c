/*
 * fuzz_dict_texthash.c - libFuzzer target for texthash: tables (postmap
 * source format read into memory: "key value" lines, continuations,
 * comments, duplicates). The input layout and checks are in dict_common.h.
 */
#include "dict_common.h"

static const char *const keys[] = {
    "user@example.com", "example.com", "@example.com", "user", "USER@EXAMPLE.COM",
    "postmaster", "", "#comment", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_dict("texthash", keys, data, size);
}
