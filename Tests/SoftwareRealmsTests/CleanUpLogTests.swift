import FascoCore
import Logging
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
import LogCapture
#endif


/// Each clean-up step whose failure is not thrown is logged once, with its realm, step, what it
/// leaves and the error. Every test here forces one step to fail without touching the host
/// (temporary directories, scripted plugins and runtimes), and fails when the log line is removed.
@Suite("failed clean-ups are logged")
struct CleanUpLogTests {
    @Test("CNI: an ADD that fails and whose attachment record cannot be removed says which record is left",
          .enabled(if: runningAsRoot && FileSystem.exists("/usr/bin/unshare"), "needs root and unshare"))
    func cniRecordLeft() async throws {
        try await withFakePlugins { plugins, namespace in
            // The plugin fails its ADD after putting a file where the cache directory was: the
            // record in it can then be neither found nor removed (ENOTDIR).
            let cache = plugins.cacheDirectory
            try plugins.install("fake-breaks-cache", body: """
            [ "$CNI_COMMAND" = ADD ] && { mv "\(cache)" "\(cache).away" && touch "\(cache)"; echo '{"code": 999, "msg": "add broke"}'; exit 1; }
            exit 0
            """)
            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-breaks-cache"}]}"#)
            let captured = CapturedLogs()
            var network = plugins.network()
            network.logger = capturingLogger(captured)
            let attachment = CNIAttachment(containerID: "pod-left", networkNamespace: namespace.path)
            await #expect {
                _ = try await network.setUp(attachment)
            } throws: { error in
                (error as? FascoError)?.message.contains("add broke") == true
            }
            unlink(cache)
            #expect(rename(cache + ".away", cache) == 0)
            #expect(FileSystem.exists(network.recordPath("pod-left", "eth0")), "the record is left")
            let warnings = captured.cleanUpWarnings
            #expect(warnings.count == 1, "\(captured.entries)")
            #expect(warnings.first?.metadata["realm"] == "pod-left")
            #expect(warnings.first?.metadata["podSandboxID"] == "pod-left")
            #expect(warnings.first?.metadata["step"] == "remove the attachment record of a failed ADD")
            #expect(warnings.first?.metadata["left"] == network.recordPath("pod-left", "eth0"))
            #expect(warnings.first?.metadata["error"]?.contains("Not a directory") == true)
        }
    }
}

/// A backend over a scratch directory that reaches nothing of the host's: no cgroup hierarchy,
/// no supervisor binary, and `runtimeScript` (sh) as its OCI runtime.
private func scratchBackend(root: String, network: CNINetwork? = nil, runtimeScript: String = "exit 1",
                            logger: Logger) throws -> SoftwareBackend {
    let runtime = root + "/fake-runc"
    try writeText("#!/bin/sh\n\(runtimeScript)\n", to: runtime, mode: 0o755)
    let hosts = HostCgroups(root: root + "/cgroup", mode: .none, hierarchies: [], kernelSupportsV1: false, kernelSupportsV2: false,
                            kernelControllers: [], systemdRunning: false)
    return try SoftwareBackend(configuration: .init(
        directory: root + "/realms", supervisorBinary: root + "/no-fasco-realm",
        runtime: try OCIRuntime(kind: .runc, binary: runtime, stateRoot: root + "/runc", cgroupDriver: .cgroupfs, host: hosts),
        cgroups: hosts, cgroupRoot: "/fasco-test", network: network, logger: logger))
}

extension CleanUpLogTests {
    @Test("a realm whose runtime record cannot be read is torn down as far as it can be, and what is left is reported",
          .enabled(if: runningAsRoot, "needs root (teardown unmounts)"))
    func damagedRuntimeRecord() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let captured = CapturedLogs()
        let backend = try scratchBackend(root: root, logger: capturingLogger(captured))
        let realm = SystemRealm(metadata: SystemRealmMetadata(name: "damaged", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        try FileSystem.makeDirectories(backend.directory(of: realm.id), mode: 0o700)
        try writeText("{not a record", to: backend.runtimeRecord(of: realm.id))

        try await backend.removeSystemRealm(realm)
        #expect(!FileSystem.exists(backend.directory(of: realm.id)))
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["realm"] == realm.id.value)
        #expect(warnings.first?.metadata["podSandboxID"] == realm.id.value)
        #expect(warnings.first?.metadata["step"] == "read the runtime record to tear the realm down")
        #expect(warnings.first?.metadata["error"]?.contains("is not a realm runtime record") == true)
    }

