import CRIAPI
import FascoCore
import OCISpec
import RealmCore

/// Translates a CRI CreateContainer request (the ContainerConfig, its pod, the image config)
/// into the OCI runtime spec a runtime (runc, crun) runs, following containerd's CRI plugin
/// where CRI leaves the behaviour open.
///
/// What it needs of the host comes in `ContainerSpecInput.host` (`HostFacts`: capabilities,
/// hostname, kernel release, and the host paths the request names: seccomp profile files,
/// device nodes, mount sources and the mount table for their propagation); like containerd it
/// creates a missing host directory of a CRI mount, through it. It reads the rootfs'
/// /etc/passwd and /etc/group itself (inside the root only). Every malformed input is a thrown
/// FascoError (INVALID_ARGUMENT, or FAILED_PRECONDITION for host state that does not fit);
/// nothing in the input can crash it.
///
/// The parts live in `ContainerSpecBuilder+*.swift`: Process (argv, env, cwd), User,
/// Capabilities, Namespaces, Mounts, Devices, Resources, Seccomp. Where the container goes on
/// the host is the backend's to add: its `linux.cgroupsPath`, its `oom_score_adj` raised to
/// what the host allows, the mount points its root cannot make.
public enum ContainerSpecBuilder {
    /// The runtime-spec version written into specs (runc 1.1 speaks 1.0.2).
    public static let ociVersion = "1.0.2"

    public static func build(_ input: ContainerSpecInput) throws(FascoError) -> RuntimeSpec {
        try validateIdentity(input)
        let config = input.config
        let security = config.linux?.securityContext ?? LinuxContainerSecurityContext()
        try rejectUnsupported(config, security: security)
        let privileged = security.privileged
        if privileged && !input.pod.isPrivileged {
            throw .invalidArgument("a privileged container needs a privileged pod sandbox")
        }

        let namespaces = try namespaces(input, security: security)
        let hostname = try PodFiles.hostname(input.pod.config, hostHostname: input.host.hostname)
        let imageConfig = input.image?.config
        let capabilities = try capabilities(security, privileged: privileged, available: input.host.capabilities)

        let process = RuntimeSpec.Process(
            terminal: config.tty,
            user: try user(security, image: imageConfig, rootfs: input.rootfs, locked: input.accountFilesLocked),
            args: try processArguments(config, image: imageConfig),
            env: try environment(config, image: imageConfig, hostname: hostname),
            cwd: try workingDirectory(config, image: imageConfig),
            capabilities: capabilities,
            noNewPrivileges: security.noNewPrivs,
            oomScoreAdj: try oomScoreAdj(config.linux?.resources))

        let devices = try devices(config.devices, privileged: privileged, files: input.host.files)
        var linux = RuntimeSpec.Linux(
            uidMappings: namespaces.uidMappings,
            gidMappings: namespaces.gidMappings,
            sysctl: try sysctls(input.pod.config.linux?.sysctls ?? [:], namespaces: namespaces),
            resources: try resources(config.linux?.resources, deviceRules: devices.rules),
            namespaces: namespaces.namespaces,
            devices: devices.nodes.isEmpty ? nil : devices.nodes,
            seccomp: try seccomp(security, privileged: privileged, capabilities: capabilities.bounding ?? [], host: input.host))
        if !privileged {
            linux.maskedPaths = security.maskedPaths.isEmpty ? defaultMaskedPaths : try absolutePaths(security.maskedPaths, "masked path")
            linux.readonlyPaths = security.readonlyPaths.isEmpty ? defaultReadonlyPaths : try absolutePaths(security.readonlyPaths, "read-only path")
        }
        // Last: resolving mount sources may create host directories, so everything else is checked first.
        let mounts = try mounts(input, security: security, namespaces: namespaces)
        linux.rootfsPropagation = mounts.rootfsPropagation

        return RuntimeSpec(
            ociVersion: ociVersion,
            process: process,
            root: RuntimeSpec.Root(path: input.rootfs, readonly: security.readonlyRootfs),
            hostname: namespaces.ownUTS ? hostname : nil,
            mounts: mounts.mounts,
            annotations: annotations(input),
            linux: linux)
    }

    /// containerd's default masked paths (config-linux.md "Masked Paths").
    public static let defaultMaskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]

    /// containerd's default read-only paths.
    public static let defaultReadonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    /// IDs and paths the backend chose: a container ID usable as a cgroup and directory name, an
    /// absolute rootfs, and CRI metadata with a name.
    static func validateIdentity(_ input: ContainerSpecInput) throws(FascoError) {
        let id = input.containerID
        let allowed: (UInt8) -> Bool = { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard !id.isEmpty, id.utf8.count <= 128, !id.hasPrefix("."), id.utf8.allSatisfy(allowed) else { throw .invalidArgument("container ID \(id.debugDescription) is not a valid name") }
        guard let name = input.config.metadata?.name, !name.isEmpty else {
            throw .invalidArgument("container config has no metadata name")
        }
        try requireAbsolute(input.rootfs, "rootfs")
    }

    /// CRI features this builder does not implement, refused rather than ignored.
    static func rejectUnsupported(_ config: ContainerConfig, security: LinuxContainerSecurityContext) throws(FascoError) {
        if !config.cdiDevices.isEmpty {
            throw .unimplemented("CDI devices are not supported")
        }
        if let apparmor = security.apparmor, apparmor.profileType == .localhost {
            throw .failedPrecondition("AppArmor profile \(apparmor.localhostRef) requested, but AppArmor is not available")
        }
        if security.apparmorProfile.hasPrefix("localhost/") {
            throw .failedPrecondition("AppArmor profile \(security.apparmorProfile) requested, but AppArmor is not available")
        }
    }

    static func annotations(_ input: ContainerSpecInput) -> [String: String] {
        var annotations = input.config.annotations
        let metadata = input.pod.config.metadata
        annotations[SpecAnnotation.containerType] = SpecAnnotation.containerTypeContainer
        annotations[SpecAnnotation.containerName] = input.config.metadata?.name ?? ""
        annotations[SpecAnnotation.sandboxID] = input.pod.podID
        annotations[SpecAnnotation.sandboxName] = metadata?.name ?? ""
        annotations[SpecAnnotation.sandboxNamespace] = metadata?.namespace ?? ""
        annotations[SpecAnnotation.sandboxUID] = metadata?.uid ?? ""
        let image = input.config.image
        annotations[SpecAnnotation.imageName] = (image?.userSpecifiedImage.isEmpty ?? true) ? (image?.image ?? "") : image?.userSpecifiedImage
        return annotations
    }

    // MARK: - Path helpers

    static func requireAbsolute(_ path: String, _ what: String) throws(FascoError) {
        guard path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw .invalidArgument("\(what) \(path.debugDescription) is not an absolute path")
        }
    }

    /// `path` made absolute-clean: repeated slashes, `.` and `..` resolved lexically (`..` at the
    /// root stays at the root), no trailing slash.
    static func cleanPath(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func absolutePaths(_ paths: [String], _ what: String) throws(FascoError) -> [String] {
        var result: [String] = []
        for path in paths {
            try requireAbsolute(path, what)
            result.append(cleanPath(path))
        }
        return result
    }
}
