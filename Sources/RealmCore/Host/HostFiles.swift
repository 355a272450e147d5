import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// The host paths a container spec names, looked at when the translation reaches them: device
/// nodes, bind-mount sources (and the mount table their propagation is checked against), the
/// pod's files, seccomp profiles. Part of `HostFacts`: `LocalHostFiles` looks on this machine,
/// tests give their own, so that spec translation runs against any host they make up.
public protocol HostFiles: Sendable {
    /// The host's mount table, in mountinfo order.
    func mounts() throws(FascoError) -> [MountInfo]
    /// The device node at `path` (symlinks followed); nil when `path` is not a character or
    /// block device. A missing path is FAILED_PRECONDITION.
    func device(at path: String) throws(FascoError) -> HostDevice?
    /// Every device node below `directory`, by its path relative to it (see `HostDevice.all`).
    func devices(under directory: String) throws(FascoError) -> [(relative: String, device: HostDevice)]
    /// The source of a bind mount of `path` (absolute): its symlinks resolved. A path that does
    /// not exist is made a directory (0755, with its parents) first, as containerd does.
    func bindSource(_ path: String) throws(FascoError) -> String
    func exists(_ path: String) -> Bool
    func isDirectory(_ path: String) -> Bool
    /// The content of the file at `path`, at most `limit` bytes; nil when it does not exist.
    func read(_ path: String, limit: Int) throws(FascoError) -> [UInt8]?
}

/// This machine's files.
public struct LocalHostFiles: HostFiles {
    public init() {}

    /// /proc/self/mountinfo.
    public func mounts() throws(FascoError) -> [MountInfo] {
        try MountInfo.current()
    }

    public func device(at path: String) throws(FascoError) -> HostDevice? {
        try HostDevice.at(path)
    }

    public func devices(under directory: String) throws(FascoError) -> [(relative: String, device: HostDevice)] {
        try HostDevice.all(under: directory)
    }

    public func bindSource(_ path: String) throws(FascoError) -> String {
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT else {
                throw .failedPrecondition("cannot inspect mount host path \(path): \(FileSystem.errnoText)")
            }
            try FileSystem.makeDirectories(path, mode: 0o755)
        }
        guard let resolved = realpath(path, nil) else {
            throw .failedPrecondition("cannot resolve mount host path \(path): \(FileSystem.errnoText)")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public func exists(_ path: String) -> Bool {
        FileSystem.exists(path)
    }

    public func isDirectory(_ path: String) -> Bool {
        FileSystem.isDirectory(path)
    }

    public func read(_ path: String, limit: Int) throws(FascoError) -> [UInt8]? {
        try FileSystem.read(path, limit: limit)
    }
}
