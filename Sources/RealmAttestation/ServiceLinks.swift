/// kubelet's service-link environment variables (Docker links style: for every Service `x`
/// in the pod's namespace, `X_SERVICE_HOST`, `X_SERVICE_PORT[_NAME]`, `X_PORT`,
/// `X_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`, and always those of the `kubernetes`
/// Service). They depend on which Services exist when the container starts, not on what
/// the pod deploys, so measuring them would give replicas different RIMs. A variable is
/// taken for a service link only when both its name and its value have kubelet's exact
/// shape; anything else is measured.
enum ServiceLinks {
    static func isServiceLink(_ entry: String) -> Bool {
        guard let equals = entry.firstIndex(of: "=") else { return false }
        let name = entry[..<equals]
        let value = entry[entry.index(after: equals)...]
        guard name.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }) else { return false }
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty else { return false }
        // X_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]
        for index in stride(from: parts.count - 3, through: 1, by: -1) where parts[index] == "PORT" {
            guard isPort(parts[index + 1]), ["TCP", "UDP", "SCTP"].contains(String(parts[index + 2])) else { continue }
            switch parts.count - (index + 3) {
            case 0: return isURL(value)
            case 1 where parts[index + 3] == "PROTO": return value == parts[index + 2].lowercased()
            case 1 where parts[index + 3] == "PORT": return value == parts[index + 1]
            case 1 where parts[index + 3] == "ADDR": return isAddress(value)
            default: continue
            }
        }
        if let service = parts.lastIndex(of: "SERVICE"), service >= 1, service + 1 < parts.count {
            if parts[service + 1] == "HOST" && service + 2 == parts.count { return isAddress(value) }
            if parts[service + 1] == "PORT" { return isPort(value) && (service + 2 == parts.count || !parts[service + 2].isEmpty) }
        }
        if parts.last == "PORT" { return isURL(value) }
        return false
    }

    static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 5 && text.allSatisfy { $0.isASCII && $0.isNumber } && (Int(text) ?? 65536) <= 65535
    }

    static func isAddress(_ text: Substring) -> Bool {
        let v4 = text.split(separator: ".", omittingEmptySubsequences: false)
        if v4.count == 4 {
            return v4.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && (Int($0) ?? 256) < 256 }
        }
        return text.contains(":") && text.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }
    }

    /// `tcp://10.0.0.1:443` or `tcp://[fd00::1]:443`.
    static func isURL(_ text: Substring) -> Bool {
        guard let schemeEnd = text.firstIndex(of: ":"), ["tcp", "udp", "sctp"].contains(String(text[..<schemeEnd])),
              text[schemeEnd...].hasPrefix("://") else { return false }
        let rest = text[text.index(schemeEnd, offsetBy: 3)...]
        guard let colon = rest.lastIndex(of: ":") else { return false }
        var host = rest[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return isAddress(host) && isPort(rest[rest.index(after: colon)...])
    }
}
