import RealmAttestation

/// A container: a Container Realm inside its System Realm.
public struct ContainerRealm: Sendable, Equatable, Codable {
    /// Lifecycle (CRI ContainerState plus removal): created -> running -> exited -> removed;
    /// unknown when the backend lost track of it.
    public enum State: String, Sendable, Codable, CaseIterable {
        case created, running, exited, unknown, removed

        public var canStart: Bool { self == .created }
        /// Stopping a container that is not running succeeds without effect (CRI idempotence).
        public var canStop: Bool { self != .removed }
        /// CRI RemoveContainer forcibly removes a running container.
        public var canRemove: Bool { self != .removed }
        public var isLive: Bool { self == .created || self == .running }

        public func canMove(to next: State) -> Bool {
            switch (self, next) {
            case (.created, .running), (.created, .exited), (.running, .exited),
                 (.unknown, .exited), (.created, .unknown), (.running, .unknown),
                 (.created, .removed), (.running, .removed), (.exited, .removed), (.unknown, .removed): true
            default: false
            }
        }
    }

    /// Why a container exited, as CRI reports it.
    public enum ExitReason: String, Sendable, Codable {
        case completed = "Completed"
        case error = "Error"
        case oomKilled = "OOMKilled"
    }

    public var id: RealmID
    public var systemRealm: RealmID
    public var metadata: ContainerRealmMetadata
    public var state: State
    /// The image as the request named it, and its ID.
    public var image: String
    public var imageID: String
    public var createdAt: Int64
    public var startedAt: Int64
    public var finishedAt: Int64
    public var exitCode: Int32
    public var reason: String
    public var message: String
    public var logPath: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// The request it was made from, as bytes the layer above reads (the CRI ContainerConfig);
    /// opaque here. Stored under the key `attachment`, its name in older records.
    public var requestConfig: [UInt8]
    /// Whether the process gets a stdin clients can attach to (nil: /dev/null).
    public var stdin: ContainerStdin?
    /// Its measurements and attestation key (nil in records older than measurement).
    public var attestation: RealmAttestationRecord?

    enum CodingKeys: String, CodingKey {
        case id, systemRealm, metadata, state, image, imageID, createdAt, startedAt, finishedAt, exitCode, reason, message
        case logPath, labels, annotations, stdin, attestation
        case requestConfig = "attachment"
    }

    public init(id: RealmID = .generate(), systemRealm: RealmID, metadata: ContainerRealmMetadata, state: State = .created,
                image: String, imageID: String, createdAt: Int64, logPath: String = "",
                labels: [String: String] = [:], annotations: [String: String] = [:], requestConfig: [UInt8] = [],
                stdin: ContainerStdin? = nil) {
        self.id = id
        self.systemRealm = systemRealm
        self.metadata = metadata
        self.state = state
        self.image = image
        self.imageID = imageID
        self.createdAt = createdAt
        self.startedAt = 0
        self.finishedAt = 0
        self.exitCode = 0
        self.reason = ""
        self.message = ""
        self.logPath = logPath
        self.labels = labels
        self.annotations = annotations
        self.requestConfig = requestConfig
        self.stdin = stdin
    }

    /// The reserved name: unique among the live containers of one System Realm.
    public var reservedName: String { "\(metadata.name)_\(systemRealm.value)_\(metadata.attempt)" }

    /// Records an exit: `exited` with its code, time and reason (OOM kills say so).
    public mutating func recordExit(code: Int32, at time: Int64, oomKilled: Bool) {
        state = .exited
        exitCode = code
        finishedAt = time
        reason = oomKilled ? ExitReason.oomKilled.rawValue : (code == 0 ? ExitReason.completed.rawValue : ExitReason.error.rawValue)
    }
}

/// A container's stdin when it has one: kept open for any number of attaches, or handed
/// to the first attach only, whose end is the process's end of input (CRI stdin_once).
public enum ContainerStdin: String, Sendable, Codable {
    case open
    case once
}
