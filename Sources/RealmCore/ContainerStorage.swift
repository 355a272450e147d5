import FascoCore
import OCISpec

/// Where Container Realms' writable root filesystems come from (the image store).
public protocol ContainerStorage: Sendable {
    /// Makes the container's bundle directory and root filesystem (for the System Realm that
    /// runs `pod`: in its user namespace, when it has one); returns their paths. A bundle whose
    /// image has encrypted layers comes back `locked`: its root filesystem is empty until `unlock`.
    func prepare(_ container: ContainerRealm, pod: RunningSystemRealm) async throws(FascoError) -> ContainerBundle
    /// Decrypts a locked bundle's layers with keys `resource` gives (key-broker resources released
    /// to the container's realm, `kbs:///repo/type/tag`) and mounts its root filesystem for
    /// `spec` (the backend makes its mount points when it creates the container). On failure
    /// nothing decrypted is left.
    func unlock(_ container: ContainerRealm, pod: RunningSystemRealm, spec: RuntimeSpec,
                resource: (@Sendable (String) async throws(FascoError) -> [UInt8])?) async throws(FascoError)
    /// The container's bundle directory (whether or not it exists).
    func bundleDirectory(of container: ContainerRealm) -> String
    /// The directory holding what the container wrote to its root filesystem (its overlay's
    /// upper layer); nil when the storage keeps none.
    func writableLayer(of container: ContainerRealm) -> String?
    /// The container has exited: its root filesystem is unmounted (the bundle and the
    /// writable layer stay until `release`; exited containers are never started again).
    func unmount(_ container: ContainerRealm) async
    /// Removes the container's root filesystem and bundle. Idempotent.
    func release(_ container: ContainerRealm) async throws(FascoError)
    /// Removes the bundles of containers that are not in `known` (left by a crash). Returns their IDs.
    func sweep(keeping known: Set<RealmID>) async throws(FascoError) -> [String]
}

/// A container's OCI bundle directory and the root filesystem mounted for it.
public struct ContainerBundle: Sendable, Equatable {
    public var directory: String
    public var rootfs: String
    /// The root filesystem is not mounted yet: its image has encrypted layers, decrypted only once
    /// the container's realm is measured and received their keys (`ContainerStorage.unlock`).
    public var locked: Bool

    public init(directory: String, rootfs: String, locked: Bool = false) {
        self.directory = directory
        self.rootfs = rootfs
        self.locked = locked
    }
}
