import FascoCore

/// The host's mount points and their propagation, from /proc/self/mountinfo (proc(5)): which
/// mount a path lives on and whether that mount is shared (`shared:N`) or a slave (`master:N`).
struct HostMountTable: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var mountPoint: String
        var shared: Bool
        var slave: Bool
    }

    /// In mountinfo order: a later entry for the same mount point is stacked on an earlier one.
    var entries: [Entry]

    static func load(_ path: String = "/proc/self/mountinfo") throws(FascoError) -> HostMountTable {
        guard let bytes = try FileSystem.read(path, limit: 16 << 20) else {
            throw .failedPrecondition("\(path) does not exist")
        }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// `id parent major:minor root mount-point options [optional...] - type source super-options`.
    static func parse(_ text: String) -> HostMountTable {
        var entries: [Entry] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 7, let separator = fields.firstIndex(of: "-"), separator >= 6 else { continue }
            let optional = fields[6..<separator]
            entries.append(Entry(mountPoint: unescape(fields[4]),
                                 shared: optional.contains { $0.hasPrefix("shared:") },
                                 slave: optional.contains { $0.hasPrefix("master:") }))
        }
        return HostMountTable(entries: entries)
    }

    /// The mount `path` (absolute, symlinks resolved) lives on: the topmost entry with the
    /// longest mount point that is `path` or a parent of it.
    func mount(containing path: String) -> Entry? {
        var best: Entry?
        for entry in entries where Self.isWithin(path, entry.mountPoint) {
            if let current = best, current.mountPoint.utf8.count > entry.mountPoint.utf8.count { continue }
            best = entry
        }
        return best
    }

    static func isWithin(_ path: String, _ directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
               let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
