/// Where and whether a pod's containers get the guest API (CoCo's api-server-rest, served by the
/// daemon for each System Realm): the names the layers share, so that the daemon that serves it
/// and the spec builder that mounts it into containers agree.
public enum GuestAPIPolicy {
    /// The pod annotation that turns the guest API off for a pod: `"off"` (or `"false"`,
    /// `"disabled"`): no listener, no mount. Anything else, or no annotation, leaves it on.
    public static let annotation = "io.fasco.guest-api"
    /// Where every container of the pod sees the guest directory (read-only), which holds `api.sock`.
    public static let mountPath = "/run/fasco/guest"
    /// The unix socket's name in that directory.
    public static let socketName = "api.sock"
    /// The TCP port on 127.0.0.1 in the pod's network namespace (CoCo's).
    public static let port: UInt16 = 8006
    /// The REM that `POST /aa/aael` events extend (REM 1 holds sessions: Exec, ExecSync, Attach).
    public static let eventLogIndex = 2

    /// Whether a pod with these annotations gets the guest API.
    public static func isEnabled(annotations: [String: String]) -> Bool {
        guard let value = annotations[annotation] else { return true }
        return !["off", "false", "disabled"].contains(value.lowercased())
    }

    /// The pod's guest directory on the host (in its realm directory), bind-mounted at `mountPath`.
    public static func directory(ofRealmDirectory directory: String) -> String {
        (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/guest"
    }
}
