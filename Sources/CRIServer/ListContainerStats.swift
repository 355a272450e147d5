import CRIAPI
import GRPCTransport

extension CRIService {
    public func listContainerStats(_ request: ListContainerStatsRequest, context: ServerContext) async throws -> ListContainerStatsResponse {
        let selected = try await selectContainers(id: request.filter?.id ?? "", podSandboxID: request.filter?.podSandboxID ?? "",
                                                  labels: request.filter?.labelSelector ?? [:])
        var collected: [ContainerStats] = []
        for container in selected { collected.append(await stats(of: container)) }
        return ListContainerStatsResponse(stats: collected)
    }
}
