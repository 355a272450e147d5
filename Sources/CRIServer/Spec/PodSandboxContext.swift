import CRIAPI

/// What a pod's System Realm provides to the containers created in it; the backend fills it in
/// when it creates the pod and hands it to `ContainerSpecBuilder` for each container.
public struct PodSandboxContext: Sendable, Equatable {
    public var podID: String
    public var config: PodSandboxConfig
    /// The network namespace of the pod's supervisor (e.g. `/proc/123/ns/net`); nil means the
    /// host's (NODE mode): the container gets no network namespace entry and shares the host's.
    public var networkNamespacePath: String?
    /// The pod's IPC namespace; nil means the host's (NODE mode).
    public var ipcNamespacePath: String?
    /// The pod's UTS namespace; nil means the host's. Only a container with a UTS namespace of
    /// its own (the pod's) gets `hostname` in its spec.
    public var utsNamespacePath: String?
    /// The pod's shared PID namespace, when the pod's namespace options say POD; nil otherwise.
    public var pidNamespacePath: String?
    /// The pod's user namespace, when its `userns_options` mode is POD; containers join it (and
    /// repeat its mappings, which runc requires). nil with POD mode makes each container create a
    /// user namespace of its own with the pod's mappings.
    public var userNamespacePath: String?
    /// Files the pod prepared, bind-mounted at /etc/hosts, /etc/resolv.conf and /etc/hostname
    /// (see `PodFiles` for their content).
    public var hostsPath: String
    public var resolvConfPath: String
    public var hostnamePath: String
    /// The pod's /dev/shm (a tmpfs the pod mounted); with host IPC the host's /dev/shm is used instead.
    public var shmPath: String
    /// The pod's guest API directory (holding the unix socket `api.sock`), bind-mounted
    /// read-only at `GuestAPIPolicy.mountPath`; nil when the pod has no guest API.
    public var guestAPIDirectory: String?

    public init(podID: String, config: PodSandboxConfig,
                networkNamespacePath: String? = nil, ipcNamespacePath: String? = nil,
                utsNamespacePath: String? = nil, pidNamespacePath: String? = nil,
                userNamespacePath: String? = nil,
                hostsPath: String, resolvConfPath: String, hostnamePath: String, shmPath: String,
                guestAPIDirectory: String? = nil) {
        self.podID = podID
        self.config = config
        self.networkNamespacePath = networkNamespacePath
        self.ipcNamespacePath = ipcNamespacePath
        self.utsNamespacePath = utsNamespacePath
        self.pidNamespacePath = pidNamespacePath
        self.userNamespacePath = userNamespacePath
        self.hostsPath = hostsPath
        self.resolvConfPath = resolvConfPath
        self.hostnamePath = hostnamePath
        self.shmPath = shmPath
        self.guestAPIDirectory = guestAPIDirectory
    }

    /// The pod's namespace options (all POD when the pod config has none).
    var namespaceOptions: NamespaceOption {
        config.linux?.securityContext?.namespaceOptions ?? NamespaceOption()
    }

    /// Whether the pod itself was created privileged (a privileged container needs a privileged pod).
    var isPrivileged: Bool {
        config.linux?.securityContext?.privileged ?? false
    }
}
