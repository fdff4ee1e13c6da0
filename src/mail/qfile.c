/*
 * qfile.c - queue file records: create, write, commit, read, mark done.
 *
 * See qfile.h for the contract and docs/queue-format.md for the format.
 * Writes go through a 64 KiB private buffer; a record too big for what
 * is left of it goes out together with the buffer in one writev(2),
 * without being copied. The commit path is write end record -> rewrite
 * size record -> fsync -> fchmod 0700. qfile_validate() steps over the
 * data of records it does not look into (the content), checking only
 * that it lies within the file: qmgr validates every message it takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mail/qfile.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/safe_file.h"

#define WBUF_SIZE 65536
#define RBUF_SIZE 65536
#define SKIP_READ_SIZE 4096     /* first read after stepping over a record */

struct qfile {
    int     fd;
    char   *path;
    char    id[32];
    bool    writing;
    bool    committed;
    off_t   size_offset;        /* offset of the QREC_SIZE record, -1 if none */
    struct qfile_sizes sizes;
    bool    sizes_set;
    mode_t  extra_mode;         /* permission bits added to the busy/done modes */
    /* write buffer */
    char   *wbuf;
    size_t  wlen;
    off_t   wpos;               /* file offset of wbuf[0] */
    /* read buffer */
    char   *rbuf;
    size_t  rlen, rpos;
    off_t   roff;               /* file offset of rbuf[0] */
    size_t  rnext;              /* size of the next read, 0: RBUF_SIZE */
};

bool qfile_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return false;
    return n > 0 && n < 32;
}

int qfile_path(char *path, size_t size, const char *queue, const char *id)
{
    int n = snprintf(path, size, "%s/%s/%s", mail_conf_str("queue_directory"), queue, id);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static qfile *alloc(int fd, const char *path)
{
    qfile *q = xcalloc(1, sizeof(*q));
    q->fd = fd;
    q->path = xstrdup(path);
    q->size_offset = -1;
    const char *slash = strrchr(path, '/');
    snprintf(q->id, sizeof(q->id), "%s", slash ? slash + 1 : path);
    return q;
}

static void release(qfile *q)
{
    if (q->fd >= 0)
        close(q->fd);
    xfree(q->path);
    xfree(q->wbuf);
    xfree(q->rbuf);
    xfree(q);
}

/* ---- writing ---- */

qfile *qfile_create(const char *queue, char *id, size_t id_size)
{
    return qfile_create_mode(queue, id, id_size, 0);
}

qfile *qfile_create_mode(const char *queue, char *id, size_t id_size, mode_t extra)
{
    char dir[4096], tmp[4200], final[4200];
    if (qfile_path(dir, sizeof(dir), queue, "") < 0) {
        errno = ENAMETOOLONG;
        return 0;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        struct timeval tv;
        gettimeofday(&tv, 0);
        snprintf(tmp, sizeof(tmp), "%s.%ld.%ld.%ld", dir, (long) getpid(), (long) tv.tv_sec,
                 (long) tv.tv_usec);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, QFILE_MODE_BUSY);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            return 0;
        }
        /* The writer's lock (qfile_writer_alive); nobody else has the file yet. */
        (void) flock(fd, LOCK_EX | LOCK_NB);
        struct stat st;
        /* fchmod: the mode must not depend on the caller's umask. */
        if (fchmod(fd, QFILE_MODE_BUSY | (extra & 0077)) < 0 || fstat(fd, &st) < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            errno = saved;
            return 0;
        }
        char qid[32];
        snprintf(qid, sizeof(qid), "%05lX%lX", (unsigned long) tv.tv_usec,
                 (unsigned long) st.st_ino);
        snprintf(final, sizeof(final), "%s%s", dir, qid);
        /* link+unlink rather than rename: never replace an existing file. */
        if (link(tmp, final) < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            if (saved == EEXIST)
                continue;
            errno = saved;
            return 0;
        }
        unlink(tmp);
        qfile *q = alloc(fd, final);
        q->writing = true;
        q->extra_mode = extra & 0077;
        q->wbuf = xmalloc(WBUF_SIZE);
        snprintf(id, id_size, "%s", qid);
        if (qfile_puts(q, QREC_VERSION, QFILE_VERSION) < 0) {
            qfile_abort(q);
            return 0;
        }
        return q;
    }
    errno = EEXIST;
    return 0;
}

