import FascoCore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The CRI streaming server: an HTTP/1.1 listener (loopback and an ephemeral port by default,
/// as containerd's) where the URLs Exec, Attach and PortForward return are redeemed. Each URL
/// carries a one-time token that expires; each connection is served on a thread of its own,
/// upgraded to SPDY/3.1 and spoken to in Kubernetes' remotecommand or portforward protocol.
public final class StreamingServer: Sendable {
    /// Session loops need little stack: 512 KiB instead of the default 8 MiB of address space.
    static let sessionStack = 512 << 10
    public struct Configuration: Sendable {
        /// The address to listen on (IPv4 or IPv6 literal).
        public var address = "127.0.0.1"
        /// 0 picks a free port.
        public var port: UInt16 = 0
        /// How long a URL stays redeemable.
        public var tokenLifetime: Duration = .seconds(60)
        /// URLs handed out and not yet redeemed, at most.
        public var maxPendingRequests = 1000
        /// Connections served at once; more are answered 503.
        public var maxSessions = 128
        /// How long the request head may take to arrive (slow clients are dropped).
        public var handshakeTimeout: Duration = .seconds(10)
        public var maxRequestHeadBytes = 16 << 10
        /// How long the client may take to open the streams a request needs.
        public var streamCreationTimeout: Duration = .seconds(30)
        var connectionLimits = StreamingConnection.Limits()

        /// A connection without any frame from the client for this long is closed (kubelet's default: 4 h).
        public var idleTimeout: Duration {
            get { connectionLimits.idleTimeout }
            set { connectionLimits.idleTimeout = newValue }
        }

        public init() {}
    }

    /// What session threads share.
    struct Context: Sendable {
        let configuration: Configuration
        let tokens: TokenCache
        let backend: any StreamingBackend
        let logger: Logger
    }

    private struct ListenerState {
        /// The accept loop's doorbell; -1 once the loop has ended.
        var wakeWrite: Int32
        var stopping = false
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// `http://address:port`, the prefix of every URL handed out.
    public let baseURL: String
    public let port: UInt16
    let context: Context
    private let state: Mutex<ListenerState>
    private let sessions = Mutex(0)

    /// Binds and starts accepting; fails when the address cannot be listened on.
    public init(configuration: Configuration, backend: any StreamingBackend, logger: Logger) throws(FascoError) {
        let (listener, port) = try Self.listen(address: configuration.address, port: configuration.port)
        let wake: (read: Int32, write: Int32)
        do { wake = try SocketIO.makePipe() } catch {
            close(listener)
            throw error
        }
        self.port = port
        let host = configuration.address.contains(":") ? "[\(configuration.address)]" : configuration.address
        self.baseURL = "http://\(host):\(port)"
        self.context = Context(
            configuration: configuration,
            tokens: TokenCache(lifetime: configuration.tokenLifetime, capacity: configuration.maxPendingRequests),
            backend: backend, logger: logger)
        self.state = Mutex(ListenerState(wakeWrite: wake.write))
        guard DetachedThread.start(stackSize: Self.sessionStack, { [self] in acceptLoop(listener: listener, wake: wake.read) }) else {
            close(listener)
            close(wake.read)
            close(wake.write)
            throw .resourceExhausted("cannot start the streaming server's thread")
        }
    }

    /// The one-time URL for `request`: `<baseURL>/<exec|attach|portforward>/<token>`.
    public func url(for request: StreamingRequest) throws(FascoError) -> String {
        let token = try context.tokens.insert(request)
        return "\(baseURL)/\(request.pathPrefix)/\(token)"
    }

    /// Connections being served now.
    public var activeSessions: Int { sessions.withLock { $0 } }

    /// Stops accepting (the listener closes); sessions in progress run to their end.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                guard !state.finished else { return true }
                if !state.stopping {
                    state.stopping = true
                    var byte: UInt8 = 1
                    _ = write(state.wakeWrite, &byte, 1)
                }
                if let earlier = state.waiter { earlier.resume() }
                state.waiter = continuation
                return false
            }
            if finished { continuation.resume() }
        }
    }

    // MARK: accepting

    private func acceptLoop(listener: Int32, wake: Int32) {
        defer {
            close(listener)
            close(wake)
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                close(state.wakeWrite)
                state.wakeWrite = -1
                state.finished = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        while true {
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                context.logger.error("streaming server poll failed", metadata: ["error": "\(FileSystem.errnoText)"])
                return
            }
            if entries[1].revents != 0 { return }
            guard entries[0].revents & Int16(POLLIN) != 0 else { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                // EMFILE and friends: back off a little rather than spin.
                if errno != EAGAIN && errno != EINTR && errno != ECONNABORTED { usleep(50_000) }
                continue
            }
            SocketIO.setCloseOnExec(fd)
            serve(fd)
        }
    }

    private func serve(_ fd: Int32) {
        guard admit() else {
            SocketIO.setNonBlocking(fd)
            _ = SocketIO.writeAll(fd, HTTPResponse.error(503, "Service Unavailable", "too many streaming sessions"),
                                  deadline: ContinuousClock.now + .milliseconds(100))
            close(fd)
            return
        }
        if !DetachedThread.start(stackSize: Self.sessionStack, { [self] in serveSession(fd) }) {
            leave()
            close(fd)
        }
    }

    private func serveSession(_ fd: Int32) {
        Session(socket: fd, server: context).run()
        leave()
    }

    private func admit() -> Bool {
        let limit = context.configuration.maxSessions
        return sessions.withLock { count in
            if count >= limit { return false }
            count += 1
            return true
        }
    }

    private func leave() {
        sessions.withLock { $0 -= 1 }
    }

    /// A listening TCP socket on `address:port`, and the port it got.
    static func listen(address: String, port: UInt16) throws(FascoError) -> (Int32, UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        let family: Int32
        if inet_pton(AF_INET, address, &v4) == 1 {
            family = AF_INET
        } else if inet_pton(AF_INET6, address, &v6) == 1 {
            family = AF_INET6
        } else {
            throw .invalidArgument("streaming address \(address.debugDescription) is not an IP address")
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .resourceExhausted("cannot create the streaming socket: \(FileSystem.errnoText)") }
        SocketIO.setCloseOnExec(fd)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        if family == AF_INET {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr = v4
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            socketAddress.sin6_addr = v6
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let text = FileSystem.errnoText
            close(fd)
            throw .unavailable("cannot listen for streaming on \(address):\(port): \(text)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            close(fd)
            throw .internal("getsockname on the streaming socket: \(FileSystem.errnoText)")
        }
        let actual: UInt16 = withUnsafePointer(to: &storage) { pointer in
            family == AF_INET
                ? pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                : pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
        return (fd, actual)
    }
}
