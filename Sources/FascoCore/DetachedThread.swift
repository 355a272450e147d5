#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached OS thread: for loops that block in poll(2) or read(2), work that changes
/// per-thread kernel state (setns), and anything else that must never hold one of Swift's few
/// cooperative threads.
public enum DetachedThread {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread (with `stackSize` bytes of stack when given);
    /// false when the system refuses another thread.
    public static func start(stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Bool {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(body))
        let started = pthread_create(&thread, &attributes, { argument in
            guard let argument else { return nil }
            Unmanaged<Job>.fromOpaque(argument).takeRetainedValue().body()
            return nil
        }, job.toOpaque())
        if started != 0 {
            job.release()
            return false
        }
        return true
    }
}
