/*
 * tls.h - TLS for the SMTP server and client (OpenSSL 3), shared by smtpd
 * and smtp/lmtp.
 *
 * CONTEXTS. tls_server_ctx("smtpd", mandatory, err) and
 * tls_client_ctx("smtp", err) build an OpenSSL context from the
 * parameters <prefix>_tls_* (cert_file, key_file, eccert_file,
 * eckey_file, chain_files, CAfile, CApath, protocols or
 * mandatory_protocols, ciphers or mandatory_ciphers, exclude_ciphers,
 * mandatory_exclude_ciphers, ask_ccert, ccert_verifydepth /
 * scert_verifydepth, session_cache_timeout, fingerprint_digest). A
 * context that cannot be built (missing or unreadable certificate, key
 * that does not match, no usable protocol) returns NULL with the reason
 * in err; the caller decides whether that disables TLS (level may) or
 * makes STARTTLS answer 454 (level encrypt). Contexts are made once per
 * process, as root, before privileges are dropped.
 *
 * SESSIONS. tls_server_start() / tls_client_start() run the handshake on
 * a vstream's descriptor (within timeout_ms), then install the TLS I/O
 * hook on the stream (vstream_set_io), so SMTP code keeps reading lines
 * and writing replies as before. The caller must have flushed its output
 * and purged buffered plaintext input first (RFC 3207 4.2, CVE-2011-0411).
 * tls_sess_stop() sends close_notify, removes the hook and frees. Facts
 * about the session are in struct tls_info (tls_sess_info()). OpenSSL
 * writes to the socket with write(2): the process must ignore SIGPIPE
 * (every mail_server daemon does).
 *
 * SERVER SESSION RESUMPTION uses RFC 5077 session tickets (TLS 1.2 and
 * 1.3) whose keys live in $data_directory/tls_ticket_keys, so every
 * process of the server resumes sessions issued by any other
 * (tls_tickets.c); <prefix>_tls_session_cache_timeout is their lifetime,
 * 0 turns resumption off.
 *
 * CLIENT VERIFICATION (struct tls_client_start): level may/encrypt accept
 * any certificate; fingerprint compares the certificate or public-key
 * fingerprint with p->fingerprints; verify/secure require a chain that
 * leads to CAfile/CApath and a name in p->match (a name with a leading
 * "." matches any subdomain). SNI is sent when p->servername is set.
 *
 * LOGGING follows Postfix: "Anonymous|Untrusted|Trusted|Verified TLS
 * connection established from|to NAMADDR: TLSv1.3 with cipher NAME (U/A
 * bits) key-exchange X25519 server-signature RSA-PSS (2048 bits)
 * server-digest SHA256" at loglevel >= 1; OpenSSL errors are logged as
 * "warning: TLS library problem: ...".
 *
 * NOT HERE: SMTP (STARTTLS is the caller's), policy tables
 * (smtp_tls_policy_maps: the client decides the level and the names),
 * DANE.
 */
#ifndef HK_MAIL_TLS_H
#define HK_MAIL_TLS_H

#include <stdbool.h>
#include "util/sbuf.h"
#include "util/strv.h"
#include "util/vstream.h"

/* Security levels (smtpd_tls_security_level, smtp_tls_security_level). */
enum tls_level {
    TLS_LEV_NONE, TLS_LEV_MAY, TLS_LEV_ENCRYPT, TLS_LEV_FPRINT, TLS_LEV_VERIFY, TLS_LEV_SECURE,
};
/* "none", "may", ... -> TLS_LEV_*; -1 for an unknown name. */
int tls_level_parse(const char *name);
const char *tls_level_name(int level);

/* ---- tls_proto.c: parameter syntax (pure functions) ---- */

/* Protocol versions as bits. */
#define TLS_PROTO_SSLv2   (1u << 0)
#define TLS_PROTO_SSLv3   (1u << 1)
#define TLS_PROTO_TLSv1   (1u << 2)
#define TLS_PROTO_TLSv1_1 (1u << 3)
#define TLS_PROTO_TLSv1_2 (1u << 4)
#define TLS_PROTO_TLSv1_3 (1u << 5)
#define TLS_PROTO_ALL     0x3fu
#define TLS_PROTO_USABLE  (TLS_PROTO_TLSv1 | TLS_PROTO_TLSv1_1 | TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3)

