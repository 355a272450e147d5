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
        let podConfig = request.sandboxConfig ?? (try? PodSandboxConfig.decode(pod.requestConfig)) ?? PodSandboxConfig()
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
            labels: config.labels, annotations: config.annotations, requestConfig: config.encode(),
            stdin: config.stdin ? (config.stdinOnce ? .once : .open) : nil)
        let targetNamespace = try await Self.targetPIDNamespace(config: config, podConfig: podConfig, pod: pod, realms: realms)
        let imageConfig = image.config
        let host = HostFacts.current()
        let admit = try Self.podImagePolicy(pod: pod, image: image, name: imageName, realms: realms, images: images)
        let created = try await realms.createContainer(container, image: image.measured, makeSpec: { bundle, runtime throws(FascoError) -> RuntimeSpec in
            try ContainerSpecBuilder.build(ContainerSpecInput(
                containerID: container.id.value, config: config,
                pod: Self.podContext(pod: pod, config: podConfig, running: runtime),
                image: imageConfig, rootfs: bundle.rootfs, host: host, targetPIDNamespacePath: targetNamespace,
                accountFilesLocked: bundle.locked))
        }, admit: admit)
        return CreateContainerResponse(containerID: created.id.value)
    }

    /// The pod's own signature policy, when its initdata names one (`cdh.toml` `[image]
    /// image_security_policy_uri`, as CoCo's confidential-data-hub reads it): fetched from the
    /// pod's key broker as the new container's realm once it is measured, with its `kbs:///`
    /// cosign keys, and the image held to it as to the node's (FAILED_PRECONDITION naming the
    /// rule). A policy that cannot be fetched or read stops the creation too.
    static func podImagePolicy(pod: SystemRealm, image: ImageRecord, name: String, realms: RealmManager,
                               images: ImageStore) throws(FascoError) -> (@Sendable (ContainerRealm) async throws(FascoError) -> Void)? {
        guard let uri = try InitDataImagePolicy.uri(annotations: pod.annotations) else { return nil }
        return { (container: ContainerRealm) async throws(FascoError) in
            let text = try await realms.releasedResource(uri, to: container)
            var keys: [String: [UInt8]] = [:]
            for path in SignaturePolicy.brokerKeyPaths(in: text) {
                keys[path] = try await realms.releasedResource(path, to: container)
            }
            let policy: SignaturePolicy
            do throws(FascoError) {
                policy = try SignaturePolicy(json: text, source: "\(uri) (the pod's initdata image_security_policy_uri)", brokerKeys: keys)
            } catch {
                throw .failedPrecondition(error.message)
            }
            try images.admitToRun(image, name: name, policy: policy)
        }
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
    static func podContext(pod: SystemRealm, config: PodSandboxConfig, running runtime: RunningSystemRealm) -> PodSandboxContext {
        PodSandboxContext(
            podID: pod.id.value, config: config,
            networkNamespacePath: runtime.networkNamespace, ipcNamespacePath: runtime.ipcNamespace,
            utsNamespacePath: runtime.utsNamespace, pidNamespacePath: runtime.pidNamespace,
            userNamespacePath: runtime.userNamespace,
            hostsPath: runtime.files["hosts"] ?? "", resolvConfPath: runtime.files["resolv.conf"] ?? "",
            hostnamePath: runtime.files["hostname"] ?? "", shmPath: runtime.shmPath,
            guestAPIDirectory: guestAPIDirectory(pod: pod, running: runtime))
    }

    /// The pod's guest API directory when the pod has the guest API (its annotation does not turn
    /// it off) and the daemon serves one (it made the directory when the pod started).
    static func guestAPIDirectory(pod: SystemRealm, running runtime: RunningSystemRealm) -> String? {
        guard GuestAPIPolicy.isEnabled(annotations: pod.annotations) else { return nil }
        let directory = GuestAPIPolicy.directory(ofRealmDirectory: runtime.directory)
        return FileSystem.isDirectory(directory) ? directory : nil
    }
}
