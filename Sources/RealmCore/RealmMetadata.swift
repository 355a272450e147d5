/// What identifies a pod sandbox to its owner (kubelet): the System Realm's name.
public struct SystemRealmMetadata: Sendable, Hashable, Codable {
    public var name: String
    public var uid: String
    public var namespace: String
    public var attempt: UInt32

    public init(name: String, uid: String, namespace: String, attempt: UInt32) {
        self.name = name
        self.uid = uid
        self.namespace = namespace
        self.attempt = attempt
    }

    /// The reserved name: unique among live System Realms (containerd's and CRI-O's scheme).
    public var reservedName: String { "\(name)_\(namespace)_\(uid)_\(attempt)" }
}

/// What identifies a container inside its pod: the Container Realm's name.
public struct ContainerRealmMetadata: Sendable, Hashable, Codable {
    public var name: String
    public var attempt: UInt32

    public init(name: String, attempt: UInt32) {
        self.name = name
        self.attempt = attempt
    }
}
