import CRIAPI
import GRPCTransport

// RPCs whose issues have not landed: routed, answering UNIMPLEMENTED with the RPC's name.
// Each moves to a file of its own (named by the RPC) when it is implemented.
extension CRIService {
    public func checkpointContainer(_ request: CheckpointContainerRequest, context: ServerContext) async throws -> CheckpointContainerResponse {
        throw Self.notYet("CheckpointContainer")
    }


}
