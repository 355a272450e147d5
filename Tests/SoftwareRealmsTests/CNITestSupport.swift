import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Debian's containernetworking-plugins.
let cniPluginDirectory = "/usr/lib/cni"

/// Tests against the real plugins need root, the plugins and the tools that look into namespaces.
let realCNIAvailable = runningAsRoot && FileSystem.exists("\(cniPluginDirectory)/bridge")
    && FileSystem.exists("\(cniPluginDirectory)/host-local")
    && ["unshare", "nsenter", "ip", "iptables"].allSatisfy { ProcessSpawner.resolve($0, searchPath: ProcessSpawner.defaultSearchPath) != nil }

/// Runs a command to its end (no shell).
@discardableResult
func runCommand(_ arguments: String...) async throws -> ProcessSpawner.Output {
    try await ProcessSpawner.run(arguments[0], args: Array(arguments.dropFirst()), timeout: .seconds(30))
}

/// A network namespace kept alive by `unshare --net sleep 600`; reach it as /proc/<pid>/ns/net.
struct TestNetworkNamespace {
    let pid: pid_t
    var path: String { "/proc/\(pid)/ns/net" }

    static func make() async throws -> TestNetworkNamespace {
        let child = try ProcessSpawner.spawn(.init("unshare", arguments: ["--net", "sleep", "600"], newSession: true))
        let namespace = TestNetworkNamespace(pid: child.pid)
        // unshare switches namespace before it runs sleep; wait until it has.
        let own = NamespaceIdentity.current
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let identity = NamespaceIdentity.of(namespace.path)
            if identity != nil && identity != own { return namespace }
            if ContinuousClock.now >= deadline {
                await namespace.remove()
                throw FascoError.internal("unshare --net did not make a namespace")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Kills the holder; the namespace goes with it.
    func remove() async {
        kill(pid, SIGKILL)
        _ = try? await ProcessSpawner.wait(pid)
    }

    /// `ip -4 -o addr show dev <name>` inside the namespace; nil when the interface does not exist.
    func ipv4Addresses(_ interface: String = "eth0") async throws -> String? {
        let output = try await runCommand("nsenter", "--net=\(path)", "ip", "-4", "-o", "addr", "show", "dev", interface)
        return output.exit.succeeded ? output.stdoutText : nil
    }
}

/// A network of its own for one test: a unique bridge, network name and /24, in a temporary
/// directory holding the configuration directory, the cache and host-local's allocations.
struct CNITestBed {
    let directory: String
    let bridge: String
    let name: String
    /// "10.X.Y." of the test's 10.X.Y.0/24.
    let prefix: String

    var subnet: String { prefix + "0/24" }
    var configDirectory: String { directory + "/net.d" }
    var cacheDirectory: String { directory + "/cache" }
    var ipamDirectory: String { directory + "/ipam" }

    static func make() throws -> CNITestBed {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let directory = try makeTemporaryDirectory("fasco-cni")
        try FileSystem.makeDirectories(directory + "/net.d", mode: 0o755)
        return CNITestBed(
            directory: directory, bridge: "fascot\(tag)", name: "fasco-test-\(tag)",
            prefix: "10.\(Int.random(in: 200...254)).\(Int.random(in: 0...255)).")
    }

    func network(timeout: Duration = .seconds(60), pluginDirectories: [String] = [cniPluginDirectory]) -> CNINetwork {
        CNINetwork(configDirectory: configDirectory, pluginDirectories: pluginDirectories, cacheDirectory: cacheDirectory,
                   pluginTimeout: timeout)
    }

    /// The bridge plugin with host-local IPAM on the test's /24 (optionally a narrower range).
    func bridgePlugin(ipMasq: Bool = false, rangeStart: String? = nil, rangeEnd: String? = nil) -> String {
        var range = "\"subnet\": \"\(subnet)\""
        if let rangeStart { range += ", \"rangeStart\": \"\(rangeStart)\"" }
        if let rangeEnd { range += ", \"rangeEnd\": \"\(rangeEnd)\"" }
        return """
        {"type": "bridge", "bridge": "\(bridge)", "isGateway": true, "ipMasq": \(ipMasq),
         "ipam": {"type": "host-local", "dataDir": "\(ipamDirectory)", "ranges": [[{\(range)}]], "routes": [{"dst": "0.0.0.0/0"}]}}
        """
    }

    func conflist(_ plugins: [String], version: String = "1.0.0") -> String {
        "{\"cniVersion\": \"\(version)\", \"name\": \"\(name)\", \"plugins\": [\(plugins.joined(separator: ", "))]}"
    }

    func writeConfig(_ text: String, file: String = "10-test.conflist") throws {
        try writeText(text, to: "\(configDirectory)/\(file)")
    }

    func attachment(_ namespace: TestNetworkNamespace, id: String? = nil) -> CNIAttachment {
        CNIAttachment(
            containerID: id ?? uniqueID("pod"), networkNamespace: namespace.path,
            podNamespace: "default", podName: "pod-\(namespace.pid)", podUID: "uid-\(namespace.pid)")
    }

    /// The addresses host-local holds for this network.
    func allocatedAddresses() -> [String] {
        ((try? FileSystem.list("\(ipamDirectory)/\(name)")) ?? []).filter { IPAddressText.family(of: $0) != nil }
    }

    func recordExists(_ attachment: CNIAttachment) -> Bool {
        FileSystem.exists(network().recordPath(attachment.containerID, attachment.interfaceName))
    }

    /// Detaches whatever a failed test left attached (so no iptables rules stay), then deletes
    /// the bridge and the temporary directory.
    func cleanUp() async {
        for file in (try? FileSystem.list(cacheDirectory)) ?? [] where file.hasSuffix(".json") {
            guard let record = try? CNIAttachmentRecord.read("\(cacheDirectory)/\(file)") else { continue }
            let leftover = CNIAttachment(
                containerID: record.containerID, networkNamespace: record.networkNamespace, interfaceName: record.interfaceName)
            try? await network().tearDown(leftover)
        }
        _ = try? await runCommand("ip", "link", "del", bridge)
        try? FileSystem.removeTree(directory)
    }
}

func interfaceExistsOnHost(_ name: String) async throws -> Bool {
    try await runCommand("ip", "link", "show", "dev", name).exit.succeeded
}

/// Runs `body` with a test bed and `namespaces` fresh network namespaces, and always cleans them up.
func withCNITestBed(namespaces count: Int = 1, _ body: (CNITestBed, [TestNetworkNamespace]) async throws -> Void) async throws {
    let bed = try CNITestBed.make()
    var namespaces: [TestNetworkNamespace] = []
    do {
        for _ in 0..<count { namespaces.append(try await TestNetworkNamespace.make()) }
        try await body(bed, namespaces)
    } catch {
        await bed.cleanUp()
        for namespace in namespaces { await namespace.remove() }
        throw error
    }
    await bed.cleanUp()
    for namespace in namespaces { await namespace.remove() }
}
