import CRIAPI
import FascoCore
import OCISpec

extension ContainerSpecBuilder {
    /// The container's namespaces:
    ///
    /// - network, IPC and UTS: the pod's (the paths in `PodSandboxContext`); a nil path is the
    ///   host's, and the namespace is then left out of the spec (inherited);
    /// - PID by the container's `namespace_options.pid` (else the pod's): CONTAINER a new one,
    ///   POD the pod's shared one (FAILED_PRECONDITION when the pod has none), NODE the host's,
    ///   TARGET the target container's (`ContainerSpecInput.targetPIDNamespacePath`);
    /// - mount: always a new one;
    /// - user: with `userns_options` mode POD, the pod's user namespace (or a new one) with its
    ///   ID mappings, which must then be the pod's; NODE none; CONTAINER and TARGET are
    ///   INVALID_ARGUMENT, as CRI specifies.
    static func namespaces(_ input: ContainerSpecInput, security: LinuxContainerSecurityContext) throws(FascoError) -> ContainerNamespaces {
        let pod = input.pod
        let options = security.namespaceOptions ?? pod.namespaceOptions
        var namespaces: [RuntimeSpec.Linux.Namespace] = []

        switch options.pid {
        case .container:
            namespaces.append(.init(type: .pid))
        case .pod:
            guard let path = pod.pidNamespacePath else {
                throw .failedPrecondition("PID namespace mode POD, but pod \(pod.podID) has no shared PID namespace")
            }
            namespaces.append(.init(type: .pid, path: try namespacePath(path)))
        case .node:
            break
        case .target:
            guard let path = input.targetPIDNamespacePath else {
                throw .invalidArgument("PID namespace mode TARGET needs the target container \(options.targetID.debugDescription) to be running")
            }
            namespaces.append(.init(type: .pid, path: try namespacePath(path)))
        case .unrecognized(let value):
            throw .invalidArgument("unknown PID namespace mode \(value)")
        }
        if let path = pod.networkNamespacePath { namespaces.append(.init(type: .network, path: try namespacePath(path))) }
        if let path = pod.ipcNamespacePath { namespaces.append(.init(type: .ipc, path: try namespacePath(path))) }
        if let path = pod.utsNamespacePath { namespaces.append(.init(type: .uts, path: try namespacePath(path))) }
        namespaces.append(.init(type: .mount))

        var result = ContainerNamespaces(namespaces: namespaces)
        let userOptions = options.usernsOptions ?? pod.namespaceOptions.usernsOptions
        if let mappings = try userNamespaceMappings(userOptions) {
            let path = try pod.userNamespacePath.map { (path) throws(FascoError) in try namespacePath(path) }
            // Joining the pod's namespace with other mappings would not give them (and runc refuses it).
            if path != nil, let podMappings = try userNamespaceMappings(pod.namespaceOptions.usernsOptions),
               podMappings.uids != mappings.uids || podMappings.gids != mappings.gids {
                throw .invalidArgument("the container's user namespace mappings must be those of pod \(pod.podID)")
            }
            result.namespaces.insert(.init(type: .user, path: path), at: 0)
            result.uidMappings = mappings.uids
            result.gidMappings = mappings.gids
        }
        return result
    }

    /// The ID mappings of a pod's user namespace options; nil when the pod uses the host's user
    /// namespace (no options, or mode NODE). Mode POD needs exactly one UID and one GID mapping
    /// (containerd's limit), each non-empty, within 32 bits and mapping container ID 0. Anything
    /// else is INVALID_ARGUMENT; RunPodSandbox can use this to validate a pod.
    public static func userNamespaceMappings(_ options: UserNamespace?) throws(FascoError)
        -> (uids: [RuntimeSpec.IDMapping], gids: [RuntimeSpec.IDMapping])?
    {
        guard let options else { return nil }
        switch options.mode {
        case .node:
            guard options.uids.isEmpty, options.gids.isEmpty else {
                throw .invalidArgument("user namespace mode NODE takes no ID mappings")
            }
            return nil
        case .pod:
            return (try idMappings(options.uids, "UID"), try idMappings(options.gids, "GID"))
        case .container, .target:
            throw .invalidArgument("user namespace mode \(options.mode.protoName) is not supported (only POD and NODE)")
        case .unrecognized(let value):
            throw .invalidArgument("unknown user namespace mode \(value)")
        }
    }

    private static func idMappings(_ mappings: [IDMapping], _ what: String) throws(FascoError) -> [RuntimeSpec.IDMapping] {
        guard mappings.count == 1 else {
            throw .invalidArgument("user namespace needs exactly one \(what) mapping, got \(mappings.count)")
        }
        let mapping = mappings[0]
        let limit = UInt64(UInt32.max) + 1
        guard mapping.length > 0,
              UInt64(mapping.containerID) + UInt64(mapping.length) <= limit,
              UInt64(mapping.hostID) + UInt64(mapping.length) <= limit
        else { throw .invalidArgument("\(what) mapping \(mapping.containerID) \(mapping.hostID) \(mapping.length) is out of range") }
        guard mapping.containerID == 0 else {
            throw .invalidArgument("\(what) mapping must map container ID 0")
        }
        return [RuntimeSpec.IDMapping(containerID: mapping.containerID, hostID: mapping.hostID, size: mapping.length)]
    }

    private static func namespacePath(_ path: String) throws(FascoError) -> String {
        try requireAbsolute(path, "namespace path")
        return path
    }

    /// The pod's sysctls, refused (INVALID_ARGUMENT) where they would change a namespace the
    /// container shares with the host: `net.*` on the host network, the IPC ones (`kernel.shm*`,
    /// `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`) on the host IPC namespace, and
    /// `kernel.hostname`/`kernel.domainname` without a UTS namespace (runc refuses them too).
    static func sysctls(_ sysctls: [String: String], namespaces: ContainerNamespaces) throws(FascoError) -> [String: String]? {
        guard !sysctls.isEmpty else { return nil }
        for (name, value) in sysctls {
            guard !name.isEmpty, !name.contains(".."), !name.hasPrefix("."),
                  !name.unicodeScalars.contains(where: { $0.value <= 0x20 || $0 == "=" }),
                  !value.utf8.contains(0), !value.contains("\n")
            else { throw .invalidArgument("sysctl \(name.debugDescription) is not valid") }
            let normalized = String(name.map { $0 == "/" ? "." : $0 })
            if normalized.hasPrefix("net.") && namespaces.hostNetwork {
                throw .invalidArgument("sysctl \(name) cannot be set in the host's network namespace")
            }
            let ipc = ["kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msgmax",
                       "kernel.msgmnb", "kernel.msgmni", "kernel.sem"]
            if (ipc.contains(normalized) || normalized.hasPrefix("fs.mqueue.")) && namespaces.hostIPC {
                throw .invalidArgument("sysctl \(name) cannot be set in the host's IPC namespace")
            }
            if (normalized == "kernel.hostname" || normalized == "kernel.domainname") && !namespaces.ownUTS {
                throw .invalidArgument("sysctl \(name) cannot be set in the host's UTS namespace")
            }
        }
        return sysctls
    }
}