    @Test("a pod whose CNI attachment record cannot be read, and no network to detach it with: both reported, the pod removed anyway",
          .enabled(if: runningAsRoot, "needs root (teardown unmounts)"))
    func damagedAttachmentRecord() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let captured = CapturedLogs()
        let network = CNINetwork(configDirectory: root + "/net.d", pluginDirectories: [root + "/bin"], cacheDirectory: root + "/cni")
        let backend = try scratchBackend(root: root, network: network, logger: capturingLogger(captured))
        let realm = SystemRealm(metadata: SystemRealmMetadata(name: "netless", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        let directory = backend.directory(of: realm.id)
        try FileSystem.makeDirectories(directory, mode: 0o700)
        try backend.saveRuntime(RunningSystemRealm(
            supervisorPID: 0, directory: directory, networkNamespace: NetworkNamespacePin.path(in: directory), ipcNamespace: nil,
            utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/fasco-test-netless", addresses: []),
            for: realm.id)
        let record = network.recordPath(realm.id.value, "eth0")
        try FileSystem.makeDirectories(root + "/cni", mode: 0o700)
        try writeText("{damaged", to: record)

        try await backend.removeSystemRealm(realm)
        #expect(!FileSystem.exists(directory))
        #expect(FileSystem.exists(record), "no network configuration to run DEL with, so the record stays")
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 2, "\(captured.entries)")
        #expect(warnings.first?.metadata["realm"] == realm.id.value)
        #expect(warnings.first?.metadata["podSandboxID"] == realm.id.value)
        #expect(warnings.first?.metadata["step"] == "read the pod's CNI attachment record before DEL")
        #expect(warnings.last?.metadata["step"] == "CNI DEL without a readable attachment record")
        #expect(warnings.first?.metadata["left"] == "the pod's CNI attachment record (DEL runs without it)")
    }

    @Test("a pod whose CNI attachment record cannot be read still gets DEL, with the current network, which frees its address",
          .enabled(if: runningAsRoot, "needs root (teardown unmounts)"))
    func damagedAttachmentRecordDeleted() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let plugins = try FakePlugins.make()
        defer { plugins.cleanUp() }
        try plugins.installRecorder("fake-ipam", result: "{}")
        try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-ipam"}]}"#)
        let captured = CapturedLogs()
        let network = plugins.network()
        let backend = try scratchBackend(root: root, network: network, logger: capturingLogger(captured))
        let realm = SystemRealm(metadata: SystemRealmMetadata(name: "damaged", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        let directory = backend.directory(of: realm.id)
        try FileSystem.makeDirectories(directory, mode: 0o700)
        try backend.saveRuntime(RunningSystemRealm(
            supervisorPID: 0, directory: directory, networkNamespace: NetworkNamespacePin.path(in: directory), ipcNamespace: nil,
            utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/fasco-test-damaged", addresses: []),
            for: realm.id)
        let record = network.recordPath(realm.id.value, "eth0")
        try FileSystem.makeDirectories(plugins.cacheDirectory, mode: 0o700)
        try writeText("{damaged", to: record)

        try await backend.removeSystemRealm(realm)
        #expect(!FileSystem.exists(directory))
        let calls = (try? String(contentsOfFile: plugins.logDirectory + "/calls", encoding: .utf8)) ?? ""
        #expect(calls.contains("fake-ipam DEL"), "DEL ran: \(calls)")
        #expect(!FileSystem.exists(record), "the damaged record goes with the DEL")
        #expect(captured.cleanUpWarnings.map { $0.metadata["step"] } == ["read the pod's CNI attachment record before DEL"],
                "\(captured.entries)")
    }

    @Test("RemoveContainer: a runtime whose delete fails and which cannot report the container either is taken at its word, and what it left is reported")
    func runtimeDeleteFails() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let captured = CapturedLogs()
        let backend = try scratchBackend(
            root: root, runtimeScript: "echo \"fake runtime refuses $*\" >&2; exit 1", logger: capturingLogger(captured))
        let pod = SystemRealm(metadata: SystemRealmMetadata(name: "p", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        let container = ContainerRealm(
            systemRealm: pod.id, metadata: ContainerRealmMetadata(name: "c", attempt: 0), image: "i", imageID: "sha256:0", createdAt: 1)
        // The runtime keeps a state directory for the container: it knows it, as far as Fasco can tell.
        try FileSystem.makeDirectories(root + "/runc/" + container.id.value)

        try await backend.removeContainer(container)
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["realm"] == container.id.value)
        #expect(warnings.first?.metadata["containerID"] == container.id.value)
        #expect(warnings.first?.metadata["podSandboxID"] == pod.id.value)
        #expect(warnings.first?.metadata["step"] == "delete the container in the runtime")
        #expect(warnings.first?.metadata["error"]?.contains("fake runtime refuses") == true)
        #expect(warnings.first?.metadata["left"]?.hasPrefix(root + "/runc/" + container.id.value) == true)
    }
}

extension CleanUpLogTests {
    @Test("OCI runtime: a create killed at its timeout whose delete then fails says what is left; a delete that finds nothing says nothing")
    func createTimeoutDeleteFails() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let script = root + "/fake-runc"
        // create hangs (one process, so the kill of its group ends it); everything else is refused.
        try writeText("""
        #!/bin/sh
        case " $* " in *" create "*) exec sleep 30 ;; esac
        echo "fake runtime refuses $*" >&2
        exit 1

        """, to: script, mode: 0o755)
        let captured = CapturedLogs()
        let hosts = HostCgroups(root: root + "/cgroup", mode: .none, hierarchies: [], kernelSupportsV1: false, kernelSupportsV2: false,
                                kernelControllers: [], systemdRunning: false)
        var runtime = try OCIRuntime(kind: .runc, binary: script, stateRoot: root + "/state", cgroupDriver: .cgroupfs, host: hosts,
                                     logger: capturingLogger(captured))
        runtime.timeout = .milliseconds(200)
        let bundle = root + "/bundle"
        try FileSystem.makeDirectories(bundle)

        // The runtime never made the container: its delete says so, which is no failure.
        await #expect { try await runtime.create(id: "never-made", bundle: bundle) } throws: { FascoError.Code.deadlineExceeded.matches($0) }
        #expect(captured.entries.isEmpty, "\(captured.entries)")

        // Its state directory exists, and the delete fails for another reason: that is left.
        try FileSystem.makeDirectories(root + "/state/half-made")
        await #expect { try await runtime.create(id: "half-made", bundle: bundle) } throws: { FascoError.Code.deadlineExceeded.matches($0) }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["realm"] == "half-made")
        #expect(warnings.first?.metadata["containerID"] == "half-made")
        #expect(warnings.first?.metadata["step"] == "delete the container whose create timed out")
        #expect(warnings.first?.metadata["left"] == root + "/state/half-made")
        #expect(warnings.first?.metadata["error"]?.contains("fake runtime refuses") == true)
    }
}

extension CleanUpLogTests {
    @Test("a supervisor not ready in time whose pid file cannot be read is reported for the teardown to retry")
    func supervisorTimeoutPIDUnreadable() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        let directory = root + "/realm"
        try FileSystem.makeDirectories(directory)
        // Writes a pid file that holds no pid and never says it is ready (one process: the kill ends it).
        let script = root + "/fake-realm"
        try writeText("#!/bin/sh\necho not-a-pid > \"$2/pid\"\nexec sleep 30\n", to: script, mode: 0o755)
        let captured = CapturedLogs()
        let logger = capturingLogger(captured).forRealm(pod: "pod-late")
        await #expect {
            _ = try await SupervisorProcess.launch(
                executable: script, arguments: ["--dir", directory], directory: directory, timeout: .milliseconds(300), logger: logger)
        } throws: { FascoError.Code.deadlineExceeded.matches($0) }
        let retried = captured.retriedCleanUps
        #expect(retried.count == 1, "\(captured.entries)")
        #expect(captured.cleanUpWarnings.isEmpty)
        #expect(retried.first?.metadata["realm"] == "pod-late")
        #expect(retried.first?.metadata["podSandboxID"] == "pod-late")
        #expect(retried.first?.metadata["step"] == "kill the supervisor that was not ready in time")
        #expect(retried.first?.metadata["error"]?.contains("holds no pid") == true)
    }
}

