/*
 * qmgr_feedback.c - concurrency feedback and dead-destination arithmetic
 * (qmgr_feedback.h).
 *
 * No clock, no configuration, no I/O: everything comes in as arguments.
 * Not here: what the caller does with a dead destination.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "qmgr/qmgr_feedback.h"

/* Room for rounding: 1/3 + 1/3 + 1/3 must count as one. */
#define FB_EPSILON 1e-9

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A plain decimal number (digits, optional fraction); NULL if none. */
static const char *parse_number(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    while (isdigit((unsigned char) *p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p)) {
            p++;
            digits++;
        }
    }
    if (digits == 0 || p - s > 40)
        return 0;
    char buf[48];
    memcpy(buf, s, (size_t) (p - s));
    buf[p - s] = 0;
    *out = strtod(buf, 0);
    return p;
}

static bool word_is(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncmp(s, word, n) == 0 && *skip_blanks(s + n) == 0;
}

int qmgr_fb_parse(const char *text, struct qmgr_fb *fb)
{
    double num, den = 1;
    enum qmgr_fb_kind kind = QMGR_FB_CONST;
    const char *p = parse_number(skip_blanks(text), &num);
    if (!p)
        return -1;
    p = skip_blanks(p);
    if (*p == '/') {
        p = skip_blanks(p + 1);
        if (word_is(p, "concurrency")) {
            kind = QMGR_FB_WINDOW;
        } else {
            p = parse_number(p, &den);
            if (!p || *skip_blanks(p) || den <= 0)
                return -1;
        }
    } else if (*p) {
        return -1;
    }
    double v = num / den;
    if (!(v >= 0 && v <= 1))
        return -1;
    fb->kind = kind;
    fb->value = v;
    return 0;
}

double qmgr_fb_amount(const struct qmgr_fb *fb, int window)
{
    if (window < 1)
        window = 1;
    switch (fb->kind) {
    case QMGR_FB_WINDOW:
        return fb->value / window;
    case QMGR_FB_CONST:
        break;
    }
    return fb->value;
}

static int clamp(int window, const struct qmgr_fb_conf *conf)
{
    if (conf->limit > 0 && window > conf->limit)
        window = conf->limit;
    return window < 1 ? 1 : window;
}

void qmgr_fb_init(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf)
{
    memset(st, 0, sizeof(*st));
    st->window = clamp(conf->initial, conf);
}

void qmgr_fb_positive(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf, int busy)
{
    if (st->dead)
        return;
    st->fail_cohorts = 0;
    if (conf->limit > 0 && st->window >= conf->limit)
        return;
    if (st->window >= busy + conf->initial)
        return;
    st->success += qmgr_fb_amount(&conf->pos, st->window);
    while (st->success + FB_EPSILON >= 1) {
        st->success -= 1;
        st->failure = 0;
        if (st->window < 1000000)
            st->window++;
    }
    if (st->success < 0)
        st->success = 0;
    st->window = clamp(st->window, conf);
}

bool qmgr_fb_negative(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf)
{
    if (st->dead)
        return false;
    st->fail_cohorts += 1.0 / (st->window > 0 ? st->window : 1);
    if (conf->cohort_limit > 0 && st->fail_cohorts + FB_EPSILON >= conf->cohort_limit) {
        st->dead = true;
        return true;
    }
    double f = qmgr_fb_amount(&conf->neg, st->window);
    if (f > 0) {
        /* Reverse hysteresis: the window drops at the first failure of a
         * run, and then once per 1/f failures. */
        st->failure -= f;
        while (st->failure < -FB_EPSILON) {
            st->failure += 1;
            st->success = 0;
            st->window--;
        }
    }
    st->window = clamp(st->window, conf);
    return false;
}

void qmgr_fb_revive(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf, int busy)
{
    qmgr_fb_init(st, conf);
    if (busy > 0)
        st->window = clamp(busy, conf);
}
