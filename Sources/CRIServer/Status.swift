import CRIAPI
import GRPCTransport

extension CRIService {
    public func status(_ request: StatusRequest, context: ServerContext) async throws -> StatusResponse {
        let conditions = [
            condition("RuntimeReady", environment.runtimeReadiness()),
            condition("NetworkReady", environment.networkReadiness()),
        ]
        let handlers = ([""] + environment.runtimeHandlers).map {
            RuntimeHandler(name: $0, features: RuntimeHandlerFeatures(recursiveReadOnlyMounts: false, userNamespaces: false))
        }
        return StatusResponse(
            status: RuntimeStatus(conditions: conditions),
            info: request.verbose ? environment.verboseInfo() : [:],
            runtimeHandlers: handlers,
            features: RuntimeFeatures(supplementalGroupsPolicy: false))
    }

    private func condition(_ type: String, _ readiness: RuntimeEnvironment.Readiness) -> RuntimeCondition {
        RuntimeCondition(type: type, status: readiness.ready, reason: readiness.reason, message: readiness.message)
    }
}