extension CleanUpLogTests {
    @Test("the default network's install reports a leftover it cannot remove")
    func defaultNetworkLeftover() throws {
        let directory = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(directory) }
        // unlink refuses a directory (EISDIR): a leftover that stays.
        try FileSystem.makeDirectories(directory + "/00-stale.conflist")
        try writeText("{}", to: directory + "/01-stale.conf")
        let captured = CapturedLogs()
        try CNIDefaultNetwork().install(in: directory, logger: capturingLogger(captured))
        #expect(try FileSystem.list(directory) == ["00-stale.conflist", "10-fasco.conflist"])
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "remove a leftover from the default network's directory")
        #expect(warnings.first?.metadata["left"] == directory + "/00-stale.conflist")
        #expect(warnings.first?.metadata["error"]?.contains("Is a directory") == true)
    }
}

extension CleanUpLogTests {
    @Test("a teardown that fails with the supervisor's shutdown reports the CNI DEL that failed meanwhile, for the retry to redo",
          .enabled(if: runningAsRoot, "needs root (teardown unmounts)"))
    func delFailsWhileShutdownFails() async throws {
        let root = try makeTemporaryDirectory("fasco-cleanup")
        defer { try? FileSystem.removeTree(root) }
        try FileSystem.makeDirectories(root + "/bin")
        try FileSystem.makeDirectories(root + "/net.d")
        try writeText("#!/bin/sh\necho '{\"code\": 999, \"msg\": \"del broke\"}'\nexit 1\n", to: root + "/bin/fake-del-fails", mode: 0o755)
        try writeText(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-del-fails"}]}"#, to: root + "/net.d/10-n.conflist")
        let captured = CapturedLogs()
        let network = CNINetwork(configDirectory: root + "/net.d", pluginDirectories: [root + "/bin"], cacheDirectory: root + "/cni")
        let backend = try scratchBackend(root: root, network: network, logger: capturingLogger(captured))
        let realm = SystemRealm(metadata: SystemRealmMetadata(name: "stuck", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        let directory = backend.directory(of: realm.id)
        try FileSystem.makeDirectories(directory, mode: 0o700)
        try backend.saveRuntime(RunningSystemRealm(
            supervisorPID: 0, directory: directory, networkNamespace: NetworkNamespacePin.path(in: directory), ipcNamespace: nil,
            utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/fasco-test-stuck", addresses: []),
            for: realm.id)
        // The pod is attached (its ADD finished), so teardown runs DEL while the supervisor shuts down.
        try FileSystem.makeDirectories(root + "/cni", mode: 0o700)
        try CNIAttachmentRecord(
            containerID: realm.id.value, interfaceName: "eth0", networkNamespace: NetworkNamespacePin.path(in: directory),
            namespaceIdentity: nil, cniArgs: "", capabilityArguments: [:],
            network: try CNINetworkConfig.load(directory: root + "/net.d"),
            result: try JSONValue.parse(Array(#"{"cniVersion": "1.0.0"}"#.utf8), what: "result")
        ).write(to: network.recordPath(realm.id.value, "eth0"))
        // A pid file that holds no pid: finding the supervisor fails.
        try writeText("not-a-pid\n", to: directory + "/pid")

        await #expect { try await backend.stopSystemRealm(realm) } throws: { error in
            (error as? FascoError)?.message.contains("holds no pid") == true
        }
        let retried = captured.retriedCleanUps
        #expect(retried.count == 1, "\(captured.entries)")
        #expect(captured.cleanUpWarnings.isEmpty)
        #expect(retried.first?.metadata["realm"] == realm.id.value)
        #expect(retried.first?.metadata["podSandboxID"] == realm.id.value)
        #expect(retried.first?.metadata["step"] == "CNI DEL while the supervisor shut down")
        #expect(retried.first?.metadata["error"]?.contains("del broke") == true)
        #expect(FileSystem.exists(network.recordPath(realm.id.value, "eth0")), "the record stays for the retry")
    }
}
