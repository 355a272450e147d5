/// The responses the guest API writes: always `Connection: close`, one request per connection.
struct GuestHTTPResponse: Sendable, Equatable {
    var status: Int
    var contentType: String
    var body: [UInt8]

    static func text(_ status: Int, _ text: String) -> GuestHTTPResponse {
        GuestHTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    static func json(_ text: String, status: Int = 200) -> GuestHTTPResponse {
        GuestHTTPResponse(status: status, contentType: "application/json", body: Array(text.utf8))
    }

    /// A resource's plaintext, as CDH's resource endpoint answers it.
    static func bytes(_ body: [UInt8]) -> GuestHTTPResponse {
        GuestHTTPResponse(status: 200, contentType: "application/octet-stream", body: body)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    var bytes: [UInt8] {
        let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
