import CRIAPI
import OCISpec
import RealmCore

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
    /// For PID namespace mode TARGET: the PID namespace of the target container (e.g.
    /// `/proc/<its pid>/ns/pid`), which the backend looks up from `namespace_options.target_id`.
    /// TARGET without it is INVALID_ARGUMENT.
    public var targetPIDNamespacePath: String?
    /// The host the container will run on: the capabilities the runtime can grant, the host's
    /// name (for a pod without one), the kernel release, and the host paths the request names,
    /// looked at only through it.
    public var host: HostFacts
    /// The root filesystem is locked (its image has encrypted layers, decrypted only after the
    /// realm is measured): no account files are read, and a user or group *name* is
    /// FAILED_PRECONDITION (a numeric user takes group 0 unless a group is given).
    public var accountFilesLocked: Bool

    public init(containerID: String, config: ContainerConfig, pod: PodSandboxContext,
                image: ImageConfiguration?, rootfs: String, host: HostFacts, targetPIDNamespacePath: String? = nil,
                accountFilesLocked: Bool = false) {
        self.containerID = containerID
        self.config = config
        self.pod = pod
        self.image = image
        self.rootfs = rootfs
        self.targetPIDNamespacePath = targetPIDNamespacePath
        self.host = host
        self.accountFilesLocked = accountFilesLocked
    }
}
