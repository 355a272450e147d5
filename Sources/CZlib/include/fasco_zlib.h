// zlib for Fasco: the CRI streaming server's SPDY/3 header blocks (an opaque stream) and
// gzip members such as CoCo initdata (bounded):
// no zlib type reaches Swift. Compiled against the system zlib (zlib1g-dev).
#ifndef FASCO_ZLIB_H
#define FASCO_ZLIB_H

#include <stddef.h>

typedef struct fasco_zstream fasco_zstream;

// A compressor (compress != 0, Z_SYNC_FLUSH after each call's input) or a decompressor,
// both primed with `dictionary` (SPDY/3 section 2.6.10.1). NULL when out of memory.
fasco_zstream *fasco_zstream_new(int compress, const unsigned char *dictionary, unsigned dictionary_length);
void fasco_zstream_free(fasco_zstream *stream);

// Runs the stream over in[0..<in_length], writing at most out_capacity bytes to out.
// *consumed and *produced say how much of each was used. Call again with the rest of the
// input (or none) while *produced == out_capacity. Returns 0, or -1 on corrupt input.
int fasco_zstream_run(fasco_zstream *stream, const unsigned char *in, size_t in_length,
                      unsigned char *out, size_t out_capacity, size_t *consumed, size_t *produced);

// Decompresses one gzip member (RFC 1952) from in[0..<in_length] into out, writing at most
// out_capacity bytes. Returns the number of bytes written, -1 on corrupt or truncated input,
// -2 when the output would exceed out_capacity (a bound against decompression bombs).
long fasco_gunzip(const unsigned char *in, size_t in_length, unsigned char *out, size_t out_capacity);

#endif
