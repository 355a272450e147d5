import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// CRI PID namespace mode TARGET, what `kubectl debug --target` sends: the new container joins
/// the PID namespace of a running container of its pod and sees its processes.
@Suite("PID namespace mode TARGET", .serialized)
struct TargetPIDNamespaceTests {
    /// The target runs this distinctive command line.
    static let targetScript = "exec sleep 4242"

    @Test("a debug container sees its target's processes; a missing, stopped or foreign target is refused",
          arguments: ["crun", "runc"])
    func target(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let pod = try await fixture.runPod("debugged")
            let app = try await fixture.runContainer(pod, "app", script: Self.targetScript)
            let debugger = try await Self.runDebugger(fixture, pod, "debugger", target: app)
            let seen = try await Self.commandLines(fixture, debugger)
            #expect(seen.contains { $0.hasSuffix(" sleep 4242") }, "the target's process is visible: \(seen)")
            #expect(seen.first { $0.hasPrefix("1 ") }?.hasSuffix(" sleep 4242") == true, "PID 1 is the target's: \(seen)")
            // The target itself sees the debugger: one namespace, not a copy.
            let fromTarget = try await Self.commandLines(fixture, app)
            #expect(fromTarget.contains { $0.hasSuffix(" sleep 77") }, "\(fromTarget)")

            // Refusals, as containerd's: unknown target NOT_FOUND, one that does not run FAILED_PRECONDITION.
            let missing = await statusOf { _ = try await Self.createDebugger(fixture, pod, "ghost", target: String(repeating: "e", count: 64)) }
            #expect(missing?.code == .notFound, "\(String(describing: missing))")
            let idle = try await fixture.createContainer(pod, fixture.containerConfig("idle", script: "exec sleep 1000"))
            let notStarted = await statusOf { _ = try await Self.createDebugger(fixture, pod, "early", target: idle) }
            #expect(notStarted?.code == .failedPrecondition, "\(String(describing: notStarted))")
            let done = try await fixture.runContainer(pod, "done", script: "exit 0")
            _ = try await fixture.waitFor(done, state: .exited)
            let exited = await statusOf { _ = try await Self.createDebugger(fixture, pod, "late", target: done) }
            #expect(exited?.code == .failedPrecondition, "\(String(describing: exited))")
            let other = try await fixture.runPod("other")
            let foreign = await statusOf { _ = try await Self.createDebugger(fixture, other, "foreign", target: app) }
            #expect(foreign?.code == .invalidArgument, "\(String(describing: foreign))")
            let names = try await fixture.runtime.listContainers().containers.map { $0.metadata?.name ?? "" }
            #expect(Set(names) == ["app", "debugger", "idle", "done"], "refused creations keep nothing: \(names)")
        }
    }

    @Test("after a daemon restart the running target is found again")
    func afterRestart() async throws {
        let fixture = try await PodFixture()
        var second: PodFixture?
        do {
            let pod = try await fixture.runPod("durable-target")
            let app = try await fixture.runContainer(pod, "app", script: Self.targetScript)
            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()

            let restarted = try await PodFixture(directory: fixture.directory, importImage: false)
            second = restarted
            let debugger = try await Self.runDebugger(restarted, pod, "debugger", target: app)
            let seen = try await Self.commandLines(restarted, debugger)
            #expect(seen.contains { $0.hasSuffix(" sleep 4242") }, "\(seen)")
        } catch {
            Issue.record("daemon log: \((second ?? fixture).daemon.stderr.suffix(4000))")
            await (second ?? fixture).tearDown()
            throw error
        }
        await (second ?? fixture).tearDown()
    }

    @Test("with the systemd cgroup driver", .enabled(if: SystemdLab.available, "lab.sh available: \(SystemdLab.unavailableReason ?? "")"))
    func systemdDriver() async throws {
        try await SystemdLab.with { lab in
            try await PodFixture.with(runtimeConfig: "cgroup_driver = \"systemd\"", launcher: lab.launcher) { fixture in
                let pod = try await fixture.runPod("sd-debugged")
                let app = try await fixture.runContainer(pod, "app", script: Self.targetScript)
                let debugger = try await Self.runDebugger(fixture, pod, "debugger", target: app)
                let seen = try await Self.commandLines(fixture, debugger)
                #expect(seen.contains { $0.hasSuffix(" sleep 4242") }, "\(seen)")
                let idle = try await fixture.createContainer(pod, fixture.containerConfig("idle", script: "exec sleep 1000"))
                let notStarted = await statusOf { _ = try await Self.createDebugger(fixture, pod, "early", target: idle) }
                #expect(notStarted?.code == .failedPrecondition, "\(String(describing: notStarted))")
            }
        }
    }

    // MARK: Helpers

    static func createDebugger(_ fixture: PodFixture, _ pod: (id: String, config: PodSandboxConfig), _ name: String,
                               target: String) async throws -> String {
        var config = fixture.containerConfig(name, script: "while true; do sleep 77; done")
        config.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
            namespaceOptions: NamespaceOption(network: .pod, pid: .target, ipc: .pod, targetID: target)))
        return try await fixture.createContainer(pod, config)
    }

    static func runDebugger(_ fixture: PodFixture, _ pod: (id: String, config: PodSandboxConfig), _ name: String,
                            target: String) async throws -> String {
        let id = try await createDebugger(fixture, pod, name, target: target)
        _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
        return id
    }

    /// `ps -o pid,args` in the container, by line (its own loop's "sleep 77" shows once it ran once).
    static func commandLines(_ fixture: PodFixture, _ container: String) async throws -> [String] {
        var lines: [String] = []
        for _ in 0..<50 {
            let seen = try await fixture.runtime.execSync(ExecSyncRequest(containerID: container, cmd: ["ps", "-o", "pid,args"], timeout: 30))
            #expect(seen.exitCode == 0, "\(String(decoding: seen.stderr, as: UTF8.self))")
            lines = String(decoding: seen.stdout, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            if lines.contains(where: { $0.hasSuffix(" sleep 77") }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return lines
    }
}
