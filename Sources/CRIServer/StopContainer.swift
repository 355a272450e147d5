import CRIAPI
import FascoCore
import GRPCTransport
import RealmCore

extension CRIService {
    /// The container's stop signal (its config's, else its image's, else SIGTERM), then SIGKILL
    /// after `timeout` seconds. Unknown IDs and stopped containers succeed.
    public func stopContainer(_ request: StopContainerRequest, context: ServerContext) async throws -> StopContainerResponse {
        let realms = try self.realms
        guard let container = try await realms.container(request.containerID) else { return StopContainerResponse() }
        let signal = await stopSignal(of: container)
        try await realms.stopContainer(container.id.value, timeout: .seconds(max(request.timeout, 0)), signal: signal)
        return StopContainerResponse()
    }

    func stopSignal(of container: ContainerRealm) async -> Int32 {
        let config = (try? ContainerConfig.decode(container.requestConfig)) ?? ContainerConfig()
        let imageSignal = await images.image(container.imageID)?.config.config?.stopSignal
        return (try? StopSignal.resolve(cri: config.stopSignal, image: imageSignal)) ?? StopSignal.sigterm
    }
}
