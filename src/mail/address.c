/*
 * address.c - mail address syntax (see address.h): quoting between the
 * external and internal forms, SMTP path arguments (RFC 5321 4.1.2),
 * header address lists (RFC 5322 3.4), and the small syntax checks that
 * restrictions use.
 *
 * Pure string work: no main.cf, no tables, no DNS. Every scan is bounded
 * by the input; malformed input yields an error or a best-effort result,
 * never a crash or a read past the end.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "util/mem.h"

/* Longest SMTP path we accept; RFC 5321 4.5.3.1.3 says 256, real mail is
 * sometimes longer, so be generous but bounded. */
#define ADDRESS_PATH_MAX 2048

/* RFC 5322 3.2.3 atext; 8-bit bytes are accepted (SMTPUTF8, RFC 6531). */
static bool is_atext(int c)
{
    if (c >= 0x80)
        return true;
    if (isalnum(c))
        return true;
    return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

static bool is_ctl(int c)
{
    return (c >= 0 && c < 32) || c == 127;
}

/* ---- internal <-> external ---- */

/* Does this local part need quotes to be a valid dot-atom? */
static bool local_needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return true;
    if (s[0] == '.' || s[len - 1] == '.')
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '.') {
            if (s[i + 1] == '.' && i + 1 < len)
                return true;
            continue;
        }
        if (!is_atext(c))
            return true;
    }
    return false;
}

void address_quote(const char *internal, sbuf *external)
{
    sbuf_reset(external);
    if (*internal == 0)
        return;
    const char *at = strrchr(internal, '@');
    size_t llen = at ? (size_t) (at - internal) : strlen(internal);
    if (local_needs_quotes(internal, llen)) {
        sbuf_addc(external, '"');
        for (size_t i = 0; i < llen; i++) {
            if (internal[i] == '"' || internal[i] == '\\')
                sbuf_addc(external, '\\');
            sbuf_addc(external, internal[i]);
        }
        sbuf_addc(external, '"');
    } else {
        sbuf_add(external, internal, llen);
    }
    if (at)
        sbuf_adds(external, at);
}

void address_unquote(const char *external, sbuf *internal)
{
    sbuf_reset(internal);
    bool quoted = false;
    for (const char *p = external; *p; p++) {
        if (*p == '\\' && p[1]) {
            sbuf_addc(internal, *++p);
        } else if (*p == '"') {
            quoted = !quoted;
        } else {
            sbuf_addc(internal, *p);
        }
    }
}

void address_split(const char *addr, sbuf *local, sbuf *domain)
{
    const char *at = strrchr(addr, '@');
    sbuf_reset(local);
    sbuf_reset(domain);
    if (at) {
        sbuf_add(local, addr, (size_t) (at - addr));
        sbuf_adds(domain, at + 1);
    } else {
        sbuf_adds(local, addr);
    }
}

const char *address_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : 0;
}

void address_fold(const char *addr, bool fold_local, sbuf *out)
{
    sbuf_set(out, addr);
    size_t from = 0;
    if (!fold_local) {
        const char *at = strrchr(sbuf_str(out), '@');
        if (!at)
            return;
        from = (size_t) (at - out->s);
    }
    for (size_t i = from; i < out->len; i++)
        out->s[i] = (char) tolower((unsigned char) out->s[i]);
}

/* ---- syntax checks ---- */

bool address_valid_hostname(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return false;
    size_t label = 0;
    bool non_numeric = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        /* Letters, digits, hyphen; '_' too, as Postfix tolerates it. */
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
        if (c == '-' && label == 0)
            return false;
        if (!isdigit(c))
            non_numeric = true;
        if (++label > 63)
            return false;
    }
    if (label == 0 || name[len - 1] == '-')
        return false;
    return non_numeric;         /* "1.2.3.4" is an address, not a name */
}

bool address_is_ip_literal(const char *domain)
{
    size_t len = strlen(domain);
    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']' || len > 64)
        return false;
    char inner[64];
    memcpy(inner, domain + 1, len - 2);
    inner[len - 2] = 0;
    unsigned char buf[16];
    if (strncasecmp(inner, "ipv6:", 5) == 0)
        return inet_pton(AF_INET6, inner + 5, buf) == 1;
    return inet_pton(AF_INET, inner, buf) == 1;
}

bool address_is_fqdn_domain(const char *domain)
{
    if (address_is_ip_literal(domain))
        return true;
    return strchr(domain, '.') != 0 && address_valid_hostname(domain);
}

