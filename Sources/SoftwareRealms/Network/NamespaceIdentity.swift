#if canImport(Glibc)
import Glibc
#endif

/// Which namespace a path such as /proc/<pid>/ns/net names: the device and inode of its nsfs
/// file, which stay the same for the namespace's life whatever path reaches it.
///
/// Recorded at ADD so that a later DEL or CHECK does not act on another namespace when the
/// process whose /proc entry was used has gone and its PID has been reused.
struct NamespaceIdentity: Sendable, Equatable, Codable {
    var device: UInt64
    var inode: UInt64

    /// The identity of what `path` names (following the /proc magic link); nil when it does not exist.
    static func of(_ path: String) -> NamespaceIdentity? {
        guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return NamespaceIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The network namespace this process (and so every plugin it runs) is in.
    static var current: NamespaceIdentity? { of("/proc/self/ns/net") }
}
