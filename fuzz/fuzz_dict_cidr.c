/*
 * fuzz_dict_cidr.c - libFuzzer target for cidr: table files
 * (cidr_table(5): IPv4/IPv6 networks, [] forms, negation, if/endif).
 * The input layout and checks are in dict_common.h.
 */
#include "dict_common.h"

static const char *const keys[] = {
    "192.168.1.1", "10.0.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "::1",
    "2001:db8::1", "::ffff:10.1.2.3", "fe80::1%eth0", "1.2.3", "[10.0.0.1]",
    "example.com", "", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_dict("cidr", keys, data, size);
}
