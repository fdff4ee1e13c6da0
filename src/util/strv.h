/*
 * strv.h - growable NULL-terminated arrays of strings, and list splitting.
 *
 * A strv owns its strings. strv_split() splits on any of the delimiter
 * characters and drops empty fields, as Postfix does for "comma or
 * space" lists. strv_split_list() additionally keeps "{ ... }" groups
 * (Postfix 3 list syntax) together and strips the braces' outer space.
 */
#ifndef HK_UTIL_STRV_H
#define HK_UTIL_STRV_H

#include <stddef.h>

typedef struct strv {
    char  **v;      /* v[n] == NULL when n > 0 or after strv_init */
    size_t  n;
    size_t  cap;
} strv;

#define STRV_LIST_DELIMS ", \t\r\n"

void strv_init(strv *a);
void strv_free(strv *a);
void strv_add(strv *a, const char *s);
void strv_addn(strv *a, const char *s, size_t len);
void strv_split(strv *a, const char *s, const char *delims);
int  strv_split_list(strv *a, const char *s, const char *delims); /* -1 on unbalanced braces */
char *strv_join(const strv *a, const char *sep);                   /* caller frees */

#endif
