import CRIAPI
import GRPCTransport

extension CRIService {
    public func status(_ request: StatusRequest, context: ServerContext) async throws -> StatusResponse {
        let conditions = [
            condition("RuntimeReady", environment.runtimeReadiness()),
            condition("NetworkReady", environment.networkReadiness()),
        ]
        // Recursive read-only mounts: the spec asks for `rro`, which crun and runc apply with
        // mount_setattr(2). User namespaces: userns_options mode POD, held by the pod's
        // supervisor (see RunPodSandbox.userNamespace and fasco-realm --userns).
        let handlers = ([""] + environment.runtimeHandlers).map {
            RuntimeHandler(name: $0, features: RuntimeHandlerFeatures(recursiveReadOnlyMounts: true, userNamespaces: true))
        }
        var info = request.verbose ? environment.verboseInfo() : [:]
        if request.verbose {
            info["attestation"] = Self.json(AttestationSummary.Node(monitor: realmManager?.monitor))
        }
        return StatusResponse(
            status: RuntimeStatus(conditions: conditions),
            info: info,
            runtimeHandlers: handlers,
            features: RuntimeFeatures(supplementalGroupsPolicy: true))
    }

    private func condition(_ type: String, _ readiness: RuntimeEnvironment.Readiness) -> RuntimeCondition {
        RuntimeCondition(type: type, status: readiness.ready, reason: readiness.reason, message: readiness.message)
    }
}
