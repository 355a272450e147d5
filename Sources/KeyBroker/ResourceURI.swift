import FascoCore

/// A key-broker resource: `kbs:///<repository>/<type>/<tag>` (CoCo's resource URI; a host after
/// `kbs://` is allowed and ignored, as CoCo's CDH ignores it), each part of letters, digits, `.`,
/// `_` and `-` (and not `.` or `..`).
public struct ResourceURI: Sendable, Hashable, CustomStringConvertible {
    public var repository: String
    public var type: String
    public var tag: String

    public init(repository: String, type: String, tag: String) throws(FascoError) {
        for (name, part) in [("repository", repository), ("type", type), ("tag", tag)] {
            guard Self.isPart(part) else {
                throw .invalidArgument("resource \(name) \(String(part.prefix(80)).debugDescription) must be letters, digits, '.', '_' or '-'")
            }
        }
        self.repository = repository
        self.type = type
        self.tag = tag
    }

    /// From `kbs:///repo/type/tag` (or `kbs://host/repo/type/tag`).
    public init(uri: String) throws(FascoError) {
        guard uri.hasPrefix("kbs://") else { throw .invalidArgument("\(String(uri.prefix(100)).debugDescription) is not a kbs:/// resource URI") }
        let rest = uri.dropFirst("kbs://".count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else {
            throw .invalidArgument("\(String(uri.prefix(100)).debugDescription) is not kbs:///<repository>/<type>/<tag>")
        }
        try self.init(repository: parts[1], type: parts[2], tag: parts[3])
    }

    /// From the guest API's path below `/cdh/resource/`: `repo/type/tag`.
    public init(path: String) throws(FascoError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw .invalidArgument("the resource path must be <repository>/<type>/<tag>") }
        try self.init(repository: parts[0], type: parts[1], tag: parts[2])
    }

    static func isPart(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 256 && text != "." && text != ".." && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    public var path: String { "\(repository)/\(type)/\(tag)" }
    public var description: String { "kbs:///\(path)" }
}
