import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("pod features on the software backend", .serialized)
struct PodFeatureTests {
    @Test("a container past its memory limit is OOM-killed and says so")
    func oomKilled() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("oom")
            var config = fixture.containerConfig("hog", script: "x=aaaaaaaa; while true; do x=$x$x; done")
            config.linux = LinuxContainerConfig(resources: LinuxContainerResources(memoryLimitInBytes: 16 << 20))
            let id = try await fixture.createContainer(pod, config)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id))
            let status = try await fixture.waitFor(id, state: .exited)
            #expect(status.state == .exited)
            #expect(status.reason == "OOMKilled")
            #expect(status.exitCode == 137)
            #expect(status.resources?.linux?.memoryLimitInBytes == 16 << 20)
        }
    }

    @Test("containers of a pod with a shared PID namespace see each other's processes")
    func sharedPIDNamespace() async throws {
        try await PodFixture.with { fixture in
            var config = fixture.podConfig("shared")
            config.linux?.securityContext?.namespaceOptions?.pid = .pod
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config))
            let pod = (id: response.podSandboxID, config: config)
            _ = try await fixture.runContainer(pod, "sleeper", script: "exec sleep 1000")
            let looker = try await fixture.runContainer(pod, "looker", script: "while true; do sleep 1; done")
            // By full command line (comm is only "sleep", which the looker's own loop also runs).
            func commandLines(_ container: String) async throws -> [String] {
                let seen = try await fixture.runtime.execSync(ExecSyncRequest(containerID: container, cmd: ["ps", "-o", "pid,args"], timeout: 30))
                #expect(seen.exitCode == 0, "\(String(decoding: seen.stderr, as: UTF8.self))")
                return String(decoding: seen.stdout, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            let text = try await commandLines(looker)
            #expect(text.contains { $0.hasSuffix(" sleep 1000") }, "the other container's sleep is visible: \(text)")
            #expect(text.first { $0.hasPrefix("1 ") }?.hasPrefix("1 {fasco-pause} ") == true, "PID 1 is the pod's pause, not a container's: \(text)")
            // The supervisor and the namespace's init (its pause child) are both the pod's, in its cgroup
            // (memory's hierarchy: on v1 in the pod's cgroup itself, on v2 in its fasco-realm leaf).
            let (podCgroup, version) = try fixture.podCgroupDirectory(pod.id, controller: "memory")
            let procs = try String(contentsOfFile: podCgroup + (version == .v1 ? "" : "/fasco-realm") + "/cgroup.procs", encoding: .utf8)
            let names = procs.split(separator: "\n").map {
                ((try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(names.sorted() == ["fasco-pause", "fasco-realm"], "\(procs)")

            // Without sharing, the other container's sleep is invisible.
            let alone = try await fixture.runPod("alone")
            let solo = try await fixture.runContainer(alone, "solo", script: "while true; do sleep 1; done")
            let own = try await commandLines(solo)
            #expect(own.contains { $0.hasSuffix(" ps -o pid,args") }, "ps lists full command lines: \(own)")
            #expect(!own.contains { $0.hasSuffix(" sleep 1000") }, "\(own)")
        }
    }

    @Test("with a CNI network the pod gets an address on the bridge, reports NetworkReady, and loses it on removal")
    func cniNetwork() async throws {
        let network = TestBridgeNetwork(name: "fasco-test", bridgePrefix: "fascot", thirdOctet: 7)
        let bridge = network.bridge
        try await PodFixture.with(cniConfig: network.conflist) { fixture in
            let status = try await fixture.runtime.status(StatusRequest())
            #expect(status.status?.conditions.first { $0.type == "NetworkReady" }?.status == true)
            let pod = try await fixture.runPod("net")
            let podStatus = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id))
            let ip = podStatus.status?.network?.ip ?? ""
            #expect(ip.hasPrefix(network.prefix), "pod IP \(ip)")
            let id = try await fixture.runContainer(pod, "c", script: "while true; do sleep 1; done")
            let shown = try await fixture.runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["ip", "-4", "addr", "show", "eth0"], timeout: 30))
            #expect(String(decoding: shown.stdout, as: UTF8.self).contains(ip), "the container sees the pod's address")
            #expect(try await network.links().count == 1, "the pod's veth is on the bridge")
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            let links = try await network.links()
            #expect(links.isEmpty, "the pod's veth is gone: \(links)")
        }
        _ = try? await runCommandAsync("/usr/sbin/ip", ["link", "del", bridge])
    }

    @Test("without a CNI configuration pods join the embedded default network, written to Fasco's state and never to conf_dir; one that appears there takes over for new pods")
    func defaultNetwork() async throws {
        // The default network's bridge and subnet made the test's own (the defaults, fasco0 and
        // 10.88.0.0/16, may be another daemon's on this host); the configuration is otherwise the embedded one.
        let bridge = "fdef" + String(UInt32.random(in: 0...0xffff), radix: 16)
        let prefix = "10.\(Int.random(in: 100...250)).9."
        let host = TestBridgeNetwork(name: "fasco-host", bridgePrefix: "fhost", thirdOctet: 11)
        try await PodFixture.with(cniSettings: "default_bridge = \"\(bridge)\"\ndefault_subnet = \"\(prefix)0/24\"") { fixture in
            let confDir = fixture.directory.appendingPathComponent("cni").path
            let status = try await fixture.runtime.status(StatusRequest())
            #expect(status.status?.conditions.first { $0.type == "NetworkReady" }?.status == true)
            let pod = try await fixture.runPod("dflt")
            let ip = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id)).status?.network?.ip ?? ""
            #expect(ip.hasPrefix(prefix), "pod IP \(ip)")
            let id = try await fixture.runContainer(pod, "c", script: "while true; do sleep 1; done")
            let shown = try await fixture.runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["ip", "-4", "addr", "show", "eth0"], timeout: 30))
            #expect(String(decoding: shown.stdout, as: UTF8.self).contains(ip))
            #expect(try FileManager.default.contentsOfDirectory(atPath: confDir) == [], "conf_dir is left alone")
            let written = fixture.directory.appendingPathComponent("state/cni/net.d/10-fasco.conflist").path
            #expect(FileManager.default.fileExists(atPath: written))

            // The host's configuration, once there, is used for new pods; the first pod keeps (and tears down) its own.
            try host.conflist.write(toFile: confDir + "/10-host.conflist", atomically: true, encoding: .utf8)
            let second = try await fixture.runPod("hostnet")
            let secondIP = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: second.id)).status?.network?.ip ?? ""
            #expect(secondIP.hasPrefix(host.prefix), "pod IP \(secondIP)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: confDir) == ["10-host.conflist"])
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            let (_, links, _) = try await runCommandAsync("/usr/sbin/ip", ["-o", "link", "show", "master", bridge])
            #expect(links.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "the pod's veth is gone: \(links)")
        }
        _ = try? await runCommandAsync("/usr/sbin/ip", ["link", "del", bridge])
        _ = try? await runCommandAsync("/usr/sbin/ip", ["link", "del", host.bridge])
    }

    @Test("ReopenContainerLog: after the log is renamed away, new lines go to a new file")
    func reopenLog() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("rotate")
            let id = try await fixture.runContainer(pod, "talker", script: "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done")
            let log = fixture.logDirectory + "/rotate/talker_0.log"
            _ = try await fixture.waitForLog(log) { $0.count >= 2 }
            try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
            _ = try await fixture.runtime.reopenContainerLog(ReopenContainerLogRequest(containerID: id))
            let fresh = try await fixture.waitForLog(log) { $0.count >= 2 }
            #expect(fresh.count >= 2)
            let old = fixture.logLines(log + ".1").compactMap { Int($0.split(separator: " ").last ?? "") }
            let new = fresh.compactMap { Int($0.split(separator: " ").last ?? "") }
            #expect((old + new).prefix(old.count + 2) == ArraySlice(Array(0..<(old.count + 2))), "no line lost at the switch")
            _ = try await fixture.runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 0))
            #expect(await statusOf { _ = try await fixture.runtime.reopenContainerLog(ReopenContainerLogRequest(containerID: id)) }?.code == .failedPrecondition)
        }
    }

    @Test("UpdateContainerResources changes the cgroup limit and the status reports it")
    func updateResources() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("resize")
            let id = try await fixture.runContainer(pod, "c", script: "while true; do sleep 1; done")
            _ = try await fixture.runtime.updateContainerResources(UpdateContainerResourcesRequest(
                containerID: id, linux: LinuxContainerResources(cpuShares: 512, memoryLimitInBytes: 64 << 20)))
            let limit = try String(contentsOfFile: try fixture.memoryLimitFile(pod: pod.id, container: id), encoding: .utf8)
            #expect(limit.trimmingCharacters(in: .whitespacesAndNewlines) == String(64 << 20))
            let status = try await fixture.status(id).status
            #expect(status?.resources?.linux?.memoryLimitInBytes == 64 << 20)
            #expect(status?.resources?.linux?.cpuShares == 512)
            let all = try await fixture.runtime.listContainerStats(ListContainerStatsRequest())
            #expect(all.stats.map { $0.attributes?.id } == [id])
            let pods = try await fixture.runtime.listPodSandboxStats(ListPodSandboxStatsRequest())
            #expect(pods.stats.map { $0.attributes?.id } == [pod.id])
            let metrics = try await fixture.runtime.listPodSandboxMetrics(ListPodSandboxMetricsRequest())
            #expect(metrics.podMetrics.first?.containerMetrics.first?.metrics.contains { $0.name == "container_memory_working_set_bytes" } == true)
            let descriptors = try await fixture.runtime.listMetricDescriptors(ListMetricDescriptorsRequest())
            #expect(descriptors.descriptors.contains { $0.name == "container_cpu_usage_seconds_total" })
        }
    }

    @Test("GetContainerEvents streams created, started, stopped and deleted for containers and pods",
          .enabled(if: Prerequisites.runsPython, Prerequisites.noPython))
    func events() async throws {
        try #require(Prerequisites.hasPython, "CI must provide \(Prerequisites.python) (make py-deps)")
        let python = Prerequisites.python
        try await PodFixture.with { fixture in
            let output = fixture.directory.appendingPathComponent("events.jsonl")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let client = Process()
            client.executableURL = URL(fileURLWithPath: python)
            client.arguments = [repositoryRoot.appendingPathComponent("Tests/FascoDaemonTests/python_client.py").path,
                                repositoryRoot.appendingPathComponent("proto").path, "unix:" + fixture.daemon.socketPath, "events", "0"]
            client.standardOutput = try FileHandle(forWritingTo: output)
            try client.run()
            defer { client.terminate() }
            func events() -> [[String: Any]] {
                ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
            }
            // Subscribing is asynchronous: make pods until one shows up in the stream.
            var pod: (id: String, config: PodSandboxConfig)?
            for attempt in 0..<60 where pod == nil {
                let candidate = try await fixture.runPod("events", attempt: UInt32(attempt))
                try await Task.sleep(for: .milliseconds(500))
                if events().contains(where: { $0["id"] as? String == candidate.id && $0["type"] as? String == "created" }) { pod = candidate }
            }
            let subscribed = try #require(pod, "the event stream never showed a pod")
            let id = try await fixture.runContainer(subscribed, "c", script: "sleep 1000")
            _ = try await fixture.runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 0))
            _ = try await fixture.runtime.removeContainer(RemoveContainerRequest(containerID: id))
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: subscribed.id))
            let deadline = ContinuousClock.now + .seconds(30)
            while !events().contains(where: { $0["id"] as? String == subscribed.id && $0["type"] as? String == "deleted" }),
                  ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let seen = events()
            #expect(seen.filter { $0["id"] as? String == id }.compactMap { $0["type"] as? String } == ["created", "started", "stopped", "deleted"])
            #expect(seen.filter { $0["id"] as? String == subscribed.id }.compactMap { $0["type"] as? String } == ["created", "started", "stopped", "deleted"])
            #expect(seen.first { $0["id"] as? String == id }?["pod"] as? String == subscribed.id)
        }
    }

    @Test("hostile pod and container configs are refused with INVALID_ARGUMENT and leave nothing behind")
    func hostileInput() async throws {
        try await PodFixture.with { fixture in
            let runtime = fixture.runtime
            var escaping = fixture.podConfig("escape")
            escaping.linux?.cgroupParent = "/fasco/../../etc"
            var badHost = fixture.podConfig("badhost")
            badHost.hostname = "two words"
            var badDNS = fixture.podConfig("baddns")
            badDNS.dnsConfig = DNSConfig(servers: ["not-an-ip"])
            for config in [escaping, badHost, badDNS] {
                let status = await statusOf { _ = try await runtime.runPodSandbox(RunPodSandboxRequest(config: config)) }
                #expect(status?.code == .invalidArgument, "\(config.metadata?.name ?? ""): \(String(describing: status))")
            }
            #expect(try await runtime.listPodSandbox().items.isEmpty, "refused pods leave no record")

            let pod = try await fixture.runPod("target")
            var traversal = fixture.containerConfig("traversal", script: "true")
            // From <fixture>/logs/target, this would be <fixture>/evil.log: the fixture's own directory.
            traversal.logPath = "../../evil.log"
            var relativeMount = fixture.containerConfig("relmount", script: "true")
            relativeMount.mounts = [Mount(containerPath: "relative/path", hostPath: "/tmp")]
            for config in [traversal, relativeMount] {
                let status = await statusOf { _ = try await fixture.createContainer(pod, config) }
                #expect(status?.code == .invalidArgument, "\(config.metadata?.name ?? ""): \(String(describing: status))")
            }
            #expect(try await runtime.listContainers().containers.isEmpty, "refused containers leave no record")
            #expect(!FileManager.default.fileExists(atPath: fixture.directory.path + "/evil.log"), "nothing was written outside the log directory")

            let id = try await fixture.runContainer(pod, "alive", script: "while true; do sleep 1; done")
            // A command that cannot start ends as in a shell (UserMistakeTests has the details).
            let missing = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["/no/such/binary"], timeout: 10))
            #expect(missing.exitCode == 127, "\(missing)")
            _ = try await runtime.version()
        }
    }

    @Test("UpdatePodSandboxResources records kubelet's pod-level limits; bad values and unknown or stopped pods are refused")
    func podResources() async throws {
        try await PodFixture.with { fixture in
            let runtime = fixture.runtime
            let pod = try await fixture.runPod("resized")
            _ = try await runtime.updatePodSandboxResources(UpdatePodSandboxResourcesRequest(
                podSandboxID: pod.id, resources: LinuxContainerResources(cpuShares: 256, memoryLimitInBytes: 128 << 20)))
            let status = try await runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id, verbose: true))
            let info = try #require(status.info["info"])
            #expect(info.contains("\"memoryLimitInBytes\":\(128 << 20)"), "\(info)")
            #expect(info.contains("\"cpuShares\":256"), "\(info)")
            let negative = await statusOf {
                _ = try await runtime.updatePodSandboxResources(UpdatePodSandboxResourcesRequest(
                    podSandboxID: pod.id, resources: LinuxContainerResources(cpuShares: -5)))
            }
            #expect(negative?.code == .invalidArgument)
            let unknown = await statusOf {
                _ = try await runtime.updatePodSandboxResources(UpdatePodSandboxResourcesRequest(podSandboxID: String(repeating: "c", count: 64)))
            }
            #expect(unknown?.code == .notFound)
            _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            let stopped = await statusOf {
                _ = try await runtime.updatePodSandboxResources(UpdatePodSandboxResourcesRequest(
                    podSandboxID: pod.id, resources: LinuxContainerResources(cpuShares: 512)))
            }
            #expect(stopped?.code == .failedPrecondition)
        }
    }

    @Test("UpdateContainerResources whose record cannot be written fails, and the status keeps the limits recorded before")
    func updateResourcesRecordFailure() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("unrecorded")
            let id = try await fixture.runContainer(pod, "c", script: "while true; do sleep 1; done")
            _ = try await fixture.runtime.updateContainerResources(UpdateContainerResourcesRequest(
                containerID: id, linux: LinuxContainerResources(memoryLimitInBytes: 64 << 20)))
            // The container's record becomes a directory: the next write of it (a rename over it) fails.
            let record = fixture.directory.path + "/root/realms/containers/\(id).json"
            #expect(FileManager.default.fileExists(atPath: record))
            try FileManager.default.removeItem(atPath: record)
            try FileManager.default.createDirectory(atPath: record + "/blocker", withIntermediateDirectories: true)
            let failed = await statusOf {
                _ = try await fixture.runtime.updateContainerResources(UpdateContainerResourcesRequest(
                    containerID: id, linux: LinuxContainerResources(memoryLimitInBytes: 96 << 20)))
            }
            #expect(failed?.code == .internal, "the failed write reaches the client: \(String(describing: failed))")
            #expect(try await fixture.status(id).status?.resources?.linux?.memoryLimitInBytes == 64 << 20)
            try FileManager.default.removeItem(atPath: record)
        }
    }

    @Test("a created container has no process until it starts: limits set meanwhile apply when it starts, stopping it changes nothing")
    func createdContainer() async throws {
        try await PodFixture.with { fixture in
            let runtime = fixture.runtime
            let pod = try await fixture.runPod("later")
            let id = try await fixture.createContainer(pod, fixture.containerConfig("c", script: "while true; do sleep 1; done"))
            #expect(try await fixture.status(id).status?.state == .created)
            _ = try await runtime.updateContainerResources(UpdateContainerResourcesRequest(
                containerID: id, linux: LinuxContainerResources(memoryLimitInBytes: 48 << 20)))
            _ = try await runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 0))
            #expect(try await fixture.status(id).status?.state == .created, "nothing ran, nothing stopped")
            _ = try await runtime.startContainer(StartContainerRequest(containerID: id))
            #expect(try await fixture.status(id).status?.state == .running)
            let text = try String(contentsOfFile: try fixture.memoryLimitFile(pod: pod.id, container: id), encoding: .utf8)
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == String(48 << 20), "the limit set before the start applies")
        }
    }
}
