import CGRPCCore
import CGRPCShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A gRPC client channel on the C core, with its own completion-queue thread.
///
/// Errors thrown by calls are `GRPCStatus`. Task cancellation cancels the call.
///
/// SAFETY: `channel` is used only through gRPC's thread-safe channel API, and
/// destroyed once, by `close()` or deinit.
public final class GRPCChannel: @unchecked Sendable {
    private let channel: OpaquePointer
    private let queue: CompletionQueue
    private let closed = Mutex(false)
    public let target: String

    /// - Parameter target: `unix:///path/to.sock` (or any target the gRPC core accepts).
    public init(target: String, maxReceiveMessageBytes: Int = 16 << 20, maxSendMessageBytes: Int = 16 << 20) {
        self.target = target
        queue = CompletionQueue()
        let clamp = { (value: Int) in Int32(clamping: max(1, value)) }
        // grpc_channel_create returns a lame channel rather than NULL on bad targets.
        guard let channel = fasco_channel_create(target, clamp(maxReceiveMessageBytes), clamp(maxSendMessageBytes)) else {
            fatalError("the gRPC core could not create a channel")
        }
        self.channel = channel
    }

    deinit { close() }

    /// Releases the channel and its thread; calls after this fail with UNAVAILABLE.
    public func close() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        grpc_channel_destroy(channel)
        queue.shutdownAndJoin()
    }

    static func milliseconds(_ timeout: Duration?) -> Int64 {
        timeout.map { duration in
            let (seconds, attoseconds) = duration.components
            return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        } ?? Int64.max
    }

    private func makeCall(_ method: String, timeout: Duration?) throws(GRPCStatus) -> ClientCall {
        let millis = Self.milliseconds(timeout)
        let pointer = try closed.withLock { closed throws(GRPCStatus) -> OpaquePointer? in
            guard !closed else { throw GRPCStatus(.unavailable, "the channel is closed") }
            return fasco_channel_create_call(channel, queue.pointer, method, millis)
        }
        guard let pointer else { throw GRPCStatus(.internal, "the gRPC core could not create a call") }
        return ClientCall(pointer)
    }

    /// One request, one response.
    public func unary(_ method: String, request: [UInt8], timeout: Duration? = nil) async throws -> [UInt8] {
        let call = try makeCall(method, timeout: timeout)
        let batch = Batch()
        batch.sendInitialMetadata()
        batch.sendMessage(request)
        batch.sendCloseFromClient()
        batch.receiveInitialMetadata()
        batch.receiveMessage()
        batch.receiveStatusOnClient()
        let result: Result<[UInt8], GRPCStatus> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let started = batch.start(on: call.pointer) { _ in
                    let status = batch.status
                    if status.code == .ok {
                        continuation.resume(returning: .success(batch.message ?? []))
                    } else {
                        continuation.resume(returning: .failure(status))
                    }
                }
                if !started {
                    continuation.resume(returning: .failure(GRPCStatus(.internal, "the gRPC core refused the call")))
                }
            }
        } onCancel: {
            call.cancel()
        }
        return try result.get()
    }

    /// One request, one response, blocking the calling thread until the answer.
    ///
    /// For command-line tools and benchmark threads only: never call it from a
    /// Swift task, where it would hold one of the few cooperative threads.
    public func unaryBlocking(_ method: String, request: [UInt8], timeout: Duration? = nil) throws(GRPCStatus) -> [UInt8] {
        guard let queue = fasco_pluck_queue_create() else { throw GRPCStatus(.internal, "no completion queue") }
        let millis = Self.milliseconds(timeout)
        let call = closed.withLock { closed -> UnownedCall? in
            guard !closed, let pointer = fasco_channel_create_call(channel, queue, method, millis) else { return nil }
            return UnownedCall(pointer: pointer)
        }
        guard let call else {
            grpc_completion_queue_shutdown(queue)
            grpc_completion_queue_destroy(queue)
            throw GRPCStatus(.unavailable, "the channel is closed")
        }
        var response: UnsafeMutablePointer<UInt8>?
        var length = 0
        var details: UnsafeMutablePointer<CChar>?
        let code = request.withUnsafeBufferPointer { buffer in
            fasco_unary_blocking(call.pointer, queue, buffer.baseAddress, buffer.count, &response, &length, &details)
        }
        defer {
            free(response)
            free(details)
        }
        guard code == GRPCStatus.Code.ok.rawValue else {
            throw GRPCStatus(wireCode: code, message: details.map { String(cString: $0) } ?? "")
        }
        guard let response else { return [] }
        return Array(UnsafeBufferPointer(start: response, count: length))
    }

    /// One request, a stream of responses; ending the iteration early cancels the call.
    public func serverStreaming<Element: Sendable>(
        _ method: String, request: [UInt8], timeout: Duration? = nil,
        decode: @escaping @Sendable ([UInt8]) throws -> Element
    ) -> AsyncThrowingStream<Element, any Error> {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
        let call: ClientCall
        do {
            call = try makeCall(method, timeout: timeout)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        continuation.onTermination = { _ in call.cancel() }
        let status = AsyncStatus()
        let opening = Batch()
        opening.sendInitialMetadata()
        opening.sendMessage(request)
        opening.sendCloseFromClient()
        opening.receiveInitialMetadata()
        let closing = Batch()
        closing.receiveStatusOnClient()
        guard opening.start(on: call.pointer, { _ in }),
              closing.start(on: call.pointer, { _ in status.set(closing.status) })
        else {
            continuation.finish(throwing: GRPCStatus(.internal, "the gRPC core refused the call"))
            return stream
        }
        @Sendable func receiveNext() {
            let batch = Batch()
            batch.receiveMessage()
            let started = batch.start(on: call.pointer) { _ in
                if let message = batch.message {
                    do {
                        continuation.yield(try decode(message))
                        receiveNext()
                    } catch {
                        call.cancel()
                        continuation.finish(throwing: error)
                    }
                } else {
                    status.whenSet { final in
                        if final.code == .ok { continuation.finish() } else { continuation.finish(throwing: final) }
                    }
                }
            }
            if !started { status.whenSet { continuation.finish(throwing: $0.code == .ok ? GRPCStatus(.internal) : $0) } }
        }
        receiveNext()
        return stream
    }
}

/// A call pointer handed to C code that releases it itself (the blocking path).
///
/// SAFETY: only moved from the lock that created it to the one thread that uses it.
struct UnownedCall: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A client call's C reference, dropped when the last user lets go.
///
/// SAFETY: used only through gRPC's thread-safe call API.
final class ClientCall: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { grpc_call_unref(pointer) }

    func cancel() { grpc_call_cancel(pointer, nil) }
}

/// The final status of a streaming call, which may arrive before or after the last message.
final class AsyncStatus: Sendable {
    private let state = Mutex<(status: GRPCStatus?, waiters: [@Sendable (GRPCStatus) -> Void])>((nil, []))

    func set(_ status: GRPCStatus) {
        let waiters = state.withLock { state -> [@Sendable (GRPCStatus) -> Void] in
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter(status) }
    }

    func whenSet(_ body: @escaping @Sendable (GRPCStatus) -> Void) {
        let ready = state.withLock { state -> GRPCStatus? in
            if state.status == nil { state.waiters.append(body) }
            return state.status
        }
        if let ready { body(ready) }
    }
}
