import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// Mount propagation between the host and containers (CRI HOST_TO_CONTAINER and
/// BIDIRECTIONAL mounts) needs the host's mounts to be shared, as systemd makes them on
/// every boot. On a host without systemd they are private; the runtime makes `/` rshared
/// once at start, like a systemd host would have it.
public enum RootPropagation {
    /// Whether the mount at `/` is in a shared peer group.
    public static func isShared() throws(FascoError) -> Bool {
        let root = try MountInfo.current().last { $0.mountPoint == "/" }
        return root?.optionalFields.contains { $0.hasPrefix("shared:") } ?? false
    }

    /// Makes `/` (recursively) shared when it is not; returns whether it changed anything.
    @discardableResult
    public static func ensureShared() throws(FascoError) -> Bool {
        guard try !isShared() else { return false }
        guard mount("none", "/", nil, UInt(MS_REC | MS_SHARED), nil) == 0 else {
            throw .internal("cannot make / rshared for mount propagation: \(FileSystem.errnoText)")
        }
        return true
    }
}
