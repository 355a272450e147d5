#include "fasco_zlib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct fasco_zstream {
    z_stream z;
    int compress;
    unsigned char *dictionary;  // the decompressor's own copy
    unsigned dictionary_length;
};

fasco_zstream *fasco_zstream_new(int compress, const unsigned char *dictionary, unsigned dictionary_length) {
    fasco_zstream *stream = calloc(1, sizeof *stream);
    if (stream == NULL) return NULL;
    stream->compress = compress;
    int status;
    if (compress) {
        status = deflateInit(&stream->z, Z_DEFAULT_COMPRESSION);
        if (status == Z_OK && dictionary_length > 0) status = deflateSetDictionary(&stream->z, dictionary, dictionary_length);
        if (status != Z_OK) {
            deflateEnd(&stream->z);
            free(stream);
            return NULL;
        }
    } else {
        status = inflateInit(&stream->z);
        if (status != Z_OK) {
            free(stream);
            return NULL;
        }
        // The inflater asks for the dictionary (Z_NEED_DICT) once it has read the zlib header.
        if (dictionary_length > 0) {
            stream->dictionary = malloc(dictionary_length);
            if (stream->dictionary == NULL) {
                inflateEnd(&stream->z);
                free(stream);
                return NULL;
            }
            memcpy(stream->dictionary, dictionary, dictionary_length);
            stream->dictionary_length = dictionary_length;
        }
    }
    return stream;
}

void fasco_zstream_free(fasco_zstream *stream) {
    if (stream == NULL) return;
    if (stream->compress) deflateEnd(&stream->z);
    else inflateEnd(&stream->z);
    free(stream->dictionary);
    free(stream);
}

int fasco_zstream_run(fasco_zstream *stream, const unsigned char *in, size_t in_length,
                      unsigned char *out, size_t out_capacity, size_t *consumed, size_t *produced) {
    *consumed = 0;
    *produced = 0;
    if (in_length > 0xffffffffu || out_capacity > 0xffffffffu) return -1;
    stream->z.next_in = (Bytef *)in;
    stream->z.avail_in = (uInt)in_length;
    stream->z.next_out = out;
    stream->z.avail_out = (uInt)out_capacity;
    int status;
    if (stream->compress) {
        status = deflate(&stream->z, Z_SYNC_FLUSH);
        // Z_BUF_ERROR: no progress possible (nothing left to flush); not an error here.
        if (status != Z_OK && status != Z_BUF_ERROR) return -1;
    } else {
        for (;;) {
            status = inflate(&stream->z, Z_SYNC_FLUSH);
            if (status == Z_NEED_DICT) {
                if (stream->dictionary == NULL || inflateSetDictionary(&stream->z, stream->dictionary, stream->dictionary_length) != Z_OK) return -1;
                continue;
            }
            break;
        }
        // A header block never ends the zlib stream: Z_STREAM_END is as corrupt as an error.
        if (status != Z_OK && status != Z_BUF_ERROR) return -1;
    }
    *consumed = in_length - stream->z.avail_in;
    *produced = out_capacity - stream->z.avail_out;
    return 0;
}

long fasco_gunzip(const unsigned char *in, size_t in_length, unsigned char *out, size_t out_capacity) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return -1;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)in_length;
    z.next_out = out;
    z.avail_out = (uInt)out_capacity;
    int status = inflate(&z, Z_FINISH);
    long produced = (long)(out_capacity - z.avail_out);
    inflateEnd(&z);
    if (status == Z_STREAM_END) return produced;
    if (z.avail_out == 0) return -2;
    return -1;
}
