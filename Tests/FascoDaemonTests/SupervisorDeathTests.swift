import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// A pod whose System Realm supervisor (fasco-realm) dies, killed or by the OOM killer: the
/// daemon notices at once, reaps it, the pod is NOTREADY, its containers exited with why, the
/// events go out, later RPCs answer as for a dead pod, and kubelet's cycle (stop, remove, run
/// with attempt + 1) works and leaks nothing; also after a daemon restart.
@Suite("a System Realm whose supervisor dies", .serialized)
struct SupervisorDeathTests {
    /// The supervisor's pid, from the pod's verbose status.
    static func supervisorPID(_ fixture: PodFixture, pod: String) async throws -> Int32 {
        let response = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod, verbose: true))
        let info = try JSONSerialization.jsonObject(with: Data((response.info["info"] ?? "{}").utf8)) as? [String: Any]
        let pid = (info?["pid"] as? NSNumber)?.int32Value ?? 0
        #expect(pid > 0)
        return pid
    }

    static func containerPID(_ fixture: PodFixture, _ id: String) async throws -> Int32 {
        let info = try await fixture.status(id, verbose: true).info["info"] ?? "{}"
        let object = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any]
        return (object?["pid"] as? NSNumber)?.int32Value ?? 0
    }

    /// "R", "S", "Z", ... of /proc/PID/stat; nil when the pid is gone.
    static func processState(_ pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
    }

    static func podState(_ fixture: PodFixture, _ pod: String) async throws -> PodSandboxState? {
        try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod)).status?.state
    }

    /// Polls until the pod is NOTREADY; returns how long it took (the bound is a hang guard).
    static func waitNotReady(_ fixture: PodFixture, _ pod: String, bound: Duration = .seconds(20)) async throws -> Duration {
        let start = ContinuousClock.now
        while try await podState(fixture, pod) != .notready {
            if ContinuousClock.now - start > bound { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return ContinuousClock.now - start
    }

    /// Everything one pod leaves on the host while it exists: its realm directory, mounts,
    /// processes, cgroups (cgroupfs driver) and the runtime's state of its containers.
    static func traces(_ fixture: PodFixture, pod: String, containers: [String], ociRuntime: String) -> [String] {
        var found: [String] = []
        let realm = fixture.directory.path + "/state/realms/" + pod.prefix(24)
        if FileManager.default.fileExists(atPath: realm) { found.append("realm directory \(realm)") }
        found += mounts(containing: String(pod.prefix(24))).map { "mount \($0)" }
        found += processes(containing: realm).map { "process \($0)" }
        for id in containers {
            found += mounts(containing: id).map { "mount \($0)" }
            let state = fixture.directory.path + "/state/runtime/\(ociRuntime)/\(id)"
            if FileManager.default.fileExists(atPath: state) { found.append("runtime state \(state)") }
        }
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        for hierarchy in hierarchies {
            let path = "/sys/fs/cgroup/\(hierarchy)\(fixture.cgroupRoot)/\(pod)"
            if FileManager.default.fileExists(atPath: path) { found.append("cgroup \(path)") }
        }
        return found
    }

    /// Collects the events of `pod` until `count` arrived (or the guard passed).
    static func collectEvents(_ fixture: PodFixture, pod: String, count: Int) -> Task<[ContainerEventResponse], Never> {
        let stream = fixture.runtime.getContainerEvents(GetEventsRequest(), timeout: .seconds(60))
        return Task {
            var events: [ContainerEventResponse] = []
            do {
                for try await event in stream where event.podSandboxStatus?.id == pod || event.containerID == pod {
                    events.append(event)
                    if events.count >= count { break }
                }
            } catch {}
            return events
        }
    }

    /// Kills the supervisor of a pod with a running container and a created one, then checks
    /// what the issue asks for and runs kubelet's cycle.
    /// Returns the fixture serving at the end (the restarted one with `restartFirst`).
    @discardableResult
    func killAndRecover(_ fixture: PodFixture, ociRuntime: String, network: TestBridgeNetwork?, restartFirst: Bool,
                        onRestart: (PodFixture) -> Void = { _ in }) async throws -> PodFixture {
        var fixture = fixture
        let pod = try await fixture.runPod("victim")
        // Quiet: nothing it writes could end it when its output's reader dies.
        let sleeper = try await fixture.runContainer(pod, "sleeper", script: "exec sleep 1000")
        let created = try await fixture.createContainer(pod, fixture.containerConfig("later", script: "true"))
        let containerPID = try await Self.containerPID(fixture, sleeper)
        #expect(containerPID > 0)
        if restartFirst {
            // The supervisor is then no child of the daemon that watches it.
            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()
            let restarted = try await PodFixture(ociRuntime: ociRuntime, cniConfig: network?.conflist, directory: fixture.directory,
                                                 importImage: false)
            fixture = restarted
            onRestart(restarted)
            #expect(try await Self.podState(fixture, pod.id) == .ready)
        }
        let supervisor = try await Self.supervisorPID(fixture, pod: pod.id)
        // The pod's stop event and the two containers'.
        let events = Self.collectEvents(fixture, pod: pod.id, count: 3)
        try await Task.sleep(for: .milliseconds(200))

        #expect(kill(supervisor, SIGKILL) == 0)
        let took = try await Self.waitNotReady(fixture, pod.id)
        #expect(try await Self.podState(fixture, pod.id) == .notready)
        #expect(took < .seconds(5), "NOTREADY \(took) after the supervisor died")

        // Reaped (a zombie of the daemon otherwise) and its container gone with it.
        let reaped = try await poll(timeout: .seconds(10)) { Self.processState(supervisor) == nil ? true : nil }
        #expect(reaped, "supervisor \(supervisor) is \(Self.processState(supervisor) ?? "gone")")
        let containerGone = try await poll(timeout: .seconds(10)) { Self.processState(containerPID) == nil ? true : nil }
        #expect(containerGone)

        let status = try await fixture.status(sleeper).status
        #expect(status?.state == .exited)
        #expect(status?.exitCode == 137)
        #expect(status?.reason == "Error")
        // Not its child after a restart: that it ended is all the daemon can know.
        let why = restartFirst ? "System Realm supervisor ended" : "System Realm supervisor was killed by signal 9"
        #expect(status?.message.contains(why) == true, "\(status?.message ?? "")")
        #expect(try await fixture.status(created).status?.state == .exited)

        let seen = await events.value
        #expect(seen.contains { $0.containerID == sleeper && $0.containerEventType == .stoppedEvent })
        #expect(seen.contains { $0.containerID == created && $0.containerEventType == .stoppedEvent })
        #expect(seen.contains { $0.containerID == pod.id && $0.containerEventType == .stoppedEvent })

        // A dead pod's answers.
        let runtime = fixture.runtime
        #expect(await statusOf { _ = try await runtime.startContainer(StartContainerRequest(containerID: created)) }?.code == .failedPrecondition)
        #expect(await statusOf { _ = try await fixture.createContainer(pod, fixture.containerConfig("more", script: "true")) }?.code
                == .failedPrecondition)
        #expect(await statusOf { _ = try await runtime.execSync(ExecSyncRequest(containerID: sleeper, cmd: ["true"], timeout: 5)) }?.code
                == .failedPrecondition)
        #expect(try await runtime.listPodSandbox().items.first { $0.id == pod.id }?.state == .notready)

        // kubelet's cycle.
        _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
        #expect(Self.traces(fixture, pod: pod.id, containers: [sleeper, created], ociRuntime: ociRuntime) == [])
        let again = try await fixture.runPod("victim", attempt: 1)
        let echo = try await fixture.runContainer(again, "sleeper", script: "echo back; exec sleep 1000")
        #expect(try await fixture.waitFor(echo, state: .running).state == .running)
        if let network {
            let status = try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: again.id)).status
            #expect(status?.network?.ip.hasPrefix(network.prefix) == true, "\(String(describing: status?.network))")
        }
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: again.id), timeout: .seconds(60))
        #expect(Self.traces(fixture, pod: again.id, containers: [echo], ociRuntime: ociRuntime) == [])
        return fixture
    }

    @Test("kill -9 of the supervisor: NOTREADY at once, reaped, containers exited with why, events, dead-pod answers, kubelet's cycle",
          arguments: ["crun", "runc"])
    func killed(ociRuntime: String) async throws {
        let network = TestBridgeNetwork(name: "fasco-death", bridgePrefix: "fdeath", thirdOctet: 7)
        try await PodFixture.with(ociRuntime: ociRuntime, cniConfig: network.conflist) { fixture in
            try await killAndRecover(fixture, ociRuntime: ociRuntime, network: network, restartFirst: false)
        }
        _ = try? runCommand("/usr/sbin/ip", ["link", "del", network.bridge])
    }

    @Test("after a daemon restart the supervisor, no longer its child, is still watched (pidfd)")
    func killedAfterRestart() async throws {
        let fixture = try await PodFixture()
        var current = fixture
        do {
            current = try await killAndRecover(fixture, ociRuntime: "crun", network: nil, restartFirst: true) { current = $0 }
        } catch {
            Issue.record("daemon log: \(current.daemon.stderr.suffix(4000))")
            await current.tearDown()
            throw error
        }
        await current.tearDown()
    }

    @Test("the OOM killer kills the supervisor: the same, the containers saying so, and kubelet's cycle")
    func oomKilled() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("oom")
            let supervisor = try await Self.supervisorPID(fixture, pod: pod.id)
            // The pod's memory cgroup gets a limit its container passes, and the supervisor is made
            // the OOM killer's first choice there (raising oom_score_adj needs no privilege).
            let v1 = "/sys/fs/cgroup/memory\(fixture.cgroupRoot)/\(pod.id)/memory.limit_in_bytes"
            let v2 = "/sys/fs/cgroup\(fixture.cgroupRoot)/\(pod.id)/memory.max"
            let limit = FileManager.default.fileExists(atPath: v1) ? v1 : v2
            try "1000".write(toFile: "/proc/\(supervisor)/oom_score_adj", atomically: false, encoding: .utf8)
            try "\(48 << 20)".write(toFile: limit, atomically: false, encoding: .utf8)
            // 60 MiB into the pod's 64 MiB tmpfs /dev/shm: charged to the pod's memory cgroup.
            let hog = try await fixture.runContainer(pod, "hog", script: "sleep 0.2; dd if=/dev/zero of=/dev/shm/fill bs=1M count=60; exec sleep 1000")

            let took = try await Self.waitNotReady(fixture, pod.id)
            #expect(try await Self.podState(fixture, pod.id) == .notready)
            #expect(took < .seconds(10), "NOTREADY \(took) after the OOM kill")
            let reaped = try await poll(timeout: .seconds(10)) { Self.processState(supervisor) == nil ? true : nil }
            #expect(reaped)
            let exited = try await fixture.status(hog).status
            #expect(exited?.state == .exited)
            #expect(exited?.message.contains("System Realm supervisor was killed by the OOM killer") == true, "\(exited?.message ?? "")")

            let runtime = fixture.runtime
            #expect(await statusOf { _ = try await fixture.createContainer(pod, fixture.containerConfig("more", script: "true")) }?.code
                    == .failedPrecondition)
            _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
            _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
            #expect(Self.traces(fixture, pod: pod.id, containers: [hog], ociRuntime: "crun") == [])
            let again = try await fixture.runPod("oom", attempt: 1)
            #expect(try await Self.podState(fixture, again.id) == .ready)
        }
    }
}
