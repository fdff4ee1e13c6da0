/*
 * mail_dict.c - main.cf settings for the table code (see mail_dict.h).
 *
 * Only sizes; which tables a program opens is its own business.
 */
#include "mail/mail_dict.h"
#include "mail/mail_conf.h"
#include "util/dict.h"

void mail_dict_setup(void)
{
    struct dict_tuning t;
    t.db_read_buffer = (size_t) mail_conf_long("berkeley_db_read_buffer_size");
    t.db_create_buffer = (size_t) mail_conf_long("berkeley_db_create_buffer_size");
    t.lmdb_map_size = (size_t) mail_conf_long("lmdb_map_size");
    dict_set_tuning(&t);
}
