/*
 * dsn_log.c - append, read and delete per-message delivery status logs.
 *
 * See dsn_log.h for the contract. Each record is one attribute-codec
 * message; the file is the concatenation. Does not decide what to log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/dsn_log.h"
#include "mail/qfile.h"
#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/vstream.h"

#define DSN_LOG_MODE 0600
#define DSN_REC_MAX  (256 * 1024)   /* bytes per record: reasons are short */

static const char *nz(const char *s)
{
    return s ? s : "";
}

void dsn_rec_encode(sbuf *out, const struct dsn_rec *r)
{
    attr_list l = ATTR_LIST_INIT;
    attr_add_str(&l, "recipient", nz(r->recipient));
    attr_add_str(&l, "orig_recipient", nz(r->orig_recipient));
    attr_add_str(&l, "dsn_orcpt", nz(r->dsn_orcpt));
    attr_add_int(&l, "notify", r->notify);
    attr_add_long(&l, "offset", (int64_t) r->offset);
    attr_add_str(&l, "status", r->status);
    attr_add_str(&l, "action", nz(r->action));
    attr_add_str(&l, "reason", nz(r->reason));
    attr_add_str(&l, "relay", nz(r->relay));
    attr_add_str(&l, "diag_type", nz(r->diag_type));
    attr_add_str(&l, "diag_text", nz(r->diag_text));
    attr_add_long(&l, "time", (int64_t) r->time);
    attr_encode(out, &l);
    attr_list_free(&l);
}

static int log_path(char *path, size_t size, const char *log, const char *id)
{
    if (!qfile_id_ok(id) || qfile_path(path, size, log, id) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int dsn_log_append_path(const char *path, const struct dsn_rec *recs, size_t n, bool sync)
{
    sbuf buf = SBUF_INIT;
    for (size_t i = 0; i < n; i++)
        dsn_rec_encode(&buf, &recs[i]);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, DSN_LOG_MODE);
    if (fd < 0) {
        int saved = errno;
        sbuf_free(&buf);
        errno = saved;
        return -1;
    }
    int rc = write_full(fd, buf.s ? buf.s : "", buf.len);
    if (rc == 0 && sync && fdatasync(fd) < 0)
        rc = -1;
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    sbuf_free(&buf);
    errno = saved;
    return rc;
}

int dsn_log_append(const char *log, const char *id, const struct dsn_rec *recs, size_t n,
                   bool sync)
{
    char path[4200];
    if (log_path(path, sizeof(path), log, id) < 0)
        return -1;
    return dsn_log_append_path(path, recs, n, sync);
}

static const char *dup_str(const attr_list *l, const char *name)
{
    const char *v = "";
    if (attr_get_str(l, name, &v) < 0)
        v = "";
    return xstrdup(v);
}

static void rec_free(struct dsn_rec *r)
{
    xfree((void *) r->recipient);
    xfree((void *) r->orig_recipient);
    xfree((void *) r->dsn_orcpt);
    xfree((void *) r->action);
    xfree((void *) r->reason);
    xfree((void *) r->relay);
    xfree((void *) r->diag_type);
    xfree((void *) r->diag_text);
}

void dsn_log_free(dsn_log *l)
{
    for (size_t i = 0; i < l->n; i++)
        rec_free(&l->rec[i]);
    xfree(l->rec);
    l->rec = 0;
    l->n = l->cap = 0;
}

/* Decode one record; -1 when a required attribute is missing. */
static int rec_decode(const attr_list *l, struct dsn_rec *r, sbuf *why)
{
    const char *recipient = 0, *status = 0;
    if (attr_get_str(l, "recipient", &recipient) < 0 || attr_get_str(l, "status", &status) < 0) {
        sbuf_adds(why, "record without recipient or status");
        return -1;
    }
    if (strlen(status) >= sizeof(r->status)) {
        sbuf_adds(why, "status code too long");
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->recipient = xstrdup(recipient);
    memcpy(r->status, status, strlen(status) + 1);
    r->orig_recipient = dup_str(l, "orig_recipient");
    r->dsn_orcpt = dup_str(l, "dsn_orcpt");
    r->action = dup_str(l, "action");
    r->reason = dup_str(l, "reason");
    r->relay = dup_str(l, "relay");
    r->diag_type = dup_str(l, "diag_type");
    r->diag_text = dup_str(l, "diag_text");
    int32_t i32 = 0;
    int64_t i64 = 0;
    if (attr_get_int(l, "notify", &i32) == 0)
        r->notify = i32;
    if (attr_get_long(l, "offset", &i64) == 0)
        r->offset = (off_t) i64;
    if (attr_get_long(l, "time", &i64) == 0)
        r->time = (time_t) i64;
    return 0;
}

int dsn_log_read_path(const char *path, dsn_log *out, sbuf *why)
{
    dsn_log_free(out);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (why)
            sbuf_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    vstream *s = vstream_open(fd);
    attr_list l = ATTR_LIST_INIT;
    sbuf err = SBUF_INIT;
    int result = 0;
    for (;;) {
        sbuf_reset(&err);
        int rc = attr_read(s, &l, DSN_REC_MAX, &err);
        if (rc == ATTR_CLOSED)
            break;
        if (rc != ATTR_OK) {
            if (vstream_flags(s) & VSTREAM_F_ERROR) {
                if (why)
                    sbuf_printf(why, "read %s: %s", path, strerror(vstream_errno(s)));
                result = -1;
            } else {
                msg_warn("%s: record %zu: %s: ignoring the rest of the file", path,
                         out->n + 1, sbuf_str(&err));
            }
            break;
        }
        struct dsn_rec r;
        if (rec_decode(&l, &r, &err) < 0) {
            msg_warn("%s: record %zu: %s: skipped", path, out->n + 1, sbuf_str(&err));
            continue;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->rec = xreallocarray(out->rec, out->cap, sizeof(*out->rec));
        }
        out->rec[out->n++] = r;
    }
    attr_list_free(&l);
    sbuf_free(&err);
    vstream_close(s);
    if (result < 0) {
        dsn_log_free(out);
        return -1;
    }
    return (int) out->n;
}

int dsn_log_read(const char *log, const char *id, dsn_log *out, sbuf *why)
{
    char path[4200];
    if (log_path(path, sizeof(path), log, id) < 0) {
        dsn_log_free(out);
        if (why)
            sbuf_printf(why, "bad queue id \"%.100s\"", id);
        return -1;
    }
    return dsn_log_read_path(path, out, why);
}

const struct dsn_rec *dsn_log_find(const dsn_log *l, const char *recipient)
{
    for (size_t i = l->n; i > 0; i--)
        if (strcmp(l->rec[i - 1].recipient, recipient) == 0)
            return &l->rec[i - 1];
    return 0;
}

int dsn_log_delete(const char *log, const char *id)
{
    char path[4200];
    if (log_path(path, sizeof(path), log, id) < 0)
        return -1;
    if (unlink(path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int dsn_log_exists(const char *log, const char *id)
{
    char path[4200];
    struct stat st;
    if (log_path(path, sizeof(path), log, id) < 0)
        return 0;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}
