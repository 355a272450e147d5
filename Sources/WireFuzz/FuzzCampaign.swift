import GRPCTransport

/// Sends fuzzed request bodies to every unary CRI method of a server and tallies the answers.
public struct FuzzCampaign: Sendable {
    /// Every unary RPC of CRI v1 (GetContainerEvents streams and is left out).
    public static let methods: [String] = [
        "RuntimeService/Version", "RuntimeService/RunPodSandbox", "RuntimeService/StopPodSandbox",
        "RuntimeService/RemovePodSandbox", "RuntimeService/PodSandboxStatus", "RuntimeService/ListPodSandbox",
        "RuntimeService/CreateContainer", "RuntimeService/StartContainer", "RuntimeService/StopContainer",
        "RuntimeService/RemoveContainer", "RuntimeService/ListContainers", "RuntimeService/ContainerStatus",
        "RuntimeService/UpdateContainerResources", "RuntimeService/ReopenContainerLog", "RuntimeService/ExecSync",
        "RuntimeService/Exec", "RuntimeService/Attach", "RuntimeService/PortForward", "RuntimeService/ContainerStats",
        "RuntimeService/ListContainerStats", "RuntimeService/PodSandboxStats", "RuntimeService/ListPodSandboxStats",
        "RuntimeService/UpdateRuntimeConfig", "RuntimeService/Status", "RuntimeService/CheckpointContainer",
        "RuntimeService/ListMetricDescriptors", "RuntimeService/ListPodSandboxMetrics", "RuntimeService/RuntimeConfig",
        "RuntimeService/UpdatePodSandboxResources",
        "ImageService/ListImages", "ImageService/ImageStatus", "ImageService/PullImage", "ImageService/RemoveImage",
        "ImageService/ImageFsInfo",
    ].map { "/runtime.v1." + $0 }

    /// What came back: status codes by method, and the calls answered INTERNAL (Fasco's own
    /// faults, never a client's), with what reproduces them.
    public struct Report: Sendable {
        public var calls = 0
        public var codes: [String: [GRPCStatus.Code: Int]] = [:]
        public var internalErrors: [(method: String, index: Int, message: String, request: [UInt8])] = []

        public init() {}
    }

    public var seed: UInt64
    /// Valid encodings to mutate, by method.
    public var seeds: [String: [[UInt8]]]
    /// Methods left out (e.g. PullImage, whose random names wait on DNS).
    public var skipped: Set<String>
    public var timeout: Duration

    public init(seed: UInt64, seeds: [String: [[UInt8]]] = [:], skipped: Set<String> = [], timeout: Duration = .seconds(20)) {
        self.seed = seed
        self.seeds = seeds
        self.skipped = skipped
        self.timeout = timeout
    }

    /// Sends `rounds` fuzzed requests to each method, in turn.
    public func run(_ channel: GRPCChannel, rounds: Int, report: inout Report, until deadline: ContinuousClock.Instant? = nil) async {
        var fuzzer = WireFuzzer(seed: seed)
        let methods = Self.methods.filter { !skipped.contains($0) }
        for index in 0..<rounds {
            if let deadline, ContinuousClock.now > deadline { return }
            for method in methods {
                let request = fuzzer.message(seeds: seeds[method] ?? [])
                report.calls += 1
                let code: GRPCStatus.Code
                do {
                    _ = try await channel.unary(method, request: request, timeout: timeout)
                    code = .ok
                } catch let status as GRPCStatus {
                    code = status.code
                    if status.code == .internal {
                        report.internalErrors.append((method, index, status.message, request))
                    }
                } catch {
                    code = .unknown
                }
                report.codes[method, default: [:]][code, default: 0] += 1
            }
        }
    }
}
