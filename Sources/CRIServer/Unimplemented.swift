import CRIAPI
import GRPCTransport

// RPCs whose issues have not landed: routed, answering UNIMPLEMENTED with the RPC's name.
// Each moves to a file of its own (named by the RPC) when it is implemented.
extension CRIService {
    public func runPodSandbox(_ request: RunPodSandboxRequest, context: ServerContext) async throws -> RunPodSandboxResponse {
        throw Self.notYet("RunPodSandbox")
    }

    public func stopPodSandbox(_ request: StopPodSandboxRequest, context: ServerContext) async throws -> StopPodSandboxResponse {
        throw Self.notYet("StopPodSandbox")
    }

    public func removePodSandbox(_ request: RemovePodSandboxRequest, context: ServerContext) async throws -> RemovePodSandboxResponse {
        throw Self.notYet("RemovePodSandbox")
    }

    public func podSandboxStatus(_ request: PodSandboxStatusRequest, context: ServerContext) async throws -> PodSandboxStatusResponse {
        throw Self.notYet("PodSandboxStatus")
    }

    public func listPodSandbox(_ request: ListPodSandboxRequest, context: ServerContext) async throws -> ListPodSandboxResponse {
        throw Self.notYet("ListPodSandbox")
    }

    public func createContainer(_ request: CreateContainerRequest, context: ServerContext) async throws -> CreateContainerResponse {
        throw Self.notYet("CreateContainer")
    }

    public func startContainer(_ request: StartContainerRequest, context: ServerContext) async throws -> StartContainerResponse {
        throw Self.notYet("StartContainer")
    }

    public func stopContainer(_ request: StopContainerRequest, context: ServerContext) async throws -> StopContainerResponse {
        throw Self.notYet("StopContainer")
    }

    public func removeContainer(_ request: RemoveContainerRequest, context: ServerContext) async throws -> RemoveContainerResponse {
        throw Self.notYet("RemoveContainer")
    }

    public func listContainers(_ request: ListContainersRequest, context: ServerContext) async throws -> ListContainersResponse {
        throw Self.notYet("ListContainers")
    }

    public func containerStatus(_ request: ContainerStatusRequest, context: ServerContext) async throws -> ContainerStatusResponse {
        throw Self.notYet("ContainerStatus")
    }

    public func updateContainerResources(_ request: UpdateContainerResourcesRequest, context: ServerContext) async throws -> UpdateContainerResourcesResponse {
        throw Self.notYet("UpdateContainerResources")
    }

    public func reopenContainerLog(_ request: ReopenContainerLogRequest, context: ServerContext) async throws -> ReopenContainerLogResponse {
        throw Self.notYet("ReopenContainerLog")
    }

    public func execSync(_ request: ExecSyncRequest, context: ServerContext) async throws -> ExecSyncResponse {
        throw Self.notYet("ExecSync")
    }

    public func exec(_ request: ExecRequest, context: ServerContext) async throws -> ExecResponse {
        throw Self.notYet("Exec")
    }

    public func attach(_ request: AttachRequest, context: ServerContext) async throws -> AttachResponse {
        throw Self.notYet("Attach")
    }

    public func portForward(_ request: PortForwardRequest, context: ServerContext) async throws -> PortForwardResponse {
        throw Self.notYet("PortForward")
    }

    public func containerStats(_ request: ContainerStatsRequest, context: ServerContext) async throws -> ContainerStatsResponse {
        throw Self.notYet("ContainerStats")
    }

    public func listContainerStats(_ request: ListContainerStatsRequest, context: ServerContext) async throws -> ListContainerStatsResponse {
        throw Self.notYet("ListContainerStats")
    }

    public func podSandboxStats(_ request: PodSandboxStatsRequest, context: ServerContext) async throws -> PodSandboxStatsResponse {
        throw Self.notYet("PodSandboxStats")
    }

    public func listPodSandboxStats(_ request: ListPodSandboxStatsRequest, context: ServerContext) async throws -> ListPodSandboxStatsResponse {
        throw Self.notYet("ListPodSandboxStats")
    }

    public func updateRuntimeConfig(_ request: UpdateRuntimeConfigRequest, context: ServerContext) async throws -> UpdateRuntimeConfigResponse {
        throw Self.notYet("UpdateRuntimeConfig")
    }

    public func checkpointContainer(_ request: CheckpointContainerRequest, context: ServerContext) async throws -> CheckpointContainerResponse {
        throw Self.notYet("CheckpointContainer")
    }

    public func getContainerEvents(_ request: GetEventsRequest, context: ServerContext, responses: ResponseStream<ContainerEventResponse>) async throws {
        throw Self.notYet("GetContainerEvents")
    }

    public func listMetricDescriptors(_ request: ListMetricDescriptorsRequest, context: ServerContext) async throws -> ListMetricDescriptorsResponse {
        throw Self.notYet("ListMetricDescriptors")
    }

    public func listPodSandboxMetrics(_ request: ListPodSandboxMetricsRequest, context: ServerContext) async throws -> ListPodSandboxMetricsResponse {
        throw Self.notYet("ListPodSandboxMetrics")
    }

    public func updatePodSandboxResources(_ request: UpdatePodSandboxResourcesRequest, context: ServerContext) async throws -> UpdatePodSandboxResourcesResponse {
        throw Self.notYet("UpdatePodSandboxResources")
    }

}
