import FascoCore
import Synchronization

/// The state one HTTP transfer shares between the curl thread (which produces the
/// response head, body bytes and the outcome) and the task reading it.
///
/// Body bytes queue here up to a high-water mark; beyond it the curl thread pauses the
/// transfer (CURL_WRITEFUNC_PAUSE) until the reader catches up, so a slow reader holds
/// back the network instead of buffering a whole blob in memory.
final class TransferCore: Sendable {
    let request: HTTPRequest
    let configuration: HTTPClient.Configuration
    private let loop: CurlEventLoop
    private let cancelled = Atomic<Bool>(false)
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var head: HTTPResponseHead?
        var buffer: [UInt8] = []
        /// The curl thread paused the transfer because `buffer` was full.
        var paused = false
        var outcome: Result<Void, FascoError>?
        var headWaiter: CheckedContinuation<Result<HTTPResponseHead, FascoError>, Never>?
        var chunkWaiter: CheckedContinuation<Result<[UInt8]?, FascoError>, Never>?
    }

    init(request: HTTPRequest, configuration: HTTPClient.Configuration, loop: CurlEventLoop) {
        self.request = request
        self.configuration = configuration
        self.loop = loop
    }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    var isFinished: Bool { state.withLock { $0.outcome != nil } }

    /// Stops the transfer; waiters get a cancellation error. Safe from any thread, any number of times.
    func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if !isFinished { loop.post(.cancel(self)) }
    }

    // MARK: Curl thread side

    /// The final response's status and headers are known.
    func publish(head: HTTPResponseHead) {
        let waiter = state.withLock { state in
            state.head = head
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: .success(head))
    }

    enum Delivery { case accepted, paused, rejected }

    /// Body bytes from libcurl. `.paused` asks libcurl to hold them and offer them again
    /// once the reader has drained the queue (it posts `.resume`); `.rejected` aborts.
    func deliver(_ bytes: UnsafeRawBufferPointer) -> Delivery {
        guard !isCancelled else { return .rejected }
        enum Step { case paused, queued, handoff(CheckedContinuation<Result<[UInt8]?, FascoError>, Never>, [UInt8]) }
        let step: Step = state.withLock { state in
            if state.buffer.count >= configuration.bufferHighWater {
                state.paused = true
                return .paused
            }
            state.buffer.append(contentsOf: bytes)
            guard let waiter = state.chunkWaiter else { return .queued }
            state.chunkWaiter = nil
            let chunk = state.buffer
            state.buffer = []
            return .handoff(waiter, chunk)
        }
        switch step {
        case .paused: return .paused
        case .queued: return .accepted
        case .handoff(let waiter, let chunk):
            waiter.resume(returning: .success(chunk))
            return .accepted
        }
    }

    /// The transfer ended (`.success`: the whole body was delivered).
    func finish(_ outcome: Result<Void, FascoError>) {
        let (headWaiter, chunkWaiter, head) = state.withLock { state in
            if state.outcome == nil { state.outcome = outcome }
            defer {
                state.headWaiter = nil
                state.chunkWaiter = nil
            }
            return (state.headWaiter, state.chunkWaiter, state.head)
        }
        if let headWaiter {
            switch (outcome, head) {
            case (_, let head?): headWaiter.resume(returning: .success(head))
            case (.failure(let error), nil): headWaiter.resume(returning: .failure(error))
            case (.success, nil):
                headWaiter.resume(returning: .failure(FascoError(.unavailable, "\(request.summary): no HTTP response")))
            }
        }
        if let chunkWaiter {
            switch outcome {
            case .success: chunkWaiter.resume(returning: .success(nil))
            case .failure(let error): chunkWaiter.resume(returning: .failure(error))
            }
        }
    }

    // MARK: Reader side

    func responseHead() async throws(FascoError) -> HTTPResponseHead {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponseHead, FascoError>, Never>) in
                let ready: Result<HTTPResponseHead, FascoError>? = state.withLock { state in
                    if let head = state.head { return .success(head) }
                    switch state.outcome {
                    case .failure(let error): return .failure(error)
                    case .success: return .failure(FascoError(.unavailable, "\(request.summary): no HTTP response"))
                    case nil:
                        state.headWaiter = continuation
                        return nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            cancel()
        }
        return try result.get()
    }

    /// The next body bytes (everything queued so far), or nil at the end of the body.
    func nextChunk() async throws(FascoError) -> [UInt8]? {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8]?, FascoError>, Never>) in
                let (ready, resume): (Result<[UInt8]?, FascoError>?, Bool) = state.withLock { state in
                    if !state.buffer.isEmpty {
                        let chunk = state.buffer
                        state.buffer = []
                        defer { state.paused = false }
                        return (.success(chunk), state.paused)
                    }
                    switch state.outcome {
                    case .success: return (.success(nil), false)
                    case .failure(let error): return (.failure(error), false)
                    case nil:
                        state.chunkWaiter = continuation
                        return (nil, false)
                    }
                }
                if resume { loop.post(.resume(self)) }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            cancel()
        }
        return try result.get()
    }
}
