/*
 * newaliases.h - "newaliases" / "sendmail -bi": rebuild every alias_database table.
 */
#ifndef HK_SENDMAIL_NEWALIASES_H
#define HK_SENDMAIL_NEWALIASES_H

/* Runs $command_directory/postalias on the alias_database tables (main.cf
 * must be loaded). Does not return except with an exit status: 0 when
 * alias_database is empty, else the status of a failed exec (75). */
int newaliases_run(int verbose);

#endif
