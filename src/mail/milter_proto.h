/*
 * milter_proto.h - the Sendmail milter wire protocol: constants, packet
 * encoding, reply decoding (protocol versions 2 to 6).
 *
 * A packet is a 4-byte big-endian length, then that many bytes: one
 * command byte and its data. Strings in the data end in a NUL; numbers
 * are 32-bit (16-bit for the connect port) big-endian.
 *
 * Encoding: milter_pkt_begin() starts a packet at the end of an sbuf,
 * the milter_pkt_add_*() helpers append its arguments, milter_pkt_end()
 * writes the length. Several packets can be built in one sbuf and sent
 * with one write (a macro packet and its event).
 *
 * Decoding: milter_reply_parse() checks one reply packet (command byte
 * and data, without the length) against what that reply must carry and
 * points into it; milter_optneg_parse() does the same for the answer to
 * SMFIC_OPTNEG, with the macro lists of protocol 6. Both refuse
 * anything malformed (a missing NUL, left-over bytes, an unknown reply)
 * with a reason, and never read outside the packet.
 *
 * NOT HERE: sockets, timeouts, state (milter.c), what a reply means for
 * the mail (the callers).
 */
#ifndef HK_MAIL_MILTER_PROTO_H
#define HK_MAIL_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

/* Commands from the MTA. */
#define SMFIC_ABORT     'A'
#define SMFIC_BODY      'B'
#define SMFIC_CONNECT   'C'
#define SMFIC_MACRO     'D'
#define SMFIC_BODYEOB   'E'
#define SMFIC_HELO      'H'
#define SMFIC_QUIT_NC   'K'
#define SMFIC_HEADER    'L'
#define SMFIC_MAIL      'M'
#define SMFIC_EOH       'N'
#define SMFIC_OPTNEG    'O'
#define SMFIC_QUIT      'Q'
#define SMFIC_RCPT      'R'
#define SMFIC_DATA      'T'
#define SMFIC_UNKNOWN   'U'

/* Replies and requests from the milter. */
#define SMFIR_ADDRCPT     '+'
#define SMFIR_DELRCPT     '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN    '4'
#define SMFIR_ACCEPT      'a'
#define SMFIR_REPLBODY    'b'
#define SMFIR_CONTINUE    'c'
#define SMFIR_DISCARD     'd'
#define SMFIR_CHGFROM     'e'
#define SMFIR_CONN_FAIL   'f'
#define SMFIR_ADDHEADER   'h'
#define SMFIR_INSHEADER   'i'
#define SMFIR_SETSYMLIST  'l'
#define SMFIR_CHGHEADER   'm'
#define SMFIR_PROGRESS    'p'
#define SMFIR_QUARANTINE  'q'
#define SMFIR_REJECT      'r'
#define SMFIR_SKIP        's'
#define SMFIR_TEMPFAIL    't'
#define SMFIR_REPLYCODE   'y'

/* Protocol flags (SMFIP_*): steps the milter does not want, replies it
 * will not send, and a few features. */
#define SMFIP_NOCONNECT   0x00000001u
#define SMFIP_NOHELO      0x00000002u
#define SMFIP_NOMAIL      0x00000004u
#define SMFIP_NORCPT      0x00000008u
#define SMFIP_NOBODY      0x00000010u
#define SMFIP_NOHDRS      0x00000020u
#define SMFIP_NOEOH       0x00000040u
#define SMFIP_NR_HDR      0x00000080u
#define SMFIP_NOUNKNOWN   0x00000100u
#define SMFIP_NODATA      0x00000200u
#define SMFIP_SKIP        0x00000400u
#define SMFIP_RCPT_REJ    0x00000800u
#define SMFIP_NR_CONN     0x00001000u
#define SMFIP_NR_HELO     0x00002000u
#define SMFIP_NR_MAIL     0x00004000u
#define SMFIP_NR_RCPT     0x00008000u
#define SMFIP_NR_DATA     0x00010000u
#define SMFIP_NR_UNKN     0x00020000u
#define SMFIP_NR_EOH      0x00040000u
#define SMFIP_NR_BODY     0x00080000u
#define SMFIP_HDR_LEADSPC 0x00100000u

