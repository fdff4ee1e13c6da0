/*
 * fuzz_dict_regexp.c - libFuzzer target for regexp: table files
 * (regexp_table(5): rules, if/endif, flags, $n substitution, /a/!/b/).
 * The input layout and checks are in dict_common.h.
 */
#include "dict_common.h"

static const char *const keys[] = {
    "user@example.com", "Subject: hello world", "", "ABCdef",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "192.168.1.2", "postmaster", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_dict("regexp", keys, data, size);
}
