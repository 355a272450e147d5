/// OCI runtime-spec runtime.md "State": a container's state as reported by the runtime's `state`
/// operation (`runc state`, `crun state`) and passed to hooks on stdin (Go: `specs.State`).
public struct RuntimeState: Codable, Sendable, Equatable {
    /// The runtime-spec version the state complies with.
    public var ociVersion: String
    /// The container ID, unique on the host.
    public var id: String
    public var status: Status
    /// The container process ID: required on Linux when `status` is `created` or `running`. For hooks
    /// run in the container namespace it is the pid as seen in the container.
    public var pid: Int?
    /// The absolute path of the bundle directory.
    public var bundle: String
    /// The container's annotations (absent or empty when none were given).
    public var annotations: [String: String]?
    /// Not in the spec (which allows additional properties): the root filesystem path, as runc and crun
    /// report it.
    public var rootfs: String?
    /// Not in the spec: the creation time (RFC 3339 with nanoseconds), as runc and crun report it.
    public var created: String?
    /// Not in the spec: the owner's user name, as runc and crun report it (`""` from runc when unknown).
    public var owner: String?

    public init(ociVersion: String, id: String, status: Status, pid: Int? = nil, bundle: String,
                annotations: [String: String]? = nil, rootfs: String? = nil, created: String? = nil,
                owner: String? = nil) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
        self.rootfs = rootfs
        self.created = created
        self.owner = owner
    }

    /// runtime.md "State" `status` (Go: `ContainerState`). Runtimes may add values for new states
    /// (runc reports `paused`, for example); they decode as-is.
    public struct Status: OCIOpenString {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The container is being created (lifecycle step 2).
        public static let creating: Status = "creating"
        /// `create` finished; the user-specified program has not been executed.
        public static let created: Status = "created"
        /// The user-specified program is executing.
        public static let running: Status = "running"
        /// The container process has exited.
        public static let stopped: Status = "stopped"
    }
}

/// config-linux.md "The Container Process State" (Go: `ContainerProcessState`): what the runtime
/// sends, with the named file descriptors in `SCM_RIGHTS`, to `linux.seccomp.listenerPath`.
public struct ContainerProcessState: Codable, Sendable, Equatable {
    public var ociVersion: String
    /// Names of the passed file descriptors, in `SCM_RIGHTS` order.
    public var fds: [String]?
    /// The container process ID as seen by the runtime.
    public var pid: Int
    /// `linux.seccomp.listenerMetadata`.
    public var metadata: String?
    public var state: RuntimeState

    /// The `fds` name of the seccomp notify file descriptor.
    public static let seccompFdName = "seccompFd"

    public init(ociVersion: String, fds: [String]? = nil, pid: Int, metadata: String? = nil, state: RuntimeState) {
        self.ociVersion = ociVersion
        self.fds = fds
        self.pid = pid
        self.metadata = metadata
        self.state = state
    }
}
