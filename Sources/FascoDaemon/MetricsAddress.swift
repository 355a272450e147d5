#if canImport(Glibc)
import Glibc
#endif

/// `[metrics] address`: `host:port` with an IPv4 literal, or `[host]:port` with an IPv6 one;
/// the port from 1 to 65535. Host names are not resolved (a listener's address is the
/// operator's choice, not DNS's).
struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    let host: String
    let port: UInt16
    let isIPv6: Bool

    init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            isIPv6 = true
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            isIPv6 = false
        }
        guard !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), portText.count <= 5,
              let port = UInt16(portText), port > 0 else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        if isIPv6 {
            guard inet_pton(AF_INET6, String(host), &v6) == 1 else { return nil }
        } else {
            guard inet_pton(AF_INET, String(host), &v4) == 1 else { return nil }
        }
        self.host = String(host)
        self.port = port
    }

    var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
