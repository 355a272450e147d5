import CRIServer
import FascoCore
import KeyBroker
import ImageStore
import Logging
import RealmAttestation
import RealmCore
import SoftwareRealms
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// The software backend and the realm manager over it, with the records recovered and
    /// reconciled with the supervisors that outlived the previous daemon.
    static func makeRealms(config: FascoConfig, driver: RuntimeEnvironment.CgroupDriver, images: ImageStore, logger: Logger) async throws -> RealmManager {
        // HOST_TO_CONTAINER and BIDIRECTIONAL mounts need shared host mounts (systemd hosts have them).
        if try RootPropagation.ensureShared() {
            logger.notice("made / rshared for mount propagation, as systemd does at boot")
        }
        let cgroups = try HostCgroups.detect()
        let kind: OCIRuntime.Kind = config.runtime.ociRuntime == "runc" ? .runc : .crun
        if driver == .systemd {
            // Refused at start rather than at the first pod.
            do {
                let version = try await SystemdManager().version()
                logger.notice("cgroups through systemd", metadata: ["systemd": "\(version)"])
            } catch {
                throw ConfigError("runtime.cgroup_driver is systemd, but systemd does not answer: \(error.message)")
            }
        }
        let runtime = try OCIRuntime(
            kind: kind, stateRoot: config.state + "/runtime/" + kind.rawValue, cgroupDriver: driver == .systemd ? .systemd : .cgroupfs,
            host: cgroups, logger: logger)
        let supervisor = try supervisorPath(config)
        if let network = try defaultNetwork(config) {
            try network.install(in: defaultNetworkDirectory(config), logger: logger)
            logger.notice("default pod network", metadata: [
                "used": "\(((try? CNINetwork.hasConfiguration(config.cni.confDir)) ?? false) ? "no: \(config.cni.confDir) has a configuration" : "yes")",
                "bridge": "\(network.bridge)", "subnet": "\(network.subnet)", "config": "\(defaultNetworkDirectory(config))",
            ])
        }
        let backend = try SoftwareBackend(configuration: .init(
            directory: config.state + "/realms", supervisorBinary: supervisor, runtime: runtime, cgroups: cgroups,
            cgroupRoot: config.runtime.cgroupRoot, network: network(config, logger: logger), logger: logger))
        let registry = try RealmRegistry(root: config.root + "/realms")
        let nodeKeys = try NodeDecryptionKeys(files: config.image.decryptionKeys)
        var openJWE: (@Sendable ([UInt8]) throws(FascoError) -> [UInt8]?)?
        if !nodeKeys.isEmpty {
            openJWE = { (jwe: [UInt8]) throws(FascoError) -> [UInt8]? in try nodeKeys.open(jwe) }
        }
        let storage = try ImageRootfsStorage(images: images, directory: config.root + "/containers", nodeKeys: openJWE)
        let monitor = try softwareRMM(config: config, supervisor: supervisor, runtimeBinary: runtime.binary)
        let manager = RealmManager(registry: registry, backend: backend, storage: storage, monitor: monitor,
                                   root: config.root, state: config.state, logger: logger)
        let report = try await manager.recover()
        logger.notice("realms recovered", metadata: [
            "pods": "\(report.registry.systemRealms)", "containers": "\(report.registry.containerRealms)",
            "reattached": "\(report.reattached.count)", "exitedWhileAway": "\(report.exitedWhileAway.count)",
            "lostPods": "\(report.lostSystemRealms.count)", "discarded": "\(report.registry.discarded.count)",
            "sweptBundles": "\(report.sweptBundles.count)",
        ])
        for problem in report.registry.discarded { logger.warning("discarded realm record", metadata: ["record": "\(problem)"]) }
        return manager
    }

    /// The software RMM: the supervisor it measures into System Realms, the node's platform
    /// key (made once, `<root>/attestation/platform-key`, 0600), and the binaries platform tokens list.
    static func softwareRMM(config: FascoConfig, supervisor: String, runtimeBinary: String) throws(FascoError) -> SoftwareRMM {
        guard let binary = try FileSystem.read(supervisor, limit: 64 << 20) else {
            throw .failedPrecondition("the System Realm supervisor \(supervisor) cannot be read")
        }
        let key = try PlatformKeyFile.loadOrCreate(config.root + "/attestation/platform-key")
        return SoftwareRMM(
            supervisor: binary, platformKey: key,
            components: [("fasco", try executablePath()), ("fasco-realm", supervisor), ("oci-runtime", runtimeBinary)],
            version: FascoVersion.current)
    }

    /// The pod network: cni.conf_dir's configuration, else (cni.default_network) Fasco's default one.
    static func network(_ config: FascoConfig, logger: Logger = Logger(label: "fasco")) -> CNINetwork {
        CNINetwork(configDirectory: config.cni.confDir, pluginDirectories: config.cni.binDirs, cacheDirectory: config.state + "/cni",
                   defaultDirectory: config.cni.defaultNetwork ? defaultNetworkDirectory(config) : nil, logger: logger)
    }

    /// Where the default network's configuration is written: Fasco's own, not the host's CNI directory.
    static func defaultNetworkDirectory(_ config: FascoConfig) -> String { config.state + "/cni/net.d" }

    /// The default network as configured (nil when cni.default_network is false).
    static func defaultNetwork(_ config: FascoConfig) throws(ConfigError) -> CNIDefaultNetwork? {
        guard config.cni.defaultNetwork else { return nil }
        do throws(FascoError) {
            return try CNIDefaultNetwork(bridge: config.cni.defaultBridge, subnet: config.cni.defaultSubnet)
        } catch {
            throw ConfigError("cni.default_bridge or cni.default_subnet: \(error.message)")
        }
    }

    /// `runtime.supervisor_path`, or fasco-realm beside the running executable.
    public static func supervisorPath(_ config: FascoConfig) throws(FascoError) -> String {
        if !config.runtime.supervisorPath.isEmpty { return config.runtime.supervisorPath }
        let executable = try executablePath()
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = directory + "/fasco-realm"
        guard access(path, X_OK) == 0 else {
            throw .failedPrecondition("the System Realm supervisor \(path) is missing; set runtime.supervisor_path")
        }
        return path
    }

    /// The running fasco executable.
    static func executablePath() throws(FascoError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw .failedPrecondition("cannot find the fasco executable: \(FileSystem.errnoText)") }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
