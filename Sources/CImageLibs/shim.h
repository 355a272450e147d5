// C libraries behind the image store (Debian -dev packages): libcurl (registry
// HTTP), libarchive (tar), zlib and libzstd (layer compression), libcrypto (digests,
// and PKCS#12 for the key broker's Alibaba Cloud client keys).
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
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

// The private key of a PKCS#12 file (DER) opened with `password`, as PKCS#8 DER in *out
// (free it with fasco_openssl_free). OpenSSL's legacy provider is loaded for the call (with
// the default one kept): older PKCS#12 files, Alibaba Cloud's client keys among them, use
// RC2 or 3DES. Returns the length, or -1 when the file does not open with the password.
static inline int fasco_pkcs12_private_key(const unsigned char *der, long length, const char *password, unsigned char **out) {
    OSSL_PROVIDER *legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
    int result = -1;
    const unsigned char *cursor = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &cursor, length);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    if (p12 != NULL && PKCS12_parse(p12, password, &key, &cert, &chain) == 1 && key != NULL) {
        PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key);
        if (info != NULL) {
            *out = NULL;
            result = i2d_PKCS8_PRIV_KEY_INFO(info, out);
            PKCS8_PRIV_KEY_INFO_free(info);
        }
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    PKCS12_free(p12);
    if (legacy != NULL) OSSL_PROVIDER_unload(legacy);
    return result;
}
static inline void fasco_openssl_free(void *pointer) { OPENSSL_free(pointer); }

// syncfs(2): declared by unistd.h only under _GNU_SOURCE.
int syncfs(int fd);
static inline int fasco_syncfs(int fd) { return syncfs(fd); }

// Typed entry points for C calls Swift cannot make: variadic functions
// (curl_easy_setopt, syscall) and declarations the Glibc module leaves out.
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/openat2.h>

static inline CURLcode fasco_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode fasco_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}
// openat2(2) (no glibc wrapper in 2.36): -1 and errno on failure.
static inline int fasco_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long resolve) {
    struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}
static inline int fasco_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
static inline int fasco_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}
// O_PATH and the RESOLVE_* flags (fcntl.h hides O_PATH without _GNU_SOURCE).
static inline int fasco_o_path(void) { return 010000000; }
static inline unsigned long long fasco_resolve_in_root(void) { return RESOLVE_IN_ROOT; }
static inline unsigned long long fasco_resolve_no_magiclinks(void) { return RESOLVE_NO_MAGICLINKS; }
