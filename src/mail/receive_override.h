/*
 * receive_override.h - receive_override_options: what a receiving service
 * (smtpd, pickup) turns off for the mail it takes in, typically after an
 * external content filter (postconf(5), FILTER_README):
 *
 *   no_unknown_recipient_checks  smtpd does not reject unknown recipients
 *   no_address_mappings          cleanup does no canonical/virtual mapping,
 *                                masquerading or automatic BCC
 *   no_header_body_checks        cleanup does no header/body_checks
 *   no_milters                   no milters (smtpd_milters, non_smtpd_milters)
 *
 * receive_override_parse() reads a value ("no_header_body_checks,
 * no_milters", comma or space separated, case-insensitive); unknown names
 * are warned about and ignored. receive_override_cleanup_flags() turns the
 * cleanup part of them off in a set of CLEANUP_FLAG_* bits.
 * receive_override() is the parsed value of the receive_override_options
 * parameter as main.cf and the service's -o options set it.
 */
#ifndef HK_MAIL_RECEIVE_OVERRIDE_H
#define HK_MAIL_RECEIVE_OVERRIDE_H

#define RECV_NO_UNKNOWN_RCPT   (1 << 0)
#define RECV_NO_ADDR_MAPPINGS  (1 << 1)
#define RECV_NO_HEADER_BODY    (1 << 2)
#define RECV_NO_MILTERS        (1 << 3)

int receive_override_parse(const char *value);
int receive_override_cleanup_flags(int cleanup_flags, int override);
int receive_override(void);

#endif