void address_strip_extension(const char *local, const char *delimiters, sbuf *base, sbuf *ext)
{
    sbuf_reset(base);
    sbuf_reset(ext);
    size_t n = delimiters && *delimiters ? strcspn(local, delimiters) : strlen(local);
    if (n == 0 || local[n] == 0) {
        sbuf_adds(base, local);
        return;
    }
    sbuf_add(base, local, n);
    sbuf_adds(ext, local + n);
}

/* ---- SMTP paths (RFC 5321 4.1.2) ---- */

/* Scan a quoted string starting at p[0] == '"' within [p, end). Returns
 * the position after the closing quote, or NULL if unterminated or (strict)
 * holding characters RFC 5321 does not allow. Content goes to out. */
static const char *scan_qstring(const char *p, const char *end, bool strict, sbuf *out)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            if (++p >= end)
                return 0;
            c = (unsigned char) *p;
            if (strict && (c < 32 || c == 127))
                return 0;
        } else if (is_ctl(c) && (strict || (c != '\t'))) {
            return 0;
        }
        sbuf_addc(out, c);
    }
    return 0;
}

/* Strict domain: a literal, or letters/digits/hyphen/underscore/8-bit
 * labels separated by single dots (a trailing dot is tolerated). */
static bool strict_domain(const char *d, size_t len)
{
    if (len == 0)
        return false;
    if (d[0] == '[') {
        if (d[len - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < len; i++)
            if (is_ctl((unsigned char) d[i]) || d[i] == ' ' || d[i] == '[' || d[i] == ']'
                || d[i] == '\\')
                return false;
        return len > 2;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) d[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_' || c >= 0x80) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/*
 * Parse the mailbox inside the angle brackets (or a bare one): optional
 * source route, local part, optional @domain. Result in internal form.
 */
static int parse_mailbox(const char *s, const char *end, bool strict, sbuf *addr,
                         const char **why)
{
    sbuf_reset(addr);
    if (!strict) {
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
    }
    if (s == end)
        return 0;                       /* <> : the null address */

    /* Source route "@a,@b:" (RFC 5321 4.1.2 A-d-l), accepted and dropped. */
    if (*s == '@') {
        const char *colon = memchr(s, ':', (size_t) (end - s));
        if (colon) {
            if (strict) {
                const char *q = s;
                while (q < colon) {
                    if (*q != '@') {
                        *why = "bad source route";
                        return -1;
                    }
                    const char *comma = memchr(q, ',', (size_t) (colon - q));
                    const char *stop = comma ? comma : colon;
                    if (!strict_domain(q + 1, (size_t) (stop - q - 1))) {
                        *why = "bad source route";
                        return -1;
                    }
                    q = comma ? comma + 1 : colon;
                }
            }
            s = colon + 1;
            if (s == end) {
                *why = "bad source route";
                return -1;
            }
        } else if (strict) {
            *why = "bad source route";
            return -1;
        }
    }

    /* Local part: dot-string or quoted string (mixed forms when lenient). */
    const char *p = s;
    const char *at = 0;
    while (p < end) {
        unsigned char c = (unsigned char) *p;
        if (c == '"') {
            p = scan_qstring(p, end, strict, addr);
            if (!p) {
                *why = "unbalanced or bad quoted string";
                return -1;
            }
            if (strict && p < end && *p != '@') {
                *why = "text after quoted local part";
                return -1;
            }
            continue;
        }
        if (c == '@') {
            /* The domain starts at the last unquoted '@'; strict mode allows one. */
            const char *q = p + 1;
            bool more = false;
            for (; q < end; q++) {
                if (*q == '"') {
                    more = true;        /* a quote after '@': not the domain yet */
                    break;
                }
                if (*q == '@')
                    more = true;
            }
            if (!more) {
                at = p;
                break;
            }
            if (strict) {
                *why = "more than one '@'";
                return -1;
            }
            sbuf_addc(addr, c);
            p++;
            continue;
        }
        if (c == '\\' && !strict && p + 1 < end) {
            sbuf_addc(addr, p[1]);
            p += 2;
            continue;
        }
        if (is_ctl(c)) {
            *why = "control character in address";
            return -1;
        }
        if (c == ' ' || c == '\t') {
            if (strict) {
                *why = "white space in address";
                return -1;
            }
        } else if (strict && c != '.' && !is_atext(c)) {
            *why = "bad character in local part";
            return -1;
        } else if (c == '<' || c == '>') {
            *why = "bad character in local part";
            return -1;
        }
        sbuf_addc(addr, c);
        p++;
    }
    if (strict && at) {
        /* dot-string: no leading, trailing or double dots (quoted is fine). */
        size_t llen = (size_t) (at - s);
        if (s[0] != '"' && llen > 0
            && (s[0] == '.' || s[llen - 1] == '.' || memmem(s, llen, "..", 2))) {
            *why = "bad dots in local part";
            return -1;
        }
        if (llen == 0) {
            *why = "empty local part";
            return -1;
        }
    }
    if (at) {
        const char *d = at + 1;
        size_t dlen = (size_t) (end - d);
        for (size_t i = 0; i < dlen; i++) {
            if (is_ctl((unsigned char) d[i])) {
                *why = "control character in address";
                return -1;
            }
            if (d[i] == '<' || d[i] == '>') {
                *why = "bad character in domain";
                return -1;
            }
            if (strict && (d[i] == ' ' || d[i] == '\t')) {
                *why = "white space in address";
                return -1;
            }
        }
        if (strict && !strict_domain(d, dlen)) {
            *why = dlen ? "bad domain syntax" : "empty domain";
            return -1;
        }
        sbuf_addc(addr, '@');
        sbuf_add(addr, d, dlen);
    }
    return 0;
}

/* Find the '>' closing the '<' at s[0], skipping quoted strings and
 * domain literals. NULL when missing or when another '<' appears. */
static const char *find_close_angle(const char *s)
{
    bool q = false, lit = false;
    for (const char *p = s + 1; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (q) {
            if (*p == '"')
                q = false;
            continue;
        }
        if (lit) {
            if (*p == ']')
                lit = false;
            continue;
        }
        if (*p == '"')
            q = true;
        else if (*p == '[')
            lit = true;
        else if (*p == '<')
            return 0;
        else if (*p == '>')
            return p;
    }
    return 0;
}

/* Skip white space and (lenient) RFC 5322 comments. */
static const char *skip_space_comments(const char *p, bool comments)
{
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!comments || *p != '(')
            return p;
        int depth = 0;
        const char *q = p;
        for (; *q; q++) {
            if (*q == '\\' && q[1])
                q++;
            else if (*q == '(')
                depth++;
            else if (*q == ')' && --depth == 0)
                break;
        }
        if (!*q)
            return p;                   /* unbalanced: leave it to the caller */
        p = q + 1;
    }
}

/*
 * Lenient mode: is the text before the '<' at angle a display name
 * (words, quoted strings, comments), as in "MAIL FROM: Name <a@b>"?
 */
static bool is_phrase(const char *s, const char *angle)
{
    bool q = false;
    int depth = 0;
    for (const char *p = s; p < angle; p++) {
        if (*p == '\\' && p + 1 < angle) {
            p++;
            continue;
        }
        if (q) {
            if (*p == '"')
                q = false;
            continue;
        }
        if (depth) {
            if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            continue;
        }
        if (*p == '"')
            q = true;
        else if (*p == '(')
            depth = 1;
        else if (*p == '@' || *p == '=' || *p == '>' || *p == ',' || *p == ':' || *p == ';')
            return false;
    }
    return !q && depth == 0;
}

int address_parse_smtp_path(const char *arg, bool strict, sbuf *addr, const char **rest,
                            const char **why)
{
    const char *dummy_rest, *dummy_why;
    if (!rest)
        rest = &dummy_rest;
    if (!why)
        why = &dummy_why;
    *why = 0;
    *rest = arg;
    sbuf_reset(addr);

    const char *p = arg;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 0) {
        *why = "missing address";
        return -1;
    }
    const char *open = 0;
    if (*p == '<') {
        open = p;
    } else if (strict) {
        *why = "address not enclosed in <>";
        return -1;
    } else {
        const char *angle = 0;
        bool q = false;
        for (const char *s = p; *s; s++) {
            if (*s == '\\' && s[1]) {
                s++;
                continue;
            }
            if (*s == '"')
                q = !q;
            else if (!q && *s == '<') {
                angle = s;
                break;
            }
        }
        if (angle && is_phrase(p, angle))
            open = angle;
    }

    const char *after;
    if (open) {
        const char *close = find_close_angle(open);
        if (!close) {
            *why = "unbalanced '<' or '>'";
            return -1;
        }
        if (parse_mailbox(open + 1, close, strict, addr, why) < 0)
            return -1;
        after = close + 1;
        if (*after && *after != ' ' && *after != '\t') {
            *why = "text after '>'";
            return -1;
        }
    } else {
        /* Lenient bare address: up to white space outside quotes. */
        const char *e = p;
        bool q = false;
        for (; *e; e++) {
            if (*e == '\\' && e[1]) {
                e++;
                continue;
            }
            if (*e == '"')
                q = !q;
            else if (!q && (*e == ' ' || *e == '\t'))
                break;
        }
        if (q) {
            *why = "unbalanced quotes";
            return -1;
        }
        for (const char *c = p; c < e; c++)
            if (*c == '<' || *c == '>') {
                *why = "unbalanced '<' or '>'";
                return -1;
            }
        if (parse_mailbox(p, e, false, addr, why) < 0)
            return -1;
        after = e;
    }
    if (addr->len > ADDRESS_PATH_MAX) {
        sbuf_reset(addr);
        *why = "address too long";
        return -1;
    }
    *rest = skip_space_comments(after, !strict);
    return 0;
}

