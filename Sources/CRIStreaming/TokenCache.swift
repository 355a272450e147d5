import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One-time tokens for streaming URLs: each names one request, is used at most once and
/// expires after `lifetime` (kubelet's and containerd's contract). The number outstanding is bounded.
final class TokenCache: Sendable {
    private struct Entry {
        var request: StreamingRequest
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let lifetime: Duration
    let capacity: Int

    init(lifetime: Duration, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// A new token for `request`; RESOURCE_EXHAUSTED when `capacity` live tokens exist.
    func insert(_ request: StreamingRequest) throws(FascoError) -> String {
        let token = try Self.randomToken()
        let now = ContinuousClock.now
        let inserted = entries.withLock { entries -> Bool in
            if entries.count >= capacity { entries = entries.filter { $0.value.expires > now } }
            guard entries.count < capacity else { return false }
            entries[token] = Entry(request: request, expires: now + lifetime)
            return true
        }
        guard inserted else { throw .resourceExhausted("too many streaming requests in flight (\(capacity)); try again later") }
        return token
    }

    /// The request of a live token, which is used up by this call.
    func consume(_ token: String) -> StreamingRequest? {
        let now = ContinuousClock.now
        return entries.withLock { entries -> StreamingRequest? in
            guard let entry = entries.removeValue(forKey: token), entry.expires > now else { return nil }
            return entry.request
        }
    }

    var count: Int { entries.withLock { $0.count } }

    /// 16 random bytes, URL-safe (hex). SystemRandomNumberGenerator reads the kernel's
    /// getrandom(2) on Linux: unpredictable, as a bearer token must be.
    static func randomToken() throws(FascoError) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Hex.encode(bytes)
    }
}
