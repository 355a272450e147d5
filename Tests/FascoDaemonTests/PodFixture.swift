import CRIAPI
import Foundation
import GRPCTransport
import SoftwareRealms
import Testing

/// A real daemon with its own root, state and (empty unless given) CNI directory, the kit's
/// busybox image imported, and a CRI client: what the pod tests run against.
///
/// `runtimeConfig` is TOML added to the fixture's `[runtime]` table (e.g.
/// `cgroup_driver = "systemd"`), `cgroupRoot` replaces its cgroup_root, `cniSettings` is TOML
/// added to its `[cni]` table (by default the embedded default network is off, so that pods
/// without `cniConfig` get a loopback only), `extraConfig` is TOML
/// appended after its tables (new tables only: TOML refuses a second `[runtime]`). `launcher`
/// runs the daemon through a command prefix, e.g. `SystemdLab.launcher` to run it inside a
/// private systemd; its directory is then under /var/tmp.
final class PodFixture: Sendable {
    static let layout = "/var/tmp/fasco-images/busybox"
    static let image = "fasco.local/busybox:latest"

    let daemon: DaemonProcess
    let channel: GRPCChannel
    let directory: URL
    /// The daemon's runtime.cgroup_root.
    let cgroupRoot: String

    init(ociRuntime: String = "crun", cniConfig: String? = nil, directory: URL? = nil, importImage: Bool = true,
         runtimeConfig: String = "", cgroupRoot: String? = nil, extraConfig: String = "", launcher: [String] = [],
         cniSettings: String = "default_network = false") async throws {
        guard FileManager.default.fileExists(atPath: Self.layout + "/index.json") else {
            throw DaemonError("the test-image kit has not built \(Self.layout) (Tests/images/kit.sh all; make test runs it)")
        }
        let directory = try directory ?? DaemonProcess.makeDirectory(launcher: launcher)
        self.directory = directory
        let cgroupRoot = cgroupRoot ?? "/fasco-test-\(directory.lastPathComponent)"
        self.cgroupRoot = cgroupRoot
        let cni = directory.appendingPathComponent("cni")
        try FileManager.default.createDirectory(at: cni, withIntermediateDirectories: true)
        if let cniConfig { try cniConfig.write(to: cni.appendingPathComponent("10-test.conflist"), atomically: true, encoding: .utf8) }
        let config = directory.appendingPathComponent("fasco.toml")
        try """
        [runtime]
        oci_runtime = "\(ociRuntime)"
        cgroup_root = "\(cgroupRoot)"
        \(runtimeConfig)
        [cni]
        conf_dir = "\(cni.path)"
        \(cniSettings)
        \(extraConfig)
        """.write(to: config, atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(extraArguments: ["--config", config.path], directory: directory, launcher: launcher)
        try await daemon.waitUntilServing()
        channel = GRPCChannel(target: daemon.endpoint)
        if importImage {
            let (status, output, errors) = try await runCommandAsync(
                DaemonProcess.binary.path, ["image", "import", Self.layout, "--name", "fasco.local/busybox", "--endpoint", daemon.endpoint])
            guard status == 0 else { throw DaemonError("import failed: \(output)\(errors)") }
        }
    }

    var runtime: RuntimeServiceClient { RuntimeServiceClient(channel: channel) }
    var logDirectory: String { directory.appendingPathComponent("logs").path }

    /// Removes every pod (so no process, mount or cgroup outlives the test), then stops the daemon.
    func tearDown() async {
        if let pods = try? await runtime.listPodSandbox() {
            for pod in pods.items { _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id)) }
        }
        channel.close()
        await daemon.stop()
        // The daemon leaves its (now empty) cgroup root, as a runtime leaves /kubepods; a test's goes.
        // (A launched daemon's cgroups may be elsewhere: a systemd lab removes its own.)
        guard daemon.launcher.isEmpty else { return }
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        for hierarchy in hierarchies {
            rmdir("/sys/fs/cgroup/\(hierarchy)\(cgroupRoot)")
        }
    }

    /// The realm's state directory: the software backend names it by the first 24 characters of
    /// the ID (SoftwareBackend.directory(of:)); its supervisor runs `fasco-realm --dir` with it.
    func realmDirectory(_ id: String) -> String { directory.path + "/state/realms/" + id.prefix(24) }

    /// Pids of the supervisors of `id`'s realm.
    func supervisors(_ id: String) -> [Int32] { processes(containing: "fasco-realm --dir " + realmDirectory(id) + " ") }

    /// Where the backend puts `pod`'s cgroup (cgroupfs driver): its directory in every writable
    /// hierarchy of this host's layout, as SoftwareRealms' PodCgroup places it (v1, v2 or both).
    func podCgroupDirectories(_ podID: String) throws -> [String] {
        let directories = try PodCgroup(host: HostCgroups.detect(), path: cgroupRoot + "/" + podID).directories
        try #require(!directories.isEmpty, "this host has no writable cgroup hierarchy")
        return directories
    }

    /// The pod's cgroup directory in the hierarchy that holds `controller`, and that hierarchy's version.
    func podCgroupDirectory(_ podID: String, controller: String) throws -> (path: String, version: HostCgroups.Version) {
        let pod = try PodCgroup(host: HostCgroups.detect(), path: cgroupRoot + "/" + podID)
        let hierarchy = try #require(pod.hierarchies.first { $0.controllers.contains(controller) }, "no \(controller) controller on this host")
        return (pod.directory(in: hierarchy), hierarchy.version)
    }

    /// The memory limit file of `container`'s cgroup in the hierarchy that holds the memory
    /// controller: memory.limit_in_bytes (v1) or memory.max (v2).
    func memoryLimitFile(pod podID: String, container: String) throws -> String {
        let (directory, version) = try podCgroupDirectory(podID, controller: "memory")
        return directory + "/" + container + (version == .v1 ? "/memory.limit_in_bytes" : "/memory.max")
    }

    func podConfig(_ name: String, attempt: UInt32 = 0, hostNetwork: Bool = false) -> PodSandboxConfig {
        // kubelet's defaults: a PID namespace per container, the pod's network and IPC.
        PodSandboxConfig(
            metadata: PodSandboxMetadata(name: name, uid: "uid-\(name)", namespace: "test", attempt: attempt),
            hostname: name, logDirectory: logDirectory + "/" + name, labels: ["app": name],
            linux: LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(
                namespaceOptions: NamespaceOption(network: hostNetwork ? .node : .pod, pid: .container, ipc: .pod))))
    }

    func runPod(_ name: String, attempt: UInt32 = 0, hostNetwork: Bool = false) async throws -> (id: String, config: PodSandboxConfig) {
        let config = podConfig(name, attempt: attempt, hostNetwork: hostNetwork)
        let response = try await runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
        return (response.podSandboxID, config)
    }

    func containerConfig(_ name: String, script: String, image: String = PodFixture.image, attempt: UInt32 = 0) -> ContainerConfig {
        ContainerConfig(
            metadata: ContainerMetadata(name: name, attempt: attempt), image: ImageSpec(image: image),
            command: ["/bin/sh", "-c", script], labels: ["container": name], logPath: "\(name)_\(attempt).log")
    }

    func createContainer(_ pod: (id: String, config: PodSandboxConfig), _ config: ContainerConfig) async throws -> String {
        try await runtime.createContainer(
            CreateContainerRequest(podSandboxID: pod.id, config: config, sandboxConfig: pod.config), timeout: .seconds(60)).containerID
    }

    func runContainer(_ pod: (id: String, config: PodSandboxConfig), _ name: String, script: String) async throws -> String {
        let id = try await createContainer(pod, containerConfig(name, script: script))
        _ = try await runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
        return id
    }

    func status(_ id: String, verbose: Bool = false) async throws -> ContainerStatusResponse {
        try await runtime.containerStatus(ContainerStatusRequest(containerID: id, verbose: verbose))
    }

    /// Polls until the container's state is `state`; throws after `timeout` (never returns a
    /// status in another state: a default status has exit code 0).
    func waitFor(_ id: String, state: ContainerState, timeout: Duration = .seconds(60)) async throws -> ContainerStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            let status = try await self.status(id).status
            if let status, status.state == state { return status }
            guard ContinuousClock.now < deadline else {
                throw DaemonError("container \(id) did not reach \(state) in \(timeout): last status \(String(describing: status))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The content fields of a CRI-format log file.
    func logLines(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        // By scalars: a terminal's "\r\n" is one Character, which a split on "\n" would not cut.
        return text.unicodeScalars.split(separator: "\n").compactMap { scalars in
            let fields = String(String.UnicodeScalarView(scalars)).split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return fields.count == 4 ? "\(fields[1]) \(fields[3])" : nil
        }
    }

    /// Polls a log until `predicate` holds; throws after `timeout`.
    func waitForLog(_ path: String, timeout: Duration = .seconds(30), _ predicate: ([String]) -> Bool) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = logLines(path)
            if predicate(lines) { return lines }
            guard ContinuousClock.now < deadline else { throw DaemonError("\(path) never matched in \(timeout): \(lines.suffix(20))") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

extension PodFixture {
    /// Runs `body` against a fresh fixture and tears it down; a failure records the daemon's log.
    static func with(ociRuntime: String = "crun", cniConfig: String? = nil, runtimeConfig: String = "", cgroupRoot: String? = nil,
                     extraConfig: String = "", launcher: [String] = [], cniSettings: String = "default_network = false",
                     directory: URL? = nil, _ body: (PodFixture) async throws -> Void) async throws {
        let fixture = try await PodFixture(ociRuntime: ociRuntime, cniConfig: cniConfig, directory: directory, runtimeConfig: runtimeConfig,
                                           cgroupRoot: cgroupRoot, extraConfig: extraConfig, launcher: launcher, cniSettings: cniSettings)
        do {
            try await body(fixture)
        } catch {
            Issue.record("daemon log: \(fixture.daemon.stderr.suffix(4000))")
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }
}

/// Lines of /proc/self/mountinfo mentioning `text`.
func mounts(containing text: String) -> [String] {
    mountTable().filter { $0.contains(text) }
}

/// /proc/self/mountinfo, read to its end (a proc file has no size to read up to, and a busy
/// host's mount table is long).
func mountTable() -> [String] {
    let bytes = FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() ?? Data()
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
}

/// Pids of processes whose command line mentions `text`.
func processes(containing text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
    }
}

extension TestBridgeNetwork {
    /// The links enslaved to the bridge; fails when `ip` does (a missing bridge is not "no link").
    func links() async throws -> [String] {
        let (status, output, errors) = try await runCommandAsync("/usr/sbin/ip", ["-o", "link", "show", "master", bridge])
        try #require(status == 0, "ip link show master \(bridge): \(errors)")
        return output.split(separator: "\n").map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
    }
}

/// A bridge network for one test: a bridge of its own and the subnet 10.<random>.<third>.0/24,
/// as a CNI configuration list for `PodFixture(cniConfig:)`.
struct TestBridgeNetwork {
    let bridge: String
    /// "10.X.third." of the subnet.
    let prefix: String
    let conflist: String

    init(name: String, bridgePrefix: String, thirdOctet: Int) {
        bridge = bridgePrefix + String(UInt32.random(in: 0...0xffff), radix: 16)
        prefix = "10.\(Int.random(in: 100...250)).\(thirdOctet)."
        conflist = """
        {"cniVersion": "1.0.0", "name": "\(name)", "plugins": [
          {"type": "bridge", "bridge": "\(bridge)", "isGateway": true,
           "ipam": {"type": "host-local", "ranges": [[{"subnet": "\(prefix)0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
        """
    }
}
