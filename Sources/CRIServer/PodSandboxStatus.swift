import CRIAPI
import FascoCore
import FoundationEssentials
import GRPCTransport
import RealmCore

extension CRIService {
    public func podSandboxStatus(_ request: PodSandboxStatusRequest, context: ServerContext) async throws -> PodSandboxStatusResponse {
        let realms = try self.realms
        guard let realm = try await realms.systemRealm(request.podSandboxID) else {
            throw FascoError.notFound("pod sandbox \(request.podSandboxID) not found")
        }
        let runtime = await realms.running(realm)
        var response = PodSandboxStatusResponse(status: Self.render(realm, running: runtime), timestamp: UnixTime.nanoseconds())
        if request.verbose {
            response.info["info"] = Self.json(PodVerboseInfo(
                id: realm.id.value, pid: runtime?.supervisorPID ?? 0, realm: "system", runtimeHandler: realm.runtimeHandler,
                runtime: runtime, config: (try? PodSandboxConfig.decode(realm.requestConfig)).map(PodConfigSummary.init)))
            response.info["attestation"] = Self.json(AttestationSummary(realm.attestation, monitor: realms.monitor))
        }
        return response
    }

    static func render(_ realm: SystemRealm, running runtime: RunningSystemRealm?) -> PodSandboxStatus {
        let config = (try? PodSandboxConfig.decode(realm.requestConfig)) ?? PodSandboxConfig()
        let addresses = realm.state == .ready ? (runtime?.addresses ?? []) : []
        return PodSandboxStatus(
            id: realm.id.value, metadata: Self.render(realm.metadata), state: Self.render(realm.state),
            createdAt: realm.createdAt,
            network: PodSandboxNetworkStatus(ip: addresses.first ?? "", additionalIPs: addresses.dropFirst().map { PodIP(ip: $0) }),
            linux: LinuxPodSandboxStatus(namespaces: Namespace(options: config.linux?.securityContext?.namespaceOptions ?? NamespaceOption())),
            labels: realm.labels, annotations: realm.annotations, runtimeHandler: realm.runtimeHandler)
    }

    static func render(_ metadata: SystemRealmMetadata) -> PodSandboxMetadata {
        PodSandboxMetadata(name: metadata.name, uid: metadata.uid, namespace: metadata.namespace, attempt: metadata.attempt)
    }

    /// `value` as compact JSON with sorted keys (what verbose `info` maps hold).
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// The verbose `info` of PodSandboxStatus.
struct PodVerboseInfo: Encodable {
    var id: String
    /// The System Realm supervisor's pid (0 once stopped).
    var pid: Int32
    var realm: String
    var runtimeHandler: String
    var runtime: RunningSystemRealm?
    var config: PodConfigSummary?
}

struct PodConfigSummary: Encodable {
    var hostname: String
    var logDirectory: String
    var cgroupParent: String
    /// The pod-level limits kubelet last reported (UpdatePodSandboxResources), 0 when unset.
    var cpuShares: Int64
    var cpuQuota: Int64
    var memoryLimitInBytes: Int64

    init(_ config: PodSandboxConfig) {
        hostname = config.hostname
        logDirectory = config.logDirectory
        cgroupParent = config.linux?.cgroupParent ?? ""
        cpuShares = config.linux?.resources?.cpuShares ?? 0
        cpuQuota = config.linux?.resources?.cpuQuota ?? 0
        memoryLimitInBytes = config.linux?.resources?.memoryLimitInBytes ?? 0
    }
}
