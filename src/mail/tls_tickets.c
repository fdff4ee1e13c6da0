/*
 * tls_tickets.c - session ticket keys shared by every process of the TLS
 * server, so a client resumes its session whichever smtpd process
 * answers the next connection (see tls.h, SERVER SESSION RESUMPTION).
 *
 * The keys live in $data_directory/tls_ticket_keys (mode 0600, owned by
 * mail_owner), one per line: "created-time name aes-key hmac-key" in hex.
 * The file is read and rewritten in place under flock(2): shared to
 * read, exclusive to rotate. A new key is made when the newest one is
 * older than the ticket lifetime; keys older than twice the lifetime are
 * dropped, so a ticket stays usable for its whole lifetime. New tickets
 * use the newest key; a ticket made with an older key is accepted and
 * renewed (RFC 5077 4). Tickets are AES-256-CBC with HMAC-SHA256, as
 * OpenSSL's own.
 *
 * When the file cannot be used (no data_directory, permissions), the
 * process falls back to a key of its own: resumption then works only
 * within that process, and a warning says so once.
 *
 * Does not: keep a server-side session cache (tickets carry the state).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mail/mail_conf.h"
#include "mail/tls_int.h"
#include "util/msg.h"

#define KEY_NAME_LEN 16
#define KEY_AES_LEN 32
#define KEY_HMAC_LEN 32
#define MAX_KEYS 4

struct ticket_key {
    time_t created;
    unsigned char name[KEY_NAME_LEN];
    unsigned char aes[KEY_AES_LEN];
    unsigned char hmac[KEY_HMAC_LEN];
};

static struct ticket_key keys[MAX_KEYS];     /* newest first */
static int nkeys;
static long key_lifetime = 3600;
static struct timespec file_mtime;
static ino_t file_ino;
static bool private_keys;                     /* fell back to a per-process key */

const char *tls_ticket_file(void)
{
    static char path[4096];
    const char *dir = mail_conf_str("data_directory");

    if (!dir || !*dir)
        return "";
    snprintf(path, sizeof(path), "%s/tls_ticket_keys", dir);
    return path;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
    if (slen != n * 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char) s[2 * i]), lo = hexval((unsigned char) s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char) (hi * 16 + lo);
    }
    return 0;
}

static void addhex(sbuf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sbuf_printf(b, "%02x", p[i]);
}

/* Parse the file's text into k (newest first); returns the count. */
static int parse_keys(const char *text, struct ticket_key *k, int max)
{
    int n = 0;
    const char *p = text;

    while (*p && n < max) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        char line[512];
        if (len < sizeof(line)) {
            memcpy(line, p, len);
            line[len] = 0;
            char *save = 0;
            char *t = strtok_r(line, " ", &save), *name = strtok_r(0, " ", &save);
            char *aes = strtok_r(0, " ", &save), *hmac = strtok_r(0, " ", &save);
            char *end = 0;
            long long created = t ? strtoll(t, &end, 10) : 0;
            if (t && end && !*end && name && aes && hmac
                && unhex(name, strlen(name), k[n].name, KEY_NAME_LEN) == 0
                && unhex(aes, strlen(aes), k[n].aes, KEY_AES_LEN) == 0
                && unhex(hmac, strlen(hmac), k[n].hmac, KEY_HMAC_LEN) == 0) {
                k[n].created = (time_t) created;
                n++;
            }
        }
        p += len + (eol ? 1 : 0);
    }
    /* Newest first. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && k[j].created > k[j - 1].created; j--) {
            struct ticket_key tmp = k[j];
            k[j] = k[j - 1];
            k[j - 1] = tmp;
        }
    return n;
}

static int new_key(struct ticket_key *k)
{
    k->created = time(0);
    if (RAND_bytes(k->name, KEY_NAME_LEN) != 1 || RAND_bytes(k->aes, KEY_AES_LEN) != 1
        || RAND_bytes(k->hmac, KEY_HMAC_LEN) != 1)
        return -1;
    return 0;
}

static int read_fd(int fd, sbuf *out)
{
    char buf[4096];
    ssize_t n;

    sbuf_reset(out);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -1;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        sbuf_add(out, buf, (size_t) n);
        if (out->len > 65536)
            return -1;
    }
    return n < 0 ? -1 : 0;
}

/* As root: let mail_owner rotate the file later. */
static void give_to_mail_owner(int fd)
{
    if (geteuid() != 0)
        return;
    struct passwd *pw = getpwnam(mail_conf_str("mail_owner"));
    if (pw && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
        msg_warn("%s: cannot change owner to %s: %m", tls_ticket_file(),
                 mail_conf_str("mail_owner"));
}

int tls_tickets_maintain(long lifetime)
{
    const char *path = tls_ticket_file();
    struct ticket_key k[MAX_KEYS + 1];
    sbuf text = SBUF_INIT;
    int fd, n, ret = -1;
    time_t now = time(0);

    if (!*path)
        return -1;
    if (lifetime <= 0)
        lifetime = 1;
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return -1;
    if (flock(fd, LOCK_EX) < 0 || read_fd(fd, &text) < 0)
        goto out;
    n = parse_keys(sbuf_str(&text), k, MAX_KEYS);
    bool changed = false;
    /* Drop keys too old to decrypt any ticket still valid. */
    while (n > 1 && now - k[n - 1].created > 2 * lifetime) {
        n--;
        changed = true;
    }
    if (n == 0 || now - k[0].created >= lifetime || k[0].created > now + 60) {
        memmove(&k[1], &k[0], sizeof(k[0]) * (size_t) (n < MAX_KEYS ? n : MAX_KEYS - 1));
        if (new_key(&k[0]) < 0)
            goto out;
        n = n < MAX_KEYS ? n + 1 : MAX_KEYS;
        changed = true;
    }
    if (changed) {
        sbuf_reset(&text);
        for (int i = 0; i < n; i++) {
            sbuf_printf(&text, "%lld ", (long long) k[i].created);
            addhex(&text, k[i].name, KEY_NAME_LEN);
            sbuf_addc(&text, ' ');
            addhex(&text, k[i].aes, KEY_AES_LEN);
            sbuf_addc(&text, ' ');
            addhex(&text, k[i].hmac, KEY_HMAC_LEN);
            sbuf_addc(&text, '\n');
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text.s, text.len, 0) != (ssize_t) text.len
            || fsync(fd) < 0)
            goto out;
    }
    give_to_mail_owner(fd);
    ret = 0;
out:
    if (ret < 0)
        msg_warn("%s: cannot maintain TLS session ticket keys: %m", path);
    if (text.s)
        OPENSSL_cleanse(text.s, text.cap);
    sbuf_free(&text);
    OPENSSL_cleanse(k, sizeof(k));
    close(fd);
    return ret;
}

