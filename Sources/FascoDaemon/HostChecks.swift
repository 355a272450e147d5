import CRIServer
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Facts about the host that the CRI Status and RuntimeConfig answers report.
enum HostChecks {
    /// The cgroup driver realms use, which RuntimeConfig reports to kubelet: as configured,
    /// and for `auto` systemd when systemd is the init system (sd_booted(3):
    /// `/run/systemd/system` exists), cgroupfs otherwise.
    static func detectCgroupDriver(
        _ configured: String, systemdBooted: Bool = FileSystem.isDirectory("/run/systemd/system")
    ) -> RuntimeEnvironment.CgroupDriver {
        switch configured {
        case "systemd": .systemd
        case "cgroupfs": .cgroupfs
        default: systemdBooted ? .systemd : .cgroupfs
        }
    }

    /// A pod with a user namespace reaches its root filesystem under `--root` as the host IDs
    /// its root maps to, which have no privilege over the host's directories: every directory
    /// above `directory` must let others search it (its `x` bit for others), or each such pod
    /// fails in its runtime ("make rootfs private: Permission denied"). Refused at start-up,
    /// naming the directory and the fix. (Fasco makes `directory` itself 0711.)
    static func checkTraversable(_ directory: String, key: String) throws(ConfigError) {
        var path = directory
        while let slash = path.lastIndex(of: "/"), path != "/" {
            let parent = slash == path.startIndex ? "/" : String(path[..<slash])
            var info = stat()
            if stat(parent, &info) == 0, info.st_mode & 0o001 == 0 {
                let mode = String(info.st_mode & 0o7777, radix: 8)
                throw ConfigError(
                    "\(key) \(directory) lies under \(parent) (mode \(mode)), which the unprivileged host IDs of a pod with a user "
                    + "namespace cannot traverse, so such pods would fail; allow it (chmod o+x \(parent), e.g. mode 0711, which lists "
                    + "nothing to others) or choose a \(key) whose parent directories all allow it")
            }
            path = parent
        }
    }

    /// The runtime is ready when its directories are writable and its OCI runtime is installed.
    static func runtimeReadiness(config: FascoConfig) -> RuntimeEnvironment.Readiness {
        for directory in [config.root, config.state] where access(directory, W_OK | X_OK) != 0 {
            return .init(ready: false, reason: "StateDirectoryUnusable", message: "\(directory) is not writable")
        }
        guard findExecutable(config.runtime.ociRuntime) != nil else {
            return .init(ready: false, reason: "OCIRuntimeMissing",
                         message: "\(config.runtime.ociRuntime) was not found on PATH")
        }
        do {
            _ = try Daemon.supervisorPath(config)
        } catch {
            return .init(ready: false, reason: "SupervisorMissing", message: error.message)
        }
        return .init(ready: true)
    }

    /// The network is ready when a usable CNI network configuration is installed (its plugins found).
    static func networkReadiness(config: FascoConfig) -> RuntimeEnvironment.Readiness {
        let readiness = Daemon.network(config).readiness()
        return .init(ready: readiness.ready, reason: readiness.reason, message: readiness.message)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func findExecutable(_ name: String) -> String? {
        if name.hasPrefix("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
