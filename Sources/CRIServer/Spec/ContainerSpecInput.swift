import CRIAPI
import OCISpec

/// Everything `ContainerSpecBuilder` needs to turn a CRI CreateContainer request into an OCI
/// runtime spec.
public struct ContainerSpecInput: Sendable {
    public var containerID: String
    public var config: ContainerConfig
    public var pod: PodSandboxContext
    /// The image's configuration (entrypoint, cmd, env, user, working dir); nil for none.
    public var image: ImageConfiguration?
    /// The mounted root filesystem (absolute). Its /etc/passwd and /etc/group resolve user and
    /// group names; they are read with `RESOLVE_IN_ROOT`, never following a symlink out of it.
    public var rootfs: String
    /// The daemon's own oom_score_adj: a lower requested value is raised to it (this host
    /// withholds CAP_SYS_RESOURCE, like containerd's `restrict_oom_score_adj`).
    public var minimumOOMScoreAdj: Int
    /// For PID namespace mode TARGET: the PID namespace of the target container (e.g.
    /// `/proc/<its pid>/ns/pid`), which the backend looks up from `namespace_options.target_id`.
    /// TARGET without it is INVALID_ARGUMENT.
    public var targetPIDNamespacePath: String?
    /// The host's name, for a pod without a hostname of its own; nil asks gethostname(2).
    public var hostHostname: String?
    /// The capabilities the runtime can grant: the daemon's own effective set (`CAP_*` names),
    /// which is what "privileged" and `add_capabilities: ["ALL"]` give, as containerd's
    /// WithAllCurrentCapabilities does (this host withholds CAP_SYS_RESOURCE even from root).
    /// nil reads this process's `CapEff` from /proc/self/status.
    public var availableCapabilities: [String]?
    /// The root filesystem is locked (its image has encrypted layers, decrypted only after the
    /// realm is measured): no account files are read, and a user or group *name* is
    /// FAILED_PRECONDITION (a numeric user takes group 0 unless a group is given).
    public var accountFilesLocked: Bool = false

    public init(containerID: String, config: ContainerConfig, pod: PodSandboxContext,
                image: ImageConfiguration?, rootfs: String, minimumOOMScoreAdj: Int = 0,
                targetPIDNamespacePath: String? = nil, hostHostname: String? = nil,
                availableCapabilities: [String]? = nil, accountFilesLocked: Bool = false) {
        self.containerID = containerID
        self.config = config
        self.pod = pod
        self.image = image
        self.rootfs = rootfs
        self.minimumOOMScoreAdj = minimumOOMScoreAdj
        self.targetPIDNamespacePath = targetPIDNamespacePath
        self.hostHostname = hostHostname
        self.availableCapabilities = availableCapabilities
        self.accountFilesLocked = accountFilesLocked
    }
}
