import CLinux
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// TCP connections made inside a network namespace (CRI PortForward). setns(2) changes the
/// calling thread's namespace for good, so each connection is made on a thread created for
/// it alone, which enters the namespace, connects (the socket keeps that namespace) and ends.
/// No Swift task ever runs on it.
public enum NamespaceConnector {
    /// A connected socket to `port` on the loopback of `namespace` (a `/proc/<pid>/ns/net`
    /// path; nil is the host's), trying 127.0.0.1 then ::1. The descriptor is the caller's.
    public static func connect(namespace: String?, port: UInt16, timeout: Duration = .seconds(10)) async throws(FascoError) -> Int32 {
        let result: Result<Int32, FascoError> = await withCheckedContinuation { continuation in
            let started = DetachedThread.start {
                continuation.resume(returning: connectHere(namespace: namespace, port: port, deadline: ContinuousClock.now + timeout))
            }
            if !started { continuation.resume(returning: .failure(.resourceExhausted("cannot start a thread to connect to port \(port)"))) }
        }
        return try result.get()
    }

    /// Runs on the dedicated thread.
    private static func connectHere(namespace: String?, port: UInt16, deadline: ContinuousClock.Instant) -> Result<Int32, FascoError> {
        if let namespace {
            let handle = open(namespace, O_RDONLY | O_CLOEXEC)
            guard handle >= 0 else { return .failure(.unavailable("cannot open the pod's network namespace \(namespace): \(FileSystem.errnoText)")) }
            defer { close(handle) }
            guard fasco_setns(handle, fasco_clone_newnet()) == 0 else {
                return .failure(.internal("cannot enter the pod's network namespace \(namespace): \(FileSystem.errnoText)"))
            }
        }
        var lastError = ECONNREFUSED
        for family in [AF_INET, AF_INET6] {
            switch attempt(family: family, port: port, deadline: deadline) {
            case .success(let fd): return .success(fd)
            case .failure(let error): lastError = error.code
            }
            // Only a refusal (or an absent address family) is worth trying the other loopback for.
            if lastError != ECONNREFUSED && lastError != EADDRNOTAVAIL && lastError != EAFNOSUPPORT { break }
        }
        let text = lastError == ETIMEDOUT ? "timed out" : String(cString: strerror(lastError))
        return .failure(.unavailable("cannot connect to localhost:\(port) in the pod's network: \(text)"))
    }

    private static func attempt(family: Int32, port: UInt16, deadline: ContinuousClock.Instant) -> Result<Int32, Errno> {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(code: errno)) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var result: Int32
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        if result != 0 {
            guard errno == EINPROGRESS else {
                let error = errno
                close(fd)
                return .failure(Errno(code: error))
            }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, ProcessSpawner.milliseconds(until: deadline))
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if ready <= 0 {
                error = ready == 0 ? ETIMEDOUT : errno
            } else if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 {
                error = errno
            }
            if error != 0 {
                close(fd)
                return .failure(Errno(code: error))
            }
        }
        return .success(fd)
    }
}

/// An errno value, as an Error.
struct Errno: Error {
    var code: Int32
}
