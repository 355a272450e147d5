import FascoCore

/// Where Container Realms' writable root filesystems come from (the image store).
public protocol ContainerStorage: Sendable {
    /// Makes the container's bundle directory and root filesystem (for the System Realm that
    /// runs `pod`: in its user namespace, when it has one); returns their paths.
    func prepare(_ container: ContainerRealm, pod: SystemRealmRuntime) async throws(FascoError) -> ContainerBundle
    /// The container's bundle directory (whether or not it exists).
    func bundleDirectory(of container: ContainerRealm) -> String
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

    public init(directory: String, rootfs: String) {
        self.directory = directory
        self.rootfs = rootfs
    }
}
