import CRIAPI
import Foundation
import GRPCTransport
import WireFuzz

/// The long run of the wire-level fuzzer: every unary CRI method of a release daemon gets
/// fuzzed requests for FUZZ_MINUTES (default 10), then a quiet minute. Pods and containers that
/// mutated-but-valid requests create are removed after each batch (as kubelet collects them),
/// so that what the daemon keeps is not their state. Prints the daemon's
/// RSS idle, over the run, and after the quiet minute (the goal: within 2x of idle, and no
/// growth between the 5th and the 10th minute), and the calls answered INTERNAL.
func fuzzBenchmark() async throws {
    let minutes = Double(ProcessInfo.processInfo.environment["FUZZ_MINUTES"] ?? "") ?? 10
    // No pod network: fuzzed pods would otherwise each get a veth, an address and NAT rules.
    let fasco = try startFasco(config: "[cni]\ndefault_network = false\n")
    defer { stop(fasco) }
    try await waitUntilAnswering(fasco)
    let bench = try await BenchPod(fasco, name: "fuzz", start: true)
    let (channel, runtime, pod, container) = (bench.channel, bench.runtime, bench.pod, bench.container)
    let (podConfig, containerConfig) = (bench.podConfig, bench.containerConfig)
    let base = "/runtime.v1.RuntimeService/"
    let seeds: [String: [[UInt8]]] = [
        base + "RunPodSandbox": [RunPodSandboxRequest(config: podConfig).encode()],
        base + "CreateContainer": [CreateContainerRequest(podSandboxID: pod, config: containerConfig, sandboxConfig: podConfig).encode()],
        base + "ExecSync": [ExecSyncRequest(containerID: container, cmd: ["true"], timeout: 5).encode()],
        base + "ContainerStatus": [ContainerStatusRequest(containerID: container, verbose: true).encode()],
        base + "PodSandboxStatus": [PodSandboxStatusRequest(podSandboxID: pod, verbose: true).encode()],
        "/runtime.v1.ImageService/PullImage": [PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/fasco/busybox:latest")).encode()],
    ]
    try await Task.sleep(for: .seconds(5))
    let idle = rssKiB(fasco.process.processIdentifier)
    var report = FuzzCampaign.Report()
    var samples: [(minute: Double, kib: Int)] = []
    let began = ContinuousClock.now
    let end = began + .seconds(minutes * 60)
    var round: UInt64 = 0
    while ContinuousClock.now < end {
        round += 1
        let campaign = FuzzCampaign(seed: 0xF0CC_0000 + round, seeds: seeds, timeout: .seconds(10))
        await campaign.run(channel, rounds: 20, report: &report, until: end)
        // What the fuzz made (pods and containers from mutated but valid requests) is removed,
        // as kubelet's garbage collection would: what stays in memory is then not state.
        for item in (try? await runtime.listPodSandbox().items) ?? [] where item.id != pod {
            _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: item.id), timeout: .seconds(60))
        }
        for item in (try? await runtime.listContainers().containers) ?? [] where item.id != container {
            _ = try? await runtime.removeContainer(RemoveContainerRequest(containerID: item.id), timeout: .seconds(60))
        }
        let elapsed = ContinuousClock.now - began
        samples.append((Double(elapsed.components.seconds) / 60, rssKiB(fasco.process.processIdentifier)))
    }
    try await Task.sleep(for: .seconds(60))
    let quiet = rssKiB(fasco.process.processIdentifier)
    func at(_ minute: Double) -> Int { samples.last { $0.minute <= minute }?.kib ?? samples.first?.kib ?? 0 }
    let half = at(minutes / 2)
    let last = samples.last?.kib ?? 0
    print("wire fuzz, \(report.calls) calls over \(String(format: "%.0f", minutes)) min to every unary RPC")
    print(String(format: "  RSS idle %.1f MiB, at %.0f min %.1f MiB, at the end %.1f MiB, after a quiet minute %.1f MiB",
                 Double(idle) / 1024, minutes / 2, Double(half) / 1024, Double(last) / 1024, Double(quiet) / 1024))
    print(String(format: "  after quiet / idle: %.2fx (goal <= 2x); end / half-way: %.2fx (goal: no growth)",
                 Double(quiet) / Double(max(idle, 1)), Double(last) / Double(max(half, 1))))
    print("  answered INTERNAL: \(report.internalErrors.count)")
    for failure in report.internalErrors.prefix(10) {
        print("    \(failure.method) #\(failure.index): \(failure.message)")
    }
    for item in (try? await runtime.listPodSandbox().items) ?? [] {
        _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: item.id), timeout: .seconds(60))
    }
    await bench.remove()
}
