import CRIAPI
import Foundation
import GRPCTransport
import Testing
import WireFuzz

/// The short run of the wire-level fuzzer (`make bench BENCH=fuzz` runs the long one): every
/// unary CRI method of a real daemon gets random, truncated, deeply nested and mutated request
/// bodies. The daemon must keep serving and answer none of them INTERNAL, which is for Fasco's
/// own faults.
@Suite struct WireFuzzTests {
    @Test("fuzzed requests to every RPC: the daemon keeps serving and never answers INTERNAL")
    func shortRun() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("fuzz")
            let container = try await fixture.runContainer(pod, "app", script: "sleep 1000")
            let seeds = WireFuzzSeeds.make(pod: pod, container: container, fixture: fixture)
            var report = FuzzCampaign.Report()
            let campaign = FuzzCampaign(seed: 0x5eed_0001, seeds: seeds, skipped: ["/runtime.v1.ImageService/PullImage"])
            await campaign.run(fixture.channel, rounds: 40, report: &report)
            #expect(report.calls == 40 * (FuzzCampaign.methods.count - 1))
            let internals = report.internalErrors.map { "\($0.method) #\($0.index): \($0.message) [\($0.request.count) bytes]" }
            #expect(internals.isEmpty, "\(internals.prefix(20).joined(separator: "\n"))")
            // Still serving, and the pod it started with is still there and ready.
            _ = try await fixture.runtime.version(VersionRequest(version: "v1"))
            let status = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id))
            #expect(status.status?.state == .ready)
            // Most answers must be refusals of the input, not successes of garbage.
            let refused = report.codes.values.reduce(0) { $0 + ($1[.invalidArgument] ?? 0) }
            #expect(refused > report.calls / 4, "\(report.codes)")
        }
    }
}

/// Valid requests to mutate, naming the fixture's real pod and container.
enum WireFuzzSeeds {
    static func make(pod: (id: String, config: PodSandboxConfig), container: String, fixture: PodFixture) -> [String: [[UInt8]]] {
        let base = "/runtime.v1.RuntimeService/"
        var podConfig = pod.config
        podConfig.metadata?.name = "fuzz-seed"
        return [
            base + "RunPodSandbox": [RunPodSandboxRequest(config: podConfig).encode()],
            base + "CreateContainer": [CreateContainerRequest(
                podSandboxID: pod.id, config: fixture.containerConfig("seed", script: "true"), sandboxConfig: pod.config).encode()],
            base + "ExecSync": [ExecSyncRequest(containerID: container, cmd: ["true"], timeout: 5).encode()],
            base + "ContainerStatus": [ContainerStatusRequest(containerID: container, verbose: true).encode()],
            base + "PodSandboxStatus": [PodSandboxStatusRequest(podSandboxID: pod.id, verbose: true).encode()],
            base + "UpdateContainerResources": [UpdateContainerResourcesRequest(
                containerID: container, linux: LinuxContainerResources(cpuShares: 512)).encode()],
            base + "Exec": [ExecRequest(containerID: container, cmd: ["sh"], stdin: true, stdout: true).encode()],
            base + "ListContainers": [ListContainersRequest(filter: ContainerFilter(podSandboxID: pod.id)).encode()],
            base + "ContainerStats": [ContainerStatsRequest(containerID: container).encode()],
            "/runtime.v1.ImageService/ImageStatus": [ImageStatusRequest(image: ImageSpec(image: PodFixture.image), verbose: true).encode()],
        ]
    }
}
