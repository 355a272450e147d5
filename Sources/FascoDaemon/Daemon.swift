import CRIAPI
import CRIServer
import CRIStreaming
import FascoCore
import Dispatch
import FoundationEssentials
import GRPCTransport
import GuestAPI
import ImageStore
import KeyBroker
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The composition root of `fasco serve`: the only place a backend is chosen.
public enum Daemon {
    /// Serves CRI on the configured socket until SIGTERM or SIGINT, then shuts down gracefully.
    public static func serve(config: FascoConfig, logger: Logger) async throws {
        try config.validate()
        // A policy that cannot be read or holds anything Fasco cannot enforce stops the start.
        let policy = config.image.signaturePolicy.isEmpty ? nil : try SignaturePolicy.load(path: config.image.signaturePolicy)
        // Pods with user namespaces must reach their root filesystems (and realm files) as unprivileged IDs.
        try HostChecks.checkTraversable(config.root, key: "root")
        try HostChecks.checkTraversable(config.state, key: "state")
        try FileSystem.makeDirectories(config.root, mode: 0o711)
        try FileSystem.makeDirectories(config.state, mode: 0o711)
        try FileSystem.makeDirectories(config.imagesDirectory, mode: 0o700)
        // Before anything makes a metric: the layers record through whatever was bootstrapped.
        let metrics = try startMetrics(config: config)

        let driver = HostChecks.detectCgroupDriver(config.runtime.cgroupDriver)
        let environment = makeEnvironment(config: config, driver: driver)
        let images = try ImageStore(root: config.imagesDirectory, layerLimits: config.image.layerLimits, signaturePolicy: policy,
                                    logger: logger, sources: config.registry.registryHosts.source)
        let realms = try await makeRealms(config: config, driver: driver, images: images, logger: logger)
        // Key release to realms: each pod's key broker (its initdata's, else the node's).
        realms.useKeyRelease(RealmKeyRelease(
            node: config.kbs.url.isEmpty ? nil : BrokerEndpoint(url: config.kbs.url, caFile: config.kbs.caFile),
            certificateDirectory: config.state + "/kbs", teeKey: config.kbs.teeKey == "rsa" ? .rsa : .ec,
            aws: AWSEndpoints(kms: config.kms.aws.kmsEndpoint, secretsManager: config.kms.aws.secretsManagerEndpoint,
                              caFile: config.kms.aws.caFile),
            awsCredentialURI: config.kms.aws.credentialURI.isEmpty ? nil : config.kms.aws.credentialURI,
            aliyunEndpoint: config.kms.aliyun.endpoint.isEmpty ? nil : config.kms.aliyun.endpoint))
        // Every pod's guest API (and those of the pods that outlived the previous daemon).
        let guest = GuestAPIServer(realms: realms, version: FascoVersion.current, logger: logger)
        await realms.register(guest)
        var streamingConfiguration = StreamingServer.Configuration()
        streamingConfiguration.address = config.streaming.address
        streamingConfiguration.port = UInt16(config.streaming.port)
        let streaming = try StreamingServer(configuration: streamingConfiguration, backend: RealmStreamingBackend(realms: realms),
                                            logger: logger)
        let service = CRIService(environment: environment, images: images, realms: realms, streaming: streaming, logger: logger)
        var serverConfiguration = GRPCServer.Configuration(socketPath: try config.socketPath)
        serverConfiguration.maxReceiveMessageBytes = config.grpc.maxRecvMessageSize
        serverConfiguration.maxSendMessageBytes = config.grpc.maxSendMessageSize
        serverConfiguration.onUnknownMethod = { method in
            logger.info("rpc", metadata: ["rpc": "\(method)", "code": "UNIMPLEMENTED"])
        }
        let stop = ShutdownSignals()
        let server = try GRPCServer(configuration: serverConfiguration, methods: service.routes())
        logger.notice("serving", metadata: [
            "listen": "\(config.grpc.listen)", "streaming": "\(streaming.baseURL)", "root": "\(config.root)", "state": "\(config.state)",
            "backend": "\(config.runtime.backend)", "version": "\(FascoVersion.current)",
            "metrics": "\(metrics.map { "http://\($0.address)/metrics" } ?? "off")",
        ])
        let signal = await stop.wait()
        logger.notice("shutting down", metadata: ["signal": "\(signal)", "running_calls": "\(server.runningCalls)"])
        await server.shutdown(gracePeriod: .milliseconds(Int64(config.grpc.shutdownGracePeriodSeconds * 1000)))
        await streaming.shutdown()
        await guest.shutdown()
        await metrics?.stop()
        // Pods and containers keep running: the next daemon re-attaches to them.
        realms.detach()
        // Removed containers' trees are deleted now rather than at the next start.
        do { try await images.settle() } catch { logger.warning("image store clean-up", metadata: ["error": "\(error)"]) }
        logger.notice("stopped")
    }

    static func makeEnvironment(config: FascoConfig, driver: RuntimeEnvironment.CgroupDriver) -> RuntimeEnvironment {
        let info = verboseInfo(config: config, driver: driver)
        return RuntimeEnvironment(
            runtimeVersion: FascoVersion.current,
            runtimeHandlers: ["fasco"],
            cgroupDriver: driver,
            runtimeReadiness: { HostChecks.runtimeReadiness(config: config) },
            networkReadiness: { HostChecks.networkReadiness(config: config) },
            verboseInfo: { info },
            imageFilesystemUsage: { try DiskUsage.measure(config.imagesDirectory) })
    }

    /// `Status` verbose info: each value is JSON, as crictl info prints it.
    static func verboseInfo(config: FascoConfig, driver: RuntimeEnvironment.CgroupDriver) -> [String: String] {
        struct RuntimeInfo: Codable {
            var name = "fasco"
            var version: String
            var backend: String
            var ociRuntime: String
            var cgroupDriver: String
            var confidential: Bool
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        func json(_ value: some Encodable) -> String {
            (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        let runtime = RuntimeInfo(
            version: FascoVersion.current, backend: config.runtime.backend, ociRuntime: config.runtime.ociRuntime,
            cgroupDriver: driver.rawValue,
            // The software backend isolates with Linux mechanisms only: it never claims confidentiality.
            confidential: config.runtime.backend != "software")
        return ["config": json(config), "runtime": json(runtime)]
    }
}

/// Waits for SIGTERM or SIGINT.
///
/// SAFETY: the dispatch sources are created once and only touched on their queue.
final class ShutdownSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "fasco.signals")
    private let fired = Mutex<(signal: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    init() {
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ number: Int32) {
        let waiter = fired.withLock { state -> CheckedContinuation<Int32, Never>? in
            guard state.signal == nil else { return nil }
            state.signal = number
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready = fired.withLock { state -> Int32? in
                if state.signal == nil { state.waiter = continuation }
                return state.signal
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
