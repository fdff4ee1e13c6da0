/*
 * fuzz_cleanup_content.c - libFuzzer target for what cleanup parses from a
 * client: message content (header block, folding, body lines, stray CRs,
 * sendmail -t extraction, header address rewriting) and header address
 * lists (cleanup_hdr_addr.c).
 *
 * The first input byte picks a chunk size and the flags; the rest is the
 * message, fed to the same functions the cleanup daemon runs, into a real
 * queue file in the fuzz directory. Checks: the result is a known status;
 * a committed file validates, every header record is one header ending in
 * LF, and the size record's content_size is the rebuilt message length.
 * The same bytes, scanned as one header value with a callback that
 * replaces nothing, must come back unchanged.
 * It links the objects of the cleanup daemon (fuzz/CMakeLists.txt), so it
 * reaches only what the headers in src/cleanup declare.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "support.h"
#include "cleanup/cleanup.h"
#include "cleanup/cleanup_hdr_addr.h"
#include "cleanup/cleanup_map.h"
#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "util/sbuf.h"

#define MAX_INPUT (128 * 1024)

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fuzz_init();
    char path[512], text[1024];
    snprintf(path, sizeof(path), "%s/queue", fuzz_dir());
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/queue/incoming", fuzz_dir());
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/queue/hold", fuzz_dir());
    mkdir(path, 0700);
    snprintf(text, sizeof(text),
             "queue_directory = %s/queue\nmyhostname = mail.example.jp\nmydomain = example.jp\n"
             "myorigin = $mydomain\nmydestination = $myhostname, localhost\n"
             "header_size_limit = 4096\nmessage_size_limit = 100000\nhopcount_limit = 20\n"
             "undisclosed_recipients_header = To: undisclosed-recipients:;\n"
             "masquerade_domains = example.jp\n"
             "virtual_alias_maps = inline:{ {a@example.jp = b@example.jp, c@example.jp} }\n",
             fuzz_dir());
    fuzz_write_file("main.cf", text, strlen(text));
    mail_conf_load(fuzz_dir());
    cleanup_params_init();
    cleanup_map_init();
}

static int keep_all(void *ctx, const char *addr, sbuf *repl)
{
    (void) ctx;
    (void) addr;
    (void) repl;
    return 0;
}

static void check_file(const char *id)
{
    char path[4200];
    qfile_path(path, sizeof(path), QUEUE_INCOMING, id);
    sbuf why = SBUF_INIT, d = SBUF_INIT;
    if (qfile_validate(path, &why) < 0)
        abort();
    qfile *q = qfile_open_path(path, false);
    if (!q)
        abort();
    int type;
    uint64_t content = 0;
    struct qfile_sizes sz = {0};
    while ((type = qfile_get(q, &d, 0)) > 0) {
        size_t n;
        if (type == QREC_SIZE && qfile_parse_sizes(d.s, d.len, &sz) < 0)
            abort();
        if (type == QREC_HEADER) {
            if (d.len == 0 || d.s[d.len - 1] != '\n' || !cleanup_is_header(d.s, d.len, &n))
                abort();
            content += d.len;
        }
        if (type == QREC_BODY)
            content += d.len;
    }
    if (type < 0 || sz.content_size != content + 1)
        abort();
    qfile_close(q);
    unlink(path);
    sbuf_free(&why);
    sbuf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1 || size > MAX_INPUT)
        return 0;
    unsigned ctl = data[0];
    const char *msg = (const char *) data + 1;
    size_t len = size - 1;

    /* header value scanning: a scan that replaces nothing copies everything */
    sbuf out = SBUF_INIT;
    hdr_addr_scan(msg, len, (size_t) -1, keep_all, 0, &out);
    if (out.len != len || (len && memcmp(out.s, msg, len) != 0))
        abort();
    sbuf_free(&out);

    int flags = CLEANUP_FLAG_MASK_DEFAULT;
    if (ctl & 1)
        flags |= CLEANUP_FLAG_LOCAL;
    if (ctl & 2)
        flags |= CLEANUP_FLAG_EXTRACT_RCPT;
    size_t chunk = (ctl >> 2) ? (ctl >> 2) : len + 1;
    struct cleanup_state *st = cleanup_state_open(flags);
    if (!st->q)
        abort();
    char id[32];
    snprintf(id, sizeof(id), "%s", st->queue_id);
    cleanup_env_sender(st, "sender@example.jp");
    cleanup_env_rcpt(st, "a@example.jp", 0, 0, 0);
    for (size_t off = 0; off < len; off += chunk)
        cleanup_content_data(st, msg + off, len - off < chunk ? len - off : chunk);
    int status = cleanup_commit_message(st);
    cleanup_state_free(st);
    if (status == CLEANUP_STAT_OK)
        check_file(id);
    else if (status & ~(CLEANUP_STAT_SIZE | CLEANUP_STAT_HOPS | CLEANUP_STAT_RCPT
                        | CLEANUP_STAT_DEFER | CLEANUP_STAT_WRITE))
        abort();
    return 0;
}
