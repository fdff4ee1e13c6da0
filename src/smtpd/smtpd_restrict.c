/*
 * smtpd_restrict.c - set-up of the restrictions outside the evaluator
 * (see smtpd_restrict.h): registration, and opening every table that a
 * restriction list or class names while smtpd still runs as root.
 *
 * The lists scanned are smtpd_{client,helo,sender,relay,recipient,data,
 * end_of_data,etrn}_restrictions and each name in
 * smtpd_restriction_classes; every "check_*_access type:table" there has
 * its table opened (tables named only inside access table results cannot
 * be, which is why Postfix refuses them, and so does smtpd_access.c).
 *
 * Does not: evaluate anything.
 */
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "util/strv.h"

#include "smtpd/smtpd_restrict.h"

static bool opens_table(const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(name, "check_", 6) == 0 && n > 13
           && strcasecmp(name + n - 7, "_access") == 0;
}

static void preload_list(const char *param)
{
    strv items;

    strv_init(&items);
    mail_conf_list(param, &items);
    for (size_t i = 0; i + 1 < items.n; i++)
        if (opens_table(items.v[i]) && strchr(items.v[i + 1], ':'))
            (void) smtpd_access_table(items.v[++i]);
    strv_free(&items);
}

void smtpd_restrict_init(void)
{
    static bool done;
    static const char *const lists[] = {
        "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
        "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
        "smtpd_end_of_data_restrictions", "smtpd_etrn_restrictions", 0};

    if (!done) {
        done = true;
        smtpd_access_register();
        smtpd_dnscheck_register();
        smtpd_rbl_register();
        smtpd_policy_register();
    }
    for (int i = 0; lists[i]; i++)
        preload_list(lists[i]);
    strv classes;
    strv_init(&classes);
    mail_conf_list("smtpd_restriction_classes", &classes);
    for (size_t i = 0; i < classes.n; i++)
        preload_list(classes.v[i]);
    strv_free(&classes);
    smtpd_rbl_init();
}

bool smtpd_restrict_changed(void)
{
    return smtpd_access_changed() || smtpd_rbl_changed();
}
