/// The `software` realm backend: System Realms and Container Realms made of Linux
/// namespaces, cgroups and OCI runtimes (crun by default, runc by configuration).
/// Work in progress for the runtime issue; see docs/architecture.md.
public enum SoftwareBackend {
    public static let name = "software"
}
