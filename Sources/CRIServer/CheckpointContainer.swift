import CRIAPI
import GRPCTransport

extension CRIService {
    /// Not implemented yet: routed, answering UNIMPLEMENTED with the RPC's name.
    public func checkpointContainer(_ request: CheckpointContainerRequest, context: ServerContext) async throws -> CheckpointContainerResponse {
        throw Self.notYet("CheckpointContainer")
    }
}
