/*
 * fuzz_attr.c - libFuzzer target for the attribute decoder (util/attr).
 *
 * Decodes the input as one message with a small size limit; a message
 * that decodes must re-encode to exactly the same bytes (the encoding is
 * canonical). It does not exercise the stream reader (see test_attr.c).
 * Built by fuzz/CMakeLists.txt (cmake -DHK_FUZZ=ON); run with tools/fuzz.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "util/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attr_list l = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    if (attr_decode(data, size, &l, 64 * 1024, &why) == ATTR_OK) {
        sbuf enc = SBUF_INIT;
        sbuf text = SBUF_INIT;
        attr_encode(&enc, &l);
        if (enc.len != size || memcmp(enc.s, data, size) != 0)
            abort();
        attr_format(&text, &l);
        sbuf_free(&enc);
        sbuf_free(&text);
    }
    attr_list_free(&l);
    sbuf_free(&why);
    return 0;
}
