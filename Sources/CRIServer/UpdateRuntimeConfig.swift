import CRIAPI
import FascoCore
import GRPCTransport

extension CRIService {
    /// kubelet sends the node's pod CIDR here. Fasco's pod network comes from the CNI
    /// configuration, which already names its own ranges, so the CIDR is validated and logged only.
    public func updateRuntimeConfig(_ request: UpdateRuntimeConfigRequest, context: ServerContext) async throws -> UpdateRuntimeConfigResponse {
        let cidr = request.runtimeConfig?.networkConfig?.podCidr ?? ""
        for range in cidr.split(separator: ",") where !range.contains("/") {
            throw FascoError.invalidArgument("pod CIDR \(range) is not an address range (address/prefix)")
        }
        if !cidr.isEmpty { logger.info("pod CIDR", metadata: ["podCIDR": "\(cidr)"]) }
        return UpdateRuntimeConfigResponse()
    }
}
