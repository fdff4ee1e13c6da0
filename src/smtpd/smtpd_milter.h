/*
 * smtpd_milter.h - smtpd_milters in the SMTP server: the connect, HELO,
 * MAIL, RCPT, DATA and unknown-command events, and the hand-over of the
 * filters to cleanup for the content (src/mail/milter_send.h).
 *
 * The filters of a session are made at connect from smtpd_milters (as
 * main.cf and -o set it); receive_override_options = no_milters, or an
 * empty list, means none and every function here does nothing. Verdicts
 * are handled as Postfix does:
 *   connect  5xx: greeting "554 $myhostname ESMTP not accepting
 *            connections"; 421 or shutdown: "421 $myhostname Service
 *            unavailable - try again later" and the session ends; 4xx:
 *            the normal greeting (the refusal sticks to the filter and
 *            answers MAIL later)
 *   HELO     the reply stays "250" except for 421/shutdown (Sendmail
 *            compatible); a refusal sticks to MAIL
 *   MAIL, RCPT, DATA, unknown  4xx/5xx replace the reply
 *   discard  the message is accepted and thrown away
 *   hold     the message goes to the hold queue (quarantine)
 * with log lines "ID: milter-reject: RCPT from host[addr]: 550 5.7.1
 * Command rejected; from=<...> to=<...> proto=ESMTP helo=<...>",
 * "milter-discard: ... milter triggers DISCARD action;", "milter-hold:
 * ... milter triggers HOLD action;". The session's filters live in this
 * module (smtpd serves one session at a time).
 */
#ifndef HK_SMTPD_SMTPD_MILTER_H
#define HK_SMTPD_SMTPD_MILTER_H

#include "smtpd/smtpd.h"

/* Before the greeting: 0 = send the normal greeting; 1 = a greeting
 * was sent here; -1 = a 421 was sent, end the session. */
int smtpd_milter_connect(SMTPD_STATE *st);
/* HELO/EHLO (name not yet in st): 0, or -1 after a 421 reply. */
int smtpd_milter_helo(SMTPD_STATE *st, const char *name);
/* MAIL, with st->sender set; params is the text after the address. 0,
 * or -1 after the reply. */
int smtpd_milter_mail(SMTPD_STATE *st, const char *params);
/* RCPT, with st->recipient set to the new recipient. 0 or -1 after the reply. */
int smtpd_milter_rcpt(SMTPD_STATE *st);
/* DATA, before "354". 0, or -1 after the reply. */
int smtpd_milter_data(SMTPD_STATE *st);
/* An unknown command: the filter's reply to use instead of "502 5.5.2
 * Error: command not recognized", or NULL. */
const char *smtpd_milter_unknown(SMTPD_STATE *st, const char *command);
/* End of data, before cleanup_finish(): pass the filters to cleanup. */
void smtpd_milter_end_of_data(SMTPD_STATE *st);
/* Transaction reset (RSET, HELO, after DATA). */
void smtpd_milter_reset(SMTPD_STATE *st);
/* End of the session. */
void smtpd_milter_disconnect(SMTPD_STATE *st);

#endif
