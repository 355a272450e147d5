@testable import CRIStreaming
import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a thread of its own (the test client blocks; the server's runtime needs
/// the cooperative threads free).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let result: Result<T, any Error> = await withCheckedContinuation { continuation in
        let started = DetachedThread.start {
            do { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
        }
        if !started { continuation.resume(returning: .failure(StreamingClient.Failure("no thread"))) }
    }
    return try result.get()
}

/// A value behind a lock, shareable by reference.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// A process's exit, set once, awaited by any number.
final class ExitBox: Sendable {
    private let state = Mutex<(exit: StreamingExit?, waiters: [CheckedContinuation<StreamingExit, Never>])>((nil, []))

    func set(_ exit: StreamingExit) {
        let waiters = state.withLock { state -> [CheckedContinuation<StreamingExit, Never>] in
            guard state.exit == nil else { return [] }
            state.exit = exit
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: exit) }
    }

    func wait() async -> StreamingExit {
        await withCheckedContinuation { continuation in
            let exit = state.withLock { state -> StreamingExit? in
                if state.exit == nil { state.waiters.append(continuation) }
                return state.exit
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }
}

/// Fake commands with real descriptors, run by threads:
/// - `echo`: "out\n" on stdout, "err\n" on stderr, exit 3;
/// - `cat`: stdin to stdout, exit 0 at end of input;
/// - `upper` (tty): terminal input upper-cased back until "exit", sizes recorded;
/// - `hang`: nothing until killed (exit 137);
/// - `fail`: cannot start.
/// Port forwarding connects to 127.0.0.1 on the host.
final class FakeStreamingBackend: StreamingBackend {
    let kills = Locked(0)
    let sizes = Locked<[String]>([])

    func exec(_ request: StreamingRequest.Exec) async throws(FascoError) -> StreamingProcess {
        let box = ExitBox()
        switch request.command.first {
        case "echo":
            let out = try SocketIO.makePipe()
            let err = try SocketIO.makePipe()
            _ = DetachedThread.start {
                Self.write(out.write, "out\n")
                Self.write(err.write, "err\n")
                close(out.write)
                close(err.write)
                box.set(.exited(3))
            }
            return StreamingProcess(stdout: out.read, stderr: err.read, wait: { await box.wait() }, kill: {})
        case "cat":
            let input = try SocketIO.makePipe()
            let out = try SocketIO.makePipe()
            _ = DetachedThread.start {
                Self.blockingMode(input.read)
                while let bytes = Self.read(input.read) { Self.write(out.write, bytes) }
                close(input.read)
                close(out.write)
                box.set(.exited(0))
            }
            return StreamingProcess(stdin: input.write, stdout: out.read, wait: { await box.wait() }, kill: {})
        case "upper":
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { throw .internal("socketpair") }
            let (ours, theirs) = (pair[0], pair[1])
            _ = DetachedThread.start {
                var seen = ""
                while let bytes = Self.read(theirs) {
                    let text = String(decoding: bytes, as: UTF8.self)
                    seen += text
                    Self.write(theirs, text.uppercased())
                    if seen.contains("exit") { break }
                }
                close(theirs)
                box.set(.exited(0))
            }
            let sizes = self.sizes
            return StreamingProcess(terminal: ours, resize: { width, height in sizes.withLock { $0.append("\(width)x\(height)") } },
                                    wait: { await box.wait() }, kill: {})
        case "hang":
            let out = try SocketIO.makePipe()
            let kills = self.kills
            return StreamingProcess(stdout: out.read, wait: { await box.wait() }, kill: {
                kills.withLock { $0 += 1 }
                close(out.write)
                box.set(.exited(137))
            })
        default:
            throw .failedPrecondition("no such command")
        }
    }

    func portForward(podSandboxID: String, port: UInt16) async throws(FascoError) -> Int32 {
        do {
            let fd = try StreamingClient.connect(host: "127.0.0.1", port: port)
            return fd
        } catch {
            throw .unavailable("cannot connect to port \(port): \(error)")
        }
    }

    static func write(_ fd: Int32, _ text: String) { write(fd, Array(text.utf8)) }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&entry, 1, 1000)
                    continue
                }
                return
            }
            offset += count
        }
    }

    static func blockingMode(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    /// Blocking read; nil at end of file.
    static func read(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return Array(buffer[..<count]) }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }
}

/// A TCP echo server on 127.0.0.1 (one thread per connection): echoes until end of input,
/// then closes.
final class EchoServer: Sendable {
    let port: UInt16
    private let listener: Int32

    init() throws {
        let (fd, port) = try StreamingServer.listen(address: "127.0.0.1", port: 0)
        self.listener = fd
        self.port = port
        _ = DetachedThread.start { [fd] in
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 {
                    if errno == EINTR { continue }
                    return
                }
                _ = DetachedThread.start {
                    while let bytes = FakeStreamingBackend.read(connection) { FakeStreamingBackend.write(connection, bytes) }
                    close(connection)
                }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
