import CRIAPI
import FascoCore
import GRPCTransport

extension CRIService {
    public func updateContainerResources(_ request: UpdateContainerResourcesRequest, context: ServerContext) async throws -> UpdateContainerResourcesResponse {
        guard let linux = request.linux else { return UpdateContainerResourcesResponse() }
        var resources = try ContainerSpecBuilder.resources(linux, deviceRules: [])
        resources.devices = nil
        let realms = try self.realms
        // ContainerStatus reports the resources now in force: the request's, recorded in the
        // container's CRI config in the same transition as the update (a failure to record is the RPC's).
        try await realms.updateResources(request.containerID, resources: resources) { requestConfig in
            var config = (try? ContainerConfig.decode(requestConfig)) ?? ContainerConfig()
            var updated = config.linux ?? LinuxContainerConfig()
            updated.resources = linux
            config.linux = updated
            return config.encode()
        }
        return UpdateContainerResourcesResponse()
    }
}
