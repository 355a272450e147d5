import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// The systemd cgroup driver against a real systemd: the daemon runs inside a private systemd
/// (Tests/systemd/lab.sh); the test looks at the lab's cgroups from the host.
@Suite("systemd cgroup driver against a private systemd", .serialized,
       .enabled(if: SystemdLab.available, "lab.sh available: \(SystemdLab.unavailableReason ?? "")"))
struct SystemdCgroupDriverTests {
    static let podSlice = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podsd1.slice"

    @Test("pods in kubelet's slices, supervisors and containers in scopes, limits, stats; everything Fasco made goes again",
          arguments: ["crun", "runc"])
    func lifecycle(ociRuntime: String) async throws {
        try await SystemdLab.with { lab in
            let fixture = try await PodFixture(ociRuntime: ociRuntime, runtimeConfig: "cgroup_driver = \"systemd\"", launcher: lab.launcher)
            do {
                try await check(fixture, lab)
            } catch {
                Issue.record("daemon log: \(fixture.daemon.stderr.suffix(4000))")
                await fixture.tearDown()
                throw error
            }
            await fixture.tearDown()
        }
    }

    private func check(_ fixture: PodFixture, _ lab: SystemdLab) async throws {
        let runtime = fixture.runtime
        #expect(try await runtime.runtimeConfig(timeout: .seconds(10)).linux?.cgroupDriver == .systemd)
        let memory = try await lab.hostCgroupDirectory(controller: "memory")
        let cpuacct = try await lab.hostCgroupDirectory(controller: "cpuacct")
        let systemd = try await lab.hostCgroupDirectory(controller: "systemd")

        // A cgroupfs path is no slice.
        var wrong = fixture.podConfig("wrong")
        wrong.linux?.cgroupParent = "/kubepods/besteffort/podsd1"
        let refused = await statusOf { _ = try await runtime.runPodSandbox(RunPodSandboxRequest(config: wrong), timeout: .seconds(60)) }
        #expect(refused?.code == .invalidArgument, "\(String(describing: refused))")

        // kubelet's form: the slice's cgroup path.
        var config = fixture.podConfig("sd1")
        config.linux?.cgroupParent = Self.podSlice
        let podID = try await runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID
        let pod = (id: podID, config: config)
        let supervisorScope = Self.podSlice + "/fasco-realm-\(podID).scope"
        #expect(try await unitState(lab, "fasco-realm-\(podID).scope") == "active")
        #expect(try await unitState(lab, "kubepods-besteffort-podsd1.slice") == "active")
        for hierarchy in [memory, cpuacct, systemd] {
            // systemd moved it in memory and name=systemd; Fasco joined cpuacct itself.
            #expect(processNames(hierarchy + supervisorScope) == ["fasco-realm"], "\(hierarchy + supervisorScope)")
        }

        var containerConfig = fixture.containerConfig("sleeper", script: "echo up; exec sleep 300")
        containerConfig.linux = LinuxContainerConfig(resources: LinuxContainerResources(memoryLimitInBytes: 64 << 20))
        let containerID = try await fixture.createContainer(pod, containerConfig)
        _ = try await runtime.startContainer(StartContainerRequest(containerID: containerID), timeout: .seconds(60))
        let containerScope = Self.podSlice + "/fasco-\(containerID).scope"
        #expect(try await unitState(lab, "fasco-\(containerID).scope") == "active")
        let inScope = try await poll { () -> [String]? in
            let names = processNames(memory + containerScope, recursive: true)
            return names.contains("sleep") ? names : nil
        }
        #expect(inScope == ["sleep"])
        // crun keeps the limit on a child "container" of the scope, runc on the scope.
        #expect(limits(memory + containerScope).contains(64 << 20), "\(limits(memory + containerScope))")
        let stats = try await runtime.containerStats(ContainerStatsRequest(containerID: containerID), timeout: .seconds(10))
        #expect((stats.stats?.memory?.workingSetBytes?.value ?? 0) > 0, "\(String(describing: stats.stats?.memory))")
        let podStats = try await runtime.podSandboxStats(PodSandboxStatsRequest(podSandboxID: podID), timeout: .seconds(10))
        #expect((podStats.stats?.linux?.memory?.workingSetBytes?.value ?? 0) > 0)

        _ = try await runtime.stopContainer(StopContainerRequest(containerID: containerID, timeout: 2), timeout: .seconds(60))
        _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: containerID), timeout: .seconds(60))
        for hierarchy in [memory, cpuacct, systemd] {
            #expect(!FileManager.default.fileExists(atPath: hierarchy + containerScope), "\(hierarchy + containerScope) left")
        }
        #expect(try await unitState(lab, "fasco-\(containerID).scope") == "inactive")

        _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: podID), timeout: .seconds(60))
        for hierarchy in [memory, cpuacct, systemd] {
            #expect(!FileManager.default.fileExists(atPath: hierarchy + supervisorScope), "\(hierarchy + supervisorScope) left")
        }
        #expect(try await unitState(lab, "fasco-realm-\(podID).scope") == "inactive")
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: podID), timeout: .seconds(60))
        #expect(try await unitState(lab, "kubepods-besteffort-podsd1.slice") == "active", "kubelet's slice is kubelet's")

        // No cgroup parent: a slice of Fasco's own, stopped with the pod. With a shared PID
        // namespace, the namespace's init (the supervisor's pause child) is in the scope too.
        var shared = fixture.podConfig("plain")
        shared.linux?.securityContext?.namespaceOptions?.pid = .pod
        let plain = (id: try await runtime.runPodSandbox(RunPodSandboxRequest(config: shared), timeout: .seconds(60)).podSandboxID, config: shared)
        let slice = "fasco-pod\(plain.id).slice"
        #expect(try await unitState(lab, slice) == "active")
        for hierarchy in [memory, cpuacct, systemd] {
            #expect(processNames(hierarchy + "/fasco.slice/\(slice)/fasco-realm-\(plain.id).scope") == ["fasco-pause", "fasco-realm"])
        }
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: plain.id), timeout: .seconds(60))
        #expect(try await unitState(lab, slice) == "inactive")
        for hierarchy in [memory, cpuacct, systemd] {
            #expect(!FileManager.default.fileExists(atPath: hierarchy + "/fasco.slice/\(slice)"), "\(hierarchy)/fasco.slice/\(slice) left")
        }
    }

    /// `systemctl show -P ActiveState` in the lab ("inactive" for a unit systemd does not know).
    private func unitState(_ lab: SystemdLab, _ unit: String) async throws -> String {
        let (_, output, _) = try await lab.exec(["systemctl", "show", "-P", "ActiveState", unit])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The names of the processes in a cgroup (and below it), sorted; empty when it does not exist.
    private func processNames(_ directory: String, recursive: Bool = false) -> [String] {
        var directories = [directory]
        if recursive, let below = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in below where path.hasSuffix("/cgroup.procs") {
                directories.append(directory + "/" + String(path.dropLast("/cgroup.procs".count)))
            }
        }
        var names: [String] = []
        for cgroup in Set(directories) {
            let text = (try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in text.split(separator: "\n") {
                let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
                names.append(comm.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return names.sorted()
    }

    /// memory.limit_in_bytes of a cgroup and every cgroup below it.
    private func limits(_ directory: String) -> [Int64] {
        var files = [directory + "/memory.limit_in_bytes"]
        if let below = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in below where path.hasSuffix("/memory.limit_in_bytes") { files.append(directory + "/" + path) }
        }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            .compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

@Suite("systemd cgroup driver without systemd")
struct SystemdDriverWithoutSystemdTests {
    @Test("cgroup_driver = systemd where no systemd answers: the daemon refuses to start, and says why",
          .enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: "/run/systemd/private"), "needs root on a host without systemd"))
    func refusesToStart() async throws {
        let directory = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("fasco.toml")
        try "[runtime]\ncgroup_driver = \"systemd\"\n".write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraArguments: ["--config", config.path], directory: directory)
        let status = await daemon.waitForExit()
        if status == nil { await daemon.stop() }
        #expect(status != nil && status != 0, "exit status \(String(describing: status))")
        #expect(daemon.stderr.contains("runtime.cgroup_driver is systemd, but systemd does not answer"), "\(daemon.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "it never served")
    }
}
