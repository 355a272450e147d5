#if canImport(Glibc)
import Glibc
#endif

/// Measures a directory tree as `du` does: allocated blocks and inodes, each
/// hard-linked inode once, without following symlinks or leaving the filesystem.
public enum DiskUsage {
    public static func measure(_ root: String) throws(FascoError) -> FilesystemUsageReport {
        var rootInfo = stat()
        guard lstat(root, &rootInfo) == 0 else {
            throw .internal("cannot measure \(root): \(String(cString: strerror(errno)))")
        }
        var seen = Set<[UInt64]>()
        var bytes: UInt64 = 0
        var inodes: UInt64 = 0
        var pending = [root]
        while let directory = pending.popLast() {
            for name in (try? FileSystem.list(directory)) ?? [] {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0, info.st_dev == rootInfo.st_dev else { continue }
                if info.st_nlink > 1, !seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted { continue }
                bytes += UInt64(max(0, info.st_blocks)) * 512
                inodes += 1
                if (info.st_mode & S_IFMT) == S_IFDIR { pending.append(path) }
            }
        }
        bytes += UInt64(max(0, rootInfo.st_blocks)) * 512
        inodes += 1
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return FilesystemUsageReport(mountpoint: root, usedBytes: bytes, inodesUsed: inodes,
                                     timestampNanos: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
    }
}

/// Usage of one directory tree: bytes of allocated blocks and inodes, as `du` counts them.
public struct FilesystemUsageReport: Sendable, Equatable {
    public var mountpoint: String
    public var usedBytes: UInt64
    public var inodesUsed: UInt64
    /// When it was measured, in nanoseconds since the Unix epoch.
    public var timestampNanos: Int64

    public init(mountpoint: String, usedBytes: UInt64, inodesUsed: UInt64, timestampNanos: Int64) {
        self.mountpoint = mountpoint
        self.usedBytes = usedBytes
        self.inodesUsed = inodesUsed
        self.timestampNanos = timestampNanos
    }
}
