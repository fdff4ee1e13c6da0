/*
 * postcat - show queue file contents in human-readable form (postcat(1)).
 *
 *   postcat [-bdehoqrv] [-c config_dir] [-s offset] [files...]
 *
 * Files are read as given, or with -q looked up by queue ID in maildrop,
 * incoming, active, deferred, hold, saved and corrupt (the label is then
 * "queue/ID"); without files, standard input ("stdin"). The output
 * follows Postfix's:
 *
 *   *** ENVELOPE RECORDS deferred/ID ***
 *   message_size:             451             231               1               0             612
 *   message_arrival_time: Sun Nov 22 17:14:06 2020
 *   sender: sender@example.com
 *   named_attribute: rewrite_context=local
 *   original_recipient: User@example.net
 *   recipient: user@example.net
 *   *** MESSAGE CONTENTS deferred/ID ***
 *   <headers, the empty line, the body>
 *   *** HEADER EXTRACTED deferred/ID ***
 *   *** MESSAGE FILE END deferred/ID ***
 *
 * Envelope record names are Postfix's (done_recipient, dsn_notify_flags,
 * dsn_original_recipient, warning_message_time, ...). The size record
 * shows Hikyaku's fields: content size, content offset, recipients at
 * commit, flags, extracted-records offset. -e prints the envelope only,
 * -h the header, -b the body (from the empty line that separates it from
 * the header); the default is all three. -o prefixes each line with the
 * offset of its record, -d with the record type in decimal; -v also
 * shows the version record; -s starts at an offset (no heading); -r
 * keeps reading after the end record. Envelope values are shown with
 * control characters as '?'; the message itself is copied as it is.
 *
 * Errors: "open queue file ID: No such file or directory" (-q), "open
 * FILE: ...", a file that does not start with a version record is
 * skipped with "input is not a valid queue file", a damaged record ends
 * that file with a warning. Exit status 1 after any of these.
 *
 * NOT HERE: changing the queue (postsuper), listings (postqueue).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "mail/queue_scan.h"
#include "mail/queue_summary.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/vstream.h"

enum {
    PC_ENV = 1 << 0,
    PC_HEADER = 1 << 1,
    PC_BODY = 1 << 2,
    PC_OFFSET = 1 << 3,
    PC_DECIMAL = 1 << 4,
    PC_RAW = 1 << 5,
    PC_ALL = PC_ENV | PC_HEADER | PC_BODY,
};

enum { ST_ENV, ST_HEADER, ST_BODY };

static int status;
static long long start_offset;

static void out(const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, stdout) != n)
        msg_fatal("output write error: %m");
}

static void outs(const char *s)
{
    out(s, strlen(s));
}

static void prefix(int flags, long long offset, int type)
{
    if (flags & PC_OFFSET)
        printf("%9llu ", (unsigned long long) offset);
    if (flags & PC_DECIMAL)
        printf("%3d ", type);
}

static void marker(int flags, long long offset, int type, const char *what, const char *label)
{
    prefix(flags, offset, type);
    printf("*** %s %s ***\n", what, label);
}

/* "name: value" with the value made printable. */
static void field(const char *name, const char *value, size_t len)
{
    sbuf v = SBUF_INIT;
    queue_printable(&v, value, len);
    printf("%s: %s\n", name, sbuf_str(&v));
    sbuf_free(&v);
}

static void print_time(const char *name, const char *data)
{
    char when[64];
    char *end;
    long long t = strtoll(data, &end, 10);
    if (end == data || t <= 0) {
        field(name, data, strlen(data));
        return;
    }
    queue_asctime(t, when, sizeof(when));
    printf("%s: %s", name, when);
}

