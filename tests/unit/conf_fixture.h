/*
 * conf_fixture.h - a temporary configuration directory for unit tests.
 *
 * fixture_dir() makes (once per process) a private directory under /tmp;
 * fixture_write() puts a file in it; fixture_main_cf() writes main.cf
 * from the given lines and loads it with mail_conf_load(). The directory
 * is removed at exit. Header-only so each test program has its own copy.
 */
#ifndef HK_TEST_CONF_FIXTURE_H
#define HK_TEST_CONF_FIXTURE_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"

static char fixture_path[256];

static int fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void fixture_cleanup(void)
{
    if (fixture_path[0])
        nftw(fixture_path, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *fixture_dir(void)
{
    if (!fixture_path[0]) {
        snprintf(fixture_path, sizeof(fixture_path), "/tmp/hk-unit-XXXXXX");
        if (!mkdtemp(fixture_path)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(fixture_cleanup);
    }
    return fixture_path;
}

/* Write name (relative to the fixture directory); returns the full path
 * in a static buffer that the next call overwrites. */
static const char *fixture_write(const char *name, const char *content)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        exit(1);
    }
    fputs(content, fp);
    fclose(fp);
    return path;
}

/* main.cf from lines (NULL-terminated), then load it. */
static void fixture_main_cf(const char *first, ...)
{
    char *buf = 0;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    va_list ap;
    va_start(ap, first);
    for (const char *l = first; l; l = va_arg(ap, const char *))
        fprintf(mem, "%s\n", l);
    va_end(ap);
    fclose(mem);
    fixture_write("main.cf", buf);
    free(buf);
    mail_conf_load(fixture_dir());
}

#endif
