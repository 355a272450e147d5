import CRIAPI
import GRPCTransport
import RealmCore

/// The metrics ListPodSandboxMetrics reports, in cAdvisor's names (what kubelet's
/// /metrics/cadvisor endpoint shows when it takes metrics from the runtime).
enum PodMetric: String, CaseIterable {
    case cpuUsageSeconds = "container_cpu_usage_seconds_total"
    case memoryWorkingSet = "container_memory_working_set_bytes"
    case memoryUsage = "container_memory_usage_bytes"
    case memoryRSS = "container_memory_rss"

    var help: String {
        switch self {
        case .cpuUsageSeconds: "Cumulative cpu time consumed in seconds."
        case .memoryWorkingSet: "Current working set in bytes."
        case .memoryUsage: "Current memory usage in bytes, including all memory regardless of when it was accessed."
        case .memoryRSS: "Size of RSS in bytes."
        }
    }

    var isCounter: Bool { self == .cpuUsageSeconds }

    func value(_ usage: RealmUsage) -> UInt64? {
        switch self {
        case .cpuUsageSeconds: usage.cpuUsageNanos.map { $0 / 1_000_000_000 }
        case .memoryWorkingSet: usage.workingSetBytes
        case .memoryUsage: usage.memoryUsageBytes
        case .memoryRSS: usage.rssBytes
        }
    }
}

extension CRIService {
    public func listMetricDescriptors(_ request: ListMetricDescriptorsRequest, context: ServerContext) async throws -> ListMetricDescriptorsResponse {
        ListMetricDescriptorsResponse(descriptors: PodMetric.allCases.map {
            MetricDescriptor(name: $0.rawValue, help: $0.help, labelKeys: ["container", "pod", "namespace"])
        })
    }

    public func listPodSandboxMetrics(_ request: ListPodSandboxMetricsRequest, context: ServerContext) async throws -> ListPodSandboxMetricsResponse {
        let realms = try self.realms
        var result: [PodSandboxMetrics] = []
        for pod in await realms.systemRealms where pod.state == .ready {
            var containers: [ContainerMetrics] = []
            for container in await realms.containers(of: pod.id) where container.state == .running {
                guard let usage = try? await realms.usage(of: container) else { continue }
                let metrics = PodMetric.allCases.compactMap { metric -> Metric? in
                    guard let value = metric.value(usage) else { return nil }
                    return Metric(name: metric.rawValue, timestamp: usage.timestamp, metricType: metric.isCounter ? .counter : .gauge,
                                  labelValues: [container.metadata.name, pod.metadata.name, pod.metadata.namespace],
                                  value: UInt64Value(value: value))
                }
                containers.append(ContainerMetrics(containerID: container.id.value, metrics: metrics))
            }
            result.append(PodSandboxMetrics(podSandboxID: pod.id.value, metrics: [], containerMetrics: containers))
        }
        return ListPodSandboxMetricsResponse(podMetrics: result)
    }
}