static void print_envelope(int type, const sbuf *data)
{
    const char *s = sbuf_str(data);
    switch (type) {
    case QREC_SIZE: {
        struct qfile_sizes sz;
        if (qfile_parse_sizes(data->s, data->len, &sz) < 0) {
            field("message_size", s, data->len);
            break;
        }
        printf("message_size: %15llu %15llu %15u %15u %15llu\n",
               (unsigned long long) sz.content_size, (unsigned long long) sz.content_offset,
               sz.nrcpt, sz.flags, (unsigned long long) sz.extracted_offset);
        break;
    }
    case QREC_TIME:
        print_time("message_arrival_time", s);
        break;
    case QREC_WARN: {
        const char *p = s;
        while (*p == ' ' || *p == '0')
            p++;
        print_time("warning_message_time", *p ? s : "0");
        break;
    }
    case QREC_VERSION: field("version", s, data->len); break;
    case QREC_SENDER: field("sender", s, data->len); break;
    case QREC_ATTR: field("named_attribute", s, data->len); break;
    case QREC_ORCPT: field("original_recipient", s, data->len); break;
    case QREC_NOTIFY: field("dsn_notify_flags", s, data->len); break;
    case QREC_DSN_ORCPT: field("dsn_original_recipient", s, data->len); break;
    case QREC_RCPT: field("recipient", s, data->len); break;
    case QREC_DONE: field("done_recipient", s, data->len); break;
    case QREC_FILTER: field("content_filter", s, data->len); break;
    default: field("unknown_record_type", s, data->len); break;
    }
}

/* Message text: each line gets the prefix of its record (-o, -d). */
static void print_text(int flags, long long offset, int type, const sbuf *data, bool *bol)
{
    const char *p = data->s ? data->s : "";
    size_t n = data->len;
    while (n > 0) {
        if (*bol && (flags & (PC_OFFSET | PC_DECIMAL)))
            prefix(flags, offset, type);
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t) (nl - p) + 1 : n;
        out(p, len);
        *bol = nl != 0;
        p += len;
        n -= len;
    }
}

static void postcat(vstream *in, const char *label, int flags)
{
    sbuf data = SBUF_INIT;
    long long offset = start_offset;
    int state = ST_ENV, type;
    bool bol = true, printing = flags & PC_ENV, first = start_offset == 0;

    for (;;) {
        long long here = offset;
        type = qrec_read(in, &data, QFILE_MAX_RECORD);
        /* See if this is a plausible file before printing anything. */
        if (first && type != QREC_VERSION) {
            fflush(stdout);
            msg_warn("%s: input is not a valid queue file", label);
            status = 1;
            sbuf_free(&data);
            return;
        }
        if (first && (flags & PC_ENV))
            printf("*** ENVELOPE RECORDS %s ***\n", label);
        first = false;
        if (type <= 0)
            break;
        offset += 5 + (long long) data.len;
        switch (type) {
        case QREC_CONTENT:
            if (state != ST_ENV)
                msg_warn("%s: out-of-order message content marker", label);
            if (flags & PC_ENV)
                marker(flags, here, type, "MESSAGE CONTENTS", label);
            state = ST_HEADER;
            printing = flags & PC_HEADER;
            continue;
        case QREC_HEADER:
            if (state == ST_HEADER && (flags & PC_HEADER))
                print_text(flags, here, type, &data, &bol);
            if (!bol && (flags & PC_HEADER)) {
                outs("\n");    /* a header record always ends its line */
                bol = true;
            }
            continue;
        case QREC_BODY:
            if (state == ST_HEADER) {
                state = ST_BODY;
                printing = flags & PC_BODY;
                if (printing) {
                    prefix(flags, here, type);
                    outs("\n");         /* the empty line that ends the header */
                }
            }
            if (printing)
                print_text(flags, here, type, &data, &bol);
            continue;
        case QREC_EXTRACTED:
            if (state == ST_ENV)
                msg_warn("%s: out-of-order extracted segment marker", label);
            if (printing && !bol)
                outs("\n");
            bol = true;
            if (flags & PC_ENV)
                marker(flags, here, type, "HEADER EXTRACTED", label);
            state = ST_ENV;
            printing = flags & PC_ENV;
            continue;
        case QREC_END:
            if (state != ST_ENV)
                msg_warn("%s: out-of-order message end marker", label);
            if (flags & PC_ENV)
                marker(flags, here, type, "MESSAGE FILE END", label);
            if (flags & PC_RAW)
                continue;
            break;
        default:
            if (printing && state == ST_ENV && (type != QREC_VERSION || msg_verbose)) {
                prefix(flags, here, type);
                print_envelope(type, &data);
            }
            continue;
        }
        break;
    }
    if (type < 0) {
        fflush(stdout);
        msg_warn("%s: damaged or truncated record at offset %lld", label, offset);
        status = 1;
    }
    if (fflush(stdout) != 0)
        msg_fatal("output write error: %m");
    sbuf_free(&data);
}

