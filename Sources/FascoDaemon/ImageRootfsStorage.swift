import FascoCore
import ImageStore
import Logging
import OCISpec
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// Container root filesystems from the image store: `<directory>/<container ID>/` is the
/// bundle, holding the overlay's upper and work directories and the mounted `rootfs`.
public struct ImageRootfsStorage: ContainerStorage {
    let images: ImageStore
    let directory: String
    /// Opens ocicrypt JWE key wrappers with the node's private keys (`[image] decryption_keys`).
    let nodeKeys: (@Sendable ([UInt8]) throws(FascoError) -> [UInt8]?)?

    public init(images: ImageStore, directory: String,
                nodeKeys: (@Sendable ([UInt8]) throws(FascoError) -> [UInt8]?)? = nil) throws(FascoError) {
        self.images = images
        self.directory = directory
        self.nodeKeys = nodeKeys
        try FileSystem.makeDirectories(directory, mode: 0o711)
    }

    static func owner(_ id: String) -> String { "container-\(id)" }

    public func bundleDirectory(of container: ContainerRealm) -> String { "\(directory)/\(container.id)" }

    /// The overlay's upper directory in the bundle (`ImageStore.prepareRootfs`).
    public func writableLayer(of container: ContainerRealm) -> String? { bundleDirectory(of: container) + "/upper" }

    public func prepare(_ container: ContainerRealm, pod: RunningSystemRealm) async throws(FascoError) -> ContainerBundle {
        let bundle = bundleDirectory(of: container)
        let mapping = try pod.userNamespace.map { path throws(FascoError) in try Self.idMapping(userNamespace: path) }
        let rootfs = try await images.prepareRootfs(
            image: container.imageID, owner: Self.owner(container.id.value), directory: bundle, idMapping: mapping,
            logger: logger(for: container))
        return ContainerBundle(directory: bundle, rootfs: rootfs.path, locked: rootfs.locked)
    }

    public func unlock(_ container: ContainerRealm, pod: RunningSystemRealm, spec: RuntimeSpec,
                       resource: (@Sendable (String) async throws(FascoError) -> [UInt8])?) async throws(FascoError) {
        let bundle = bundleDirectory(of: container)
        let mapping = try pod.userNamespace.map { path throws(FascoError) in try Self.idMapping(userNamespace: path) }
        try await images.unlockRootfs(image: container.imageID, directory: bundle, idMapping: mapping,
                                      keys: LayerKeys(resource: resource, jwe: nodeKeys), logger: logger(for: container))
    }

    /// The image store's logger with the container's keys (as RealmCore and SoftwareRealms
    /// log them): `realm` and `containerID` its ID, `podSandboxID` its pod's.
    func logger(for container: ContainerRealm) -> Logger {
        var logger = images.logger
        logger[metadataKey: "realm"] = "\(container.id)"
        logger[metadataKey: "podSandboxID"] = "\(container.systemRealm)"
        logger[metadataKey: "containerID"] = "\(container.id)"
        return logger
    }

    /// The user namespace `/proc/<holder>/ns/user` with the host IDs of its root.
    static func idMapping(userNamespace path: String) throws(FascoError) -> RootfsIDMapping {
        let root = try UserNamespaceMap.root(ofUserNamespace: path)
        return RootfsIDMapping(userNamespace: path, rootUID: root.uid, rootGID: root.gid)
    }

    /// Removed containers' bundles wait here for the image store's background clean-up.
    var trash: String { "\(directory)/.trash" }

    /// The bundle is moved into the trash and the lease dropped before this returns; the tree
    /// is deleted and the image store collected in the background.
    public func release(_ container: ContainerRealm) async throws(FascoError) {
        try await images.retireRootfs(owner: Self.owner(container.id.value), directory: "\(directory)/\(container.id)", trash: trash)
    }

    public func unmount(_ container: ContainerRealm) async {
        ImageStore.unmountRootfs(directory: bundleDirectory(of: container))
    }

    public func sweep(keeping known: Set<RealmID>) async throws(FascoError) -> [String] {
        let keep = Set(known.map(\.value))
        var swept: [String] = []
        // What the last run left in the trash goes in the background: the trash itself under
        // a name of its own (so this run's removals do not land in it), and any such name
        // a crash left before its clean-up ran.
        for name in try FileSystem.list(directory) {
            var path = "\(directory)/\(name)"
            if name.hasPrefix(".trash") {
                if path == trash {
                    let left = "\(trash)-\(UInt64.random(in: 0...UInt64.max))"
                    guard rename(path, left) == 0 else { throw .internal("cannot move \(path) aside: \(FileSystem.errnoText)") }
                    path = left
                }
                await images.discard(path)
            } else if !keep.contains(name) {
                try await images.removeRootfs(owner: Self.owner(name), directory: path)
                swept.append(name)
            }
        }
        return swept
    }
}
