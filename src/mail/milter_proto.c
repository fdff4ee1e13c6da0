/*
 * milter_proto.c - milter packets: encoding commands, decoding replies
 * (see milter_proto.h). Pure functions over buffers: no I/O, no state.
 */
#include <stdio.h>
#include <string.h>

#include "mail/milter_proto.h"

/* ---- encoding ---- */

size_t milter_pkt_begin(sbuf *b, int cmd)
{
    size_t start = b->len;
    static const char zero[4] = {0, 0, 0, 0};
    sbuf_add(b, zero, 4);
    sbuf_addc(b, cmd);
    return start;
}

void milter_pkt_add_str(sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s) + 1);
}

void milter_pkt_add_strn(sbuf *b, const char *s, size_t len)
{
    size_t at = b->len;
    sbuf_add(b, s, len);
    for (size_t i = at; i < b->len; i++)
        if (b->s[i] == 0)
            b->s[i] = ' ';
    sbuf_add(b, "", 1);
}

void milter_pkt_add_u32(sbuf *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char) (v >> 24), (unsigned char) (v >> 16),
                          (unsigned char) (v >> 8), (unsigned char) v};
    sbuf_add(b, c, 4);
}

void milter_pkt_add_u16(sbuf *b, uint16_t v)
{
    unsigned char c[2] = {(unsigned char) (v >> 8), (unsigned char) v};
    sbuf_add(b, c, 2);
}

void milter_pkt_add_byte(sbuf *b, int c)
{
    sbuf_addc(b, c);
}

void milter_pkt_add_data(sbuf *b, const void *p, size_t len)
{
    sbuf_add(b, p, len);
}

void milter_pkt_end(sbuf *b, size_t start)
{
    uint32_t n = (uint32_t) (b->len - start - 4);
    unsigned char *p = (unsigned char *) b->s + start;
    p[0] = (unsigned char) (n >> 24);
    p[1] = (unsigned char) (n >> 16);
    p[2] = (unsigned char) (n >> 8);
    p[3] = (unsigned char) n;
}

/* ---- names ---- */

static const struct {
    int     code;
    const char *name;
} cmd_names[] = {
    {SMFIC_ABORT, "SMFIC_ABORT"}, {SMFIC_BODY, "SMFIC_BODY"},
    {SMFIC_CONNECT, "SMFIC_CONNECT"}, {SMFIC_MACRO, "SMFIC_MACRO"},
    {SMFIC_BODYEOB, "SMFIC_BODYEOB"}, {SMFIC_HELO, "SMFIC_HELO"},
    {SMFIC_QUIT_NC, "SMFIC_QUIT_NC"}, {SMFIC_HEADER, "SMFIC_HEADER"},
    {SMFIC_MAIL, "SMFIC_MAIL"}, {SMFIC_EOH, "SMFIC_EOH"}, {SMFIC_OPTNEG, "SMFIC_OPTNEG"},
    {SMFIC_QUIT, "SMFIC_QUIT"}, {SMFIC_RCPT, "SMFIC_RCPT"}, {SMFIC_DATA, "SMFIC_DATA"},
    {SMFIC_UNKNOWN, "SMFIC_UNKNOWN"},
}, reply_names[] = {
    {SMFIR_ADDRCPT, "SMFIR_ADDRCPT"}, {SMFIR_DELRCPT, "SMFIR_DELRCPT"},
    {SMFIR_ADDRCPT_PAR, "SMFIR_ADDRCPT_PAR"}, {SMFIR_SHUTDOWN, "SMFIR_SHUTDOWN"},
    {SMFIR_ACCEPT, "SMFIR_ACCEPT"}, {SMFIR_REPLBODY, "SMFIR_REPLBODY"},
    {SMFIR_CONTINUE, "SMFIR_CONTINUE"}, {SMFIR_DISCARD, "SMFIR_DISCARD"},
    {SMFIR_CHGFROM, "SMFIR_CHGFROM"}, {SMFIR_CONN_FAIL, "SMFIR_CONN_FAIL"},
    {SMFIR_ADDHEADER, "SMFIR_ADDHEADER"}, {SMFIR_INSHEADER, "SMFIR_INSHEADER"},
    {SMFIR_SETSYMLIST, "SMFIR_SETSYMLIST"}, {SMFIR_CHGHEADER, "SMFIR_CHGHEADER"},
    {SMFIR_PROGRESS, "SMFIR_PROGRESS"}, {SMFIR_QUARANTINE, "SMFIR_QUARANTINE"},
    {SMFIR_REJECT, "SMFIR_REJECT"}, {SMFIR_SKIP, "SMFIR_SKIP"},
    {SMFIR_TEMPFAIL, "SMFIR_TEMPFAIL"}, {SMFIR_REPLYCODE, "SMFIR_REPLYCODE"},
};

const char *milter_cmd_name(int cmd)
{
    for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++)
        if (cmd_names[i].code == cmd)
            return cmd_names[i].name;
    return "(unknown MTA event)";
}

const char *milter_reply_name(int cmd)
{
    for (size_t i = 0; i < sizeof(reply_names) / sizeof(reply_names[0]); i++)
        if (reply_names[i].code == cmd)
            return reply_names[i].name;
    return "(unknown filter reply)";
}

/* ---- decoding ---- */

struct cursor {
    const char *p;
    size_t  left;
};