/* Parse a Postfix protocol list: "TLSv1.2 TLSv1.3" (only these),
 * "!SSLv2, !SSLv3" (all but these), ">=TLSv1.2", "<=TLSv1.2" or a mix
 * (names are case-insensitive; separators comma, colon or blanks; empty
 * means all). Returns the enabled TLS_PROTO_* bits (SSLv2/SSLv3 never
 * count: OpenSSL 3 has neither), or -1 with a message in err for an
 * unknown name or a list that leaves nothing usable. */
int tls_protocols_parse(const char *list, sbuf *err);
/* Lowest and highest enabled version as OpenSSL constants
 * (TLS1_VERSION ...) and the SSL_OP_NO_* bits for holes in between. */
void tls_protocols_openssl(int mask, int *min_version, int *max_version, long *no_ops);

/* The OpenSSL cipher string for a grade ("high", "medium", "low",
 * "export", "null": the tls_<grade>_cipherlist parameter) with ":!X"
 * appended for each exclusion. 0, or -1 with err for an unknown grade. */
int tls_cipher_string(const char *grade, const strv *exclude, sbuf *out, sbuf *err);

/* ---- tls_ctx.c: contexts ---- */

typedef struct tls_ctx tls_ctx;

/* prefix: "smtpd" (or "lmtp"/"tlsproxy" later). mandatory selects the
 * mandatory_protocols/ciphers. NULL with err on failure. */
tls_ctx *tls_server_ctx(const char *prefix, bool mandatory, sbuf *err);
/* prefix: "smtp" or "lmtp". Client certificates are optional. */
tls_ctx *tls_client_ctx(const char *prefix, bool mandatory, sbuf *err);
void tls_ctx_free(tls_ctx *ctx);
/* The loglevel the context was built with (<prefix>_tls_loglevel). */
int tls_ctx_loglevel(const tls_ctx *ctx);

/* ---- tls_session.c: connections ---- */

typedef struct tls_sess tls_sess;

#define TLS_NAME_MAX 256
#define TLS_FPRINT_MAX 200      /* "AA:BB:..." for up to SHA-512 */

struct tls_info {
    const char *protocol;               /* "TLSv1.3" */
    const char *cipher;                 /* "TLS_AES_256_GCM_SHA384" */
    int cipher_usebits, cipher_algbits;
    char kex[64];                       /* "X25519", "" when unknown */
    int kex_bits;                       /* DHE/RSA kex size, 0 otherwise */
    /* The server's signature (seen from either side) ... */
    char srv_sig[32];                   /* "RSA-PSS", "RSA", "ECDSA", "ED25519" */
    char srv_sig_curve[32];             /* "P-256" for ECDSA */
    int srv_sig_bits;                   /* RSA key size */
    char srv_sig_dgst[32];              /* "SHA256" */
    /* ... and the client's, when it presented a certificate. */
    char clnt_sig[32];
    char clnt_sig_curve[32];
    int clnt_sig_bits;
    char clnt_sig_dgst[32];
    bool peer_cert;                     /* the peer presented a certificate */
    bool peer_trusted;                  /* its chain leads to a trusted CA */
    bool peer_verified;                 /* trusted and name matched (client side) */
    bool peer_fprint_matched;           /* fingerprint level matched */
    char peer_CN[TLS_NAME_MAX];         /* subject CN, "" if none */
    char issuer_CN[TLS_NAME_MAX];       /* issuer CN (or O) */
    char peer_cert_fprint[TLS_FPRINT_MAX];   /* digest of the DER certificate */
    char peer_pkey_fprint[TLS_FPRINT_MAX];   /* digest of the DER public key */
    bool resumed;                       /* session resumed (ticket) */
    char verify_error[128];             /* why the chain is not trusted */
};

/* Server side: handshake on s (the 220 must already be flushed). NULL
 * with err on failure (the connection is then unusable: hang up). */
tls_sess *tls_server_start(tls_ctx *ctx, vstream *s, const char *namaddr, int timeout_ms,
                           sbuf *err);

