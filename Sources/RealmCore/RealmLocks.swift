import FascoCore

/// One async lock per realm: a realm's multi-step transitions (which await the backend)
/// run one at a time, while different realms proceed in parallel.
actor RealmLocks {
    private var holders: [RealmID: [CheckedContinuation<Void, Never>]] = [:]

    /// Runs `body` holding `id`'s lock.
    nonisolated func withLock<T: Sendable>(_ id: RealmID, _ body: () async throws(FascoError) -> T) async throws(FascoError) -> T {
        await acquire(id)
        do {
            let value = try await body()
            await release(id)
            return value
        } catch {
            await release(id)
            throw error
        }
    }

    private func acquire(_ id: RealmID) async {
        if holders[id] == nil {
            holders[id] = []
            return
        }
        await withCheckedContinuation { continuation in
            holders[id, default: []].append(continuation)
        }
    }

    private func release(_ id: RealmID) {
        guard var waiters = holders[id] else { return }
        if waiters.isEmpty {
            holders[id] = nil
        } else {
            let next = waiters.removeFirst()
            holders[id] = waiters
            next.resume()
        }
    }
}
