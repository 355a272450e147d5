import CRIAPI
import GRPCTransport

extension CRIService {
    public func version(_ request: VersionRequest, context: ServerContext) async throws -> VersionResponse {
        VersionResponse(
            version: "0.1.0",  // the kubelet runtime API version field, fixed by the CRI
            runtimeName: Self.runtimeName,
            runtimeVersion: environment.runtimeVersion,
            runtimeAPIVersion: Self.apiVersion)
    }
}
