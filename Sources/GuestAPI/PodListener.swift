import CLinux
import CRIStreaming
import FascoCore
import RealmCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One pod's guest API listeners and the thread that owns them: it enters the pod's network
/// namespace (setns changes only the calling thread, for good, so the thread is made for this
/// alone), listens on 127.0.0.1:port there and on the pod's unix socket, and accepts until
/// stopped; then it closes both and removes the socket file.
final class PodListener: Sendable {
    enum Kind: Sendable, Equatable {
        case unix, tcp
    }

    struct Started: Sendable {
        var problems: [String]
        var serving: Bool
    }

    private struct State {
        var wakeWrite: Int32 = -1
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let pod: RealmID
    let socketPath: String
    /// The pod's network namespace (a path); nil: the host's (no TCP listener then).
    let networkNamespace: String?
    let port: UInt16
    private let state = Mutex(State())

    init(pod: RealmID, socketPath: String, networkNamespace: String?, port: UInt16) {
        self.pod = pod
        self.socketPath = socketPath
        self.networkNamespace = networkNamespace
        self.port = port
    }

    /// The listener thread's body: `ready` is called once, when the listeners exist (or cannot).
    func run(server: GuestAPIServer, ready: (Started) -> Void) {
        var problems: [String] = []
        guard let wake = try? SocketIO.makePipe() else {
            ready(Started(problems: ["cannot make a pipe: \(FileSystem.errnoText)"], serving: false))
            return
        }
        state.withLock { $0.wakeWrite = wake.write }
        var tcp: Int32 = -1
        if let networkNamespace {
            switch Self.enter(networkNamespace) {
            case .success:
                switch Self.listenTCP(port: port) {
                case .success(let fd): tcp = fd
                case .failure(let error): problems.append(error.message)
                }
            case .failure(let error): problems.append(error.message)
            }
        }
        var unix: Int32 = -1
        switch Self.listenUnix(path: socketPath) {
        case .success(let fd): unix = fd
        case .failure(let error): problems.append(error.message)
        }
        guard tcp >= 0 || unix >= 0 else {
            close(wake.read)
            finish()
            ready(Started(problems: problems, serving: false))
            return
        }
        ready(Started(problems: problems, serving: true))
        acceptLoop(server: server, tcp: tcp, unix: unix, wake: wake.read)
        if tcp >= 0 { close(tcp) }
        if unix >= 0 {
            close(unix)
            unlink(socketPath)
        }
        close(wake.read)
        finish()
    }

    private func acceptLoop(server: GuestAPIServer, tcp: Int32, unix: Int32, wake: Int32) {
        while true {
            var entries = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: unix, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: tcp, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, nfds_t(entries.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if entries[0].revents != 0 { return }
            for (index, kind) in [(1, Kind.unix), (2, Kind.tcp)] where entries[index].revents & Int16(POLLIN) != 0 {
                let fd = accept(entries[index].fd, nil, nil)
                if fd < 0 {
                    // EMFILE and friends: back off a little rather than spin.
                    if errno != EAGAIN && errno != EINTR && errno != ECONNABORTED { usleep(50_000) }
                    continue
                }
                server.accepted(fd, pod: pod, kind: kind)
            }
        }
    }

    private func finish() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.wakeWrite >= 0 { close(state.wakeWrite) }
            state.wakeWrite = -1
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Stops accepting and returns once both listeners are closed and the socket file is gone.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                guard !state.finished else { return true }
                state.waiters.append(continuation)
                var byte: UInt8 = 1
                if state.wakeWrite >= 0 { _ = write(state.wakeWrite, &byte, 1) }
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// Moves the calling thread into the network namespace at `path`.
    static func enter(_ path: String) -> Result<Void, FascoError> {
        let handle = open(path, O_RDONLY | O_CLOEXEC)
        guard handle >= 0 else { return .failure(.unavailable("cannot open the pod's network namespace \(path): \(FileSystem.errnoText)")) }
        defer { close(handle) }
        guard fasco_setns(handle, fasco_clone_newnet()) == 0 else {
            return .failure(.internal("cannot enter the pod's network namespace \(path): \(FileSystem.errnoText)"))
        }
        return .success(())
    }

    /// A listening socket on 127.0.0.1:`port` (of the calling thread's network namespace).
    static func listenTCP(port: UInt16) -> Result<Int32, FascoError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.resourceExhausted("cannot create a TCP socket: \(FileSystem.errnoText)")) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let text = FileSystem.errnoText
            close(fd)
            return .failure(.unavailable("cannot listen on 127.0.0.1:\(port) in the pod's network namespace: \(text)"))
        }
        SocketIO.setNonBlocking(fd)
        return .success(fd)
    }

    /// A listening unix socket at `path` (a stale one is replaced), mode 0666: containers run as any user.
    static func listenUnix(path: String) -> Result<Int32, FascoError> {
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard bytes.count < capacity, !bytes.contains(0) else {
            return .failure(.invalidArgument("the guest API socket path \(path) is longer than \(capacity - 1) bytes"))
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.resourceExhausted("cannot create a unix socket: \(FileSystem.errnoText)")) }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, chmod(path, 0o666) == 0, listen(fd, 64) == 0 else {
            let text = FileSystem.errnoText
            close(fd)
            return .failure(.unavailable("cannot listen on \(path): \(text)"))
        }
        SocketIO.setNonBlocking(fd)
        return .success(fd)
    }
}
