/*
 * attr.h - the attribute codec for requests and replies between processes.
 *
 * A message is a list of named, typed attributes followed by an end
 * marker. Types: ATTR_INT (int32_t), ATTR_LONG (int64_t), ATTR_STR (any
 * bytes, NULs included, with a length) and ATTR_LIST (a nested attribute
 * list). Names are 1..ATTR_NAME_MAX printable ASCII bytes without space;
 * a name may repeat (a list of recipients, say), getters return the first.
 * The wire format, limits and conventions ("request" names the request
 * type, replies carry "status" and "reason") are in docs/ipc.md.
 *
 * Writing: build an attr_list and attr_write() it, or attr_print() a
 * list of ATTR_SEND_* items. Both append the message to the stream and
 * flush it. Reading: attr_read() reads exactly one message, checking
 * every length against the message size limit before allocating, and
 * returns ATTR_OK, ATTR_CLOSED (the peer closed the stream before the
 * first byte of a message: the normal end of a session) or ATTR_ERROR
 * with a reason (malformed, oversized, truncated, timeout). A bad message
 * is never a crash or a hang beyond the stream's timeout; after
 * ATTR_ERROR the stream is out of step and must be closed.
 *
 * Getting: attr_get_*() return 0, or -1 when the attribute is missing or
 * of another type (attr_get_str also refuses a string holding a NUL);
 * attr_scan() takes ATTR_RECV_* items and names the first missing one.
 *
 * Example:
 *     attr_print(s, ATTR_SEND_STR("request", "resolve"),
 *                ATTR_SEND_STR("address", addr), ATTR_END);
 *     if (attr_read(s, &reply, 0, &why) != ATTR_OK
 *         || attr_scan(&reply, &why, ATTR_RECV_INT("status", &status),
 *                      ATTR_RECV_STR("reason", &reason), ATTR_END) < 0)
 *         msg_warn("resolve: %s", sbuf_str(&why));
 *
 * NOT HERE: no transport (see vstream.h, sock.h), no knowledge of any
 * request type, no retries.
 */
#ifndef HK_UTIL_ATTR_H
#define HK_UTIL_ATTR_H

#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"
#include "util/vstream.h"

/* Attribute types; ATTR_DATA is a (pointer, length) string for attr_print
 * and attr_scan only (on the wire and in a list it is ATTR_STR). */
enum attr_type {
    ATTR_END = 0,
    ATTR_INT = 1,
    ATTR_LONG = 2,
    ATTR_STR = 3,
    ATTR_LIST = 4,
    ATTR_DATA = 5,
};

/* attr_read results */
enum {
    ATTR_OK = 0,
    ATTR_ERROR = -1,
    ATTR_CLOSED = -2,
};

#define ATTR_NAME_MAX 255
#define ATTR_MAX_SIZE_DEFAULT (1024 * 1024)    /* bytes per message, nested lists included */
#define ATTR_MAX_COUNT 65536                   /* attributes per message, nested included */
#define ATTR_MAX_DEPTH 8                       /* nesting of lists */

struct attr_list;

typedef struct attr {
    enum attr_type type;        /* ATTR_INT, ATTR_LONG, ATTR_STR or ATTR_LIST */
    char   *name;               /* NUL-terminated */
    union {
        int32_t i;
        int64_t l;
        struct {
            char   *data;       /* NUL-terminated after len bytes */
            size_t  len;
        } str;
        struct attr_list *list;
    } v;
} attr;

typedef struct attr_list {
    attr   *a;
    size_t  n;
    size_t  cap;
} attr_list;

#define ATTR_LIST_INIT { 0, 0, 0 }

void attr_list_init(attr_list *l);
void attr_list_free(attr_list *l);      /* frees everything, l becomes empty */
void attr_list_reset(attr_list *l);     /* same, keeps the array */

/* Builders. The name must be a valid attribute name (else msg_panic: a
 * program bug). Values are copied. attr_add_list returns the new empty
 * nested list, owned by l (the pointer stays valid while l lives). */
void attr_add_int(attr_list *l, const char *name, int32_t v);
void attr_add_long(attr_list *l, const char *name, int64_t v);
void attr_add_str(attr_list *l, const char *name, const char *s);
void attr_add_data(attr_list *l, const char *name, const void *p, size_t len);
attr_list *attr_add_list(attr_list *l, const char *name);

