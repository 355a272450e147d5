import CGRPCCore
import CGRPCShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A gRPC completion queue with its own thread.
///
/// `grpc_completion_queue_next` blocks, so it must never run on one of Swift's
/// cooperative threads. Each tag is a retained closure; the thread runs it when
/// its operation completes. Closures must be short: they run on the queue thread.
///
/// SAFETY: the queue pointer is only used through gRPC's thread-safe API.
final class CompletionQueue: @unchecked Sendable {
    let pointer: OpaquePointer
    private let thread = Mutex<pthread_t?>(nil)

    private final class Tag {
        let body: (Bool) -> Void
        init(_ body: @escaping (Bool) -> Void) { self.body = body }
    }

    private final class ThreadStart {
        let queue: CompletionQueue
        init(_ queue: CompletionQueue) { self.queue = queue }
    }

    init() {
        GRPCLibrary.initialize()
        // grpc_completion_queue_create_for_next fails only when out of memory.
        guard let pointer = grpc_completion_queue_create_for_next(nil) else {
            fatalError("out of memory creating a gRPC completion queue")
        }
        self.pointer = pointer
        var handle = pthread_t()
        let start = Unmanaged.passRetained(ThreadStart(self)).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            guard let argument else { return nil }
            let queue = Unmanaged<ThreadStart>.fromOpaque(argument).takeRetainedValue().queue
            queue.run()
            return nil
        }, start)
        guard result == 0 else { fatalError("cannot start the completion-queue thread: errno \(result)") }
        thread.withLock { $0 = handle }
    }

    /// A tag for a C call: `body` runs once, on the queue thread, when the operation completes.
    static func retainTag(_ body: @escaping (Bool) -> Void) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(Tag(body)).toOpaque()
    }

    /// Releases a tag whose operation was never started.
    static func releaseTag(_ tag: UnsafeMutableRawPointer) {
        Unmanaged<Tag>.fromOpaque(tag).release()
    }

    private func run() {
        while true {
            let event = grpc_completion_queue_next(pointer, gpr_inf_future(GPR_CLOCK_REALTIME), nil)
            switch event.type {
            case GRPC_QUEUE_SHUTDOWN:
                return
            case GRPC_OP_COMPLETE:
                guard let tag = event.tag else { continue }
                Unmanaged<Tag>.fromOpaque(tag).takeRetainedValue().body(event.success != 0)
            default:
                continue
            }
        }
    }

    /// Shuts the queue down once everything on it has completed, joins its thread and destroys it.
    /// Must not be called from the queue thread.
    func shutdownAndJoin() {
        grpc_completion_queue_shutdown(pointer)
        if let handle = thread.withLock({ value -> pthread_t? in defer { value = nil }; return value }) {
            pthread_join(handle, nil)
            grpc_completion_queue_destroy(pointer)
        }
    }
}

/// grpc_init once per process; the core stays up for the life of the process.
enum GRPCLibrary {
    private static let once: Void = { fasco_grpc_init() }()

    static func initialize() { _ = once }
}
