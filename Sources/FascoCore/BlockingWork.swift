/// Runs blocking work (file-system walks, unpacking, syscalls that may stall)
/// on a thread of its own, so it never holds one of Swift's few cooperative threads.
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws(FascoError) -> T) async throws(FascoError) -> T {
        let result: Result<T, FascoError> = await withCheckedContinuation { continuation in
            let started = DetachedThread.start {
                do throws(FascoError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            if !started {
                continuation.resume(returning: .failure(.resourceExhausted("cannot start a worker thread")))
            }
        }
        return try result.get()
    }
}
