/*
 * maps.h - a list of lookup tables used as one (alias_maps, transport_maps,
 * virtual_alias_maps, check_*_access ...), and Postfix's address search order.
 *
 * maps_open("hash:/etc/aliases, texthash:/x", flags) opens each table
 * once (tables are shared by name within a process). maps_find() tries
 * each table in order. maps_find_addr() tries, for user+ext@domain:
 * user+ext@domain, user@domain, user+ext, user (the last two only when
 * the domain is local or absent, as Postfix's address lookups do),
 * @domain. A table failure is reported in *error (DICT_ERR_RETRY) so the
 * caller defers instead of treating it as "not found".
 */
#ifndef HK_MAIL_MAPS_H
#define HK_MAIL_MAPS_H

#include <stdbool.h>
#include "util/dict.h"
#include "util/sbuf.h"

typedef struct maps maps;

/* Never NULL; tables that fail to open make lookups fail with DICT_ERR_CONFIG. */
maps *maps_open(const char *title, const char *spec, int dict_flags);
void  maps_close(maps *m);
const char *maps_find(maps *m, const char *key, int *error);
/* local_domain: -1 work it out with resolve_local_domain, 0 no, 1 yes. */
const char *maps_find_addr(maps *m, const char *addr, int local_domain, int *error,
                           sbuf *matched_key);
bool  maps_empty(const maps *m);
const char *maps_title(const maps *m);
/* True when any table changed on disk since it was opened (daemons restart). */
bool  maps_changed(const maps *m);

#endif
