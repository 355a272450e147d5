import CImageLibs
import FascoCore
import Glibc

/// Reads files inside a container's root filesystem as the container would see them.
///
/// A root filesystem comes from an image, and an image is hostile: its `/etc/passwd` may be a
/// symlink to `/etc/shadow` of the host, or to `../../../../etc/shadow`, or a FIFO that blocks a
/// reader forever. Every lookup here is an openat2(2) with `RESOLVE_IN_ROOT` (absolute symlinks
/// and `..` are resolved as if `root` were `/`) and `RESOLVE_NO_MAGICLINKS` (no /proc/self/fd
/// escapes), and only regular files are read.
public enum RootfsFile {
    /// The content of `path` (absolute or relative, resolved inside `root`), or nil when it does
    /// not exist there. A file that is not a regular file, or is larger than `limit` bytes, is an
    /// error; so is a `root` that cannot be opened as a directory.
    public static func read(_ path: String, inRoot root: String, limit: Int = 4 << 20) throws(FascoError) -> [UInt8]? {
        guard !path.utf8.contains(0), !root.utf8.contains(0) else {
            throw .invalidArgument("path \(path) in \(root) contains a NUL byte")
        }
        let rootFD = UnpackSys.openat(AT_FDCWD, Array(root.utf8), flags: O_RDONLY | O_DIRECTORY)
        guard rootFD.fd >= 0 else {
            throw .failedPrecondition("cannot open root filesystem \(root): \(String(cString: strerror(rootFD.errno)))")
        }
        defer { close(rootFD.fd) }
        // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        let opened = UnpackSys.openat2(rootFD.fd, Array(path.utf8), flags: O_RDONLY | O_NONBLOCK | O_NOCTTY,
                                       resolve: UnpackSys.resolveInRoot | UnpackSys.resolveNoMagicLinks)
        guard opened.fd >= 0 else {
            if opened.errno == ENOENT || opened.errno == ENOTDIR { return nil }
            throw .failedPrecondition("cannot open \(path) in \(root): \(String(cString: strerror(opened.errno)))")
        }
        defer { close(opened.fd) }
        var info = stat()
        guard fstat(opened.fd, &info) == 0 else {
            throw .internal("cannot inspect \(path) in \(root): \(FileSystem.errnoText)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .failedPrecondition("\(path) in \(root) is not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw .resourceExhausted("\(path) in \(root) is larger than \(limit) bytes")
        }
        var bytes: [UInt8] = []
        try FileSystem.readChunks(opened.fd, path: root + "/" + path) { (chunk) throws(FascoError) in
            guard bytes.count + chunk.count <= limit else {
                throw .resourceExhausted("\(path) in \(root) is larger than \(limit) bytes")
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }
}
