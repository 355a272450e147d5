// C libraries behind the image store (Debian -dev packages): libcurl (registry
// HTTP), libarchive (tar), zlib and libzstd (layer compression), libcrypto (digests).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>
#include <openssl/evp.h>

// syncfs(2): declared by unistd.h only under _GNU_SOURCE.
int syncfs(int fd);
static inline int fasco_syncfs(int fd) { return syncfs(fd); }
