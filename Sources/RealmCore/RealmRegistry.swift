import FascoCore
import RealmAttestation

/// The realms Fasco knows, their name reservations and their legal transitions;
/// every change is on disk before the call returns. Knows nothing of CRI or of
/// how a backend runs realms.
public actor RealmRegistry {
    private let store: RealmStore
    private var systemRealms: [RealmID: SystemRealm] = [:]
    private var containerRealms: [RealmID: ContainerRealm] = [:]
    private var systemIDs = IDIndex()
    private var containerIDs = IDIndex()
    private var reservedSystemNames: [String: RealmID] = [:]
    private var reservedContainerNames: [String: RealmID] = [:]
    /// Realms by state, as gauges (`RealmMetrics.realms`), set after every change.
    private let gauges = RealmStateGauges()

    /// What `load` found but could not keep: unreadable records and containers of missing pods.
    public struct Recovery: Sendable, Equatable {
        public var systemRealms: Int
        public var containerRealms: Int
        public var discarded: [String]
    }

    public init(root: String) throws(FascoError) {
        store = try RealmStore(root: root)
    }

    /// Loads System Realms, then Container Realms; records that cannot be used are
    /// reported and removed, never kept half.
    public func load() throws(FascoError) -> Recovery {
        var discarded: [String] = []
        let systems = try store.load(SystemRealm.self, from: store.systemDirectory)
        for path in systems.unreadable {
            discarded.append(path)
            try FileSystem.removeTree(path)
        }
        for realm in systems.records where realm.state != .removed {
            index(realm)
        }
        let containers = try store.load(ContainerRealm.self, from: store.containerDirectory)
        for path in containers.unreadable {
            discarded.append(path)
            try FileSystem.removeTree(path)
        }
        for realm in containers.records where realm.state != .removed {
            guard systemRealms[realm.systemRealm] != nil else {
                discarded.append("container \(realm.id) of missing pod \(realm.systemRealm)")
                try store.deleteContainerRealm(realm.id)
                continue
            }
            index(realm)
        }
        return Recovery(systemRealms: systemRealms.count, containerRealms: containerRealms.count, discarded: discarded)
    }

    // MARK: System Realms

    /// Adds a new System Realm; its name must not belong to a live one.
    public func add(_ realm: SystemRealm) throws(FascoError) {
        if let holder = reservedSystemNames[realm.metadata.reservedName] {
            throw .alreadyExists("pod sandbox name \(realm.metadata.reservedName) is reserved by \(holder)")
        }
        guard systemRealms[realm.id] == nil else { throw .alreadyExists("pod sandbox \(realm.id) exists") }
        try store.save(realm)
        index(realm)
    }

    public func systemRealm(_ id: String) throws(FascoError) -> SystemRealm? {
        try systemIDs.resolve(id).flatMap { systemRealms[$0] }
    }

    public var allSystemRealms: [SystemRealm] { systemRealms.values.sorted { $0.createdAt < $1.createdAt } }

    /// Moves a System Realm to `state` when its state machine allows it.
    @discardableResult
    public func transition(_ id: RealmID, to state: SystemRealm.State) throws(FascoError) -> SystemRealm {
        guard var realm = systemRealms[id] else { throw .notFound("pod sandbox \(id) not found") }
        if realm.state == state { return realm }
        guard realm.state.canMove(to: state) else {
            throw .failedPrecondition("pod sandbox \(id) is \(realm.state.rawValue); it cannot become \(state.rawValue)")
        }
        realm.state = state
        if state == .removed {
            guard containers(of: id).isEmpty else {
                throw .failedPrecondition("pod sandbox \(id) still has containers")
            }
            try store.deleteSystemRealm(id)
            unindex(realm)
        } else {
            try store.save(realm)
            systemRealms[id] = realm
        }
        updateGauges()
        return realm
    }

    /// Applies `change` to a System Realm's labels, annotations or attachment; its identity and
    /// state change only through `transition`.
    @discardableResult
    public func update(system id: RealmID, _ change: (inout SystemRealm) -> Void) throws(FascoError) -> SystemRealm {
        guard let before = systemRealms[id] else { throw .notFound("pod sandbox \(id) not found") }
        var after = before
        change(&after)
        guard after.id == before.id, after.metadata == before.metadata, after.state == before.state else {
            throw .internal("a pod sandbox's identity and state change only through transitions")
        }
        try store.save(after)
        systemRealms[id] = after
        return after
    }

    // MARK: Container Realms

    /// Adds a Container Realm to a ready System Realm; its name must be free in that pod.
    public func add(_ realm: ContainerRealm) throws(FascoError) {
        guard let pod = systemRealms[realm.systemRealm] else {
            throw .notFound("pod sandbox \(realm.systemRealm) not found")
        }
        guard pod.state.canCreateContainer else {
            throw .failedPrecondition("pod sandbox \(pod.id) is \(pod.state.rawValue): containers are created only in ready pods")
        }
        if let holder = reservedContainerNames[realm.reservedName] {
            throw .alreadyExists("container name \(realm.metadata.name) (attempt \(realm.metadata.attempt)) is reserved by \(holder)")
        }
        try store.save(realm)
        index(realm)
    }

    public func containerRealm(_ id: String) throws(FascoError) -> ContainerRealm? {
        try containerIDs.resolve(id).flatMap { containerRealms[$0] }
    }

    public var allContainerRealms: [ContainerRealm] { containerRealms.values.sorted { $0.createdAt < $1.createdAt } }

    public func containers(of pod: RealmID) -> [ContainerRealm] {
        containerRealms.values.filter { $0.systemRealm == pod }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Applies `change` to a Container Realm; the state it ends in must be reachable from the one it had.
    @discardableResult
    public func update(_ id: RealmID, _ change: (inout ContainerRealm) -> Void) throws(FascoError) -> ContainerRealm {
        guard let before = containerRealms[id] else { throw .notFound("container \(id) not found") }
        var after = before
        change(&after)
        guard after.id == before.id, after.systemRealm == before.systemRealm, after.metadata == before.metadata else {
            throw .internal("a container's identity cannot change")
        }
        guard after.state == before.state || before.state.canMove(to: after.state) else {
            throw .failedPrecondition("container \(id) is \(before.state.rawValue); it cannot become \(after.state.rawValue)")
        }
        if after.state == .removed {
            try store.deleteContainerRealm(id)
            unindex(before)
        } else {
            try store.save(after)
            containerRealms[id] = after
        }
        if after.state != before.state { updateGauges() }
        return after
    }

    /// Records a new Container Realm's measurements (made after its spec, before it is
    /// created). Written atomically but without fsync: it survives the daemon's death (the
    /// page cache keeps it), and what a host crash could lose belongs to a container that the
    /// crash ended anyway (such a record reads back whole, unmeasured: its attestation is
    /// then FAILED_PRECONDITION). Saves CreateContainer one synchronous disk flush.
    public func recordMeasurement(of id: RealmID, _ record: RealmAttestationRecord) throws(FascoError) {
        guard var realm = containerRealms[id] else { throw .notFound("container \(id) not found") }
        realm.attestation = record
        try store.save(realm, durable: false)
        containerRealms[id] = realm
    }

    /// Extends a Container Realm's REM `index` with H(`text`) (the text goes into its log), on
    /// disk before it returns; a realm without measurements is left as it is.
    @discardableResult
    public func extendMeasurement(of id: RealmID, index: Int, text: String) throws(FascoError) -> RealmMeasurement? {
        guard var realm = containerRealms[id] else { throw .notFound("container \(id) not found") }
        guard var record = realm.attestation else { return nil }
        let value = record.measurement.algorithm.hash(Array(text.utf8))
        try record.measurement.extend(index: index, value: value, what: text)
        realm.attestation = record
        try store.save(realm)
        containerRealms[id] = realm
        return record.measurement
    }

    // MARK: Indexes

    /// Sets the realms-by-state gauges from the indexes (a pass over the realms; a change of
    /// state costs far more in its fsync).
    private func updateGauges() {
        gauges.set(system: systemRealms.values.lazy.map(\.state), container: containerRealms.values.lazy.map(\.state))
    }

    private func index(_ realm: SystemRealm) {
        defer { updateGauges() }
        systemRealms[realm.id] = realm
        systemIDs.insert(realm.id)
        reservedSystemNames[realm.metadata.reservedName] = realm.id
    }

    private func unindex(_ realm: SystemRealm) {
        defer { updateGauges() }
        systemRealms[realm.id] = nil
        systemIDs.remove(realm.id)
        if reservedSystemNames[realm.metadata.reservedName] == realm.id { reservedSystemNames[realm.metadata.reservedName] = nil }
    }

    private func index(_ realm: ContainerRealm) {
        defer { updateGauges() }
        containerRealms[realm.id] = realm
        containerIDs.insert(realm.id)
        reservedContainerNames[realm.reservedName] = realm.id
    }

    private func unindex(_ realm: ContainerRealm) {
        defer { updateGauges() }
        containerRealms[realm.id] = nil
        containerIDs.remove(realm.id)
        if reservedContainerNames[realm.reservedName] == realm.id { reservedContainerNames[realm.reservedName] = nil }
    }
}
