/*
 * mail_dict.h - configure the lookup-table layer (util/dict) from main.cf.
 *
 * mail_dict_setup() hands berkeley_db_read_buffer_size,
 * berkeley_db_create_buffer_size and lmdb_map_size to dict_set_tuning().
 * Call it once after mail_conf_load(), before opening tables. Bad values
 * are fatal through mail_conf's typed reads.
 */
#ifndef HK_MAIL_MAIL_DICT_H
#define HK_MAIL_MAIL_DICT_H

void mail_dict_setup(void);

#endif