/* ---- header address lists (RFC 5322 3.4) ---- */

enum htok { HT_END, HT_ATOM, HT_QSTR, HT_DLIT, HT_SPECIAL };

struct hscan {
    const char *p;
    sbuf text;                  /* token text (quoted string: unquoted content) */
    int special;
};

static enum htok next_token(struct hscan *h)
{
    sbuf_reset(&h->text);
    for (;;) {
        while (*h->p == ' ' || *h->p == '\t' || *h->p == '\r' || *h->p == '\n')
            h->p++;
        if (*h->p != '(')
            break;
        int depth = 0;                  /* comment, possibly nested */
        for (; *h->p; h->p++) {
            if (*h->p == '\\' && h->p[1])
                h->p++;
            else if (*h->p == '(')
                depth++;
            else if (*h->p == ')' && --depth == 0) {
                h->p++;
                break;
            }
        }
    }
    const char *p = h->p;
    if (*p == 0)
        return HT_END;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (*p != '\r' && *p != '\n')
                sbuf_addc(&h->text, *p);
        }
        h->p = *p ? p + 1 : p;
        return HT_QSTR;
    }
    if (*p == '[') {
        for (; *p && *p != ']'; p++) {
            if (*p == '\\' && p[1])
                p++;
            sbuf_addc(&h->text, *p);
        }
        if (*p == ']')
            sbuf_addc(&h->text, *p++);
        h->p = p;
        return HT_DLIT;
    }
    if (strchr("<>,;:@.", *p)) {
        h->special = *p;
        h->p = p + 1;
        sbuf_addc(&h->text, *p);
        return HT_SPECIAL;
    }
    while (*p && !strchr("<>,;:@.\"()[] \t\r\n", *p)) {
        if (*p == '\\' && p[1])
            p++;
        sbuf_addc(&h->text, *p++);
    }
    if (p == h->p) {                    /* a lone ')' or ']' */
        h->p = p + 1;
        return next_token(h);
    }
    h->p = p;
    return HT_ATOM;
}

