import FascoCore
import ImageStore
import RealmCore

/// Container root filesystems from the image store: `<directory>/<container ID>/` is the
/// bundle, holding the overlay's upper and work directories and the mounted `rootfs`.
public struct ImageRootfsStorage: ContainerStorage {
    let images: ImageStore
    let directory: String

    public init(images: ImageStore, directory: String) throws(FascoError) {
        self.images = images
        self.directory = directory
        try FileSystem.makeDirectories(directory, mode: 0o711)
    }

    static func owner(_ id: String) -> String { "container-\(id)" }

    public func bundleDirectory(of container: ContainerRealm) -> String { "\(directory)/\(container.id)" }

    public func prepare(_ container: ContainerRealm) async throws(FascoError) -> ContainerBundle {
        let bundle = bundleDirectory(of: container)
        let rootfs = try await images.prepareRootfs(image: container.imageID, owner: Self.owner(container.id.value), directory: bundle)
        return ContainerBundle(directory: bundle, rootfs: rootfs)
    }

    public func release(_ container: ContainerRealm) async throws(FascoError) {
        try await images.removeRootfs(owner: Self.owner(container.id.value), directory: "\(directory)/\(container.id)")
    }

    public func sweep(keeping known: Set<RealmID>) async throws(FascoError) -> [String] {
        let keep = Set(known.map(\.value))
        var swept: [String] = []
        for name in try FileSystem.list(directory) where !keep.contains(name) {
            try await images.removeRootfs(owner: Self.owner(name), directory: "\(directory)/\(name)")
            swept.append(name)
        }
        return swept
    }
}
