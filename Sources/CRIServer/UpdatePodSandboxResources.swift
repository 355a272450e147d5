import CRIAPI
import FascoCore
import GRPCTransport

extension CRIService {
    /// kubelet resizes the pod's cgroup itself and then tells the runtime (CRI: best effort,
    /// after the fact). Fasco validates the values and records them in the pod's config, which
    /// PodSandboxStatus and later containers' specs read.
    public func updatePodSandboxResources(_ request: UpdatePodSandboxResourcesRequest, context: ServerContext) async throws -> UpdatePodSandboxResourcesResponse {
        let realms = try self.realms
        guard let pod = try await realms.systemRealm(request.podSandboxID) else {
            throw FascoError.notFound("pod sandbox \(request.podSandboxID) not found")
        }
        for resources in [request.resources, request.overhead].compactMap({ $0 }) {
            _ = try ContainerSpecBuilder.resources(resources, deviceRules: [])
        }
        guard pod.state == .ready else {
            throw FascoError.failedPrecondition("pod sandbox \(pod.id) is not ready; only a ready pod is resized")
        }
        // Read, changed and written under the pod's lock: concurrent updates do not lose each other.
        let (resources, overhead) = (request.resources, request.overhead)
        try await realms.updateRequestConfig(ofSystemRealm: pod.id) { bytes throws(FascoError) in
            var config = (try? PodSandboxConfig.decode(bytes)) ?? PodSandboxConfig()
            var linux = config.linux ?? LinuxPodSandboxConfig()
            if let resources { linux.resources = resources }
            if let overhead { linux.overhead = overhead }
            config.linux = linux
            return config.encode()
        }
        return UpdatePodSandboxResourcesResponse()
    }
}
