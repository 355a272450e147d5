import CRIServer
import FascoCore
import ImageStore
import Logging
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
            host: cgroups)
        let backend = try SoftwareBackend(configuration: .init(
            directory: config.state + "/realms", supervisorBinary: try supervisorPath(config), runtime: runtime, cgroups: cgroups,
            cgroupRoot: config.runtime.cgroupRoot, network: network(config)))
        let registry = try RealmRegistry(root: config.root + "/realms")
        let storage = try ImageRootfsStorage(images: images, directory: config.root + "/containers")
        let manager = RealmManager(registry: registry, backend: backend, storage: storage)
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

    static func network(_ config: FascoConfig) -> CNINetwork {
        CNINetwork(configDirectory: config.cni.confDir, pluginDirectories: config.cni.binDirs, cacheDirectory: config.state + "/cni")
    }

    /// `runtime.supervisor_path`, or fasco-realm beside the running executable.
    static func supervisorPath(_ config: FascoConfig) throws(FascoError) -> String {
        if !config.runtime.supervisorPath.isEmpty { return config.runtime.supervisorPath }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw .failedPrecondition("cannot find the fasco executable: \(FileSystem.errnoText)") }
        let executable = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = directory + "/fasco-realm"
        guard access(path, X_OK) == 0 else {
            throw .failedPrecondition("the System Realm supervisor \(path) is missing; set runtime.supervisor_path")
        }
        return path
    }
}
