#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (file-system walks, unpacking, syscalls that may stall)
/// on a thread of its own, so it never holds one of Swift's few cooperative threads.
public enum BlockingWork {
    private final class Job: @unchecked Sendable {
        // SAFETY: set once before the thread starts, run once on that thread.
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws(FascoError) -> T) async throws(FascoError) -> T {
        let result: Result<T, FascoError> = await withCheckedContinuation { continuation in
            let job = Job {
                do throws(FascoError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            defer { pthread_attr_destroy(&attributes) }
            var thread = pthread_t()
            let retained = Unmanaged.passRetained(job)
            let started = pthread_create(&thread, &attributes, { argument in
                guard let argument else { return nil }
                Unmanaged<Job>.fromOpaque(argument).takeRetainedValue().body()
                return nil
            }, retained.toOpaque())
            if started != 0 {
                retained.release()
                continuation.resume(returning: .failure(.resourceExhausted("cannot start a worker thread: errno \(started)")))
            }
        }
        return try result.get()
    }
}
