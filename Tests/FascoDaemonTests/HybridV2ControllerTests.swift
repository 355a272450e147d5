import CRIAPI
import Foundation
import GRPCTransport
import Testing

/// A hybrid host where another runtime enables a controller in the v2 hierarchy while Fasco
/// runs (runc enabled `hugetlb` in /sys/fs/cgroup/unified/cgroup.subtree_control here after
/// containerd ran): containers still start, with crun and runc, under both cgroup drivers.
/// The host's state is put back as it was (it may have had hugetlb enabled already).
@Suite("a controller enabled in the v2 hierarchy of a hybrid host while Fasco runs", .serialized,
       .enabled(if: HybridV2Controller.available, "needs a hybrid host whose v2 hierarchy offers hugetlb"))
struct HybridV2ControllerTests {
    @Test("systemd driver (in the private systemd, whose v2 mount is rooted below the root): crun and runc start containers after hugetlb appears",
          arguments: ["crun", "runc"])
    func systemdDriver(ociRuntime: String) async throws {
        guard SystemdLab.available else { return }
        try await HybridV2Controller.withHugetlbEnabledLater { enable in
            try await SystemdLab.with { lab in
                let fixture = try await PodFixture(ociRuntime: ociRuntime, runtimeConfig: "cgroup_driver = \"systemd\"", launcher: lab.launcher)
                do {
                    try enable()
                    try await Self.runsContainer(fixture)
                } catch {
                    Issue.record("daemon log: \(fixture.daemon.stderr.suffix(4000))")
                    await fixture.tearDown()
                    throw error
                }
                await fixture.tearDown()
            }
        }
    }

    @Test("cgroupfs driver on the host: crun and runc start containers after hugetlb appears", arguments: ["crun", "runc"])
    func cgroupfsDriver(ociRuntime: String) async throws {
        try await HybridV2Controller.withHugetlbEnabledLater { enable in
            try await PodFixture.with(ociRuntime: ociRuntime, runtimeConfig: "cgroup_driver = \"cgroupfs\"") { fixture in
                try enable()
                try await Self.runsContainer(fixture)
            }
        }
    }

    static func runsContainer(_ fixture: PodFixture) async throws {
        let pod = try await fixture.runPod("hybrid")
        let id = try await fixture.runContainer(pod, "c", script: "echo started; exec sleep 1000")
        #expect(try await fixture.waitFor(id, state: .running).state == .running)
        let lines = try await fixture.waitForLog(fixture.logDirectory + "/hybrid/c_0.log") { $0.contains("stdout started") }
        #expect(lines.contains("stdout started"))
        _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
    }
}

enum HybridV2Controller {
    static let control = "/sys/fs/cgroup/unified/cgroup.subtree_control"

    static var available: Bool {
        getuid() == 0 && ((try? String(contentsOfFile: "/sys/fs/cgroup/unified/cgroup.controllers", encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isWhitespace).contains("hugetlb")
    }

    static func enabled() -> Bool {
        ((try? String(contentsOfFile: control, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).contains("hugetlb")
    }

    /// Writes to the v2 root's subtree_control. The kernel answers EBUSY to "-hugetlb" while
    /// a cgroup below still has it (other tests run in parallel and make and remove theirs):
    /// that is retried for a while (a hang guard of 60 s), every other error is thrown at once.
    static func write(_ text: String) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let fd = open(control, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DaemonError("cannot open \(control): errno \(errno)") }
            let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
            let failure = errno
            close(fd)
            if written >= 0 { return }
            guard failure == EBUSY, ContinuousClock.now < deadline else {
                throw DaemonError("writing \(text) to \(control) failed: errno \(failure)")
            }
            usleep(100_000)
        }
    }

    /// Runs `body` with hugetlb disabled in the v2 root's subtree_control (so that whatever
    /// starts first sees no controller there); `body` calls `enable` once Fasco runs. The
    /// original state is restored afterwards.
    static func withHugetlbEnabledLater(_ body: (@escaping () throws -> Void) async throws -> Void) async throws {
        let original = enabled()
        if original { try write("-hugetlb") }
        defer {
            if original != enabled() { try? write(original ? "+hugetlb" : "-hugetlb") }
        }
        try await body {
            try write("+hugetlb")
            #expect(enabled())
        }
    }
}