#define SMFIP_NOSEND_MASK (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT \
                           | SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN \
                           | SMFIP_NODATA)
#define SMFIP_NOREPLY_MASK (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT \
                            | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH \
                            | SMFIP_NR_BODY)

/* Actions the milter may ask for (SMFIF_*). */
#define SMFIF_ADDHDRS     0x0001u
#define SMFIF_CHGBODY     0x0002u
#define SMFIF_ADDRCPT     0x0004u
#define SMFIF_DELRCPT     0x0008u
#define SMFIF_CHGHDRS     0x0010u
#define SMFIF_QUARANTINE  0x0020u
#define SMFIF_CHGFROM     0x0040u
#define SMFIF_ADDRCPT_PAR 0x0080u
#define SMFIF_SETSYMLIST  0x0100u
#define SMFIF_ALL         0x01ffu

/* Connect address families. */
#define SMFIA_UNKNOWN   'U'
#define SMFIA_UNIX      'L'
#define SMFIA_INET      '4'
#define SMFIA_INET6     '6'

/* Macro stages in the protocol-6 negotiation (SMFIM_*). */
#define SMFIM_CONNECT   0
#define SMFIM_HELO      1
#define SMFIM_ENVFROM   2
#define SMFIM_ENVRCPT   3
#define SMFIM_DATA      4
#define SMFIM_EOM       5
#define SMFIM_EOH       6
#define SMFIM_COUNT     7

#define MILTER_CHUNK_SIZE 65535             /* body bytes per SMFIC_BODY */
#define MILTER_MAX_PACKET (4 * 1024 * 1024) /* longest reply packet we accept */

/* ---- encoding ---- */

/* Start a packet with command cmd at the end of b; returns its start. */
size_t milter_pkt_begin(sbuf *b, int cmd);
/* A string and its NUL (a NUL inside s ends it early, as a C string). */
void milter_pkt_add_str(sbuf *b, const char *s);
/* len bytes as a string: NUL bytes inside become spaces, then a NUL. */
void milter_pkt_add_strn(sbuf *b, const char *s, size_t len);
void milter_pkt_add_u32(sbuf *b, uint32_t v);
void milter_pkt_add_u16(sbuf *b, uint16_t v);
void milter_pkt_add_byte(sbuf *b, int c);
void milter_pkt_add_data(sbuf *b, const void *p, size_t len);
/* Fill in the length of the packet that starts at start. */
void milter_pkt_end(sbuf *b, size_t start);

/* ---- decoding ---- */

struct milter_reply {
    int     cmd;            /* SMFIR_* */
    uint32_t index;         /* SMFIR_INSHEADER, SMFIR_CHGHEADER */
    const char *arg1;       /* header name, address, reply text, reason; "" if none */
    const char *arg2;       /* header value, ESMTP arguments; "" if none */
    const char *data;       /* SMFIR_REPLBODY bytes (not NUL-terminated) */
    size_t  len;            /* ... and their count */
};

/*
 * Parse one reply packet: pkt[0] is the reply code, pkt[1..len-1] its
 * data (the packet without its length prefix). 0, or -1 with why. The
 * strings in r point into pkt, which must stay unchanged while r is used.
 * SMFIR_REPLYCODE text is checked: "4xx" or "5xx", then ' ' or '-'.
 */
int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r, sbuf *why);

struct milter_optneg {
    uint32_t version;
    uint32_t actions;       /* SMFIF_* */
    uint32_t protocol;      /* SMFIP_* */
    bool    has_macros;     /* protocol 6 macro lists were sent */
    bool    macro_set[SMFIM_COUNT];
    sbuf    macros[SMFIM_COUNT];  /* space-separated names per stage */
};
void milter_optneg_init(struct milter_optneg *o);
void milter_optneg_free(struct milter_optneg *o);
/* Parse the SMFIC_OPTNEG answer (pkt as above). 0, or -1 with why.
 * Unknown macro stages are skipped. */
int milter_optneg_parse(const char *pkt, size_t len, struct milter_optneg *o, sbuf *why);

/* Names for logs: "SMFIC_OPTNEG", "SMFIR_REPLYCODE", "(unknown)". */
const char *milter_cmd_name(int cmd);
const char *milter_reply_name(int cmd);

#endif
