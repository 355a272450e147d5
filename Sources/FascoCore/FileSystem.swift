#if canImport(Glibc)
import CLinux
import Glibc
#endif

/// Crash-safe file operations: what Fasco stores survives a kill -9 or a power cut
/// either whole or not at all.
public enum FileSystem {
    /// The text of errno, for error messages.
    public static var errnoText: String { String(cString: strerror(errno)) }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory,
    /// fsync, rename over `path`, fsync of the directory.
    /// With `durable` false the file still appears whole or not at all, but neither it nor the
    /// rename is flushed to disk: for files that do not outlive a reboot anyway (a container's
    /// bundle, anything under /run).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600, durable: Bool = true) throws(FascoError) {
        let directory = parent(of: path)
        let temporary = "\(directory)/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(basename(of: path))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .internal("cannot create \(temporary): \(errnoText)") }
        var failure: FascoError?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = .internal("cannot write \(temporary): \(errnoText)")
                    return
                }
                offset += written
            }
        }
        if failure == nil, durable, fsync(fd) != 0 { failure = .internal("cannot fsync \(temporary): \(errnoText)") }
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        guard rename(temporary, path) == 0 else {
            let error = FascoError.internal("cannot rename \(temporary) to \(path): \(errnoText)")
            unlink(temporary)
            throw error
        }
        if durable { try syncDirectory(directory) }
    }

    /// fsync of a directory, making renames and creations in it durable.
    public static func syncDirectory(_ path: String) throws(FascoError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .internal("cannot open directory \(path): \(errnoText)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .internal("cannot fsync directory \(path): \(errnoText)") }
    }

    /// The whole content of a file, or nil when it does not exist.
    public static func read(_ path: String, limit: Int = 64 << 20) throws(FascoError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .internal("cannot open \(path): \(errnoText)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw .internal("cannot read \(path): \(errnoText)")
            }
            guard bytes.count + count <= limit else { throw .resourceExhausted("\(path) is larger than \(limit) bytes") }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// Reads the open file `fd` to its end in 1 MiB chunks, handing each to `body`.
    public static func readChunks(_ fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws(FascoError) -> Void) throws(FascoError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .internal("cannot read \(path): \(errnoText)") }
            if count == 0 { return }
            var failure: FascoError?
            buffer.withUnsafeBytes { raw in
                do throws(FascoError) { try body(UnsafeRawBufferPointer(rebasing: raw[..<count])) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Creates `path` and its parents.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(FascoError) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw .internal("cannot create directory \(current): \(errnoText)")
            }
        }
    }

    /// A new private (0700) directory under $TMPDIR (or /tmp) whose name starts with `prefix`.
    public static func makeTemporaryDirectory(prefix: String) throws(FascoError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw .internal("cannot create a temporary directory in \(base): \(errnoText)") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes `path` and everything below it without following symlinks; a missing path is fine.
    ///
    /// It never removes through a mount: when `path` is a mount point or a directory below it is
    /// (a root filesystem or an idmapped layer left mounted, a namespace pin), nothing below that
    /// mount is touched and FAILED_PRECONDITION names it; what was removed before stays removed.
    public static func removeTree(_ path: String) throws(FascoError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .internal("cannot inspect \(path): \(errnoText)")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            guard unlink(path) == 0 || errno == ENOENT else { throw .internal("cannot remove \(path): \(errnoText)") }
            return
        }
        let mount = mountID(path)
        if let mount, let above = mountID(parent(of: path)), above != mount {
            throw .failedPrecondition("\(path) is a mount point: not removed through it (unmount it first)")
        }
        try removeTree(path, mount: mount, device: UInt64(info.st_dev))
    }

    /// The mount `path` is on (statx), nil when the kernel does not say.
    static func mountID(_ path: String) -> UInt64? {
        var id: UInt64 = 0
        return fasco_mount_id(path, &id) == 0 ? id : nil
    }

    private static func removeTree(_ path: String, mount: UInt64?, device: UInt64) throws(FascoError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .internal("cannot inspect \(path): \(errnoText)")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            // A directory on another mount (where mount IDs are unknown: on another device) is a mount point.
            if mount.map({ mountID(path) != $0 }) ?? (UInt64(info.st_dev) != device) {
                throw .failedPrecondition("\(path) is a mount point: not removed through it (unmount it first)")
            }
            for name in try list(path) { try removeTree(path + "/" + name, mount: mount, device: device) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw .internal("cannot remove \(path): \(errnoText)") }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw .internal("cannot remove \(path): \(errnoText)") }
        }
    }

    /// Names in a directory (not . and ..), sorted; a missing directory is empty.
    public static func list(_ path: String) throws(FascoError) -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw .internal("cannot list \(path): \(errnoText)")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
