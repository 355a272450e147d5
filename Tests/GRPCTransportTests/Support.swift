import Foundation
import Synchronization
import Testing
@testable import GRPCTransport
#if canImport(Glibc)
import Glibc
#endif

// MARK: Method paths

enum Path {
    static let echo = "/fasco.test.Test/Echo"
    /// Sleeps until cancelled; marks "slow.started" and, on cancellation, "slow.cancelled".
    /// (Handlers that mark flags also mark "<flag>:<request as UTF-8>" when the request is not empty.)
    static let slow = "/fasco.test.Test/Slow"
    /// Ignores cancellation: once cancelled it carries on for `stubbornExtra`, then returns.
    /// Marks "stubborn.started", "stubborn.cancelled" and "stubborn.finished".
    static let stubborn = "/fasco.test.Test/Stubborn"
    /// Echoes after ~300 ms; marks "delayed.started" and "delayed.finished".
    static let delayed = "/fasco.test.Test/Delayed"
    /// Request: a 4-byte little-endian size; response: `pattern(size)`.
    static let large = "/fasco.test.Test/Large"
    /// Throws GRPCStatus(.notFound, "no such widget: <request as UTF-8>").
    static let notFound = "/fasco.test.Test/NotFound"
    /// Throws GRPCStatus(.notFound, <request as UTF-8>) verbatim.
    static let statusMessage = "/fasco.test.Test/StatusMessage"
    /// Throws a non-GRPCStatus error whose description is "boom-42".
    static let boom = "/fasco.test.Test/Boom"
    /// Throws CancellationError() without having been cancelled.
    static let throwsCancellation = "/fasco.test.Test/ThrowsCancellation"
    /// Answers "<method>|none" or "<method>|set" depending on the context's deadline.
    static let context = "/fasco.test.Test/Context"
    /// Server streaming. Request: u32 count; sends that many u32 indexes, then ends OK.
    static let count = "/fasco.test.Test/Count"
    /// Server streaming. Request: u32 k; sends k indexes, then throws GRPCStatus(.dataLoss, "stopped after k").
    static let countThenFail = "/fasco.test.Test/CountThenFail"
    /// Server streaming. Sends an index every 5 ms until the send fails or the task is cancelled.
    /// Marks "forever.started", "forever.stopped" and (when its task was cancelled) "forever.cancelled";
    /// the "forever.stopped" mark comes last.
    static let forever = "/fasco.test.Test/Forever"
}

/// How long the stubborn handler keeps going after it was cancelled: well beyond the longest a
/// shutdown with a 300 ms grace period takes (the grace period, two seconds for cancelled
/// handlers, then up to twice two seconds for the core's notification: about 6.3 s, more on a
/// loaded machine), so that "shutdown returned while the handler still ran" cannot race.
let stubbornExtra: Duration = .seconds(12)

// MARK: Byte helpers

func u32(_ value: Int) -> [UInt8] {
    let v = UInt32(value)
    return [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
            UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
}

func readU32(_ bytes: [UInt8]) -> Int? {
    guard bytes.count == 4 else { return nil }
    return Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
}

/// Deterministic, non-repeating-looking bytes, so that truncation or reordering shows.
func pattern(_ count: Int, seed: UInt32 = 0) -> [UInt8] {
    var state: UInt32 = 0x9E37_79B9 ^ seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        return UInt8(truncatingIfNeeded: state >> 7)
    }
}

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom-42" }
}

// MARK: Observing handlers

/// Flags set by server handlers and read by tests.
final class Probe: Sendable {
    private let flags = Mutex<Set<String>>([])

    func mark(_ flag: String) { _ = flags.withLock { $0.insert(flag) } }

    /// Marks `flag`, and `flag:<request>` when the request (as UTF-8) is not empty.
    func mark(_ flag: String, for request: [UInt8]) {
        mark(flag)
        if !request.isEmpty { mark(flag + ":" + String(decoding: request, as: UTF8.self)) }
    }

    func has(_ flag: String) -> Bool { flags.withLock { $0.contains(flag) } }

    /// Polls for `flag`; false when it is still unset after `timeout` (bounded so tests never hang).
    func wait(for flag: String, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if has(flag) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return has(flag)
    }
}

/// Polls `condition` for up to `timeout`.
func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

