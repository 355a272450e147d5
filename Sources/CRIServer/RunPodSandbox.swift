import CRIAPI
import FascoCore
import GRPCTransport
import OCISpec
import RealmCore

extension CRIService {
    public func runPodSandbox(_ request: RunPodSandboxRequest, context: ServerContext) async throws -> RunPodSandboxResponse {
        guard let config = request.config else { throw FascoError.invalidArgument("config is required") }
        guard let metadata = config.metadata, !metadata.name.isEmpty else {
            throw FascoError.invalidArgument("config.metadata.name is required")
        }
        guard request.runtimeHandler.isEmpty || environment.runtimeHandlers.contains(request.runtimeHandler) else {
            throw FascoError.invalidArgument(
                "runtime handler \(request.runtimeHandler.debugDescription) is not served here (known: \"\", \(environment.runtimeHandlers.joined(separator: ", ")))")
        }
        let realm = SystemRealm(
            metadata: SystemRealmMetadata(name: metadata.name, uid: metadata.uid, namespace: metadata.namespace, attempt: metadata.attempt),
            createdAt: UnixTime.nanoseconds(), labels: config.labels, annotations: config.annotations,
            runtimeHandler: request.runtimeHandler, requestConfig: config.encode())
        let started = try await realms.runSystemRealm(realm, request: try Self.systemRealmRequest(config))
        return RunPodSandboxResponse(podSandboxID: started.id.value)
    }

    /// The System Realm a pod config asks for.
    static func systemRealmRequest(_ config: PodSandboxConfig) throws(FascoError) -> SystemRealmRequest {
        let options = config.linux?.securityContext?.namespaceOptions ?? NamespaceOption()
        let network: SystemRealmRequest.NamespaceMode = options.network == .node ? .host : .realm
        let ipc: SystemRealmRequest.NamespaceMode = options.ipc == .node ? .host : .realm
        for (what, mode) in [("network", options.network), ("ipc", options.ipc)] {
            switch mode {
            case .pod, .node: break
            default: throw .invalidArgument("\(what) namespace mode \(mode) is not supported for a pod (POD or NODE)")
            }
        }
        let userNamespace = try userNamespace(options)
        let hostname = try PodFiles.hostname(config, hostHostname: HostFacts.systemHostname())
        let hostResolvConf = hostFile("/etc/resolv.conf") ?? ""
        var files: [String: String] = [:]
        // A pod on the host's network sees the host's /etc/hosts, as with containerd.
        files["hosts"] = network == .host
            ? (hostFile("/etc/hosts") ?? PodFiles.hosts(hostname: hostname))
            : PodFiles.hosts(hostname: hostname)
        files["resolv.conf"] = try PodFiles.resolvConf(config.dnsConfig, hostResolvConf: hostResolvConf)
        files["hostname"] = PodFiles.hostnameFile(hostname)
        let metadata = config.metadata ?? PodSandboxMetadata()
        return SystemRealmRequest(
            hostname: hostname, network: network, ipc: ipc, sharedPID: options.pid == .pod,
            cgroupParent: config.linux?.cgroupParent ?? "", files: files,
            owner: .init(name: metadata.name, namespace: metadata.namespace, uid: metadata.uid),
            portMappings: config.portMappings.map { mapping in
                let proto = switch mapping.`protocol` { case .udp: "udp"; case .sctp: "sctp"; default: "tcp" }
                return .init(hostPort: mapping.hostPort, containerPort: mapping.containerPort, proto: proto, hostIP: mapping.hostIP)
            },
            userNamespace: userNamespace, measuredSettings: measuredSettings(config))
    }

    /// The pod's behaviour-defining settings its System Realm measures beyond namespaces:
    /// sysctls and the sandbox security context (docs/attestation.md).
    static func measuredSettings(_ config: PodSandboxConfig) -> [String: String] {
        var settings: [String: String] = [:]
        for (name, value) in config.linux?.sysctls ?? [:] { settings["sysctl." + name] = value }
        let context = config.linux?.securityContext ?? LinuxSandboxSecurityContext()
        settings["security.privileged"] = context.privileged ? "true" : "false"
        settings["security.readonly_rootfs"] = context.readonlyRootfs ? "true" : "false"
        if let user = context.runAsUser { settings["security.run_as_user"] = String(user.value) }
        if let group = context.runAsGroup { settings["security.run_as_group"] = String(group.value) }
        settings["security.supplemental_groups"] = context.supplementalGroups.map(String.init).joined(separator: ",")
        settings["security.supplemental_groups_policy"] = "\(context.supplementalGroupsPolicy)"
        if let seccomp = context.seccomp {
            settings["security.seccomp"] = "\(seccomp.profileType)" + (seccomp.localhostRef.isEmpty ? "" : ":" + seccomp.localhostRef)
        } else if !context.seccompProfilePath.isEmpty {
            settings["security.seccomp"] = context.seccompProfilePath
        }
        settings["namespace.pid"] = "\(context.namespaceOptions?.pid ?? .init())"
        return settings
    }

    /// The pod's user namespace: nil for the host's (no options, mode NODE); for mode POD one
    /// UID and one GID mapping, each mapping container ID 0 (`ContainerSpecBuilder.userNamespaceMappings`).
    /// CONTAINER and TARGET, and POD together with the host's network, IPC or PID namespace
    /// (as kubelet refuses hostNetwork, hostIPC and hostPID with user namespaces), are INVALID_ARGUMENT.
    static func userNamespace(_ options: NamespaceOption) throws(FascoError) -> SystemRealmRequest.UserNamespace? {
        guard let mappings = try ContainerSpecBuilder.userNamespaceMappings(options.usernsOptions) else { return nil }
        for (what, mode) in [("network", options.network), ("IPC", options.ipc), ("PID", options.pid)] where mode == .node {
            throw .invalidArgument("a pod with a user namespace cannot use the host's \(what) namespace")
        }
        let convert = { (mapping: RuntimeSpec.IDMapping) in
            SystemRealmRequest.IDMapping(containerID: mapping.containerID, hostID: mapping.hostID, size: mapping.size)
        }
        return SystemRealmRequest.UserNamespace(uids: mappings.uids.map(convert), gids: mappings.gids.map(convert))
    }

    /// A small host file's text, or nil when it cannot be read.
    static func hostFile(_ path: String) -> String? {
        guard let bytes = try? FileSystem.read(path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
