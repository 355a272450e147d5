@testable import RealmCore
import Synchronization
import Testing

@Suite("realm events and locks")
struct RealmEventHubTests {
    @Test("every subscriber gets every event published after it subscribed, in order; ended streams unsubscribe")
    func fanOut() async throws {
        let hub = RealmEventHub()
        let pod = RealmID.generate()
        hub.publish(RealmEvent(kind: .created, realm: pod, systemRealm: pod, time: 1))  // before anyone listens
        do {
            let first = hub.subscribe()
            let second = hub.subscribe()
            #expect(hub.subscriberCount == 2)
            let container = RealmID.generate()
            let kinds: [RealmEvent.Kind] = [.created, .started, .stopped, .deleted]
            for (index, kind) in kinds.enumerated() {
                hub.publish(RealmEvent(kind: kind, realm: container, systemRealm: pod, time: Int64(index + 2)))
            }
            for stream in [first, second] {
                var seen: [RealmEvent.Kind] = []
                for await event in stream {
                    #expect(event.realm == container && !event.isSystemRealm)
                    seen.append(event.kind)
                    if seen.count == kinds.count { break }
                }
                #expect(seen == kinds)
            }
        }
        // The streams are gone (as a GetContainerEvents handler's is when its call ends): unsubscribed.
        var remaining = hub.subscriberCount
        for _ in 0..<100 where remaining > 0 {
            try await Task.sleep(for: .milliseconds(10))
            remaining = hub.subscriberCount
        }
        #expect(remaining == 0)
    }

    @Test("a slow subscriber loses the oldest events beyond its buffer, never blocks the publisher")
    func bounded() async {
        let hub = RealmEventHub(bufferLimit: 3)
        let stream = hub.subscribe()
        let pod = RealmID.generate()
        for time in 1...10 { hub.publish(RealmEvent(kind: .started, realm: pod, systemRealm: pod, time: Int64(time))) }
        var times: [Int64] = []
        for await event in stream {
            times.append(event.time)
            if times.count == 3 { break }
        }
        #expect(times == [8, 9, 10])
    }

    @Test("a realm's lock runs its holders one at a time; other realms' locks do not wait")
    func locks() async throws {
        let locks = RealmLocks()
        let a = RealmID.generate()
        let b = RealmID.generate()
        let inside = Occupancy()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await locks.withLock(a) {
                        inside.enter()
                        try? await Task.sleep(for: .milliseconds(5))
                        inside.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(inside.most == 1)

        // While a's lock is held, b's is free: taking it does not wait for a's holder, which
        // holds on until b's was taken (or 10 s passed, so that a broken lock fails rather than hangs).
        let aHeld = Flag()
        let bTakenWhileAHeld = Flag()
        let bTaken = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await locks.withLock(a) {
                    aHeld.set(true)
                    let deadline = ContinuousClock.now + .seconds(10)
                    while !bTaken.value && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
                    aHeld.set(false)
                }
            }
            while !aHeld.value { try await Task.sleep(for: .milliseconds(1)) }
            try await locks.withLock(b) {
                bTakenWhileAHeld.set(aHeld.value)
                bTaken.set(true)
            }
            try await group.waitForAll()
        }
        #expect(bTakenWhileAHeld.value, "b's lock waited for a's holder")
        // And a's lock is free again once its holder left.
        try await locks.withLock(a) {}
    }
}

/// A boolean shared between tasks.
final class Flag: Sendable {
    private let state = Mutex(false)
    func set(_ value: Bool) { state.withLock { $0 = value } }
    var value: Bool { state.withLock { $0 } }
}

/// Counts how many holders are inside at once.
final class Occupancy: Sendable {
    private let state = Mutex((current: 0, most: 0))
    func enter() { state.withLock { $0.current += 1; $0.most = max($0.most, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var most: Int { state.withLock { $0.most } }
}
