import CRIAPI
import FascoCore
import GRPCTransport
import ImageStore
import OCISpec
import RealmAttestation
import RealmCore

extension CRIService {
    public func createContainer(_ request: CreateContainerRequest, context: ServerContext) async throws -> CreateContainerResponse {
        let realms = try self.realms
        guard let config = request.config else { throw FascoError.invalidArgument("config is required") }
        guard let metadata = config.metadata, !metadata.name.isEmpty else {
            throw FascoError.invalidArgument("config.metadata.name is required")
        }
        let imageName = try Self.imageName(config.image)
        guard let pod = try await realms.systemRealm(request.podSandboxID) else {
            throw FascoError.notFound("pod sandbox \(request.podSandboxID) not found")
        }
        guard let image = await images.image(imageName) else {
            throw FascoError.notFound("image \(imageName) not found: pull it first")
        }
        // The digest that runs is held to the policy in force now, whenever it was pulled or imported.
        try images.admitToRun(image, name: imageName)
        let podConfig = request.sandboxConfig ?? (try? PodSandboxConfig.decode(pod.attachment)) ?? PodSandboxConfig()
        var logPath = ""
        if !config.logPath.isEmpty {
            logPath = config.logPath.hasPrefix("/") ? config.logPath : podConfig.logDirectory + "/" + config.logPath
            guard logPath.hasPrefix("/"), !logPath.split(separator: "/").contains("..") else {
                throw FascoError.invalidArgument("log path \(logPath.debugDescription) must be absolute (a pod log_directory and a relative log_path) without ..")
            }
        }
        let container = ContainerRealm(
            systemRealm: pod.id, metadata: ContainerRealmMetadata(name: metadata.name, attempt: metadata.attempt),
            image: imageName, imageID: image.id.description, createdAt: UnixTime.nanoseconds(), logPath: logPath,
            labels: config.labels, annotations: config.annotations, attachment: config.encode(),
            stdin: config.stdin ? (config.stdinOnce ? .once : .open) : nil)
        let targetNamespace = try await Self.targetPIDNamespace(config: config, podConfig: podConfig, pod: pod, realms: realms)
        let imageConfig = image.config
        let host = HostFacts.current()
        let created = try await realms.createContainer(container, image: image.measured) { bundle, runtime throws(FascoError) -> RuntimeSpec in
            try ContainerSpecBuilder.build(ContainerSpecInput(
                containerID: container.id.value, config: config,
                pod: Self.podContext(pod: pod, config: podConfig, runtime: runtime),
                image: imageConfig, rootfs: bundle.rootfs, host: host, targetPIDNamespacePath: targetNamespace))
        }
        return CreateContainerResponse(containerID: created.id.value)
    }

    /// For PID namespace mode TARGET (what `kubectl debug --target` sends): the PID namespace of
    /// the target container, found as containerd finds it. The target must be a container of the
    /// same pod (else INVALID_ARGUMENT) that exists (else NOT_FOUND) and runs (else
    /// FAILED_PRECONDITION). Nil for every other mode.
    static func targetPIDNamespace(config: ContainerConfig, podConfig: PodSandboxConfig, pod: SystemRealm,
                                   realms: RealmManager) async throws(FascoError) -> String? {
        guard let options = config.linux?.securityContext?.namespaceOptions ?? podConfig.linux?.securityContext?.namespaceOptions,
              options.pid == .target else { return nil }
        guard !options.targetID.isEmpty else {
            throw .invalidArgument("PID namespace mode TARGET needs namespace_options.target_id")
        }
        guard let target = try await realms.container(options.targetID) else {
            throw .notFound("target container \(options.targetID) of PID namespace mode TARGET not found")
        }
        guard target.systemRealm == pod.id else {
            throw .invalidArgument("target container \(target.id) of PID namespace mode TARGET is not in pod sandbox \(pod.id)")
        }
        guard target.state == .running, let pid = await realms.pid(of: target) else {
            throw .failedPrecondition("PID namespace mode TARGET needs the target container \(target.id) to be running; it is \(target.state.rawValue)")
        }
        return "/proc/\(pid)/ns/pid"
    }

    /// What the spec builder needs to know of the System Realm.
    static func podContext(pod: SystemRealm, config: PodSandboxConfig, runtime: SystemRealmRuntime) -> PodSandboxContext {
        PodSandboxContext(
            podID: pod.id.value, config: config,
            networkNamespacePath: runtime.networkNamespace, ipcNamespacePath: runtime.ipcNamespace,
            utsNamespacePath: runtime.utsNamespace, pidNamespacePath: runtime.pidNamespace,
            userNamespacePath: runtime.userNamespace,
            hostsPath: runtime.files["hosts"] ?? "", resolvConfPath: runtime.files["resolv.conf"] ?? "",
            hostnamePath: runtime.files["hostname"] ?? "", shmPath: runtime.shmPath,
            guestAPIDirectory: guestAPIDirectory(pod: pod, runtime: runtime))
    }

    /// The pod's guest API directory when the pod has the guest API (its annotation does not turn
    /// it off) and the daemon serves one (it made the directory when the pod started).
    static func guestAPIDirectory(pod: SystemRealm, runtime: SystemRealmRuntime) -> String? {
        guard GuestAPIPolicy.isEnabled(annotations: pod.annotations) else { return nil }
        let directory = GuestAPIPolicy.directory(ofRealmDirectory: runtime.directory)
        return FileSystem.isDirectory(directory) ? directory : nil
    }
}
