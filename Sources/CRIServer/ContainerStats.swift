import CRIAPI
import FascoCore
import GRPCTransport
import RealmCore

extension CRIService {
    public func containerStats(_ request: ContainerStatsRequest, context: ServerContext) async throws -> ContainerStatsResponse {
        let realms = try self.realms
        guard let container = try await realms.container(request.containerID) else {
            throw FascoError.notFound("container \(request.containerID) not found")
        }
        return ContainerStatsResponse(stats: await stats(of: container))
    }

    /// A container's stats from its cgroup and its writable layer; usage the host cannot read
    /// (the container is not running) is left out rather than reported as zero.
    func stats(of container: ContainerRealm) async -> ContainerStats {
        let realms = realmManager
        let usage = container.state == .running ? try? await realms?.usage(of: container) : nil
        var stats = ContainerStats(attributes: ContainerAttributes(
            id: container.id.value, metadata: Self.render(container.metadata), labels: container.labels, annotations: container.annotations))
        if let usage {
            stats.cpu = Self.cpu(usage)
            stats.memory = Self.memory(usage)
        }
        if let upper = realms?.writableLayer(of: container) {
            if FileSystem.isDirectory(upper), let measured = try? await BlockingWork.run({ () throws(FascoError) in try DiskUsage.measure(upper) }) {
                stats.writableLayer = FilesystemUsage(
                    timestamp: measured.timestampNanos, fsID: FilesystemIdentifier(mountpoint: upper),
                    usedBytes: UInt64Value(value: measured.usedBytes), inodesUsed: UInt64Value(value: measured.inodesUsed))
            }
        }
        return stats
    }

    static func cpu(_ usage: RealmUsage) -> CpuUsage? {
        guard let nanos = usage.cpuUsageNanos else { return nil }
        return CpuUsage(timestamp: usage.timestamp, usageCoreNanoSeconds: UInt64Value(value: nanos))
    }

    static func memory(_ usage: RealmUsage) -> MemoryUsage? {
        guard usage.memoryUsageBytes != nil || usage.workingSetBytes != nil else { return nil }
        return MemoryUsage(
            timestamp: usage.timestamp, workingSetBytes: usage.workingSetBytes.map { UInt64Value(value: $0) },
            availableBytes: usage.availableBytes.map { UInt64Value(value: $0) }, usageBytes: usage.memoryUsageBytes.map { UInt64Value(value: $0) },
            rssBytes: usage.rssBytes.map { UInt64Value(value: $0) }, pageFaults: usage.pageFaults.map { UInt64Value(value: $0) },
            majorPageFaults: usage.majorPageFaults.map { UInt64Value(value: $0) })
    }
}
