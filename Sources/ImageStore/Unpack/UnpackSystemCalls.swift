import FascoCore
import Glibc

// Thin, errno-returning wrappers over the *at(2) system calls the layer unpacker
// uses. File names are raw byte strings (`[UInt8]`, no terminator): Linux names
// are bytes, and a layer may carry names that are not UTF-8.

/// The type of glibc's `long syscall(long number, ...)`, spelled with the fixed
/// arguments of openat2(2) (dirfd, pathname, how, size).
private typealias Openat2Call = @convention(c) (Int, Int32, UnsafePointer<CChar>, UnsafeRawPointer, Int) -> Int
/// fsetxattr(2) and lsetxattr(2) from <sys/xattr.h>.
private typealias FsetxattrCall = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
private typealias LsetxattrCall = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32

/// libc functions Swift's Glibc module does not offer, looked up once with dlsym.
///
/// glibc 2.36 has no openat2() wrapper and Swift cannot call the variadic
/// `syscall(2)`, so openat2 goes through `syscall` called via a fixed-argument
/// pointer. On the Linux ABIs Swift supports (x86_64, aarch64) integer and
/// pointer arguments of a variadic call travel in the same registers as those of
/// a non-variadic call, and glibc's `syscall` is an assembly shim that only moves
/// registers, so this is the same call a C program makes. <sys/xattr.h> is not
/// part of the Glibc module; its functions are called through their exact types.
private struct LibcExtras: @unchecked Sendable {
    // SAFETY: immutable C function pointers into libc, resolved once before any use.
    let syscall: Openat2Call?
    let fsetxattr: FsetxattrCall?
    let lsetxattr: LsetxattrCall?

    static let shared: LibcExtras = {
        guard let handle = dlopen(nil, RTLD_NOW) else { return LibcExtras(syscall: nil, fsetxattr: nil, lsetxattr: nil) }
        return LibcExtras(
            syscall: dlsym(handle, "syscall").map { unsafeBitCast($0, to: Openat2Call.self) },
            fsetxattr: dlsym(handle, "fsetxattr").map { unsafeBitCast($0, to: FsetxattrCall.self) },
            lsetxattr: dlsym(handle, "lsetxattr").map { unsafeBitCast($0, to: LsetxattrCall.self) })
    }()
}

/// openat2(2) is syscall 437 on every Linux architecture (the unified syscall table since 5.6).
private let openat2Number = 437

/// The system calls, each returning 0 (or a descriptor) on success and the errno value on failure.
enum UnpackSys {
    /// `struct open_how` from <linux/openat2.h>: three u64 fields.
    struct OpenHow {
        var flags: UInt64
        var mode: UInt64
        var resolve: UInt64
    }

    /// O_PATH (<bits/fcntl-linux.h>, hidden from Swift behind _GNU_SOURCE): the same
    /// value on every architecture Swift supports on Linux.
    static let pathOnly: Int32 = 0o10000000

    /// RESOLVE_NO_MAGICLINKS and RESOLVE_IN_ROOT (<linux/openat2.h>).
    static let resolveNoMagicLinks: UInt64 = 0x02
    static let resolveInRoot: UInt64 = 0x10

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
        guard let call = LibcExtras.shared.syscall else { return (-1, ENOSYS) }
        var how = OpenHow(flags: UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), mode: 0, resolve: resolve)
        return withCPath(path) { cPath in
            withUnsafePointer(to: &how) { howPointer in
                // The kernel asks for a retry (EAGAIN) when a rename raced with a RESOLVE_IN_ROOT lookup.
                var attempts = 0
                while true {
                    let result = call(openat2Number, dirfd, cPath, UnsafeRawPointer(howPointer), MemoryLayout<OpenHow>.size)
                    if result >= 0 { return (Int32(truncatingIfNeeded: result), 0) }
                    let code = errno
                    attempts += 1
                    if (code == EAGAIN && attempts < 64) || code == EINTR { continue }
                    return (-1, code)
                }
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
        guard let call = LibcExtras.shared.fsetxattr else { return ENOSYS }
        return withCPath(name) { cName in
            value.withUnsafeBytes { raw in
                call(fd, cName, raw.baseAddress, raw.count, 0) == 0 ? 0 : errno
            }
        }
    }

    /// lsetxattr(2): never follows a final symlink.
    static func lsetxattr(_ path: [UInt8], _ name: [UInt8], _ value: [UInt8]) -> Int32 {
        guard let call = LibcExtras.shared.lsetxattr else { return ENOSYS }
        return withCPath(path) { cPath in
            withCPath(name) { cName in
                value.withUnsafeBytes { raw in
                    call(cPath, cName, raw.baseAddress, raw.count, 0) == 0 ? 0 : errno
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
