import CImageLibs
import FascoCore
import Glibc

// Thin, errno-returning wrappers over the *at(2) system calls the layer unpacker
// uses. File names are raw byte strings (`[UInt8]`, no terminator): Linux names
// are bytes, and a layer may carry names that are not UTF-8.

/// The system calls, each returning 0 (or a descriptor) on success and the errno value on failure.
enum UnpackSys {
    /// O_PATH, RESOLVE_NO_MAGICLINKS and RESOLVE_IN_ROOT, from the C headers (CImageLibs).
    static let pathOnly: Int32 = fasco_o_path()
    static let resolveNoMagicLinks: UInt64 = fasco_resolve_no_magiclinks()
    static let resolveInRoot: UInt64 = fasco_resolve_in_root()

    /// Calls `body` with a NUL-terminated copy of `bytes`.
    @inline(__always)
    static func withCPath<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E) -> R {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: raw.count)
            }
        }
        buffer[bytes.count] = 0
        return try body(buffer)
    }

    /// openat2(dirfd, path, {flags | O_CLOEXEC, 0, resolve}); (-1, errno) on error.
    static func openat2(_ dirfd: Int32, _ path: [UInt8], flags: Int32, resolve: UInt64) -> (fd: Int32, errno: Int32) {
        let flags = UInt64(UInt32(bitPattern: flags | O_CLOEXEC))
        return withCPath(path) { cPath in
            // The kernel asks for a retry (EAGAIN) when a rename raced with a RESOLVE_IN_ROOT lookup.
            var attempts = 0
            while true {
                let result = fasco_openat2(dirfd, cPath, flags, resolve)
                if result >= 0 { return (result, 0) }
                let code = errno
                attempts += 1
                if (code == EAGAIN && attempts < 64) || code == EINTR { continue }
                return (-1, code)
            }
        }
    }

    static func openat(_ dirfd: Int32, _ name: [UInt8], flags: Int32, mode: mode_t = 0) -> (fd: Int32, errno: Int32) {
        withCPath(name) { cName in
            while true {
                let fd = Glibc.openat(dirfd, cName, flags | O_CLOEXEC, mode)
                if fd >= 0 { return (fd, 0) }
                if errno != EINTR { return (-1, errno) }
            }
        }
    }

    static func mkdirat(_ dirfd: Int32, _ name: [UInt8], mode: mode_t) -> Int32 {
        withCPath(name) { Glibc.mkdirat(dirfd, $0, mode) == 0 ? 0 : errno }
    }

    static func unlinkat(_ dirfd: Int32, _ name: [UInt8], flags: Int32) -> Int32 {
        withCPath(name) { Glibc.unlinkat(dirfd, $0, flags) == 0 ? 0 : errno }
    }

    static func symlinkat(target: [UInt8], _ dirfd: Int32, _ name: [UInt8]) -> Int32 {
        withCPath(target) { cTarget in
            withCPath(name) { Glibc.symlinkat(cTarget, dirfd, $0) == 0 ? 0 : errno }
        }
    }

    /// linkat(2) without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
    static func linkat(_ oldDir: Int32, _ oldName: [UInt8], _ newDir: Int32, _ newName: [UInt8]) -> Int32 {
        withCPath(oldName) { cOld in
            withCPath(newName) { Glibc.linkat(oldDir, cOld, newDir, $0, 0) == 0 ? 0 : errno }
        }
    }

    static func mknodat(_ dirfd: Int32, _ name: [UInt8], mode: mode_t, device: dev_t) -> Int32 {
        withCPath(name) { Glibc.mknodat(dirfd, $0, mode, device) == 0 ? 0 : errno }
    }

    /// fchownat(2) with AT_SYMLINK_NOFOLLOW.
    static func lchownat(_ dirfd: Int32, _ name: [UInt8], uid: uid_t, gid: gid_t) -> Int32 {
        withCPath(name) { Glibc.fchownat(dirfd, $0, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno }
    }

    /// fchmodat(2), following a final symlink: callers only use it on a name they just
    /// created as a device node or FIFO.
    static func fchmodat(_ dirfd: Int32, _ name: [UInt8], mode: mode_t) -> Int32 {
        withCPath(name) { Glibc.fchmodat(dirfd, $0, mode, 0) == 0 ? 0 : errno }
    }

    /// utimensat(2) with AT_SYMLINK_NOFOLLOW.
    static func lutimensat(_ dirfd: Int32, _ name: [UInt8], _ times: (timespec, timespec)) -> Int32 {
        var pair = times
        return withCPath(name) { cName in
            withUnsafePointer(to: &pair) { pointer in
                pointer.withMemoryRebound(to: timespec.self, capacity: 2) {
                    Glibc.utimensat(dirfd, cName, $0, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno
                }
            }
        }
    }

    static func futimens(_ fd: Int32, _ times: (timespec, timespec)) -> Int32 {
        var pair = times
        return withUnsafePointer(to: &pair) { pointer in
            pointer.withMemoryRebound(to: timespec.self, capacity: 2) {
                Glibc.futimens(fd, $0) == 0 ? 0 : errno
            }
        }
    }

    /// fstatat(2) with AT_SYMLINK_NOFOLLOW; nil when the name does not exist.
    static func lstatat(_ dirfd: Int32, _ name: [UInt8]) -> (info: stat?, errno: Int32) {
        var info = stat()
        let code: Int32 = withCPath(name) { Glibc.fstatat(dirfd, $0, &info, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno }
        return code == 0 ? (info, 0) : (nil, code)
    }

    /// readlinkat(2); nil with errno when `name` is not a symlink or cannot be read.
    static func readlinkat(_ dirfd: Int32, _ name: [UInt8]) -> (target: [UInt8]?, errno: Int32) {
        withCPath(name) { cName in
            var capacity = 256
            while capacity <= 1 << 16 {
                var buffer = [UInt8](repeating: 0, count: capacity)
                let count = buffer.withUnsafeMutableBytes { raw -> Int in
                    guard let base = raw.baseAddress else { return -1 }
                    return Glibc.readlinkat(dirfd, cName, base.assumingMemoryBound(to: CChar.self), raw.count)
                }
                if count < 0 { return (nil, errno) }
                if count < capacity { return (Array(buffer.prefix(count)), 0) }
                capacity *= 4
            }
            return (nil, ENAMETOOLONG)
        }
    }

    /// Reads the target of a symlink given by a full path (used for /proc/self/fd/N).
    static func readlink(_ path: [UInt8]) -> [UInt8]? {
        let result = readlinkat(AT_FDCWD, path)
        return result.target
    }

    static func fsetxattr(_ fd: Int32, _ name: [UInt8], _ value: [UInt8]) -> Int32 {
        withCPath(name) { cName in
            value.withUnsafeBytes { raw in
                fasco_fsetxattr(fd, cName, raw.baseAddress, raw.count, 0) == 0 ? 0 : errno
            }
        }
    }

    /// lsetxattr(2): never follows a final symlink.
    static func lsetxattr(_ path: [UInt8], _ name: [UInt8], _ value: [UInt8]) -> Int32 {
        withCPath(path) { cPath in
            withCPath(name) { cName in
                value.withUnsafeBytes { raw in
                    fasco_lsetxattr(cPath, cName, raw.baseAddress, raw.count, 0) == 0 ? 0 : errno
                }
            }
        }
    }

    /// The names in the directory `dirfd` (which may be an O_PATH descriptor), without "." and "..".
    static func listDirectory(_ dirfd: Int32) -> (names: [[UInt8]], errno: Int32) {
        let opened = openat(dirfd, [UInt8(ascii: ".")], flags: O_RDONLY | O_DIRECTORY)
        guard opened.fd >= 0 else { return ([], opened.errno) }
        guard let stream = fdopendir(opened.fd) else {
            let code = errno
            close(opened.fd)
            return ([], code)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                return errno == 0 ? (names, 0) : ([], errno)
            }
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(raw.firstIndex(of: 0) ?? raw.count))
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
    }

    /// Writes all of `count` bytes at `offset`, retrying short writes.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, offset: Int64) -> Int32 {
        var written = 0
        while written < count {
            let result = pwrite(fd, bytes + written, count - written, off_t(offset) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if result == 0 { return EIO }
            written += result
        }
        return 0
    }

    static func message(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}

extension FascoError {
    /// An error for a failed system call while unpacking: resource exhaustion and
    /// permission problems keep their own codes, anything a layer's shape can
    /// cause is the layer's fault (invalidArgument), the rest is internal.
    static func unpack(_ what: String, errno code: Int32) -> FascoError {
        let kind: FascoError.Code = switch code {
        case ENOSPC, EDQUOT, EMFILE, ENFILE, ENOMEM: .resourceExhausted
        case EPERM, EACCES: .permissionDenied
        case ENOENT, ENOTDIR, EISDIR, EEXIST, ELOOP, ENAMETOOLONG, EMLINK, ENOTEMPTY, EXDEV: .invalidArgument
        default: .internal
        }
        return FascoError(kind, "\(what): \(UnpackSys.message(code))")
    }
}