/* Getters: 0 found, -1 missing or wrong type. Pointers point into l. */
int attr_get_int(const attr_list *l, const char *name, int32_t *v);
int attr_get_long(const attr_list *l, const char *name, int64_t *v);
int attr_get_str(const attr_list *l, const char *name, const char **s);
int attr_get_data(const attr_list *l, const char *name, const char **p, size_t *len);
const attr_list *attr_get_list(const attr_list *l, const char *name);   /* NULL if none */
/* Index of the first attribute called name at or after index from, or -1:
 * for (i = attr_find(l, "rcpt", 0); i >= 0; i = attr_find(l, "rcpt", i + 1)) */
long attr_find(const attr_list *l, const char *name, size_t from);

/* Encode l (with its end marker) onto out; decode exactly one message
 * from a buffer (trailing bytes are an error). max_size 0 means
 * ATTR_MAX_SIZE_DEFAULT. */
void attr_encode(sbuf *out, const attr_list *l);
int  attr_decode(const void *buf, size_t len, attr_list *out, size_t max_size, sbuf *why);

/* Write one message and flush. 0, or -1 when the stream failed. */
int attr_write(vstream *s, const attr_list *l);
/* Write one message from ATTR_SEND_* items ending with ATTR_END; flush. */
int attr_print(vstream *s, ...);
/* Read one message into out (reset first). ATTR_OK, ATTR_CLOSED or
 * ATTR_ERROR; why (may be NULL) receives the reason on failure. */
int attr_read(vstream *s, attr_list *out, size_t max_size, sbuf *why);

/* Fetch required attributes from ATTR_RECV_* items ending with ATTR_END.
 * 0, or -1 with why (may be NULL) naming the first missing/mistyped one. */
int attr_scan(const attr_list *l, sbuf *why, ...);

/* Human-readable rendering for logs: name=value, strings quoted, bytes
 * outside printable ASCII escaped, nested lists in braces. */
void attr_format(sbuf *out, const attr_list *l);

/* Type-checked argument builders for attr_print and attr_scan. */
static inline const char *attr_ck_name(const char *n) { return n; }
static inline const char *attr_ck_str(const char *s) { return s; }
static inline const void *attr_ck_data(const void *p) { return p; }
static inline const attr_list *attr_ck_list(const attr_list *l) { return l; }
static inline int32_t *attr_ck_int_ptr(int32_t *p) { return p; }
static inline int64_t *attr_ck_long_ptr(int64_t *p) { return p; }
static inline const char **attr_ck_str_ptr(const char **p) { return p; }
static inline size_t *attr_ck_size_ptr(size_t *p) { return p; }
static inline const attr_list **attr_ck_list_ptr(const attr_list **p) { return p; }

#define ATTR_SEND_INT(name, v)      ATTR_INT, attr_ck_name(name), (int32_t) (v)
#define ATTR_SEND_LONG(name, v)     ATTR_LONG, attr_ck_name(name), (int64_t) (v)
#define ATTR_SEND_STR(name, s)      ATTR_STR, attr_ck_name(name), attr_ck_str(s)
#define ATTR_SEND_DATA(name, p, n)  ATTR_DATA, attr_ck_name(name), attr_ck_data(p), (size_t) (n)
#define ATTR_SEND_LIST(name, l)     ATTR_LIST, attr_ck_name(name), attr_ck_list(l)

#define ATTR_RECV_INT(name, p)      ATTR_INT, attr_ck_name(name), attr_ck_int_ptr(p)
#define ATTR_RECV_LONG(name, p)     ATTR_LONG, attr_ck_name(name), attr_ck_long_ptr(p)
#define ATTR_RECV_STR(name, p)      ATTR_STR, attr_ck_name(name), attr_ck_str_ptr(p)
#define ATTR_RECV_DATA(name, p, n)  ATTR_DATA, attr_ck_name(name), attr_ck_str_ptr(p), \
                                    attr_ck_size_ptr(n)
#define ATTR_RECV_LIST(name, p)     ATTR_LIST, attr_ck_name(name), attr_ck_list_ptr(p)

#endif
