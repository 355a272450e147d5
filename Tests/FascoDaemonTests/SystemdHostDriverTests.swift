import CRIAPI
import Foundation
import GRPCTransport
import SoftwareRealms
import Testing

/// The host's own systemd as PID 1: the most common production layout. Where PID 1 is not
/// systemd (the development host), the lab tests (SystemdCgroupDriverTests) cover the driver
/// and this suite is reported as skipped.
enum HostSystemd {
    /// sd_booted(3): systemd is the init system.
    static var isInit: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }
    static let systemctl = ["/usr/bin/systemctl", "/bin/systemctl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `systemctl show -P PROPERTY UNIT` ("inactive" ActiveState for a unit systemd does not know).
    static func property(_ name: String, of unit: String) async throws -> String {
        let systemctl = try #require(systemctl, "no systemctl")
        let (status, output, errors) = try await runCommandAsync(systemctl, ["show", "-P", name, unit])
        try #require(status == 0, "systemctl show \(unit): \(errors)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("systemd cgroup driver against the host's systemd", .serialized,
       .enabled(if: getuid() == 0, "needs root"),
       .enabled(if: HostSystemd.isInit, "the host's PID 1 is not systemd (the private-systemd lab tests cover the driver here)"))
struct SystemdHostDriverTests {
    @Test("a pod's slice and scopes are systemd's units with the container's limit; all go with the pod", arguments: ["crun", "runc"])
    func lifecycle(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime, runtimeConfig: "cgroup_driver = \"systemd\"") { fixture in
            let runtime = fixture.runtime
            #expect(try await runtime.runtimeConfig(timeout: .seconds(10)).linux?.cgroupDriver == .systemd)
            // No cgroup parent: a slice of Fasco's own (kubelet's slices on a real node are not the test's to touch).
            let pod = try await fixture.runPod("sdhost")
            let slice = "fasco-pod\(pod.id).slice"
            let supervisor = "fasco-realm-\(pod.id).scope"
            #expect(try await HostSystemd.property("ActiveState", of: slice) == "active")
            #expect(try await HostSystemd.property("ActiveState", of: supervisor) == "active")

            var config = fixture.containerConfig("sleeper", script: "echo up; exec sleep 300")
            config.linux = LinuxContainerConfig(resources: LinuxContainerResources(memoryLimitInBytes: 64 << 20))
            let id = try await fixture.createContainer(pod, config)
            _ = try await runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            let scope = "fasco-\(id).scope"
            #expect(try await HostSystemd.property("ActiveState", of: scope) == "active")

            // Where systemd says the scope's cgroup is, in every hierarchy of this host's layout.
            let cgroup = try await HostSystemd.property("ControlGroup", of: scope)
            try #require(cgroup.hasPrefix("/"), "ControlGroup of \(scope): \(cgroup)")
            let host = try HostCgroups.detect()
            let directories = try PodCgroup(host: host, path: cgroup).directories
            let memory = try #require(host.hierarchies.first { $0.controllers.contains("memory") && !$0.readOnly })
            let memoryDirectory = try PodCgroup(host: host, path: cgroup).directory(in: memory)
            let sleeping = try await poll { () -> [Int32]? in
                let pids = Self.processes(below: memoryDirectory)
                return pids.contains { Self.comm($0) == "sleep" } ? pids : nil
            }
            #expect(sleeping.map(Self.comm) == ["sleep"], "the container's process is in its scope")
            // crun keeps the limit on a child of the scope, runc on the scope.
            let limitFile = memory.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
            #expect(Self.values(limitFile, below: memoryDirectory).contains(String(64 << 20)), "\(memoryDirectory)")

            _ = try await runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 2), timeout: .seconds(60))
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: id), timeout: .seconds(60))
            #expect(try await HostSystemd.property("ActiveState", of: scope) == "inactive")
            let left = directories.filter { FileManager.default.fileExists(atPath: $0) }
            #expect(left.isEmpty, "the container's cgroups are gone: \(left)")

            let sliceCgroup = try await HostSystemd.property("ControlGroup", of: slice)
            let sliceDirectories = sliceCgroup.hasPrefix("/") ? try PodCgroup(host: host, path: sliceCgroup).directories : []
            _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
            #expect(try await HostSystemd.property("ActiveState", of: supervisor) == "inactive")
            #expect(try await HostSystemd.property("ActiveState", of: slice) == "inactive")
            let sliceLeft = sliceDirectories.filter { FileManager.default.fileExists(atPath: $0) }
            #expect(sliceLeft.isEmpty, "the pod's slice is gone: \(sliceLeft)")
        }
    }

    static func comm(_ pid: Int32) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The pids in a cgroup and every cgroup below it.
    static func processes(below directory: String) -> [Int32] {
        values("cgroup.procs", below: directory).flatMap { $0.split(separator: "\n").compactMap { Int32($0) } }
    }

    /// The trimmed contents of `file` in a cgroup and every cgroup below it.
    static func values(_ file: String, below directory: String) -> [String] {
        var files = [directory + "/" + file]
        if let below = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in below where path.hasSuffix("/" + file) { files.append(directory + "/" + path) }
        }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
