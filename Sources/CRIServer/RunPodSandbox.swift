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
            runtimeHandler: request.runtimeHandler, attachment: config.encode())
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
        let hostname = try PodFiles.hostname(config)
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
            userNamespace: userNamespace)
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
