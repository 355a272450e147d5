/// What differs from one instance of a realm to the next, and is therefore left out of its
/// measurement: paths under Fasco's directories and the IDs of this pod and container. Mount
/// sources are measured with these replaced by fixed placeholders, so two replicas of one
/// Deployment measure the same.
public struct RealmInstance: Sendable, Equatable {
    /// (path prefix, placeholder), longest first: Fasco's root and state directories, and the
    /// System Realm's own directory (its hosts, hostname, resolv.conf and shm).
    public var directories: [(String, String)]
    /// (value, placeholder): the pod's sandbox ID and UID, the container's ID.
    public var identifiers: [(String, String)]

    public init(root: String, state: String, realmDirectory: String = "", podID: String, podUID: String, containerID: String = "") {
        directories = [(root, "<root>"), (state, "<state>"), (realmDirectory, "<realm>")]
            .filter { !$0.0.isEmpty }
            .map { ($0.0.hasSuffix("/") ? String($0.0.dropLast()) : $0.0, $0.1) }
            .sorted { $0.0.count > $1.0.count }
        identifiers = [(containerID, "<container-id>"), (podID, "<pod-id>"), (podUID, "<pod-uid>")]
            .filter { $0.0.count >= 8 }
    }

    public static func == (lhs: RealmInstance, rhs: RealmInstance) -> Bool {
        lhs.directories.elementsEqual(rhs.directories, by: ==) && lhs.identifiers.elementsEqual(rhs.identifiers, by: ==)
    }

    /// `path` with Fasco's directories and the instance's IDs replaced by placeholders.
    public func normalize(_ path: String) -> String {
        var result = path
        for (prefix, placeholder) in directories where result == prefix || result.hasPrefix(prefix + "/") {
            result = placeholder + result.dropFirst(prefix.count)
            break
        }
        for (value, placeholder) in identifiers {
            result = result.replacing(value, with: placeholder)
        }
        return result
    }
}
