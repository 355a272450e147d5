import Synchronization

/// Holds a value handed from a task to a waiting thread.
final class ResultBox<T: Sendable>: Sendable {
    let value = Mutex<T?>(nil)
}
