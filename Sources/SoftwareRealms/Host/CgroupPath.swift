import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Paths of cgroups relative to the root of a hierarchy ("/fasco/pod1"), and the small file
/// operations on cgroup files that `PodCgroup` and `CgroupStats` share.
enum CgroupPath {
    /// `path` as "/a/b": absolute, without empty, "." or ".." components or NUL bytes.
    /// Repeated and trailing slashes are dropped. The root ("/") only when `allowRoot`.
    static func normalized(_ path: String, allowRoot: Bool) throws(FascoError) -> String {
        guard path.hasPrefix("/") else { throw .invalidArgument("a cgroup path must be absolute: \(path.debugDescription)") }
        guard !path.utf8.contains(0) else { throw .invalidArgument("a cgroup path must not contain NUL: \(path.debugDescription)") }
        let components = path.split(separator: "/")
        for component in components where component == "." || component == ".." {
            throw .invalidArgument("a cgroup path must not contain . or ..: \(path.debugDescription)")
        }
        guard allowRoot || !components.isEmpty else { throw .invalidArgument("the root cgroup is not allowed here") }
        return "/" + components.joined(separator: "/")
    }

    /// The cgroup `name` directly below the cgroup `parent` (a normalized path; "/" is the root).
    static func child(of parent: String, _ name: String) -> String {
        (parent == "/" ? "" : parent) + "/" + name
    }

    /// The directory of the cgroup `path` (normalized) below a hierarchy's mount point.
    static func directory(mountPoint: String, path: String) -> String {
        path == "/" ? mountPoint : mountPoint + path
    }

    /// The content of a small cgroup file, or nil when it is absent: ENOENT, or ENODEV for a
    /// file of a cgroup removed meanwhile. Other errors are thrown.
    static func read(_ path: String, limit: Int = 1 << 20) throws(FascoError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENODEV || errno == ENOTDIR { return nil }
            throw .internal("cannot open \(path): \(FileSystem.errnoText)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ENODEV { return nil }
                throw .internal("cannot read \(path): \(FileSystem.errnoText)")
            }
            guard bytes.count + count <= limit else { throw .resourceExhausted("\(path) is larger than \(limit) bytes") }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// Writes `text` to an existing cgroup file with one write(2) (cgroup files take a value
    /// per write). Returns errno, 0 on success.
    static func write(_ text: String, to path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        while true {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written == bytes.count { return 0 }
            if written < 0 && errno == EINTR { continue }
            return written < 0 ? errno : EIO
        }
    }

    /// Parses a flat-keyed file ("key value" per line: memory.stat, cpu.stat, memory.events).
    /// A repeated key keeps its last value; lines that are not "key number" are skipped.
    static func keyedValues(_ text: String) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let value = UInt64(fields[1]) else { continue }
            values[String(fields[0])] = value
        }
        return values
    }

    /// A file holding one number (surrounding white space allowed); nil for anything else.
    static func number(_ text: String?) -> UInt64? {
        guard let text else { return nil }
        return UInt64(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first ?? "")
    }
}
