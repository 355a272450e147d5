import Synchronization

/// Resumes a continuation exactly once, whichever of several racers comes first.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Value) {
        let pending = continuation.withLock { stored -> CheckedContinuation<Value, Never>? in
            defer { stored = nil }
            return stored
        }
        pending?.resume(returning: value)
    }
}

/// A one-shot event that any number of tasks can wait for, with a timeout.
final class AsyncSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [@Sendable (Bool) -> Void])>((false, []))

    func fire() {
        let waiters = state.withLock { state -> [@Sendable (Bool) -> Void] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter(true) }
    }

    /// True when the signal fired, false when `timeout` passed first.
    func wait(timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = ResumeOnce(continuation)
            let fired = state.withLock { state -> Bool in
                if !state.fired { state.waiters.append { once.resume($0) } }
                return state.fired
            }
            if fired {
                once.resume(true)
            } else {
                Task {
                    try? await Task.sleep(for: timeout)
                    once.resume(false)
                }
            }
        }
    }
}