int qfile_writer_alive(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    int alive = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0)
        alive = errno == EWOULDBLOCK ? 1 : -1;
    int saved = errno;
    close(fd);                  /* drops our shared lock, if we got it */
    errno = saved;
    return alive;
}

static int wflush(qfile *q)
{
    if (q->wlen == 0)
        return 0;
    if (write_full(q->fd, q->wbuf, q->wlen) < 0)
        return -1;
    q->wpos += (off_t) q->wlen;
    q->wlen = 0;
    return 0;
}

/* Write the buffer and then n bytes at p with one system call (writev),
 * finishing a short write. 0, or -1 with errno. */
static int wflush_with(qfile *q, const void *p, size_t n)
{
    struct iovec iov[2] = {{q->wbuf, q->wlen}, {(void *) p, n}};
    struct iovec *v = q->wlen ? iov : iov + 1;
    int cnt = q->wlen ? 2 : 1;
    size_t total = q->wlen + n;
    while (cnt > 0) {
        ssize_t k = writev(q->fd, v, cnt);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO;
            return -1;
        }
        while (cnt > 0 && (size_t) k >= v->iov_len) {
            k -= (ssize_t) v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *) v->iov_base + k;
            v->iov_len -= (size_t) k;
        }
    }
    q->wpos += (off_t) total;
    q->wlen = 0;
    return 0;
}

/* Buffered append. Data that does not fit goes out together with the
 * buffer when it is big (a BODY record: one write, no copy), else after
 * the buffer is written. */
static int wadd(qfile *q, const void *p, size_t n)
{
    if (q->wlen + n > WBUF_SIZE) {
        if (n >= WBUF_SIZE / 4)
            return wflush_with(q, p, n);
        if (wflush(q) < 0)
            return -1;
    }
    memcpy(q->wbuf + q->wlen, p, n);
    q->wlen += n;
    return 0;
}

off_t qfile_tell(const qfile *q)
{
    return q->wpos + (off_t) q->wlen;
}

int qfile_flush(qfile *q)
{
    if (!q->writing) {
        errno = EINVAL;
        return -1;
    }
    return wflush(q);
}

int qfile_truncate(qfile *q, off_t offset)
{
    if (!q->writing || offset < 0 || offset > qfile_tell(q)
        || (q->size_offset >= 0 && offset <= q->size_offset)) {
        errno = EINVAL;
        return -1;
    }
    if (wflush(q) < 0 || ftruncate(q->fd, offset) < 0 || lseek(q->fd, offset, SEEK_SET) < 0)
        return -1;
    q->wpos = offset;
    q->rlen = q->rpos = 0;      /* nothing read through this handle stays valid */
    return 0;
}

int qfile_put(qfile *q, int type, const void *data, size_t len)
{
    if (!q->writing || len > QFILE_MAX_RECORD) {
        errno = EINVAL;
        return -1;
    }
    if (type == QREC_SIZE)
        q->size_offset = qfile_tell(q);
    unsigned char hdr[5] = {(unsigned char) type, (unsigned char) (len >> 24),
                            (unsigned char) (len >> 16), (unsigned char) (len >> 8),
                            (unsigned char) len};
    if (wadd(q, hdr, sizeof(hdr)) < 0 || wadd(q, data, len) < 0)
        return -1;
    return 0;
}

int qfile_puts(qfile *q, int type, const char *text)
{
    return qfile_put(q, type, text, strlen(text));
}

int qfile_putf(qfile *q, int type, const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    int rc = qfile_put(q, type, b.s ? b.s : "", b.len);
    sbuf_free(&b);
    return rc;
}