struct hitem {
    sbuf words;                 /* addr-spec candidate, internal form */
    sbuf angle;                 /* the <...> address, if any */
    bool has_angle;
    bool has_at;
};

static int flush_item(struct hitem *it, strv *out)
{
    int n = 0;
    const sbuf *a = it->has_angle ? &it->angle : &it->words;
    if (a->len) {
        strv_add(out, sbuf_str(a));
        n = 1;
    }
    sbuf_reset(&it->words);
    sbuf_reset(&it->angle);
    it->has_angle = it->has_at = false;
    return n;
}

int address_parse_header_list(const char *value, strv *out)
{
    struct hscan h = { value, SBUF_INIT, 0 };
    struct hitem it = { SBUF_INIT, SBUF_INIT, false, false };
    int count = 0;
    enum htok t;
    if (!out->v)
        strv_init(out);

    while ((t = next_token(&h)) != HT_END) {
        if (t == HT_SPECIAL && h.special == '<') {
            /* Angle address: collect to '>', dropping a source route. */
            sbuf_reset(&it.angle);
            it.has_angle = true;
            bool route = false, first = true;
            while ((t = next_token(&h)) != HT_END) {
                if (t == HT_SPECIAL && h.special == '>')
                    break;
                if (first && t == HT_SPECIAL && h.special == '@')
                    route = true;
                first = false;
                if (route) {
                    if (t == HT_SPECIAL && h.special == ':')
                        route = false;
                    continue;
                }
                sbuf_add(&it.angle, h.text.s, h.text.len);
            }
            if (t == HT_END)
                break;
            continue;
        }
        if (t == HT_SPECIAL) {
            switch (h.special) {
            case ',':
                count += flush_item(&it, out);
                continue;
            case ';':
                count += flush_item(&it, out);
                continue;
            case ':':
                if (!it.has_at && !it.has_angle) {
                    /* "group name:" - the words so far were the group's name. */
                    sbuf_reset(&it.words);
                    continue;
                }
                break;
            case '>':
                continue;               /* stray */
            case '@':
                it.has_at = true;
                break;
            }
        }
        sbuf_add(&it.words, h.text.s, h.text.len);
    }
    count += flush_item(&it, out);
    sbuf_free(&h.text);
    sbuf_free(&it.words);
    sbuf_free(&it.angle);
    return count;
}
