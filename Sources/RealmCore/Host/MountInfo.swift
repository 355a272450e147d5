import FascoCore

/// One line of `/proc/<pid>/mountinfo` (proc(5), "/proc/pid/mountinfo").
///
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
/// is mount ID, parent ID, major:minor, root, mount point, mount options, optional fields
/// (ended by `-`), file-system type, source and super options. Paths are octal-escaped
/// (`\040` for a space); they are unescaped here. The one parser of mountinfo: the cgroup
/// layout detection and the mount propagation checks of container specs both read it.
public struct MountInfo: Sendable, Equatable {
    public var mountID: Int
    public var parentID: Int
    public var root: String
    public var mountPoint: String
    public var mountOptions: [String]
    /// Tagged fields such as `shared:1` or `master:2`.
    public var optionalFields: [String]
    public var fileSystemType: String
    public var source: String
    public var superOptions: [String]

    /// Parses one line; nil when the line does not have the mountinfo shape.
    public init?(line: Substring) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 3,
              let mountID = Int(fields[0]), let parentID = Int(fields[1])
        else { return nil }
        self.mountID = mountID
        self.parentID = parentID
        root = Self.unescape(fields[3])
        mountPoint = Self.unescape(fields[4])
        mountOptions = fields[5].split(separator: ",").map(String.init)
        optionalFields = fields[6..<separator].map(String.init)
        fileSystemType = String(fields[separator + 1])
        source = Self.unescape(fields[separator + 2])
        superOptions = fields.count > separator + 3 ? fields[separator + 3].split(separator: ",").map(String.init) : []
    }

    /// Whether the mount is shared (`shared:N`): mounts below it propagate to its peers.
    public var isShared: Bool { optionalFields.contains { $0.hasPrefix("shared:") } }

    /// Whether the mount is a slave (`master:N`): it receives its master's mounts.
    public var isSlave: Bool { optionalFields.contains { $0.hasPrefix("master:") } }

    /// The mount of `mounts` (a mountinfo table, in its order) that `path` (absolute, symlinks
    /// resolved) lives on: the topmost one with the longest mount point that is `path` or a
    /// parent of it; nil when none is.
    public static func mount(containing path: String, in mounts: [MountInfo]) -> MountInfo? {
        var best: MountInfo?
        for mount in mounts where mount.mountPoint == "/" || path == mount.mountPoint || path.hasPrefix(mount.mountPoint + "/") {
            if let current = best, current.mountPoint.utf8.count > mount.mountPoint.utf8.count { continue }
            best = mount
        }
        return best
    }

    /// All parseable lines of a mountinfo text, in order (later mounts stack over earlier ones).
    public static func parse(_ text: String) -> [MountInfo] {
        text.split(separator: "\n").compactMap { MountInfo(line: $0) }
    }

    /// The mount table of this process.
    public static func current() throws(FascoError) -> [MountInfo] {
        guard let bytes = try FileSystem.read("/proc/self/mountinfo") else {
            throw .unavailable("/proc/self/mountinfo does not exist: is /proc mounted?")
        }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// The kernel escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = octal(utf8[(index + 1)..<(index + 4)]) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
