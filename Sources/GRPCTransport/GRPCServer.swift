import CGRPCCore
import CGRPCShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A gRPC server on the C core, listening on a unix socket.
///
/// Calls arrive on a completion-queue thread; every routed call runs its
/// handler in a task owned by the call, so a client cancel or a deadline
/// cancels it. Unknown methods get UNIMPLEMENTED, requests that exceed the
/// size limit RESOURCE_EXHAUSTED (from the core).
///
/// SAFETY: `server` is used only through gRPC's thread-safe server API.
public final class GRPCServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Absolute path of the unix socket to listen on.
        public var socketPath: String
        public var maxReceiveMessageBytes: Int = 16 << 20
        public var maxSendMessageBytes: Int = 16 << 20
        public var socketMode: UInt32 = 0o660
        /// Told about each call to a method the server does not route.
        public var onUnknownMethod: (@Sendable (String) -> Void)?

        public init(socketPath: String) { self.socketPath = socketPath }
    }

    public let configuration: Configuration
    private let routes: [String: ServerMethod]
    private let queue: CompletionQueue
    private let server: OpaquePointer
    private let state = Mutex(State())

    private struct State {
        var accepting = true
        var nextCallID = 0
        var running: [Int: ServerCall] = [:]
        var drained: [@Sendable () -> Void] = []
    }

    /// Outstanding generic request_call tags; more than one keeps accept latency low under load.
    private static let acceptSlots = 4

    /// Binds the socket and starts serving.
    public init(configuration: Configuration, methods: [ServerMethod]) throws(GRPCServerError) {
        var routes: [String: ServerMethod] = [:]
        for method in methods { routes[method.path] = method }
        self.routes = routes
        self.configuration = configuration
        guard configuration.maxReceiveMessageBytes > 0, configuration.maxReceiveMessageBytes <= Int(Int32.max),
              configuration.maxSendMessageBytes > 0, configuration.maxSendMessageBytes <= Int(Int32.max)
        else {
            throw GRPCServerError("message size limits must be between 1 and \(Int32.max) bytes")
        }
        try UnixSocket.prepare(path: configuration.socketPath)

        queue = CompletionQueue()
        guard let server = fasco_server_create(Int32(configuration.maxReceiveMessageBytes),
                                               Int32(configuration.maxSendMessageBytes)) else {
            queue.shutdownAndJoin()
            throw GRPCServerError("the gRPC core could not create a server")
        }
        self.server = server
        grpc_server_register_completion_queue(server, queue.pointer, nil)
        // The core binds here. Bind inside a fresh 0700 directory, so nobody can connect
        // before the socket has its mode, then move it into place: no process-wide umask games.
        let bindDirectory: String
        do {
            bindDirectory = try UnixSocket.makePrivateDirectory(beside: configuration.socketPath)
        } catch {
            grpc_server_destroy(server)
            queue.shutdownAndJoin()
            throw error
        }
        let bindPath = bindDirectory + "/s"
        guard fasco_server_add_insecure_port(server, "unix:" + bindPath) != 0 else {
            UnixSocket.remove(bindPath)
            UnixSocket.removeDirectory(bindDirectory)
            grpc_server_destroy(server)
            queue.shutdownAndJoin()
            throw GRPCServerError("cannot listen on unix:\(configuration.socketPath)")
        }
        grpc_server_start(server)
        do {
            try UnixSocket.setMode(bindPath, mode_t(configuration.socketMode))
            try UnixSocket.move(bindPath, to: configuration.socketPath)
            UnixSocket.removeDirectory(bindDirectory)
        } catch {
            UnixSocket.remove(bindPath)
            UnixSocket.removeDirectory(bindDirectory)
            // A started server must be shut down before it is destroyed (the core asserts it).
            let tag = CompletionQueue.retainTag { _ in }
            grpc_server_shutdown_and_notify(server, queue.pointer, tag)
            grpc_server_cancel_all_calls(server)
            stopCore()
            throw error
        }
        for _ in 0..<Self.acceptSlots { requestCall() }
    }

    /// The number of calls whose handlers are still running.
    public var runningCalls: Int { state.withLock { $0.running.count } }

    // MARK: Accepting calls

    private func requestCall() {
        guard let incoming = fasco_incoming_create() else { return }
        let tag = CompletionQueue.retainTag { [self] success in
            defer { fasco_incoming_destroy(incoming) }
            guard success else { return }  // the server is shutting down
            if state.withLock({ $0.accepting }) { requestCall() }
            accept(incoming)
        }
        if fasco_server_request_call(server, queue.pointer, incoming, tag) != GRPC_CALL_OK {
            CompletionQueue.releaseTag(tag)
            fasco_incoming_destroy(incoming)
        }
    }

    private func accept(_ incoming: OpaquePointer) {
        guard let pointer = fasco_incoming_take_call(incoming) else { return }
        let method = fasco_incoming_method(incoming).map { raw in
            defer { free(raw) }
            return String(cString: raw)
        } ?? ""
        let millis = fasco_incoming_deadline_ms(incoming)
        let deadline = millis == Int64.max ? nil : ContinuousClock.now.advanced(by: .milliseconds(millis))
        let call = ServerCall(pointer: pointer, context: ServerContext(method: method, deadline: deadline))

        guard let route = routes[method] else {
            configuration.onUnknownMethod?(method)
            call.watchClose {}
            call.finish(status: GRPCStatus(.unimplemented, "unknown method \(method)"), message: nil) {}
            return
        }
        let id = register(call)
        call.watchClose {}
        call.receiveRequest { [self] request in
            guard let request else {
                // The client sent no message, or the core refused it (for example RESOURCE_EXHAUSTED).
                call.finish(status: GRPCStatus(.invalidArgument, "no request message"), message: nil) {}
                finished(id)
                return
            }
            call.run { [self] in
                await handle(route, request, call)
                finished(id)
            }
        }
    }

    private func handle(_ route: ServerMethod, _ request: [UInt8], _ call: ServerCall) async {
        switch route.kind {
        case .unary(let handler):
            do {
                let response = try await handler(request, call.context)
                if response.count > configuration.maxSendMessageBytes {
                    call.finish(status: GRPCStatus(.resourceExhausted,
                        "response of \(response.count) bytes exceeds the limit of \(configuration.maxSendMessageBytes)"),
                        message: nil) {}
                } else {
                    call.finish(status: GRPCStatus(.ok), message: response) {}
                }
            } catch {
                call.finish(status: Self.status(for: error), message: nil) {}
            }
        case .serverStreaming(let handler):
            do {
                try await handler(request, call.context, ServerStreamWriter(call: call))
                call.finish(status: GRPCStatus(.ok), message: nil) {}
            } catch {
                call.finish(status: Self.status(for: error), message: nil) {}
            }
        }
    }

    static func status(for error: any Error) -> GRPCStatus {
        switch error {
        case let status as GRPCStatus: status
        case is CancellationError: GRPCStatus(.cancelled, "the call was cancelled")
        default: GRPCStatus(.unknown, String(describing: error))
        }
    }

    // MARK: Tracking running calls

    private func register(_ call: ServerCall) -> Int {
        state.withLock { state in
            state.nextCallID += 1
            state.running[state.nextCallID] = call
            return state.nextCallID
        }
    }

    private func finished(_ id: Int) {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            state.running[id] = nil
            guard state.running.isEmpty else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter() }
    }

    /// Waits until no handler runs; false when `timeout` passed first.
    private func drained(within timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = ResumeOnce(continuation)
            let now = state.withLock { state -> Bool in
                if state.running.isEmpty { return true }
                state.drained.append { once.resume(true) }
                return false
            }
            if now {
                once.resume(true)
            } else {
                Task {
                    try? await Task.sleep(for: timeout)
                    once.resume(false)
                }
            }
        }
    }

    // MARK: Shutdown

    /// Stops accepting calls, lets running calls finish for up to `gracePeriod`,
    /// cancels the rest, then releases the socket. Call it once.
    public func shutdown(gracePeriod: Duration) async {
        let first = state.withLock { state -> Bool in
            defer { state.accepting = false }
            return state.accepting
        }
        guard first else { return }
        let notified = AsyncSignal()
        let tag = CompletionQueue.retainTag { _ in notified.fire() }
        grpc_server_shutdown_and_notify(server, queue.pointer, tag)
        if await !drained(within: gracePeriod) {
            cancelAll()
            // Handlers that ignore cancellation do not hold the daemon hostage.
            _ = await drained(within: .seconds(2))
        }
        if await !notified.wait(timeout: .seconds(2)) {
            grpc_server_cancel_all_calls(server)
            _ = await notified.wait(timeout: .seconds(2))
        }
        // A handler that ignored cancellation still ends its call with a batch on the queue,
        // which must be alive then: release the socket now, the core after the last handler.
        UnixSocket.remove(configuration.socketPath)
        let later = state.withLock { state -> Bool in
            guard !state.running.isEmpty else { return false }
            state.drained.append { [self] in Task.detached { self.destroyCore() } }
            return true
        }
        if !later { destroyCore() }
    }

    private func cancelAll() {
        grpc_server_cancel_all_calls(server)
        for call in state.withLock({ Array($0.running.values) }) { call.cancel() }
    }

    private func stopCore() {
        destroyCore()
        UnixSocket.remove(configuration.socketPath)
    }

    private func destroyCore() {
        grpc_server_destroy(server)
        queue.shutdownAndJoin()
    }
}
