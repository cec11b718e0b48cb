// Mapped files that shrink while in use: a read past the new end raises SIGBUS. The guard turns
// that into one line naming the file and exit status 1, instead of death by signal.
#ifndef OCTET_MAPGUARD_H
#define OCTET_MAPGUARD_H
#include <stddef.h>

// Records a mapping (up to 64 at once; more are simply not named). path is copied.
void octet_mapguard_add(const void *p, size_t n, const char *path);
void octet_mapguard_remove(const void *p);
// Installs the SIGBUS handler (once; the CLI calls it at start). A fault outside every recorded
// mapping keeps the default action.
void octet_mapguard_install(void);
#endif
