import CRIAPI
import FascoCore
import GRPCTransport

extension CRIService {
    public func updateContainerResources(_ request: UpdateContainerResourcesRequest, context: ServerContext) async throws -> UpdateContainerResourcesResponse {
        guard let linux = request.linux else { return UpdateContainerResourcesResponse() }
        var resources = try ContainerSpecBuilder.resources(linux, deviceRules: [])
        resources.devices = nil
        let realms = try self.realms
        try await realms.updateResources(request.containerID, resources: resources)
        // ContainerStatus reports the resources now in force.
        if let container = try await realms.container(request.containerID) {
            var config = (try? ContainerConfig.decode(container.attachment)) ?? ContainerConfig()
            var updated = config.linux ?? LinuxContainerConfig()
            updated.resources = linux
            config.linux = updated
            let encoded = config.encode()
            _ = try? await realms.registry.update(container.id) { $0.attachment = encoded }
        }
        return UpdateContainerResourcesResponse()
    }
}
