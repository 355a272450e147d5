import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("pods with a user namespace (userns_options mode POD)", .serialized)
struct UserNamespaceTests {
    static let mapping = [IDMapping(hostID: 1000, containerID: 0, length: 100000)]

    static func userNamespacePod(_ fixture: PodFixture, _ name: String, sharedPID: Bool = false) -> PodSandboxConfig {
        var config = fixture.podConfig(name)
        config.linux?.securityContext?.namespaceOptions?.pid = sharedPID ? .pod : .container
        config.linux?.securityContext?.namespaceOptions?.usernsOptions =
            UserNamespace(mode: .pod, uids: mapping, gids: mapping)
        return config
    }

    /// The realm directory's pause-child file (`userns-pid`) of the only pod's realm.
    static func holderPID(_ fixture: PodFixture) -> Int32? {
        let realms = fixture.directory.appendingPathComponent("state/realms").path
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: realms)) ?? [] {
            if let data = FileManager.default.contents(atPath: "\(realms)/\(entry)/userns-pid"),
               let pid = Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
        }
        return nil
    }

    @Test("a container of the pod sees the pod's ID mappings, its hostname, and a sysfs of the pod's network",
          arguments: ["crun", "runc"], [false, true])
    func podMappings(ociRuntime: String, sharedPID: Bool) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let config = Self.userNamespacePod(fixture, "userns", sharedPID: sharedPID)
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (id: response.podSandboxID, config: config)
            var container = fixture.containerConfig(
                "maps", script: "cat /proc/self/uid_map /proc/self/gid_map; hostname; ls /sys/class/net; id -u")
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            let id = try await fixture.createContainer(pod, container)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            let status = try await fixture.waitFor(id, state: .exited)
            #expect(status.exitCode == 0)
            let lines = fixture.logLines(fixture.logDirectory + "/userns/maps_0.log")
            let maps = lines.filter { $0.split(separator: " ").dropFirst().map(String.init) == ["0", "1000", "100000"] }
            #expect(maps.count == 2, "uid_map and gid_map are 0 1000 100000: \(lines)")
            #expect(lines.contains("stdout userns"), "the hostname is set in the pod's UTS namespace: \(lines)")
            #expect(lines.contains("stdout lo"), "sysfs of the pod's network namespace is mounted: \(lines)")
            #expect(lines.last == "stdout 0", "the container's root is ID 0 inside: \(lines)")

            // The holder of the namespaces is a child of the supervisor in the pod's user
            // namespace, and goes with the pod.
            let holder = try #require(Self.holderPID(fixture))
            let uidMap = try String(contentsOfFile: "/proc/\(holder)/uid_map", encoding: .utf8)
            #expect(uidMap.split(whereSeparator: \.isWhitespace) == ["0", "1000", "100000"])
            _ = try await fixture.runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(60))
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(holder)/uid_map") || !isLive(holder),
                    "the holder is killed with the pod")
        }
    }

    @Test("the container's root owns its root filesystem: the image's files are root's, and what it writes is too (mapped IDs on the host)",
          arguments: ["crun", "runc"])
    func rootOwnsRootfs(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let config = Self.userNamespacePod(fixture, "owner")
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (id: response.podSandboxID, config: config)
            var container = fixture.containerConfig("writer", script: """
                stat -c %u:%g /bin /etc/passwd; echo hi > /made; mkdir -p /var/made; echo extra:x:5:5::/:/bin/sh >> /etc/passwd && echo appended; stat -c %u:%g /made /var/made /etc/passwd; exec sleep 300
                """)
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            let id = try await fixture.createContainer(pod, container)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            let lines = try await fixture.waitForLog(fixture.logDirectory + "/owner/writer_0.log") { $0.count >= 6 }
            #expect(lines == ["stdout 0:0", "stdout 0:0", "stdout appended", "stdout 0:0", "stdout 0:0", "stdout 0:0"], "\(lines)")

            // On the host: the container's writes (in its upper directory) belong to the mapped
            // root (host 1000); the image's layers are untouched.
            let upper = fixture.directory.appendingPathComponent("root/containers/\(id)/upper").path
            for path in ["made", "var/made", "etc/passwd"] {
                let attributes = try FileManager.default.attributesOfItem(atPath: upper + "/" + path)
                #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == 1000, "\(path): \(attributes)")
                #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue == 1000, "\(path): \(attributes)")
            }
            // Nothing of the layers' clones stays mounted.
            let mountPoints = mountTable().compactMap { $0.split(separator: " ").dropFirst(4).first }
            #expect(mountPoints.contains { $0.hasSuffix("containers/\(id)/rootfs") })
            #expect(!mountPoints.contains { $0.contains("containers/\(id)/lower") }, "the idmapped clones are detached once the overlay is up")
            _ = try await fixture.runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 0), timeout: .seconds(60))
            _ = try await fixture.runtime.removeContainer(RemoveContainerRequest(containerID: id), timeout: .seconds(60))
            #expect(!FileManager.default.fileExists(atPath: upper))
        }
    }

    @Test("RunPodSandbox refuses two mappings, an unmapped container ID 0, modes CONTAINER and TARGET, and the host network")
    func refused() async throws {
        try await PodFixture.with { fixture in
            let two = [IDMapping(hostID: 1000, containerID: 0, length: 100000), IDMapping(hostID: 2000, containerID: 0, length: 100000)]
            let unmapped = [IDMapping(hostID: 1000, containerID: 1, length: 100000)]
            var configs: [PodSandboxConfig] = []
            for (name, options) in [
                ("two", UserNamespace(mode: .pod, uids: two, gids: two)),
                ("unmapped", UserNamespace(mode: .pod, uids: unmapped, gids: unmapped)),
                ("container", UserNamespace(mode: .container)),
                ("target", UserNamespace(mode: .target)),
            ] {
                var config = fixture.podConfig(name)
                config.linux?.securityContext?.namespaceOptions?.usernsOptions = options
                configs.append(config)
            }
            var hostNetwork = Self.userNamespacePod(fixture, "hostnet")
            hostNetwork.linux?.securityContext?.namespaceOptions?.network = .node
            configs.append(hostNetwork)
            for config in configs {
                let status = await statusOf { _ = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config)) }
                #expect(status?.code == .invalidArgument, "\(config.metadata?.name ?? ""): \(String(describing: status))")
            }
            let left = try await fixture.runtime.listPodSandbox().items
            #expect(left.isEmpty, "refused pods leave no record")
        }
    }

    @Test("a user namespace pod on a CNI network: an address on the bridge inside its own network namespace, exec works")
    func cniNetwork() async throws {
        let network = TestBridgeNetwork(name: "fasco-userns-test", bridgePrefix: "fascou", thirdOctet: 9)
        let bridge = network.bridge
        try await PodFixture.with(cniConfig: network.conflist) { fixture in
            let config = Self.userNamespacePod(fixture, "usernet")
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (id: response.podSandboxID, config: config)
            let ip = try await fixture.runtime.podSandboxStatus(PodSandboxStatusRequest(podSandboxID: pod.id)).status?.network?.ip ?? ""
            #expect(ip.hasPrefix(network.prefix), "pod IP \(ip)")
            var container = fixture.containerConfig("c", script: "while true; do sleep 1; done")
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            let id = try await fixture.createContainer(pod, container)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            let shown = try await fixture.runtime.execSync(
                ExecSyncRequest(containerID: id, cmd: ["sh", "-c", "ip -4 addr show eth0; cat /proc/self/uid_map"], timeout: 30))
            let text = String(decoding: shown.stdout, as: UTF8.self)
            #expect(shown.exitCode == 0)
            #expect(text.contains(ip), "the container sees the pod's address: \(text)")
            #expect(text.contains("1000"), "exec runs in the pod's user namespace: \(text)")
            #expect(try await network.links().count == 1, "the pod's veth is on the bridge")
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            let links = try await network.links()
            #expect(links.isEmpty, "the pod's veth is gone: \(links)")
        }
        _ = try? await runCommandAsync("/usr/sbin/ip", ["link", "del", bridge])
    }

    @Test("after kill -9 of the daemon a user namespace pod is found again and takes new containers in its namespace")
    func restart() async throws {
        let fixture = try await PodFixture()
        var second: PodFixture?
        do {
            let config = Self.userNamespacePod(fixture, "again")
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let holder = try #require(Self.holderPID(fixture))
            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()

            let restarted = try await PodFixture(directory: fixture.directory, importImage: false)
            second = restarted
            let pods = try await restarted.runtime.listPodSandbox().items
            #expect(pods.map(\.id) == [response.podSandboxID])
            #expect(pods.first?.state == .ready)
            var container = restarted.containerConfig("late", script: "cat /proc/self/uid_map")
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            let id = try await restarted.createContainer((response.podSandboxID, config), container)
            _ = try await restarted.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            _ = try await restarted.waitFor(id, state: .exited)
            let lines = restarted.logLines(restarted.logDirectory + "/again/late_0.log")
            #expect(lines.contains { $0.split(separator: " ").dropFirst().map(String.init) == ["0", "1000", "100000"] }, "\(lines)")
            _ = try await restarted.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: response.podSandboxID), timeout: .seconds(60))
            #expect(!isLive(holder), "the holder goes with the pod")
        } catch {
            Issue.record("daemon log: \((second ?? fixture).daemon.stderr.suffix(4000))")
            await (second ?? fixture).tearDown()
            throw error
        }
        await (second ?? fixture).tearDown()
    }

    @Test("PortForward and Exec reach a user namespace pod")
    func streaming() async throws {
        try await PodFixture.with { fixture in
            let config = Self.userNamespacePod(fixture, "forward")
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (id: response.podSandboxID, config: config)
            var container = fixture.containerConfig("echo", script: "exec nc -ll -p 8080 -e cat")
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            let id = try await fixture.createContainer(pod, container)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
            var forwarded = ("", "")
            for _ in 0..<50 {
                let url = try await fixture.runtime.portForward(PortForwardRequest(podSandboxID: pod.id, port: [8080])).url
                forwarded = try await StreamingTests.forward(url, port: 8080, text: "ping\n")
                if forwarded.0 == "ping\n" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(forwarded.0 == "ping\n", "\(forwarded)")
            let whoami = try await fixture.runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["cat", "/proc/self/gid_map"], timeout: 30))
            #expect(String(decoding: whoami.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace) == ["0", "1000", "100000"])
        }
    }

    @Test("a root and state under a directory others cannot traverse (like /root, 0700): refused at start-up naming it and the fix, which works")
    func untraversableParent() async throws {
        let locked = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: locked) }
        #expect(chmod(locked.path, 0o700) == 0)
        let directory = try DaemonProcess.makeDirectory(in: locked.path)
        do {
            let fixture = try await PodFixture(directory: directory)
            await fixture.tearDown()
            Issue.record("the daemon started with its root under \(locked.path) (0700)")
        } catch {}
        let log = (try? String(contentsOf: directory.appendingPathComponent("stderr.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("lies under \(locked.path) (mode 700)") && log.contains("chmod o+x \(locked.path)"), "\(log.suffix(2000))")

        // The fix it names: the same directories then serve a user namespace pod.
        #expect(chmod(locked.path, 0o711) == 0)
        try await PodFixture.with(directory: directory) { fixture in
            let config = Self.userNamespacePod(fixture, "fixed")
            let pod = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID
            let id = try await fixture.runContainer((pod, config), "c", script: "echo ok; sleep 1000")
            #expect(try await fixture.waitFor(id, state: .running).state == .running)
        }
    }

    @Test("mode NODE: the container shares the host's user namespace")
    func nodeMode() async throws {
        try await PodFixture.with { fixture in
            var config = fixture.podConfig("nodens")
            config.linux?.securityContext?.namespaceOptions?.usernsOptions = UserNamespace(mode: .node)
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let id = try await fixture.runContainer((response.podSandboxID, config), "maps", script: "cat /proc/self/uid_map")
            _ = try await fixture.waitFor(id, state: .exited)
            let host = try String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8).split(whereSeparator: \.isWhitespace)
            let lines = fixture.logLines(fixture.logDirectory + "/nodens/maps_0.log")
            #expect(lines.map { $0.split(whereSeparator: \.isWhitespace).dropFirst() }.contains { Array($0) == host }, "\(lines)")
            #expect(Self.holderPID(fixture) == nil)
        }
    }
}

/// Whether `pid` exists and is not a zombie.
private func isLive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}
