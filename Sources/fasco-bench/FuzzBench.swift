import CRIAPI
import Foundation
import GRPCTransport
import WireFuzz

/// The long run of the wire-level fuzzer: every unary CRI method of a release daemon gets
/// fuzzed requests for FUZZ_MINUTES (default 10), then a quiet minute. Prints the daemon's
/// RSS idle, over the run, and after the quiet minute (the goal: within 2x of idle, and no
/// growth between the 5th and the 10th minute), and the calls answered INTERNAL.
func fuzzBenchmark() async throws {
    let minutes = Double(ProcessInfo.processInfo.environment["FUZZ_MINUTES"] ?? "") ?? 10
    let fasco = try startFasco()
    defer { stop(fasco) }
    try await waitUntilAnswering(fasco)
    let channel = GRPCChannel(target: fasco.endpoint)
    defer { channel.close() }
    let runtime = RuntimeServiceClient(channel: channel)
    _ = try await channel.unary("/fasco.v1.Admin/ImportImages", request: Array(
        #"{"path": "/var/tmp/fasco-images/busybox", "name": "fasco.local/busybox"}"#.utf8))
    let podConfig = PodSandboxConfig(
        metadata: PodSandboxMetadata(name: "fuzz", uid: "fuzz-uid", namespace: "bench"),
        hostname: "fuzz", logDirectory: fasco.directory.appendingPathComponent("logs").path)
    let pod = try await runtime.runPodSandbox(RunPodSandboxRequest(config: podConfig), timeout: .seconds(60)).podSandboxID
    let containerConfig = ContainerConfig(
        metadata: ContainerMetadata(name: "app"), image: ImageSpec(image: "fasco.local/busybox:latest"),
        command: ["/bin/sh", "-c", "sleep 100000"], logPath: "app.log")
    let container = try await runtime.createContainer(
        CreateContainerRequest(podSandboxID: pod, config: containerConfig, sandboxConfig: podConfig), timeout: .seconds(60)).containerID
    _ = try await runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60))
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
    _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod), timeout: .seconds(60))
}
