import CRIAPI
import FascoCore
import GRPCTransport
import RealmCore

extension CRIService {
    public func podSandboxStats(_ request: PodSandboxStatsRequest, context: ServerContext) async throws -> PodSandboxStatsResponse {
        let realms = try self.realms
        guard let pod = try await realms.systemRealm(request.podSandboxID) else {
            throw FascoError.notFound("pod sandbox \(request.podSandboxID) not found")
        }
        return PodSandboxStatsResponse(stats: await stats(of: pod))
    }

    public func listPodSandboxStats(_ request: ListPodSandboxStatsRequest, context: ServerContext) async throws -> ListPodSandboxStatsResponse {
        let pods = try await selectPods(id: request.filter?.id ?? "", labels: request.filter?.labelSelector ?? [:])
        var stats: [PodSandboxStats] = []
        for pod in pods { stats.append(await self.stats(of: pod)) }
        return ListPodSandboxStatsResponse(stats: stats)
    }

    func stats(of pod: SystemRealm) async -> PodSandboxStats {
        let realms = realmManager
        let usage = pod.state == .ready ? try? await realms?.usage(of: pod) : nil
        var linux = LinuxPodSandboxStats()
        if let usage {
            linux.cpu = Self.cpu(usage)
            linux.memory = Self.memory(usage)
            linux.process = usage.processes.map { ProcessUsage(timestamp: usage.timestamp, processCount: UInt64Value(value: $0)) }
        }
        for container in await realms?.containers(of: pod.id) ?? [] {
            linux.containers.append(await stats(of: container))
        }
        return PodSandboxStats(
            attributes: PodSandboxAttributes(id: pod.id.value, metadata: Self.render(pod.metadata), labels: pod.labels, annotations: pod.annotations),
            linux: linux)
    }
}
