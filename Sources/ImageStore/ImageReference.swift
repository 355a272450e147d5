import FascoCore

/// An image reference, parsed by the grammar of the distribution project's
/// reference package and normalised as kubelet and containerd do:
/// `busybox` -> `docker.io/library/busybox:latest`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// Registry host, with port when given (`docker.io`, `registry.k8s.io`, `127.0.0.1:5000`).
    public let domain: String
    /// Repository path inside the registry (`library/busybox`).
    public let path: String
    public let tag: String?
    public let digest: Digest?

    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"
    static let maxNameLength = 255

    /// Parses and normalises `text`; an invalid reference is INVALID_ARGUMENT naming it.
    public init(parsing text: String) throws(FascoError) {
        func invalid(_ why: String) -> FascoError {
            .invalidArgument("invalid image reference \"\(text.prefix(300))\": \(why)")
        }
        guard !text.isEmpty else { throw invalid("it is empty") }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            } catch {
                throw invalid("bad digest")
            }
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let candidate = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(candidate) else { throw invalid("bad tag \"\(candidate.prefix(200))\"") }
            tag = candidate
            rest = rest[..<colon]
        }
        let name = String(rest)
        guard !name.isEmpty else { throw invalid("no repository name") }
        guard name.utf8.count <= Self.maxNameLength else { throw invalid("the name is longer than 255 characters") }

        var components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var domain = Self.defaultDomain
        if components.count > 1, Self.looksLikeDomain(components[0]) {
            domain = components.removeFirst()
            guard Self.isValidDomain(domain) else { throw invalid("bad registry host \"\(domain)\"") }
        }
        if domain == "index.docker.io" { domain = Self.defaultDomain }
        for component in components where !Self.isValidPathComponent(component) {
            if component.contains(where: \.isUppercase) { throw invalid("repository names must be lower-case") }
            throw invalid("bad path component \"\(component.prefix(100))\"")
        }
        if domain == Self.defaultDomain && components.count == 1 { components.insert("library", at: 0) }
        self.domain = domain
        self.path = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? Self.defaultTag : nil)
        self.digest = digest
    }

    /// `docker.io/library/busybox`
    public var repository: String { "\(domain)/\(path)" }

    /// `docker.io/library/busybox:latest`, or `…@sha256:…` when pinned by digest (the digest wins over a tag).
    public var description: String {
        if let digest { return "\(repository)@\(digest)" }
        return "\(repository):\(tag ?? Self.defaultTag)"
    }

    /// The tagged form kubelet lists in repo_tags, when the reference has a tag.
    public var taggedName: String? { tag.map { "\(repository):\($0)" } }

    /// What to ask the registry for: the digest when pinned, else the tag.
    public var registryReference: String { digest?.description ?? tag ?? Self.defaultTag }

    /// `repository@digest`, the form kubelet lists in repo_digests.
    public func repoDigest(_ digest: Digest) -> String { "\(repository)@\(digest)" }

    // MARK: Grammar

    /// A first component is a host when it has a dot or a port, or is `localhost`.
    static func looksLikeDomain(_ component: String) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost" || component.hasPrefix("[")
    }

    /// domain-component ('.' domain-component)* [':' port] | '[' IPv6 ']' [':' port]
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isValidPort(host.dropFirst())
        }
        if let colon = host.firstIndex(of: ":") {
            guard isValidPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            guard let first = label.first, let last = label.last else { return false }
            return first.isASCIILetterOrDigit && last.isASCIILetterOrDigit
                && label.allSatisfy { $0.isASCIILetterOrDigit || $0 == "-" }
        }
    }

    static func isValidPort(_ port: Substring) -> Bool {
        !port.isEmpty && port.count <= 5 && port.allSatisfy(\.isASCIIDigit) && (Int(port) ?? 0) <= 65535
    }

    /// alpha-numeric (separator alpha-numeric)*, separator = [_.] | __ | [-]+, alpha-numeric = [a-z0-9]+
    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var index = 0
        while index < bytes.count {
            if isLowerAlnum(bytes[index]) {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count, !isLowerAlnum(bytes[end]) { end += 1 }
            let separator = bytes[index..<end]
            let valid = separator.elementsEqual([0x2E]) || separator.elementsEqual([0x5F])
                || separator.elementsEqual([0x5F, 0x5F]) || separator.allSatisfy { $0 == 0x2D }
            guard valid else { return false }
            index = end
        }
        return true
    }

    /// [\w][\w.-]{0,127}
    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
        return bytes.allSatisfy { isWord($0) || $0 == 0x2E || $0 == 0x2D }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) }

    private static func isWord(_ byte: UInt8) -> Bool {
        isLowerAlnum(byte) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
}
