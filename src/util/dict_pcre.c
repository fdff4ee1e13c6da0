/*
 * dict_pcre.c - pcre: tables with PCRE2 regular expressions (pcre_table(5)).
 *
 * Supplies the PCRE2 engine to dict_pattern.c, which owns the file grammar
 * and lookups. Flags toggle: i CASELESS (on by default), m MULTILINE,
 * s DOTALL (on by default), x EXTENDED, A ANCHORED, E DOLLAR_ENDONLY,
 * U UNGREEDY; X is accepted and ignored (not available with PCRE2).
 * A matching error (such as the match limit) is logged and counts as
 * "no match", so one pathological pattern cannot make every lookup fail.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include "util/dict_impl.h"
#include "util/dict_pattern.h"
#include "util/mem.h"
#include "util/msg.h"

struct pcre_re {
    pcre2_code *code;
    pcre2_match_data *md;
};

static void *pc_compile(const char *pattern, const char *flags, const char *where,
                        int *nsub, int *bad_flag)
{
    uint32_t opts = PCRE2_CASELESS | PCRE2_DOTALL;
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i': opts ^= PCRE2_CASELESS; break;
        case 'm': opts ^= PCRE2_MULTILINE; break;
        case 's': opts ^= PCRE2_DOTALL; break;
        case 'x': opts ^= PCRE2_EXTENDED; break;
        case 'A': opts ^= PCRE2_ANCHORED; break;
        case 'E': opts ^= PCRE2_DOLLAR_ENDONLY; break;
        case 'U': opts ^= PCRE2_UNGREEDY; break;
        case 'X':
            msg_warn("%s: flag X is not supported with PCRE2: ignoring it", where);
            break;
        default:
            *bad_flag = (unsigned char) *f;
            return 0;
        }
    }
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED, opts,
                                     &errcode, &erroff, 0);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(errcode, buf, sizeof(buf));
        msg_warn("%s: error in regex at offset %zu: %s", where, (size_t) erroff, (char *) buf);
        return 0;
    }
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    (void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    struct pcre_re *re = xmalloc(sizeof(*re));
    re->code = code;
    re->md = pcre2_match_data_create_from_pattern(code, 0);
    if (!re->md)
        msg_fatal("out of memory");
    *nsub = (int) count;
    return re;
}

static int pc_exec(void *vre, const char *subject, long *ovec, int ngroups)
{
    struct pcre_re *re = vre;
    int rc = pcre2_match(re->code, (PCRE2_SPTR) subject, PCRE2_ZERO_TERMINATED, 0, 0,
                         re->md, 0);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(rc, buf, sizeof(buf));
        msg_warn("pcre map: matching error: %s", (char *) buf);
        return 0;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t have = pcre2_get_ovector_count(re->md);
    for (int i = 0; i < ngroups; i++) {
        if ((uint32_t) i < have && (rc == 0 || i < rc) && ov[2 * i] != PCRE2_UNSET) {
            ovec[2 * i] = (long) ov[2 * i];
            ovec[2 * i + 1] = (long) ov[2 * i + 1];
        } else {
            ovec[2 * i] = ovec[2 * i + 1] = -1;
        }
    }
    return 1;
}

static void pc_free(void *vre)
{
    struct pcre_re *re = vre;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    xfree(re);
}

static const struct pat_engine pcre_engine = {
    "pcre", 0, pc_compile, pc_exec, pc_free,
};

dict *dict_pcre_open(const char *name, int open_flags, int dict_flags, char **err)
{
    return dict_pattern_open(&pcre_engine, name, open_flags, dict_flags, err);
}
