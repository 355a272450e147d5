import CRIAPI
import CRIStreaming
import FascoCore
import GRPCTransport

extension CRIService {
    /// Validates the request and returns a one-time URL on the streaming server, where the
    /// client forwards TCP connections to ports of the pod's network namespace.
    public func portForward(_ request: PortForwardRequest, context: ServerContext) async throws -> PortForwardResponse {
        guard !request.podSandboxID.isEmpty else { throw FascoError.invalidArgument("pod_sandbox_id is required") }
        var ports: [UInt16] = []
        for port in request.port {
            guard port > 0, port <= 65535 else { throw FascoError.invalidArgument("port \(port) is out of range 1-65535") }
            ports.append(UInt16(port))
        }
        guard let pod = try await realms.systemRealm(request.podSandboxID) else {
            throw FascoError.notFound("pod sandbox \(request.podSandboxID) not found")
        }
        guard pod.state == .ready else { throw FascoError.failedPrecondition("pod sandbox \(pod.id) is not ready") }
        let url = try streaming.url(for: .portForward(.init(podSandboxID: pod.id.value, ports: ports)))
        return PortForwardResponse(url: url)
    }
}
