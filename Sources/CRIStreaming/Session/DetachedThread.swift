#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached OS thread: session loops block in poll(2) there, never on one of
/// Swift's cooperative threads.
enum DetachedThread {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// False when the system refuses another thread.
    static func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        // Session loops need little stack: 512 KiB instead of the default 8 MiB of address space.
        pthread_attr_setstacksize(&attributes, 512 << 10)
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
