import CRIAPI
import Foundation
import GRPCTransport
import Testing

@Suite("a private systemd for tests (Tests/systemd/lab.sh)", .serialized,
       .enabled(if: SystemdLab.available, "lab.sh available: \(SystemdLab.unavailableReason ?? "")"))
struct SystemdLabTests {
    static let slicePath = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/fasco-smoke.scope"

    @Test("a scope systemd-run makes in the lab is a cgroup under the lab's host cgroups; stop removes them all")
    func scopeInLabCgroups() async throws {
        let lab = try await SystemdLab.start()
        var labDirectories: [String] = []
        do {
            for controller in ["memory", "systemd"] {
                labDirectories.append(try await lab.hostCgroupDirectory(controller: controller))
            }
            let (status, _, errors) = try await lab.exec(["sh", "-c", """
                systemd-run --scope --slice=kubepods-besteffort-podabc.slice --unit=fasco-smoke -p Delegate=yes \
                  sleep 300 </dev/null >/dev/null 2>&1 &
                """])
            #expect(status == 0, "\(errors)")
            for directory in labDirectories {
                let procs = directory + "/" + Self.slicePath + "/cgroup.procs"
                // Host PIDs (we read from the host): the scope's process is the sleep. systemd-run
                // is moved into the scope before it execs sleep: until then its comm is systemd-run.
                var seen: [String] = []
                let pids = try? await poll(timeout: .seconds(10)) { () -> [Int32]? in
                    let pids = ((try? String(contentsOfFile: procs, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
                    seen = pids.map { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) ?? "" }
                    return seen == ["sleep\n"] ? pids : nil
                }
                #expect(pids != nil, "\(procs): \(seen)")
            }
            // systemd inside sees the same unit, at the lab-relative path.
            let (_, cgroup, _) = try await lab.exec(["systemctl", "show", "-P", "ControlGroup", "fasco-smoke.scope"])
            #expect(cgroup.trimmingCharacters(in: .whitespacesAndNewlines) == "/" + Self.slicePath)
        } catch {
            try? await lab.stop()
            throw error
        }
        try await lab.stop()
        for directory in labDirectories { #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) left") }
        #expect(!FileManager.default.fileExists(atPath: lab.stateDirectory))
        try await lab.stop() // idempotent
    }

    @Test("lab.sh exec passes stdin, stdout, stderr and the exit status through, inside the lab's namespaces")
    func execPassesThrough() async throws {
        try await SystemdLab.with { lab in
            let (status, output, errors) = try await lab.exec(["sh", "-c", "echo out; echo err >&2; cat /proc/1/comm; exit 7"])
            #expect(status == 7)
            #expect(output == "out\nsystemd\n")
            #expect(errors == "err\n")
            let (running, state, _) = try await lab.exec(["systemctl", "is-system-running"])
            #expect(running == 0 && state == "running\n", "\(state)")
            // The system bus runs, and systemd is on it (crun --systemd-cgroup needs both).
            let (_, owner, _) = try await lab.exec(["busctl", "--system", "status", "--no-pager", "org.freedesktop.systemd1"])
            #expect(owner.contains("PID=1"), "\(owner)")
        }
    }

    @Test("fasco serve started through the fixture's launcher runs inside the lab and answers Version")
    func daemonInsideLab() async throws {
        try await SystemdLab.with { lab in
            let fixture = try await PodFixture(launcher: lab.launcher)
            do {
                #expect(fixture.directory.path.hasPrefix("/var/tmp/"))
                let version = try await fixture.runtime.version(VersionRequest(version: "v1"), timeout: .seconds(10))
                #expect(version.runtimeName == "fasco")
                let pid = try #require(fixture.daemon.servingProcessIdentifier)
                let cgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
                #expect(cgroups.split(separator: "\n").allSatisfy { $0.hasSuffix("/fasco-lab-\(lab.name)") }, "\(cgroups)")
                let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid") != ours)
                await fixture.tearDown()
                #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"), "stop kills the launched daemon")
            } catch {
                Issue.record("daemon log: \(fixture.daemon.stderr.suffix(4000))")
                await fixture.tearDown()
                throw error
            }
        }
    }
}
