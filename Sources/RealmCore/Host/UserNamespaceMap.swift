import FascoCore

/// The ID maps of a user namespace as the kernel shows them in `/proc/<pid>/uid_map` and
/// `gid_map` (user_namespaces(7): "inside outside length" lines), for what must be owned by a
/// realm's root (a container's writable layer, in a pod with a user namespace).
public enum UserNamespaceMap {
    public typealias IDMapping = SystemRealmRequest.IDMapping

    /// The mappings of a uid_map or gid_map text; lines that are not three numbers are skipped.
    public static func parse(_ text: String) -> [IDMapping] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3, let inside = UInt32(fields[0]), let outside = UInt32(fields[1]), let size = UInt32(fields[2]) else {
                return nil
            }
            return IDMapping(containerID: inside, hostID: outside, size: size)
        }
    }

    /// The host ID that ID 0 inside is; nil when no mapping covers it.
    public static func rootHostID(_ mappings: [IDMapping]) -> UInt32? {
        mappings.first { $0.containerID == 0 && $0.size > 0 }?.hostID
    }

    /// The host uid and gid of root in the user namespace `<process>/ns/user` (such as
    /// `RunningSystemRealm.userNamespace`), from that process's uid_map and gid_map.
    /// FAILED_PRECONDITION when the process is gone or its namespace maps no root.
    public static func root(ofUserNamespace path: String) throws(FascoError) -> (uid: UInt32, gid: UInt32) {
        guard path.hasSuffix("/ns/user") else { throw .internal("not a user namespace path: \(path)") }
        let process = String(path.dropLast("/ns/user".count))
        func root(_ file: String) throws(FascoError) -> UInt32 {
            guard let bytes = try? FileSystem.read("\(process)/\(file)", limit: ProcFS.limit) else {
                throw .failedPrecondition("the pod's user namespace is gone (\(process)/\(file))")
            }
            guard let id = rootHostID(parse(String(decoding: bytes, as: UTF8.self))) else {
                throw .failedPrecondition("the pod's user namespace maps no root (\(process)/\(file))")
            }
            return id
        }
        return (try root("uid_map"), try root("gid_map"))
    }
}