/* Open fd at start_offset (seek, or read and discard on a pipe). */
static vstream *open_at(int fd, const char *label)
{
    if (start_offset > 0 && lseek(fd, (off_t) start_offset, SEEK_SET) < 0) {
        vstream *s = vstream_open(fd);
        char buf[4096];
        for (long long left = start_offset; left > 0;) {
            size_t n = left > (long long) sizeof(buf) ? sizeof(buf) : (size_t) left;
            if (vstream_read_exact(s, buf, n) < 0)
                msg_fatal("%s: skip %lld bytes failed", label, start_offset);
            left -= (long long) n;
        }
        return s;
    }
    return vstream_open(fd);
}

static void usage(void)
{
    msg_fatal("usage: postcat [-b (body text)] [-c config_dir] [-d (decimal record type)] "
              "[-e (envelope records)] [-h (header text)] [-o (offsets)] [-q (access queue)] "
              "[-r (raw order)] [-s offset] [-v] [file(s)...]");
}

int main(int argc, char **argv)
{
    msg_init("postcat", MSG_TO_STDERR);
    int flags = 0, ch;
    bool search = false;
    char *config_dir = 0;
    while ((ch = getopt(argc, argv, "bc:dehoqrs:v")) != -1) {
        switch (ch) {
        case 'b': flags |= PC_BODY; break;
        case 'c':
            xfree(config_dir);
            config_dir = xstrdup(optarg);
            break;
        case 'd': flags |= PC_DECIMAL; break;
        case 'e': flags |= PC_ENV; break;
        case 'h': flags |= PC_HEADER; break;
        case 'o': flags |= PC_OFFSET; break;
        case 'q': search = true; break;
        case 'r': flags |= PC_RAW; break;
        case 's': {
            char *end;
            errno = 0;
            start_offset = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || start_offset < 0)
                msg_fatal("bad offset: %s", optarg);
            break;
        }
        case 'v': msg_verbose++; break;
        default: usage();
        }
    }
    if ((flags & PC_ALL) == 0)
        flags |= PC_ALL;
    mail_conf_load(config_dir);

    if (optind == argc) {
        if (search)
            usage();
        vstream *in = open_at(0, "stdin");
        postcat(in, "stdin", flags);
        vstream_detach(in);
    }
    for (; optind < argc; optind++) {
        const char *name = argv[optind];
        char label[4200];
        int fd = -1;
        if (search) {
            if (!qfile_id_ok(name))
                msg_fatal("bad mail queue ID: %s", name);
            for (int tries = 0; fd < 0 && tries < 2; tries++)
                for (const char *const *q = QUEUE_SCAN_FIND; fd < 0 && *q; q++) {
                    char path[4200];
                    if (qfile_path(path, sizeof(path), *q, name) < 0)
                        continue;
                    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                    if (fd >= 0)
                        snprintf(label, sizeof(label), "%s/%s", *q, name);
                    else if (errno != ENOENT)
                        msg_fatal("open queue file %s: %m", name);
                }
            if (fd < 0) {
                errno = ENOENT;
                msg_fatal("open queue file %s: %m", name);
            }
        } else {
            fd = open(name, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                msg_fatal("open %s: %m", name);
            snprintf(label, sizeof(label), "%s", name);
        }
        vstream *in = open_at(fd, label);
        postcat(in, label, flags);
        vstream_close(in);
    }
    xfree(config_dir);
    return status;
}
