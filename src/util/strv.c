/*
 * strv.c - string vectors and list splitting (see strv.h).
 */
#include <string.h>

#include "util/strv.h"
#include "util/mem.h"
#include "util/sbuf.h"

void strv_init(strv *a)
{
    a->v = xmalloc(sizeof(char *));
    a->v[0] = 0;
    a->n = 0;
    a->cap = 1;
}

void strv_free(strv *a)
{
    if (a->v)
        for (size_t i = 0; i < a->n; i++)
            xfree(a->v[i]);
    xfree(a->v);
    a->v = 0;
    a->n = a->cap = 0;
}

void strv_addn(strv *a, const char *s, size_t len)
{
    if (!a->v)
        strv_init(a);
    if (a->n + 1 >= a->cap) {
        a->cap = a->cap * 2 + 2;
        a->v = xreallocarray(a->v, a->cap, sizeof(char *));
    }
    a->v[a->n++] = xstrndup(s, len);
    a->v[a->n] = 0;
}

void strv_add(strv *a, const char *s)
{
    strv_addn(a, s, strlen(s));
}

void strv_split(strv *a, const char *s, const char *delims)
{
    if (!a->v)
        strv_init(a);
    while (*s) {
        s += strspn(s, delims);
        size_t len = strcspn(s, delims);
        if (len)
            strv_addn(a, s, len);
        s += len;
    }
}

int strv_split_list(strv *a, const char *s, const char *delims)
{
    if (!a->v)
        strv_init(a);
    while (*s) {
        s += strspn(s, delims);
        if (!*s)
            break;
        if (*s == '{') {
            int depth = 0;
            const char *p = s;
            for (; *p; p++) {
                if (*p == '{')
                    depth++;
                else if (*p == '}' && --depth == 0)
                    break;
            }
            if (!*p)
                return -1;
            const char *b = s + 1, *e = p;
            while (b < e && strchr(" \t\r\n", *b))
                b++;
            while (e > b && strchr(" \t\r\n", e[-1]))
                e--;
            strv_addn(a, b, (size_t) (e - b));
            s = p + 1;
            continue;
        }
        size_t len = strcspn(s, delims);
        strv_addn(a, s, len);
        s += len;
    }
    return 0;
}

char *strv_join(const strv *a, const char *sep)
{
    sbuf b = SBUF_INIT;
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            sbuf_adds(&b, sep);
        sbuf_adds(&b, a->v[i]);
    }
    return sbuf_steal(&b);
}
