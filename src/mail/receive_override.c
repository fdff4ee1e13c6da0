/*
 * receive_override.c - receive_override_options (see receive_override.h).
 */
#include <strings.h>

#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/receive_override.h"
#include "util/msg.h"
#include "util/strv.h"

static const struct {
    const char *name;
    int     bit;
} names[] = {
    {"no_unknown_recipient_checks", RECV_NO_UNKNOWN_RCPT},
    {"no_address_mappings", RECV_NO_ADDR_MAPPINGS},
    {"no_header_body_checks", RECV_NO_HEADER_BODY},
    {"no_milters", RECV_NO_MILTERS},
};

int receive_override_parse(const char *value)
{
    strv words;
    int bits = 0;
    strv_init(&words);
    strv_split(&words, value ? value : "", ", \t\r\n");
    for (size_t i = 0; i < words.n; i++) {
        size_t j;
        for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
            if (strcasecmp(words.v[i], names[j].name) == 0)
                break;
        if (j < sizeof(names) / sizeof(names[0]))
            bits |= names[j].bit;
        else
            msg_warn("unknown receive_override_options value \"%s\" -- ignored", words.v[i]);
    }
    strv_free(&words);
    return bits;
}

int receive_override_cleanup_flags(int cleanup_flags, int override)
{
    if (override & RECV_NO_ADDR_MAPPINGS)
        cleanup_flags &= ~(CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_BCC_OK);
    if (override & RECV_NO_HEADER_BODY)
        cleanup_flags &= ~CLEANUP_FLAG_FILTER;
    if (override & RECV_NO_MILTERS)
        cleanup_flags &= ~CLEANUP_FLAG_MILTER;
    return cleanup_flags;
}

int receive_override(void)
{
    return receive_override_parse(mail_conf_str("receive_override_options"));
}
