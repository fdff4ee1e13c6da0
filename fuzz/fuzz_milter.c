/*
 * fuzz_milter.c - libFuzzer target for the milter reply parser
 * (mail/milter_proto.c): milter_reply_parse() and milter_optneg_parse().
 *
 * The input is one reply packet without its length prefix (reply code,
 * then data), as read from a filter. A packet that parses must encode
 * back to exactly the same bytes from the parsed fields (nothing was
 * skipped or invented), and its strings must lie inside the packet.
 * The SMFIC_OPTNEG parser gets the same bytes. Stream framing and
 * timeouts are not exercised here (see tests/unit/test_milter.c).
 * Built by fuzz/CMakeLists.txt (cmake -DHK_FUZZ=ON); run with tools/fuzz.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/milter_proto.h"

static void inside(const char *p, const char *buf, size_t size)
{
    /* "" constants are allowed for absent arguments. */
    if (*p == 0 && (p < buf || p >= buf + size))
        return;
    if (p < buf || p >= buf + size || !memchr(p, 0, (size_t) (buf + size - p)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    /* A private copy: the parser's pointers must stay inside it. */
    char *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    struct milter_reply r;
    sbuf why = SBUF_INIT, enc = SBUF_INIT;
    if (milter_reply_parse(buf, size, &r, &why) == 0) {
        inside(r.arg1, buf, size);
        inside(r.arg2, buf, size);
        sbuf_addc(&enc, r.cmd);
        switch (r.cmd) {
        case SMFIR_REPLBODY:
            if (r.data != buf + 1 || r.len != size - 1)
                abort();
            sbuf_add(&enc, r.data, r.len);
            break;
        case SMFIR_REPLYCODE:
            if ((r.arg1[0] != '4' && r.arg1[0] != '5') || (r.arg1[3] != ' ' && r.arg1[3] != '-'))
                abort();
            /* FALLTHROUGH */
        case SMFIR_QUARANTINE:
        case SMFIR_ADDRCPT:
        case SMFIR_DELRCPT:
            milter_pkt_add_str(&enc, r.arg1);
            break;
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
            milter_pkt_add_u32(&enc, r.index);
            /* FALLTHROUGH */
        case SMFIR_ADDHEADER:
            if (!*r.arg1)
                abort();
            milter_pkt_add_str(&enc, r.arg1);
            milter_pkt_add_str(&enc, r.arg2);
            break;
        case SMFIR_CHGFROM:
        case SMFIR_ADDRCPT_PAR:
            milter_pkt_add_str(&enc, r.arg1);
            /* The optional second string: present when the packet had it. */
            if (enc.len < size)
                milter_pkt_add_str(&enc, r.arg2);
            break;
        default:
            break;
        }
        if (enc.len != size || memcmp(enc.s, buf, size) != 0)
            abort();
    }
    struct milter_optneg o;
    milter_optneg_init(&o);
    sbuf_reset(&why);
    if (milter_optneg_parse(buf, size, &o, &why) == 0) {
        if (size < 13 || buf[0] != SMFIC_OPTNEG)
            abort();
        for (int i = 0; i < SMFIM_COUNT; i++)
            if (o.macros[i].len && strlen(sbuf_str(&o.macros[i])) != o.macros[i].len)
                abort();
    }
    milter_optneg_free(&o);
    sbuf_free(&why);
    sbuf_free(&enc);
    free(buf);
    return 0;
}