struct tls_client_start {
    const char *namaddr;        /* "mx.example.com[192.0.2.1]:25" for logs */
    const char *servername;     /* SNI name, NULL: none */
    int level;                  /* TLS_LEV_* */
    const strv *match;          /* verify/secure: acceptable names */
    const strv *fingerprints;   /* fingerprint level: "AA:BB:..." */
    int timeout_ms;
};
/* Client side: handshake and verification per p->level. NULL with err
 * when the handshake fails or the level's verification fails. */
tls_sess *tls_client_start(tls_ctx *ctx, vstream *s, const struct tls_client_start *p,
                           sbuf *err);

/* Per-session settings that replace the context's (smtp_tls_policy_maps
 * attributes, or the mandatory_* parameters at level encrypt and above);
 * NULL members keep the context's. */
struct tls_client_opts {
    const char *protocols;      /* a protocol list (tls_protocols_parse) */
    const char *cipher_grade;   /* "high", "medium", ... (tls_cipher_string) */
    const strv *cipher_exclude; /* with cipher_grade: ciphers to exclude */
};
/* Why tls_client_start_opts() returned NULL. */
enum {
    TLS_CLIENT_FAIL_CONFIG = 1,     /* bad protocols or ciphers: nothing was sent */
    TLS_CLIENT_FAIL_HANDSHAKE,      /* the handshake failed (the stream is unusable) */
    TLS_CLIENT_FAIL_UNTRUSTED,      /* verify/secure: the chain is not trusted */
    TLS_CLIENT_FAIL_NOMATCH,        /* no name or fingerprint matched */
};
/* tls_client_start() with opts (may be NULL) and the kind of failure in
 * *failure (may be NULL). On a verification failure the "established"
 * line is still logged first (at loglevel >= 1), as Postfix does. */
tls_sess *tls_client_start_opts(tls_ctx *ctx, vstream *s, const struct tls_client_start *p,
                                const struct tls_client_opts *opts, int *failure, sbuf *err);

/* close_notify (when not failed), restore the plain I/O, free. */
void tls_sess_stop(tls_sess *t, vstream *s, bool failure);
const struct tls_info *tls_sess_info(const tls_sess *t);

/* ---- tls_log.c ---- */

/* "TLSv1.3 with cipher X (256/256 bits) key-exchange X25519
 * server-signature RSA-PSS (2048 bits) server-digest SHA256". */
void tls_info_summary(const struct tls_info *info, sbuf *out);
/* "Trusted", "Untrusted", "Verified" or "Anonymous" (no certificate). */
const char *tls_info_trust(const struct tls_info *info);
/* Log "<Trust> TLS connection established from|to NAMADDR: <summary>". */
void tls_log_established(const struct tls_info *info, bool server, const char *namaddr);
/* Log queued OpenSSL errors as "warning: TLS library problem: ..." and
 * return the first one's text in err (if not NULL). */
void tls_log_errors(sbuf *err);
/* Hex "AA:BB:..." digest (algorithm name, e.g. "sha256") of len bytes. */
int tls_fingerprint(const char *dgst, const unsigned char *data, size_t len, char *out,
                    size_t size);

/* ---- tls_tickets.c: shared session ticket keys ---- */

/* The file; "" when data_directory is not set. */
const char *tls_ticket_file(void);
/* Make sure a current key exists (new one when the newest is older than
 * lifetime seconds) and drop keys older than twice that. 0 or -1. Used
 * by contexts on each handshake and by tlsmgr on its timer. */
int tls_tickets_maintain(long lifetime);

/* ---- tls_check.c: configuration checks for "postfix check" ---- */

/* Check the server TLS settings of main.cf (and of the -o overrides in
 * effect): security level name, protocol lists, cipher grades,
 * certificate and key files (exist, parse, match, key not readable by
 * other users). One message per problem in errs (and warnings in
 * warns); returns the number of errors. */
int tls_check_config(const char *prefix, strv *errs, strv *warns);
/* tls_check_config("smtpd") printed with msg_error/msg_warn (warnings
 * only when !quiet); returns the number of errors. For postfix check. */
int tls_check_report(bool quiet);

#endif
