import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// A device node on the host, as a container spec lists it (config-linux.md "Devices").
struct HostDevice: Sendable, Equatable {
    /// `c` or `b`.
    var type: String
    var major: Int64
    var minor: Int64
    var fileMode: UInt32
    var uid: UInt32
    var gid: UInt32

    /// The device node at `path` (symlinks followed); nil when `path` is not a character or block
    /// device. A missing path is FAILED_PRECONDITION.
    static func at(_ path: String) throws(FascoError) -> HostDevice? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .failedPrecondition("device \(path) cannot be inspected: \(FileSystem.errnoText)")
        }
        return from(info)
    }

    static func from(_ info: stat) -> HostDevice? {
        let format = info.st_mode & S_IFMT
        guard format == S_IFCHR || format == S_IFBLK else { return nil }
        let device = UInt64(info.st_rdev)
        // glibc's gnu_dev_major/gnu_dev_minor.
        let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~UInt64(0xFFF))
        let minor = (device & 0xFF) | ((device >> 12) & ~UInt64(0xFF))
        return HostDevice(type: format == S_IFCHR ? "c" : "b", major: Int64(truncatingIfNeeded: major),
                          minor: Int64(truncatingIfNeeded: minor), fileMode: UInt32(info.st_mode & 0o7777),
                          uid: info.st_uid, gid: info.st_gid)
    }

    func spec(path: String) -> RuntimeSpec.Linux.Device {
        RuntimeSpec.Linux.Device(path: path, type: type, major: major, minor: minor, fileMode: fileMode, uid: uid, gid: gid)
    }

    /// Every device node below `directory` (not following symlinks), keyed by its path relative
    /// to `directory` ("" for `directory` itself). Below /dev, the directories a runtime provides
    /// itself (pts, shm, fd, mqueue) and /dev/console are skipped, as runc's HostDevices does.
    static func all(under directory: String) throws(FascoError) -> [(relative: String, device: HostDevice)] {
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
