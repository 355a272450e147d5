import CLinux
import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One command and its reply over a realm supervisor's control socket.
///
/// `exchange` blocks the calling thread (run it through `BlockingWork`); `cancel()`, from any
/// thread, shuts the socket down so that a blocked exchange returns at once. Each exchange
/// uses a connection of its own, so a long `wait` never holds up other commands.
final class SupervisorConnection: Sendable {
    private struct State {
        var fd: Int32 = -1
        var cancelled = false
    }

    /// The cause of the error thrown when nothing listens on the socket.
    struct NotRunning: Error {}

    private let state = Mutex(State())
    let socketPath: String

    init(socketPath: String) {
        self.socketPath = socketPath
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            if state.fd >= 0 { shutdown(state.fd, Int32(SHUT_RDWR)) }
        }
    }

    private var cancelledError: FascoError { FascoError(.deadlineExceeded, "the request to the realm supervisor at \(socketPath) was cancelled") }

    /// Connects, sends `request` as one datagram and returns the reply datagram.
    func exchange(_ request: [UInt8], timeout: Duration?) throws(FascoError) -> [UInt8] {
        let (reply, descriptors) = try exchangeWithDescriptors(request, timeout: timeout)
        for fd in descriptors { close(fd) }
        return reply
    }

    /// As `exchange`, also returning the descriptors the reply carried (the caller's to close).
    func exchangeWithDescriptors(_ request: [UInt8], timeout: Duration?) throws(FascoError) -> ([UInt8], [Int32]) {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .resourceExhausted("socket: \(FileSystem.errnoText)") }
        let registered = state.withLock { state -> Bool in
            guard !state.cancelled else { return false }
            state.fd = fd
            return true
        }
        // Deregistered before closing, so cancel() can never shut down a reused descriptor.
        defer {
            state.withLock { $0.fd = -1 }
            close(fd)
        }
        guard registered else { throw cancelledError }

        // Before connect: a full listen backlog makes connect wait, bounded by SO_SNDTIMEO.
        if let timeout { setTimeout(fd, timeout) }
        try connect(fd)

        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else {
            if state.withLock({ $0.cancelled }) { throw cancelledError }
            if sent < 0 && errno == EMSGSIZE { throw .invalidArgument("the command is too large for the realm supervisor's socket") }
            throw .unavailable("cannot send to the realm supervisor at \(socketPath): \(FileSystem.errnoText)")
        }
        return try receive(fd)
    }

    private func connect(_ fd: Int32) throws(FascoError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .invalidArgument("the socket path \(socketPath) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
            buffer[path.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason = FileSystem.errnoText
            switch errno {
            case ENOENT, ECONNREFUSED:
                throw FascoError(.unavailable, "the realm supervisor at \(socketPath) is not running (\(reason))", cause: NotRunning())
            default:
                throw .unavailable("cannot connect to the realm supervisor at \(socketPath): \(reason)")
            }
        }
    }

    private func setTimeout(_ fd: Int32, _ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: max(Int(seconds), 0), tv_usec: Int(attoseconds / 1_000_000_000_000))
        if value.tv_sec == 0 && value.tv_usec == 0 { value.tv_usec = 1 }  // 0 would mean "no timeout"
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private func receive(_ fd: Int32) throws(FascoError) -> ([UInt8], [Int32]) {
        while true {
            // The reply's size without consuming it (MSG_TRUNC reports the whole datagram).
            let size = recv(fd, nil, 0, Int32(MSG_PEEK) | Int32(MSG_TRUNC))
            if size < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw FascoError(.deadlineExceeded, "the realm supervisor at \(socketPath) did not answer in time")
                }
                throw .unavailable("cannot read from the realm supervisor at \(socketPath): \(FileSystem.errnoText)")
            }
            if size == 0 {
                if state.withLock({ $0.cancelled }) { throw cancelledError }
                throw .unavailable("the realm supervisor at \(socketPath) closed the connection without answering")
            }
            var reply = [UInt8](repeating: 0, count: size)
            var descriptors = [Int32](repeating: -1, count: 4)
            var passed: Int32 = 0
            let count = reply.withUnsafeMutableBytes { bytes in
                descriptors.withUnsafeMutableBufferPointer { fds in
                    fasco_receive_message(fd, bytes.baseAddress, bytes.count, fds.baseAddress, Int32(fds.count), &passed)
                }
            }
            let received = Array(descriptors.prefix(Int(max(passed, 0))))
            guard count == size else {
                for descriptor in received { close(descriptor) }
                throw .unavailable("cannot read from the realm supervisor at \(socketPath): \(FileSystem.errnoText)")
            }
            return (reply, received)
        }
    }
}