static int take_u32(struct cursor *c, uint32_t *v)
{
    if (c->left < 4)
        return -1;
    const unsigned char *u = (const unsigned char *) c->p;
    *v = (uint32_t) u[0] << 24 | (uint32_t) u[1] << 16 | (uint32_t) u[2] << 8 | u[3];
    c->p += 4;
    c->left -= 4;
    return 0;
}

/* A NUL-terminated string inside the packet. */
static int take_str(struct cursor *c, const char **s)
{
    const char *nul = c->left ? memchr(c->p, 0, c->left) : 0;
    if (!nul)
        return -1;
    *s = c->p;
    c->left -= (size_t) (nul - c->p) + 1;
    c->p = nul + 1;
    return 0;
}

static bool digit(int c)
{
    return c >= '0' && c <= '9';
}

int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r, sbuf *why)
{
    memset(r, 0, sizeof(*r));
    r->arg1 = r->arg2 = "";
    if (len < 1) {
        sbuf_set(why, "empty reply packet");
        return -1;
    }
    r->cmd = (unsigned char) pkt[0];
    struct cursor c = {pkt + 1, len - 1};
    const char *what = 0;

    switch (r->cmd) {
    case SMFIR_ACCEPT:
    case SMFIR_CONTINUE:
    case SMFIR_DISCARD:
    case SMFIR_CONN_FAIL:
    case SMFIR_PROGRESS:
    case SMFIR_REJECT:
    case SMFIR_SKIP:
    case SMFIR_TEMPFAIL:
    case SMFIR_SHUTDOWN:
        break;
    case SMFIR_REPLBODY:
        r->data = c.p;
        r->len = c.left;
        c.left = 0;
        break;
    case SMFIR_REPLYCODE:
    case SMFIR_QUARANTINE:
    case SMFIR_ADDRCPT:
    case SMFIR_DELRCPT:
        if (take_str(&c, &r->arg1) < 0)
            what = "string without its terminating NUL";
        break;
    case SMFIR_ADDHEADER:
        if (take_str(&c, &r->arg1) < 0 || take_str(&c, &r->arg2) < 0)
            what = "header name and value without terminating NULs";
        break;
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
        if (take_u32(&c, &r->index) < 0)
            what = "packet too short for the header index";
        else if (take_str(&c, &r->arg1) < 0 || take_str(&c, &r->arg2) < 0)
            what = "header name and value without terminating NULs";
        break;
    case SMFIR_CHGFROM:
    case SMFIR_ADDRCPT_PAR:
        /* The ESMTP arguments are optional. */
        if (take_str(&c, &r->arg1) < 0)
            what = "address without its terminating NUL";
        else if (c.left && take_str(&c, &r->arg2) < 0)
            what = "ESMTP arguments without their terminating NUL";
        break;
    default:
        sbuf_printf(why, "unknown reply code 0x%02x", (unsigned) r->cmd);
        return -1;
    }
    if (what) {
        sbuf_printf(why, "%s: %s", milter_reply_name(r->cmd), what);
        return -1;
    }
    if (c.left) {
        sbuf_printf(why, "reply %s was followed by %zu data bytes", milter_reply_name(r->cmd),
                    c.left);
        return -1;
    }
    if (r->cmd == SMFIR_REPLYCODE) {
        const char *t = r->arg1;
        if ((t[0] != '4' && t[0] != '5') || !digit(t[1]) || !digit(t[2])
            || (t[3] != ' ' && t[3] != '-')) {
            sbuf_printf(why, "malformed reply: %.100s", t);
            return -1;
        }
    }
    if ((r->cmd == SMFIR_ADDHEADER || r->cmd == SMFIR_INSHEADER || r->cmd == SMFIR_CHGHEADER)
        && !*r->arg1) {
        sbuf_printf(why, "%s: empty header name", milter_reply_name(r->cmd));
        return -1;
    }
    return 0;
}

void milter_optneg_init(struct milter_optneg *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < SMFIM_COUNT; i++)
        sbuf_init(&o->macros[i]);
}

void milter_optneg_free(struct milter_optneg *o)
{
    for (int i = 0; i < SMFIM_COUNT; i++)
        sbuf_free(&o->macros[i]);
}

int milter_optneg_parse(const char *pkt, size_t len, struct milter_optneg *o, sbuf *why)
{
    if (len < 1 || pkt[0] != SMFIC_OPTNEG) {
        sbuf_printf(why, "unexpected reply \"%c\" in initial handshake",
                    len && pkt[0] >= 0x20 && pkt[0] < 0x7f ? pkt[0] : '?');
        return -1;
    }
    struct cursor c = {pkt + 1, len - 1};
    if (take_u32(&c, &o->version) < 0 || take_u32(&c, &o->actions) < 0
        || take_u32(&c, &o->protocol) < 0) {
        sbuf_set(why, "SMFIC_OPTNEG reply too short");
        return -1;
    }
    while (c.left) {
        uint32_t stage;
        const char *names;
        if (take_u32(&c, &stage) < 0 || take_str(&c, &names) < 0) {
            sbuf_set(why, "malformed macro list in SMFIC_OPTNEG reply");
            return -1;
        }
        o->has_macros = true;
        if (stage < SMFIM_COUNT) {
            o->macro_set[stage] = true;
            sbuf_set(&o->macros[stage], names);
        }
    }
    return 0;
}
