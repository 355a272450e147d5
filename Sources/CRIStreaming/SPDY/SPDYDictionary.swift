/// The zlib dictionary every SPDY/3 header block is compressed with (SPDY protocol draft 3,
/// section 2.6.10.1): length-prefixed header names and values, then common value fragments.
enum SPDYDictionary {
    /// Words that appear as 32-bit big-endian length + bytes.
    private static let words = [
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
        "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
        "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
        "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
        "set-cookie", "keep-alive", "origin",
    ]

    /// Then raw text: status codes, reason phrases, dates and common values.
    private static let tail = [
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information", "204 No Content", "301 Moved Permanently", "400 Bad Request",
        "401 Unauthorized", "403 Forbidden", "404 Not Found", "500 Internal Server Error", "501 Not Implemented",
        "503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    ]

    /// 1423 bytes, zlib dictionary ID (Adler-32) 0xe3c6a7c2.
    static let bytes: [UInt8] = {
        var bytes: [UInt8] = []
        for word in words {
            let length = UInt32(word.utf8.count)
            bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
            bytes += Array(word.utf8)
        }
        for text in tail { bytes += Array(text.utf8) }
        return bytes
    }()
}
