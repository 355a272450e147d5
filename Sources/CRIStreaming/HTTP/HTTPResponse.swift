/// The few HTTP/1.1 responses the streaming server writes before (or instead of) an upgrade.
enum HTTPResponse {
    static func status(_ code: Int, _ reason: String, headers: [(String, String)] = [], body: String = "") -> [UInt8] {
        var text = "HTTP/1.1 \(code) \(reason)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if code != 101 {
            text += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        }
        text += "\r\n" + body
        return Array(text.utf8)
    }

    static func error(_ code: Int, _ reason: String, _ message: String, headers: [(String, String)] = []) -> [UInt8] {
        status(code, reason, headers: headers, body: message + "\n")
    }
}
