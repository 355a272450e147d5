import CGRPCCore
import CGRPCShim
import Synchronization

/// One server-side call, from its arrival to its status.
///
/// The call's C reference is dropped when the last owner (a pending batch or
/// the handler task) lets go. A client cancel or an expired deadline arrives
/// as the RECV_CLOSE_ON_SERVER completion and cancels the handler's task.
///
/// SAFETY: `pointer` is used only through gRPC's thread-safe call API; all
/// mutable state is behind `state`.
final class ServerCall: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: ServerContext
    private let state = Mutex(State())

    private struct State {
        var task: Task<Void, Never>?
        var closedByClient = false
        var sentInitialMetadata = false
        var sending = false
    }

    init(pointer: OpaquePointer, context: ServerContext) {
        self.pointer = pointer
        self.context = context
    }

    deinit { grpc_call_unref(pointer) }

    /// Watches for the end of the call; a cancelled end cancels the handler.
    func watchClose(_ onClose: @escaping @Sendable () -> Void) {
        let batch = Batch()
        batch.receiveCloseOnServer()
        let started = batch.start(on: pointer) { [self] _ in
            if batch.cancelled { cancel() }
            onClose()
        }
        if !started { onClose() }
    }

    /// Receives the single request message; nil when the client sent none or the call failed.
    func receiveRequest(_ body: @escaping @Sendable ([UInt8]?) -> Void) {
        let batch = Batch()
        batch.receiveMessage()
        if !batch.start(on: pointer, { _ in body(batch.message) }) { body(nil) }
    }

    /// Runs the handler as a task owned by this call.
    func run(_ operation: @escaping @Sendable () async -> Void) {
        // Runs on the queue thread until the handler first suspends: handlers that answer
        // without suspending (Version, Status) skip the hop to the cooperative pool.
        let task = Task.immediate { await operation() }
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.closedByClient
        }
        if cancelNow { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.closedByClient = true
            return state.task
        }
        task?.cancel()
    }

    /// Sends the final status, with the response message for a successful unary call.
    func finish(status: GRPCStatus, message: [UInt8]?, _ done: @escaping @Sendable () -> Void) {
        let sendMetadata = state.withLock { state -> Bool in
            defer { state.sentInitialMetadata = true }
            return !state.sentInitialMetadata
        }
        let batch = Batch()
        if sendMetadata { batch.sendInitialMetadata() }
        if let message { batch.sendMessage(message) }
        batch.sendStatus(status)
        if !batch.start(on: pointer, { _ in done() }) { done() }
    }

    func sendStreamMessage(_ message: [UInt8]) async throws {
        let sendMetadata = try state.withLock { state throws(GRPCStatus) -> Bool in
            guard !state.closedByClient else { throw GRPCStatus(.cancelled, "the client cancelled the call") }
            guard !state.sending else { throw GRPCStatus(.internal, "concurrent sends on one stream") }
            state.sending = true
            defer { state.sentInitialMetadata = true }
            return !state.sentInitialMetadata
        }
        defer { state.withLock { $0.sending = false } }
        let batch = Batch()
        if sendMetadata { batch.sendInitialMetadata() }
        batch.sendMessage(message)
        let delivered: Bool = await withCheckedContinuation { continuation in
            if !batch.start(on: pointer, { continuation.resume(returning: $0) }) {
                continuation.resume(returning: false)
            }
        }
        guard delivered else { throw GRPCStatus(.cancelled, "the client went away") }
    }
}
