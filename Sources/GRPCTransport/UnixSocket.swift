#if canImport(Glibc)
import Glibc
#endif

/// Filesystem work around a listening unix socket: its directory, a stale file
/// left by a dead server, and the socket's mode.
enum UnixSocket {
    /// Longest path a sockaddr_un holds (108 bytes on Linux, NUL included).
    static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Makes `path` ready to bind: creates its directory, refuses a live server
    /// or a non-socket file, removes a stale socket.
    static func prepare(path: String) throws(GRPCServerError) {
        guard path.hasPrefix("/") else {
            throw GRPCServerError("socket path \(path) must be absolute")
        }
        guard path.utf8.count <= maxPathBytes else {
            throw GRPCServerError("socket path \(path) is longer than \(maxPathBytes) bytes")
        }
        try makeDirectories(parent(of: path))
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw GRPCServerError("cannot inspect \(path): \(errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw GRPCServerError("\(path) exists and is not a socket; refusing to replace it")
        }
        if isLive(path) {
            throw GRPCServerError("another server is already listening on \(path)")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw GRPCServerError("cannot remove stale socket \(path): \(errnoText())")
        }
    }

    /// Whether something accepts connections on the socket at `path`.
    static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(maxPathBytes))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    static func setMode(_ path: String, _ mode: mode_t) throws(GRPCServerError) {
        guard chmod(path, mode) == 0 else {
            throw GRPCServerError("cannot set mode of \(path): \(errnoText())")
        }
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func removeDirectory(_ path: String) {
        rmdir(path)
    }

    /// A new mode-0700 directory in the socket's directory, where the socket is bound first.
    static func makePrivateDirectory(beside socketPath: String) throws(GRPCServerError) -> String {
        var template = Array((parent(of: socketPath) + "/.fb-XXXXXX").utf8CString)
        guard template.count - 1 + 2 <= maxPathBytes else {
            throw GRPCServerError("socket path \(socketPath) is too long to bind safely (its directory needs 13 more bytes)")
        }
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw GRPCServerError("cannot create a directory beside \(socketPath): \(errnoText())") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Renames the bound socket onto its public path (same directory, so atomic).
    static func move(_ from: String, to path: String) throws(GRPCServerError) {
        guard rename(from, path) == 0 else {
            throw GRPCServerError("cannot move the socket to \(path): \(errnoText())")
        }
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    private static func makeDirectories(_ directory: String) throws(GRPCServerError) {
        var current = ""
        for component in directory.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw GRPCServerError("cannot create directory \(current): \(errnoText())")
            }
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// A server that cannot start: the message names what is wrong.
public struct GRPCServerError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
