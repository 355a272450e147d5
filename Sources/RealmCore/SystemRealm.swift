import RealmAttestation

/// A pod sandbox: the System Realm that holds its containers' namespaces, cgroup, stdio and exits.
public struct SystemRealm: Sendable, Equatable, Codable {
    /// Lifecycle (CRI PodSandboxState plus removal): ready -> notReady -> removed.
    public enum State: String, Sendable, Codable, CaseIterable {
        case ready, notReady, removed

        /// Containers are created only in a ready realm.
        public var canCreateContainer: Bool { self == .ready }
        /// Stopping is allowed in any live state (CRI StopPodSandbox is idempotent).
        public var canStop: Bool { self != .removed }
        /// A ready realm is stopped first, then removed (CRI RemovePodSandbox forces it).
        public var canRemove: Bool { self != .removed }

        public func canMove(to next: State) -> Bool {
            switch (self, next) {
            case (.ready, .notReady), (.ready, .removed), (.notReady, .removed), (.notReady, .notReady): true
            default: false
            }
        }
    }

    public var id: RealmID
    public var metadata: SystemRealmMetadata
    public var state: State
    /// Unix nanoseconds.
    public var createdAt: Int64
    public var labels: [String: String]
    public var annotations: [String: String]
    /// The RuntimeClass handler it was created for ("" is the default).
    public var runtimeHandler: String
    /// The request it was made from, as bytes the layer above reads (the CRI PodSandboxConfig);
    /// opaque here. Stored under the key `attachment`, its name in older records.
    public var requestConfig: [UInt8]
    /// Its measurements and attestation key (nil in records older than measurement).
    public var attestation: RealmAttestationRecord?

    enum CodingKeys: String, CodingKey {
        case id, metadata, state, createdAt, labels, annotations, runtimeHandler, attestation
        case requestConfig = "attachment"
    }

    public init(id: RealmID = .generate(), metadata: SystemRealmMetadata, state: State = .ready, createdAt: Int64,
                labels: [String: String] = [:], annotations: [String: String] = [:], runtimeHandler: String = "",
                requestConfig: [UInt8] = []) {
        self.id = id
        self.metadata = metadata
        self.state = state
        self.createdAt = createdAt
        self.labels = labels
        self.annotations = annotations
        self.runtimeHandler = runtimeHandler
        self.requestConfig = requestConfig
    }
}
