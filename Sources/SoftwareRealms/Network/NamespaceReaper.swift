import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Holds the last references to stopped pods' network namespaces for a moment and lets them
/// go together.
///
/// By then a namespace is empty but for its loopback (CNI DEL removed the pod's interfaces).
/// The kernel destroys it in a background worker whose RCU waits (`rcu_barrier`) also hold up
/// every interface deletion meanwhile: with pods stopping back to back, each StopPodSandbox's
/// CNI DEL waited for the previous pod's namespace to be destroyed, about twice as long as
/// otherwise on the development host. Namespaces let go in one batch cost one worker run.
final class NamespaceReaper: Sendable {
    private let state = Mutex<(held: [Int32], scheduled: Bool)>(([], false))
    /// How long a namespace is held, at most, before the batch it is in is let go.
    let delay: Duration

    init(delay: Duration = .seconds(1)) {
        self.delay = delay
    }

    /// Takes over `descriptor` (a namespace file open for reading) and closes it with the
    /// others held, `delay` after the first of them came.
    func hold(_ descriptor: Int32) {
        let schedule = state.withLock { state -> Bool in
            state.held.append(descriptor)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard schedule else { return }
        let delay = delay
        Task.detached { [self] in
            try? await Task.sleep(for: delay)
            releaseAll()
        }
    }

    /// The descriptors held now.
    var held: [Int32] { state.withLock { $0.held } }

    /// Closes every descriptor held now.
    func releaseAll() {
        let descriptors = state.withLock { state -> [Int32] in
            defer { state = ([], false) }
            return state.held
        }
        for descriptor in descriptors { close(descriptor) }
    }
}
