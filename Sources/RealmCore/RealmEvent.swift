import Synchronization

/// A lifecycle event of a realm, as CRI GetContainerEvents streams them.
public struct RealmEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case created, started, stopped, deleted
    }

    public var kind: Kind
    /// The realm the event is about: a Container Realm, or a System Realm (then equal to `systemRealm`).
    public var realm: RealmID
    public var systemRealm: RealmID
    /// Unix nanoseconds.
    public var time: Int64

    public init(kind: Kind, realm: RealmID, systemRealm: RealmID, time: Int64) {
        self.kind = kind
        self.realm = realm
        self.systemRealm = systemRealm
        self.time = time
    }

    public var isSystemRealm: Bool { realm == systemRealm }
}

/// Fans realm events out to every subscriber. A subscriber that falls more than
/// `bufferLimit` events behind loses the oldest ones rather than holding the publisher up.
public final class RealmEventHub: Sendable {
    private let subscribers = Mutex<(next: Int, streams: [Int: AsyncStream<RealmEvent>.Continuation])>((0, [:]))
    private let bufferLimit: Int

    public init(bufferLimit: Int = 4096) {
        self.bufferLimit = bufferLimit
    }

    public func publish(_ event: RealmEvent) {
        let streams = subscribers.withLock { Array($0.streams.values) }
        for stream in streams { stream.yield(event) }
    }

    /// A stream of every event published from now on; it ends when the consumer stops iterating.
    public func subscribe() -> AsyncStream<RealmEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: RealmEvent.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let key = subscribers.withLock { state -> Int in
            state.next += 1
            state.streams[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.streams.removeValue(forKey: key) }
        }
        return stream
    }

    public var subscriberCount: Int { subscribers.withLock { $0.streams.count } }
}
