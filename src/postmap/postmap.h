/*
 * postmap.h - pieces of postmap(1) shared between its own files.
 */
#ifndef HK_POSTMAP_POSTMAP_H
#define HK_POSTMAP_POSTMAP_H

#include <stdio.h>
#include "util/strv.h"

/* -h / -b with -q -: split a message on in into lookup keys. */
void postmap_message_keys(FILE *in, int headers, int body, strv *keys);
void postmap_setup_signals(void);

#endif
