import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("pods and containers on the software backend", .serialized)
struct PodLifecycleTests {
    @Test("a pod runs a container that logs, execs, reports stats, stops with SIGKILL escalation and is removed without a trace",
          arguments: ["crun", "runc"])
    func fullLifecycle(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { try await lifecycle($0) }
    }

    func lifecycle(_ fixture: PodFixture) async throws {
        let runtime = fixture.runtime
        let pod = try await fixture.runPod("web")
        let podStatus = try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id, verbose: true))
        #expect(podStatus.status?.state == .ready)
        #expect(podStatus.status?.metadata?.name == "web")
        let podInfo = try #require(podStatus.info["info"])
        #expect(podInfo.contains("\"realm\":\"system\""), "\(podInfo)")
        #expect(!fixture.supervisors(pod.id).isEmpty, "this pod's supervisor runs")
        let podCgroups = try fixture.podCgroupDirectories(pod.id)
        #expect(podCgroups.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "the pod's cgroups exist: \(podCgroups)")

        // `sh` as PID 1 ignores SIGTERM: the stop below must escalate to SIGKILL.
        let id = try await fixture.runContainer(pod, "app", script: "echo hello; echo oops >&2; while true; do sleep 1; done")
        let log = fixture.logDirectory + "/web/app_0.log"
        let lines = try await fixture.waitForLog(log) { $0.count >= 2 }
        #expect(lines.sorted() == ["stderr oops", "stdout hello"])

        let status = try await fixture.status(id, verbose: true)
        #expect(status.status?.state == .running)
        #expect((status.status?.startedAt ?? 0) > 0)
        #expect(status.status?.logPath == log)
        #expect(status.status?.image?.image == PodFixture.image)
        let info = try #require(status.info["info"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
        #expect((parsed["pid"] as? Int ?? 0) > 0, "\(info)")
        #expect((parsed["runtimeSpec"] as? [String: Any])?["ociVersion"] != nil, "\(info)")
        #expect(parsed["sandboxID"] as? String == pod.id)

        // ExecSync: output, exit code, timeout.
        let exec = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], timeout: 30))
        #expect(String(decoding: exec.stdout, as: UTF8.self) == "out\n")
        #expect(String(decoding: exec.stderr, as: UTF8.self) == "err\n")
        #expect(exec.exitCode == 3)
        let timedOut = await statusOf { _ = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["sleep", "30"], timeout: 1)) }
        #expect(timedOut?.code == .deadlineExceeded, "\(String(describing: timedOut))")
        // The timed-out command is killed: no process of it is left in the container (by full
        // command line: `comm` would only say "sleep", which the container's own loop runs too).
        let leftover = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["ps", "-o", "pid,args"], timeout: 30))
        let commandLines = String(decoding: leftover.stdout, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(commandLines.contains { $0.hasSuffix(" ps -o pid,args") }, "ps lists full command lines: \(commandLines)")
        #expect(!commandLines.contains { $0.hasSuffix(" sleep 30") }, "no exec process left: \(commandLines)")

        // Lists and filters.
        let listed = try await runtime.listContainers(ListContainersRequest(filter: ContainerFilter(podSandboxID: pod.id)))
        #expect(listed.containers.map(\.id) == [id])
        let byPrefix = try await runtime.listContainers(ListContainersRequest(filter: ContainerFilter(id: String(id.prefix(12)))))
        #expect(byPrefix.containers.map(\.id) == [id])
        let byLabel = try await runtime.listContainers(ListContainersRequest(filter: ContainerFilter(labelSelector: ["container": "nope"])))
        #expect(byLabel.containers.isEmpty)
        let running = try await runtime.listContainers(ListContainersRequest(filter: ContainerFilter(state: ContainerStateValue(state: .exited))))
        #expect(running.containers.isEmpty)
        let pods = try await runtime.listPodSandbox(ListPodSandboxRequest(filter: PodSandboxFilter(labelSelector: ["app": "web"])))
        #expect(pods.items.map(\.id) == [pod.id])

        // Stats from the container's cgroup.
        let stats = try await runtime.containerStats(ContainerStatsRequest(containerID: id))
        #expect((stats.stats?.memory?.workingSetBytes?.value ?? 0) > 0)
        #expect(stats.stats?.cpu?.usageCoreNanoSeconds != nil)
        #expect(stats.stats?.attributes?.id == id)
        let podStats = try await runtime.podSandboxStats(PodSandboxStatsRequest(podSandboxID: pod.id))
        #expect(podStats.stats?.linux?.containers.map { $0.attributes?.id } == [id])
        #expect((podStats.stats?.linux?.memory?.usageBytes?.value ?? 0) > 0)

        // Stop: SIGTERM is ignored, SIGKILL after the 1 s timeout.
        let bundle = fixture.directory.path + "/root/containers/" + id
        #expect(!mounts(containing: bundle + "/rootfs").isEmpty, "a running container's rootfs is mounted")
        _ = try await runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 1), timeout: .seconds(60))
        let stopped = try await fixture.status(id).status
        #expect(stopped?.state == .exited)
        #expect(stopped?.exitCode == 137)
        #expect(stopped?.reason == "Error")
        #expect((stopped?.finishedAt ?? 0) >= (stopped?.startedAt ?? 0))
        // Idempotent stop.
        _ = try await runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 1))
        // Once it exited its rootfs is unmounted (as containerd does when it deletes the
        // task); the writable layer stays until the container is removed.
        _ = try await poll { mounts(containing: bundle + "/rootfs").isEmpty ? true : nil }
        #expect(FileManager.default.fileExists(atPath: bundle + "/upper"))

        _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: id))
        #expect(await statusOf { _ = try await fixture.status(id) }?.code == .notFound)
        #expect(mounts(containing: id).isEmpty, "the container's rootfs is unmounted")
        #expect(!FileManager.default.fileExists(atPath: bundle), "the bundle is out of the way before RemoveContainer answers")
        // Its tree is deleted in the background, shortly after.
        let trash = fixture.directory.path + "/root/containers/.trash"
        _ = try await poll { ((try? FileManager.default.contentsOfDirectory(atPath: trash)) ?? []).isEmpty ? true : nil }

        _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
        #expect(try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id)).status?.state == .notready)
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
        #expect(await statusOf { _ = try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id)) }?.code == .notFound)
        #expect(fixture.supervisors(pod.id).isEmpty, "no supervisor is left")
        #expect(mounts(containing: pod.id).isEmpty, "no mount is left")
        let leftCgroups = podCgroups.filter { FileManager.default.fileExists(atPath: $0) }
        #expect(leftCgroups.isEmpty, "no cgroup is left: \(leftCgroups)")
    }

    @Test("exit codes and reasons: Completed for 0, Error otherwise")
    func exits() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("exits")
            let ok = try await fixture.runContainer(pod, "ok", script: "exit 0")
            let bad = try await fixture.runContainer(pod, "bad", script: "echo failing; exit 7")
            let okStatus = try await fixture.waitFor(ok, state: .exited)
            let badStatus = try await fixture.waitFor(bad, state: .exited)
            #expect(okStatus.exitCode == 0)
            #expect(okStatus.reason == "Completed")
            #expect(badStatus.exitCode == 7)
            #expect(badStatus.reason == "Error")
            #expect(fixture.logLines(fixture.logDirectory + "/exits/bad_0.log") == ["stdout failing"])
        }
    }

    @Test("wrong states, unknown IDs, duplicate names and bad input get clear errors; the daemon keeps serving")
    func errors() async throws {
        try await PodFixture.with { fixture in
            let runtime = fixture.runtime
            let unknown = String(repeating: "ab", count: 32)
            #expect(await statusOf { _ = try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: unknown)) }?.code == .notFound)
            #expect(await statusOf { _ = try await fixture.status(unknown) }?.code == .notFound)
            #expect(await statusOf { _ = try await runtime.startContainer(StartContainerRequest(containerID: unknown)) }?.code == .notFound)
            // Stop and remove of unknown IDs succeed (CRI idempotence).
            _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: unknown))
            _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: unknown))
            _ = try await runtime.stopContainer(StopContainerRequest(containerID: unknown))
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: unknown))

            #expect(await statusOf { _ = try await runtime.runPodSandbox(RunPodSandboxRequest()) }?.code == .invalidArgument)
            #expect(await statusOf {
                _ = try await runtime.runPodSandbox(RunPodSandboxRequest(config: fixture.podConfig("x"), runtimeHandler: "kata"))
            }?.code == .invalidArgument)

            let pod = try await fixture.runPod("dup")
            #expect(await statusOf { _ = try await fixture.runPod("dup") }?.code == .alreadyExists)
            _ = try await runtime.runPodSandbox(RunPodSandboxRequest(config: fixture.podConfig("handler"), runtimeHandler: "fasco"))

            let first = try await fixture.createContainer(pod, fixture.containerConfig("c", script: "sleep 100"))
            #expect(await statusOf { _ = try await fixture.createContainer(pod, fixture.containerConfig("c", script: "true")) }?.code == .alreadyExists)
            #expect(await statusOf {
                _ = try await fixture.createContainer(pod, fixture.containerConfig("img", script: "true", image: "fasco.local/missing:1"))
            }?.code == .notFound)
            #expect(await statusOf { _ = try await runtime.execSync(ExecSyncRequest(containerID: first, cmd: ["true"])) }?.code == .failedPrecondition)
            _ = try await runtime.startContainer(StartContainerRequest(containerID: first))
            #expect(await statusOf { _ = try await runtime.startContainer(StartContainerRequest(containerID: first)) }?.code == .failedPrecondition)
            #expect(await statusOf { _ = try await runtime.execSync(ExecSyncRequest(containerID: first, cmd: [])) }?.code == .invalidArgument)

            _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            #expect(try await fixture.status(first).status?.state == .exited, "stopping a pod stops its containers")
            #expect(await statusOf { _ = try await fixture.createContainer(pod, fixture.containerConfig("late", script: "true")) }?.code == .failedPrecondition)
            // A removed pod's name is free again.
            _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            _ = try await fixture.runPod("dup")
            _ = try await runtime.version()
        }
    }

    @Test("kill -9 of the daemon: pods and containers survive, logs keep growing, exits meanwhile are reported")
    func restart() async throws {
        let fixture = try await PodFixture()
        var second: PodFixture?
        do {
            let pod = try await fixture.runPod("durable")
            let ticker = try await fixture.runContainer(pod, "ticker", script: "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
            let waiter = try await fixture.runContainer(pod, "waiter", script: "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 5")
            let log = fixture.logDirectory + "/durable/ticker_0.log"
            _ = try await fixture.waitForLog(log) { $0.count >= 2 }

            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()
            // While the daemon is down, the waiter exits and the ticker keeps logging.
            let runc = ["/usr/bin/crun", "--root", fixture.directory.path + "/state/runtime/crun"]
            let (execStatus, _, execErrors) = try await runCommandAsync(runc[0], Array(runc.dropFirst()) + ["exec", waiter, "touch", "/tmp/go"])
            #expect(execStatus == 0, "\(execErrors)")
            let before = fixture.logLines(log).count
            try await Task.sleep(for: .seconds(1))

            let restarted = try await PodFixture(directory: fixture.directory, importImage: false)
            second = restarted
            let pods = try await restarted.runtime.listPodSandbox().items
            #expect(pods.map(\.id) == [pod.id])
            #expect(pods.first?.state == .ready)
            #expect(try await restarted.status(ticker).status?.state == .running)
            let exited = try await restarted.waitFor(waiter, state: .exited)
            #expect(exited.exitCode == 5)
            let grown = try await restarted.waitForLog(log) { $0.count > before + 2 }
            #expect(grown.count > before + 2, "the log keeps growing across the restart")
            let numbers = grown.compactMap { Int($0.split(separator: " ").last ?? "") }
            #expect(numbers == Array(0..<numbers.count), "no line is lost or repeated")

            // The restarted daemon still controls the survivors.
            _ = try await restarted.runtime.stopContainer(StopContainerRequest(containerID: ticker, timeout: 1), timeout: .seconds(60))
            #expect(try await restarted.status(ticker).status?.state == .exited)
        } catch {
            Issue.record("daemon log: \((second ?? fixture).daemon.stderr.suffix(4000))")
            await (second ?? fixture).tearDown()
            throw error
        }
        await (second ?? fixture).tearDown()
    }
}