/* Reload the keys when the file changed; rotate when the newest is due. */
static void refresh_keys(void)
{
    const char *path = tls_ticket_file();
    struct stat stbuf;
    time_t now = time(0);

    if (private_keys) {
        if (nkeys == 0 || now - keys[0].created >= key_lifetime) {
            if (nkeys == MAX_KEYS)
                nkeys--;
            memmove(&keys[1], &keys[0], sizeof(keys[0]) * (size_t) nkeys);
            if (new_key(&keys[0]) == 0)
                nkeys++;
        }
        return;
    }
    if (nkeys > 0 && now - keys[0].created < key_lifetime && stat(path, &stbuf) == 0
        && stbuf.st_ino == file_ino && stbuf.st_mtim.tv_sec == file_mtime.tv_sec
        && stbuf.st_mtim.tv_nsec == file_mtime.tv_nsec)
        return;
    if ((nkeys == 0 || now - keys[0].created >= key_lifetime)
        && tls_tickets_maintain(key_lifetime) < 0) {
        msg_warn("TLS session tickets work only within this process (see the warning above)");
        private_keys = true;
        refresh_keys();
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    sbuf text = SBUF_INIT;
    if (fd >= 0 && flock(fd, LOCK_SH) == 0 && read_fd(fd, &text) == 0
        && fstat(fd, &stbuf) == 0) {
        nkeys = parse_keys(sbuf_str(&text), keys, MAX_KEYS);
        file_ino = stbuf.st_ino;
        file_mtime = stbuf.st_mtim;
    }
    if (text.s)
        OPENSSL_cleanse(text.s, text.cap);
    sbuf_free(&text);
    if (fd >= 0)
        close(fd);
    if (nkeys == 0) {
        msg_warn("%s: no usable TLS session ticket key; tickets work only within this process",
                 path);
        private_keys = true;
        refresh_keys();
    }
}

static int mac_init(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(hctx, k->hmac, KEY_HMAC_LEN, params);
}

/* OpenSSL's ticket key callback: 1 ok, 2 ok but renew, 0 unknown key, -1 error. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    (void) ssl;
    refresh_keys();
    if (nkeys == 0)
        return enc ? -1 : 0;
    if (enc) {
        const struct ticket_key *k = &keys[0];
        int ivlen = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
        if (RAND_bytes(iv, ivlen) != 1)
            return -1;
        memcpy(name, k->name, KEY_NAME_LEN);
        if (!EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), 0, k->aes, iv) || !mac_init(hctx, k))
            return -1;
        return 1;
    }
    for (int i = 0; i < nkeys; i++) {
        const struct ticket_key *k = &keys[i];
        if (memcmp(name, k->name, KEY_NAME_LEN) != 0)
            continue;
        if (time(0) - k->created > 2 * key_lifetime)
            return 0;
        if (!mac_init(hctx, k) || !EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), 0, k->aes, iv))
            return -1;
        return i == 0 ? 1 : 2;
    }
    return 0;
}

int tls_tickets_enable(SSL_CTX *ctx, long lifetime)
{
    key_lifetime = lifetime > 0 ? lifetime : 1;
    refresh_keys();
    if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb))
        return -1;
    return private_keys ? -1 : 0;
}