func testMethods(_ probe: Probe) -> [ServerMethod] {
    [
        .unary(Path.echo) { request, _ in request },
        .unary(Path.slow) { request, _ in
            probe.mark("slow.started", for: request)
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                if Task.isCancelled { probe.mark("slow.cancelled", for: request) }
                throw error
            }
            probe.mark("slow.finished", for: request)
            return []
        },
        .unary(Path.stubborn) { _, _ in
            probe.mark("stubborn.started")
            _ = await eventually(timeout: .seconds(60)) { Task.isCancelled }
            if Task.isCancelled { probe.mark("stubborn.cancelled") }
            // Work that does not notice cancellation, such as a blocking system call.
            await Task.detached { try? await Task.sleep(for: stubbornExtra) }.value
            probe.mark("stubborn.finished")
            return []
        },
        .unary(Path.delayed) { request, _ in
            probe.mark("delayed.started")
            try await Task.sleep(for: .milliseconds(300))
            probe.mark("delayed.finished")
            return request
        },
        .unary(Path.large) { request, _ in
            guard let size = readU32(request) else { throw GRPCStatus(.invalidArgument, "want a u32 size") }
            return pattern(size)
        },
        .unary(Path.notFound) { request, _ in
            throw GRPCStatus(.notFound, "no such widget: \(String(decoding: request, as: UTF8.self))")
        },
        .unary(Path.statusMessage) { request, _ in
            throw GRPCStatus(.notFound, String(decoding: request, as: UTF8.self))
        },
        .unary(Path.boom) { _, _ in throw Boom() },
        .unary(Path.throwsCancellation) { _, _ in throw CancellationError() },
        .unary(Path.context) { _, context in
            Array("\(context.method)|\(context.deadline == nil ? "none" : "set")".utf8)
        },
        .serverStreaming(Path.count) { request, _, writer in
            guard let count = readU32(request) else { throw GRPCStatus(.invalidArgument, "want a u32 count") }
            for index in 0..<count { try await writer.send(u32(index)) }
        },
        .serverStreaming(Path.countThenFail) { request, _, writer in
            guard let count = readU32(request) else { throw GRPCStatus(.invalidArgument, "want a u32 count") }
            for index in 0..<count { try await writer.send(u32(index)) }
            throw GRPCStatus(.dataLoss, "stopped after \(count)")
        },
        .serverStreaming(Path.forever) { request, _, writer in
            probe.mark("forever.started", for: request)
            var index = 0
            do {
                while true {
                    try await writer.send(u32(index))
                    index += 1
                    try await Task.sleep(for: .milliseconds(5))
                }
            } catch {
                // A failed send can beat the cancel of this task by a moment; give it a bounded wait.
                _ = await eventually { Task.isCancelled }
                if Task.isCancelled { probe.mark("forever.cancelled", for: request) }
                probe.mark("forever.stopped", for: request)
                throw error
            }
        },
    ]
}

// MARK: Calls

let callTimeout: Duration = .seconds(60)

/// The status a call failed with; records an issue (and throws) when it succeeded or threw something else.
func failure<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async throws -> GRPCStatus {
    do {
        let value = try await body()
        Issue.record("expected the call to fail, but it returned \(value)", sourceLocation: sourceLocation)
    } catch let status as GRPCStatus {
        return status
    } catch {
        Issue.record("expected a GRPCStatus, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    throw GRPCStatus(.internal, "test expectation failed")
}

/// Collects a stream's elements until it ends; `error` is what it ended with, if anything.
func collect(_ stream: AsyncThrowingStream<[UInt8], any Error>) async -> (elements: [[UInt8]], error: (any Error)?) {
    var elements: [[UInt8]] = []
    do {
        for try await element in stream { elements.append(element) }
        return (elements, nil)
    } catch {
        return (elements, error)
    }
}

// MARK: Files and sockets

/// A fresh private directory under /tmp, short enough for socket paths.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/fasco-grpc-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
    guard made != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    chmod(path, 0o700)
    return path
}

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode
}

func isSocket(_ path: String) -> Bool {
    fileMode(path).map { ($0 & S_IFMT) == S_IFSOCK } ?? false
}

func isDirectory(_ path: String) -> Bool {
    fileMode(path).map { ($0 & S_IFMT) == S_IFDIR } ?? false
}

func exists(_ path: String) -> Bool { fileMode(path) != nil }

/// Leaves a socket file at `path` with nothing listening on it, as a crashed server would.
func makeStaleSocket(at path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

// MARK: A server and a channel per test

struct Fixture: Sendable {
    let directory: String
    let socketPath: String
    let server: GRPCServer
    let channel: GRPCChannel
    let probe: Probe

    var target: String { "unix://" + socketPath }
}

/// Starts a server with the test methods on a fresh socket, connects a channel,
/// runs `body`, then shuts both down and removes the directory (also when `body` throws).
func withServer(
    socketName: String = "s.sock",
    configure: (inout GRPCServer.Configuration) -> Void = { _ in },
    channelMaxReceive: Int = 16 << 20,
    _ body: (Fixture) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory()
    defer { removeTree(directory) }
    let socketPath = directory + "/" + socketName
    var configuration = GRPCServer.Configuration(socketPath: socketPath)
    configure(&configuration)
    let probe = Probe()
    let server = try GRPCServer(configuration: configuration, methods: testMethods(probe))
    let channel = GRPCChannel(target: "unix://" + socketPath, maxReceiveMessageBytes: channelMaxReceive)
    let fixture = Fixture(directory: directory, socketPath: socketPath, server: server, channel: channel, probe: probe)
    do {
        try await body(fixture)
    } catch {
        await server.shutdown(gracePeriod: .milliseconds(100))
        channel.close()
        throw error
    }
    await server.shutdown(gracePeriod: .milliseconds(100))
    channel.close()
}
