import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Holds the last references to stopped pods' network namespaces and lets them go together,
/// when pods are not being started or stopped.
///
/// By then a namespace is empty but for its loopback (CNI DEL removed the pod's interfaces).
/// The kernel destroys it in a background worker that holds the RTNL lock while it deletes
/// the namespace's devices and waits for RCU (`rcu_barrier`): meanwhile every interface
/// creation waits for the lock and every deletion for RCU. Destroyed one by one as pods
/// stopped back to back, each pod's namespace held up the next pod's CNI ADD and DEL (its DEL
/// took about twice as long on the development host). Let go together, in a quiet moment,
/// namespaces cost one worker run that no pod operation waits for.
///
/// Pod starts and stops bracket themselves with `busy`. A batch goes once `quiet` has passed
/// with none of them running, and at the latest `maxHold` after its first namespace came.
final class NamespaceReaper: Sendable {
    private struct State {
        var held: [Int32] = []
        var firstHeld: ContinuousClock.Instant?
        var running = 0
        var lastActivity = ContinuousClock.now
        var scheduled = false
    }

    private let state = Mutex(State())
    let quiet: Duration
    let maxHold: Duration

    init(quiet: Duration = .milliseconds(200), maxHold: Duration = .seconds(10)) {
        self.quiet = quiet
        self.maxHold = maxHold
    }

    /// Runs a pod operation: no batch goes while it runs, nor for `quiet` after.
    func busy<T>(_ body: () async throws(FascoError) -> T) async throws(FascoError) -> T {
        state.withLock { $0.running += 1 }
        defer {
            state.withLock { state in
                state.running -= 1
                state.lastActivity = .now
            }
        }
        return try await body()
    }

    /// Takes over `descriptor` (a namespace file open for reading); it is closed with its batch.
    func hold(_ descriptor: Int32) {
        let schedule = state.withLock { state -> Bool in
            state.held.append(descriptor)
            if state.firstHeld == nil { state.firstHeld = .now }
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard schedule else { return }
        Task.detached { [self] in
            while true {
                // A detached task nobody cancels: the sleep cannot fail.
                try? await Task.sleep(for: quiet)
                if releaseIfDue() { return }
            }
        }
    }

    /// The descriptors held now.
    var held: [Int32] { state.withLock { $0.held } }

    /// Closes the batch when it is due; true when nothing is held any more.
    private func releaseIfDue() -> Bool {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [Int32]? in
            let idle = state.running == 0 && now - state.lastActivity >= quiet
            let overdue = state.firstHeld.map { now - $0 >= maxHold } ?? true
            guard idle || overdue else { return nil }
            defer { state.held = []; state.firstHeld = nil; state.scheduled = false }
            return state.held
        }
        guard let due else { return false }
        for descriptor in due { close(descriptor) }
        return true
    }
}
