/*
 * support.h - shared helpers for the libFuzzer targets in fuzz/.
 *
 * fuzz_init() silences the logger (set FUZZ_VERBOSE=1 in the environment
 * to see warnings on stderr while reproducing a crash) and makes one
 * private temporary directory, removed at exit. fuzz_write_file() puts
 * the input bytes into a file in that directory (the same path every
 * time for the same name) for parsers that only read files.
 * fuzz_cstr() returns a NUL-terminated copy of the input (caller frees).
 * fuzz_take() splits the input for targets that need several pieces;
 * fuzz_take_line() hands it out a line per read to a stream's read hook.
 * Nothing here calls a parser; every target owns its checks.
 */
#ifndef HK_FUZZ_SUPPORT_H
#define HK_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Idempotent; called from LLVMFuzzerInitialize or the first input. */
void fuzz_init(void);
/* The private directory ("/tmp/hk-fuzz.XXXXXX"). */
const char *fuzz_dir(void);
/* Write data to fuzz_dir()/name (truncating); returns the path (static
 * buffer, valid until the next call). Aborts on write failure. */
const char *fuzz_write_file(const char *name, const void *data, size_t size);
/* NUL-terminated copy of data (embedded NULs stay, so strlen may be shorter). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* A cursor over the input for targets that take several values from it. */
struct fuzz_in {
    const uint8_t *p;
    size_t left;
};
/* One byte (0 when the input is used up). */
unsigned fuzz_byte(struct fuzz_in *in);
/* Bytes up to the next sep byte (not included, consumed), or up to the end;
 * returns a malloc'd NUL-terminated string, *len set when len is not NULL. */
char *fuzz_take(struct fuzz_in *in, uint8_t sep, size_t *len);
/* Copy the next line (through its LF, or the rest) into buf, at most len
 * bytes, as a peer that waits for each reply sends it; 0 at the end. */
ssize_t fuzz_take_line(struct fuzz_in *in, void *buf, size_t len);

#endif
