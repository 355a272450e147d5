import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// A device node on the host, as a container spec lists it (config-linux.md "Devices").
public struct HostDevice: Sendable, Equatable {
    /// `c` or `b`.
    public var type: String
    public var major: Int64
    public var minor: Int64
    public var fileMode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    public init(type: String, major: Int64, minor: Int64, fileMode: UInt32, uid: UInt32, gid: UInt32) {
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
    }

    /// The node a stat(2) `st_mode` and `st_rdev` describe; nil when it is not a character or
    /// block device.
    public init?(mode: UInt32, rdev: UInt64, uid: UInt32, gid: UInt32) {
        let format = mode & UInt32(S_IFMT)
        guard format == UInt32(S_IFCHR) || format == UInt32(S_IFBLK) else { return nil }
        // glibc's gnu_dev_major/gnu_dev_minor.
        let major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~UInt64(0xFFF))
        let minor = (rdev & 0xFF) | ((rdev >> 12) & ~UInt64(0xFF))
        self.init(type: format == UInt32(S_IFCHR) ? "c" : "b", major: Int64(truncatingIfNeeded: major),
                  minor: Int64(truncatingIfNeeded: minor), fileMode: mode & 0o7777, uid: uid, gid: gid)
    }

    /// The device node at `path` (symlinks followed); nil when `path` is not a character or block
    /// device. A missing path is FAILED_PRECONDITION.
    public static func at(_ path: String) throws(FascoError) -> HostDevice? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .failedPrecondition("device \(path) cannot be inspected: \(FileSystem.errnoText)")
        }
        return from(info)
    }

    static func from(_ info: stat) -> HostDevice? {
        HostDevice(mode: UInt32(info.st_mode), rdev: UInt64(info.st_rdev), uid: info.st_uid, gid: info.st_gid)
    }

    public func spec(path: String) -> RuntimeSpec.Linux.Device {
        RuntimeSpec.Linux.Device(path: path, type: type, major: major, minor: minor, fileMode: fileMode, uid: uid, gid: gid)
    }

    /// Every device node below `directory` (not following symlinks), keyed by its path relative
    /// to `directory` ("" for `directory` itself). Below /dev, the directories a runtime provides
    /// itself (pts, shm, fd, mqueue) and /dev/console are skipped, as runc's HostDevices does.
    public static func all(under directory: String) throws(FascoError) -> [(relative: String, device: HostDevice)] {
        var found: [(relative: String, device: HostDevice)] = []
        try walk(directory, relative: "", found: &found, depth: 0)
        return found
    }

    private static let skippedDirectories: Set<String> = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]

    private static func walk(_ path: String, relative: String, found: inout [(relative: String, device: HostDevice)], depth: Int) throws(FascoError) {
        guard depth < 16 else { return }
        for name in try FileSystem.list(path) {
            let child = path + "/" + name
            let childRelative = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(child, &info) == 0 else { continue }
            let format = info.st_mode & S_IFMT
            if format == S_IFDIR {
                if depth == 0 && path == "/dev" && skippedDirectories.contains(name) { continue }
                try walk(child, relative: childRelative, found: &found, depth: depth + 1)
            } else if let device = from(info) {
                if path == "/dev" && name == "console" { continue }
                found.append((childRelative, device))
            }
        }
    }
}
