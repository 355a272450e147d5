import Crypto
import Synchronization

/// Realm attestation keys made ahead of need: generating a P-384 key is most of what measuring a
/// realm costs, so a few are kept ready and CreateContainer takes one instead of making it. Each
/// key is handed out once and never kept after; an empty pool makes the key on the spot.
public final class AttestationKeyPool: Sendable {
    private let keys = Mutex<[[UInt8]]>([])
    private let refilling = Mutex(false)
    public let capacity: Int

    public init(capacity: Int = 8) {
        self.capacity = capacity
    }

    /// A fresh key's raw scalar, never handed out before.
    public func take() -> [UInt8] {
        let taken = keys.withLock { $0.popLast() }
        refill()
        return taken ?? P384Key.make()
    }

    /// Tops the pool up off the caller's path (a background task, one at a time).
    public func refill() {
        let start = refilling.withLock { running -> Bool in
            if running { return false }
            running = true
            return true
        }
        guard start else { return }
        Task.detached(priority: .background) { [self] in
            while keys.withLock({ $0.count }) < capacity {
                let key = P384Key.make()
                keys.withLock { $0.append(key) }
            }
            refilling.withLock { $0 = false }
        }
    }

    public var ready: Int { keys.withLock { $0.count } }
}