void qfile_format_sizes(const struct qfile_sizes *sz, char out[QFILE_SIZE_LEN])
{
    char tmp[QFILE_SIZE_LEN + 1];
    snprintf(tmp, sizeof(tmp), "%019llu %019llu %019llu %010u %010u",
             (unsigned long long) sz->content_offset, (unsigned long long) sz->content_size,
             (unsigned long long) sz->extracted_offset, sz->nrcpt, sz->flags);
    memcpy(out, tmp, QFILE_SIZE_LEN);
}

/* Strict: 19, 19, 19, 10, 10 decimal digits separated by single spaces. */
static int fixed_digits(const char *p, int width, unsigned long long max,
                        unsigned long long *out)
{
    unsigned long long v = 0;
    for (int i = 0; i < width; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        unsigned d = (unsigned) (p[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int qfile_parse_sizes(const char *data, size_t len, struct qfile_sizes *sz)
{
    static const int width[5] = {19, 19, 19, 10, 10};
    unsigned long long v[5];
    const char *p = data;
    if (len != QFILE_SIZE_LEN)
        return -1;
    for (int i = 0; i < 5; i++) {
        unsigned long long max = i < 3 ? (unsigned long long) INT64_MAX : UINT32_MAX;
        if (fixed_digits(p, width[i], max, &v[i]) < 0)
            return -1;
        p += width[i];
        if (i < 4 && *p++ != ' ')
            return -1;
    }
    sz->content_offset = v[0];
    sz->content_size = v[1];
    sz->extracted_offset = v[2];
    sz->nrcpt = (uint32_t) v[3];
    sz->flags = (uint32_t) v[4];
    return 0;
}

void qfile_set_sizes(qfile *q, const struct qfile_sizes *sz)
{
    q->sizes = *sz;
    q->sizes_set = true;
}

int qfile_commit(qfile *q, bool fsync_now)
{
    /* The size record first, the end record last: a file that has its end
     * record is complete in every part (a writer killed between the two
     * leaves a file without end record, which is never delivered). */
    if (wflush(q) < 0)
        goto fail;
    if (q->size_offset >= 0 && q->sizes_set) {
        char s[QFILE_SIZE_LEN];
        qfile_format_sizes(&q->sizes, s);
        if (pwrite(q->fd, s, QFILE_SIZE_LEN, q->size_offset + 5) != QFILE_SIZE_LEN)
            goto fail;
    }
    if (qfile_put(q, QREC_END, "", 0) < 0 || wflush(q) < 0)
        goto fail;
    if (fsync_now && fdatasync(q->fd) < 0)
        goto fail;
    if (fchmod(q->fd, QFILE_MODE_DONE | q->extra_mode) < 0)
        goto fail;
    q->committed = true;
    q->writing = false;
    return 0;
fail:;
    int saved = errno;
    qfile_abort(q);
    errno = saved;
    return -1;
}

int qfile_sync(qfile *q)
{
    return fdatasync(q->fd);
}

void qfile_abort(qfile *q)
{
    if (!q)
        return;
    if (!q->committed)
        unlink(q->path);
    release(q);
}

int qfile_close(qfile *q)
{
    int rc = 0;
    if (q->writing && !q->committed) {
        qfile_abort(q);
        errno = EINVAL;
        return -1;
    }
    if (q->fd >= 0 && close(q->fd) < 0)
        rc = -1;
    q->fd = -1;
    release(q);
    return rc;
}

/* ---- reading ---- */

qfile *qfile_open_path(const char *path, bool writable)
{
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    qfile *q = alloc(fd, path);
    q->rbuf = xmalloc(RBUF_SIZE);
    return q;
}

qfile *qfile_open(const char *queue, const char *id, bool writable)
{
    char path[4200];
    if (!qfile_id_ok(id) || qfile_path(path, sizeof(path), queue, id) < 0) {
        errno = EINVAL;
        return 0;
    }
    return qfile_open_path(path, writable);
}

/* Read exactly n bytes at the current read position into dst (may be NULL). */
static int rread(qfile *q, void *dst, size_t n, sbuf *into)
{
    while (n > 0) {
        if (q->rpos == q->rlen) {
            q->roff += (off_t) q->rlen;
            q->rpos = q->rlen = 0;
            size_t want = q->rnext && q->rnext < n ? n : q->rnext ? q->rnext : RBUF_SIZE;
            if (want > RBUF_SIZE)
                want = RBUF_SIZE;
            q->rnext = 0;
            ssize_t got;
            do
                got = pread(q->fd, q->rbuf, want, q->roff);
            while (got < 0 && errno == EINTR);
            if (got < 0)
                return -1;
            if (got == 0) {
                errno = EINVAL;
                return 1;   /* EOF */
            }
            q->rlen = (size_t) got;
        }
        size_t take = q->rlen - q->rpos < n ? q->rlen - q->rpos : n;
        if (dst) {
            memcpy(dst, q->rbuf + q->rpos, take);
            dst = (char *) dst + take;
        }
        if (into)
            sbuf_add(into, q->rbuf + q->rpos, take);
        q->rpos += take;
        n -= take;
    }
    return 0;
}

/* The next record's header: its type (> 0) and data length, 0 at a clean
 * end of file, -1 on a damaged header or a read error. */
static int get_head(qfile *q, size_t *len, off_t *offset)
{
    unsigned char hdr[5];
    off_t here = q->roff + (off_t) q->rpos;
    if (offset)
        *offset = here;
    int rc = rread(q, hdr, 1, 0);
    if (rc == 1)
        return 0;           /* clean end of file */
    if (rc < 0)
        return -1;
    if (rread(q, hdr + 1, 4, 0) != 0) {
        errno = EINVAL;
        return -1;
    }
    *len = ((size_t) hdr[1] << 24) | ((size_t) hdr[2] << 16) | ((size_t) hdr[3] << 8) | hdr[4];
    if (*len > QFILE_MAX_RECORD) {
        errno = EINVAL;
        return -1;
    }
    /* A zero type byte is damage, but only after the data is there. */
    return hdr[0] ? hdr[0] : 256;
}

int qfile_get(qfile *q, sbuf *data, off_t *offset)
{
    size_t len;
    int type = get_head(q, &len, offset);
    if (type <= 0)
        return type;
    sbuf_reset(data);
    sbuf_reserve(data, len);
    if (rread(q, 0, len, data) != 0 || type == 256) {
        errno = EINVAL;
        return -1;
    }
    return type;
}

/* Step over len bytes of record data without reading them; they must
 * lie within the first size bytes of the file (what reading them would
 * have found). 0, or -1 with errno EINVAL. */
static int step_over(qfile *q, size_t len, off_t size)
{
    off_t end = q->roff + (off_t) q->rpos + (off_t) len;
    if (end > size) {
        errno = EINVAL;
        return -1;
    }
    if (q->rpos + len <= q->rlen) {
        q->rpos += len;
    } else {
        q->roff = end;
        q->rpos = q->rlen = 0;
        q->rnext = SKIP_READ_SIZE;  /* likely just a record header there */
    }
    return 0;
}

int qfile_seek(qfile *q, off_t offset)
{
    if (offset < 0) {
        errno = EINVAL;
        return -1;
    }
    q->roff = offset;
    q->rpos = q->rlen = 0;
    return 0;
}

int qfile_mark_done(qfile *q, off_t offset)
{
    unsigned char t;
    /* A file still being written may hold the record in the write buffer. */
    if (q->writing && wflush(q) < 0)
        return -1;
    if (pread(q->fd, &t, 1, offset) != 1)
        return -1;
    if (t != QREC_RCPT && t != QREC_DONE) {
        errno = EINVAL;
        return -1;
    }
    t = QREC_DONE;
    if (pwrite(q->fd, &t, 1, offset) != 1)
        return -1;
    /* Keep any buffered copy coherent. */
    if (offset >= q->roff && offset < q->roff + (off_t) q->rlen)
        q->rbuf[offset - q->roff] = (char) t;
    return 0;
}

int qfile_fd(const qfile *q) { return q->fd; }
const char *qfile_id(const qfile *q) { return q->id; }
const char *qfile_file(const qfile *q) { return q->path; }

int qfile_validate(const char *path, sbuf *why)
{
    qfile *q = qfile_open_path(path, false);
    if (!q) {
        sbuf_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    /* Only the version and size records are looked into; the data of the
     * others (the content above all) is stepped over, within the size of
     * the file, not read. */
    struct stat st;
    if (fstat(q->fd, &st) < 0) {
        sbuf_printf(why, "stat %s: %s", path, strerror(errno));
        qfile_close(q);
        return -1;
    }
    sbuf data = SBUF_INIT;
    int type, n = 0, rc = -1, seen_end = 0, seen_sizes = 0;
    for (;;) {
        size_t len;
        type = get_head(q, &len, 0);
        if (type <= 0)
            break;
        if (type == QREC_VERSION || type == QREC_SIZE) {
            sbuf_reset(&data);
            sbuf_reserve(&data, len);
            if (rread(q, 0, len, &data) != 0)
                type = -1;
        } else if (step_over(q, len, st.st_size) < 0 || type == 256) {
            type = -1;
        }
        if (type < 0)
            break;
        if (seen_end) {
            sbuf_adds(why, "data after the end record");
            goto out;
        }
        if (n == 0 && (type != QREC_VERSION || strcmp(sbuf_str(&data), QFILE_VERSION) != 0)) {
            sbuf_adds(why, "missing or unknown version record");
            goto out;
        }
        if (type == QREC_SIZE) {
            struct qfile_sizes sz;
            if (qfile_parse_sizes(data.s, data.len, &sz) < 0) {
                sbuf_adds(why, "malformed size record");
                goto out;
            }
            seen_sizes = 1;
        }
        if (!strchr("VSTFAONoRDWMHBXLE", type)) {
            sbuf_printf(why, "unknown record type 0x%02x", (unsigned) type);
            goto out;
        }
        if (type == QREC_END)
            seen_end = 1;
        n++;
    }
    if (type < 0)
        sbuf_adds(why, "damaged record");
    else if (!seen_end)
        sbuf_adds(why, "no end record (incomplete file)");
    else if (!seen_sizes)
        sbuf_adds(why, "no size record");
    else
        rc = 0;
out:
    sbuf_free(&data);
    qfile_close(q);
    return rc;
}

/* ---- framing on a stream ---- */

int qrec_write(vstream *s, int type, const void *data, size_t len)
{
    if (len > QFILE_MAX_RECORD || type <= 0 || type > 255) {
        errno = EINVAL;
        return -1;
    }
    unsigned char hdr[5] = {(unsigned char) type, (unsigned char) (len >> 24),
                            (unsigned char) (len >> 16), (unsigned char) (len >> 8),
                            (unsigned char) len};
    if (vstream_write(s, hdr, sizeof(hdr)) < 0 || (len && vstream_write(s, data, len) < 0))
        return -1;
    return 0;
}

int qrec_read(vstream *s, sbuf *data, size_t max)
{
    int type = vstream_getc(s);
    if (type < 0)
        return vstream_error(s) ? -1 : 0;
    unsigned char len4[4];
    if (type == 0 || vstream_read_exact(s, len4, sizeof(len4)) < 0) {
        errno = EINVAL;
        return -1;
    }
    size_t len = ((size_t) len4[0] << 24) | ((size_t) len4[1] << 16) | ((size_t) len4[2] << 8)
                 | len4[3];
    if (len > max || len > QFILE_MAX_RECORD) {
        errno = EINVAL;
        return -1;
    }
    sbuf_reset(data);
    sbuf_reserve(data, len);
    if (len && vstream_read_append(s, data, len) < 0) {
        errno = EINVAL;
        return -1;
    }
    return type;
}
