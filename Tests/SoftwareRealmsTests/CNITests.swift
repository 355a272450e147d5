import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("CNI with Debian's plugins", .enabled(if: realCNIAvailable, "needs root, /usr/lib/cni, unshare, nsenter, ip and iptables"))
struct CNITests {
    @Test("ADD puts an address of the subnet on eth0 in the namespace; CHECK passes; DEL removes veth, address and record")
    func addCheckDelete() async throws {
        try await withCNITestBed { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            #expect(network.readiness().ready)
            let attachment = bed.attachment(namespaces[0])

            let result = try await network.setUp(attachment)
            let ip = try #require(result.primaryIPv4)
            #expect(ip.hasPrefix(bed.prefix))
            #expect(result.primaryIPv6 == nil)
            #expect(result.ips.first?.address == "\(ip)/24")
            #expect(result.ips.first?.gateway == bed.prefix + "1")
            #expect(result.routes.map(\.destination) == ["0.0.0.0/0"])
            #expect(result.cniVersion == "1.0.0")
            let inPod = result.interfaces.filter(\.isInSandbox)
            #expect(inPod.map(\.name) == ["eth0"])
            #expect(inPod.first?.sandbox == attachment.networkNamespace)
            // The address is really configured in the pod's namespace.
            let addresses = try #require(try await namespaces[0].ipv4Addresses())
            #expect(addresses.contains("inet \(ip)/24"))
            #expect(bed.allocatedAddresses() == [ip])
            #expect(bed.recordExists(attachment))
            #expect(try network.cachedResult(containerID: attachment.containerID) == result)
            let hostVeth = try #require(result.interfaces.first { !$0.isInSandbox && $0.name != bed.bridge }?.name)
            #expect(try await interfaceExistsOnHost(hostVeth))
            #expect(try await interfaceExistsOnHost(bed.bridge))

            try await network.check(attachment)

            try await network.tearDown(attachment)
            #expect(try await namespaces[0].ipv4Addresses() == nil)
            #expect(!(try await interfaceExistsOnHost(hostVeth)))
            #expect(bed.allocatedAddresses().isEmpty)
            #expect(!bed.recordExists(attachment))
            #expect(try network.cachedResult(containerID: attachment.containerID) == nil)
            await #expect(throws: FascoError.self) { try await network.check(attachment) }
        }
    }

    @Test("two pods get different addresses of the subnet")
    func twoPods() async throws {
        try await withCNITestBed(namespaces: 2) { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let first = bed.attachment(namespaces[0])
            let second = bed.attachment(namespaces[1])
            let ip1 = try #require(try await network.setUp(first).primaryIPv4)
            let ip2 = try #require(try await network.setUp(second).primaryIPv4)
            #expect(ip1 != ip2)
            #expect(ip1.hasPrefix(bed.prefix) && ip2.hasPrefix(bed.prefix))
            #expect(try await namespaces[0].ipv4Addresses()?.contains("inet \(ip1)/24") == true)
            #expect(try await namespaces[1].ipv4Addresses()?.contains("inet \(ip2)/24") == true)
            #expect(Set(bed.allocatedAddresses()) == [ip1, ip2])
            try await network.tearDown(first)
            try await network.tearDown(second)
            #expect(bed.allocatedAddresses().isEmpty)
        }
    }

    @Test("with one address in the range: the second pod fails cleanly, and gets the address once the first is torn down")
    func addressIsFreed() async throws {
        try await withCNITestBed(namespaces: 2) { bed, namespaces in
            let only = bed.prefix + "10"
            try bed.writeConfig(bed.conflist([bed.bridgePlugin(rangeStart: only, rangeEnd: only)]))
            let network = bed.network()
            let first = bed.attachment(namespaces[0])
            let second = bed.attachment(namespaces[1])
            #expect(try await network.setUp(first).primaryIPv4 == only)

            // The pool is exhausted: host-local's message comes through, and the failed ADD is
            // undone (no interface left in the namespace, no record).
            await #expect {
                _ = try await network.setUp(second)
            } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.message.contains("CNI plugin bridge ADD") && error.message.contains("no IP addresses available")
            }
            #expect(!bed.recordExists(second))
            #expect(try await namespaces[1].ipv4Addresses() == nil)
            #expect(try await runCommand("nsenter", "--net=\(namespaces[1].path)", "ip", "link", "show", "eth0").exit != .exited(0))

            try await network.tearDown(first)
            #expect(bed.allocatedAddresses().isEmpty)
            #expect(try await network.setUp(second).primaryIPv4 == only)
            #expect(try await namespaces[1].ipv4Addresses()?.contains("inet \(only)/24") == true)
            try await network.tearDown(second)
        }
    }

    @Test("DEL is idempotent: never attached, and twice in a row, both succeed")
    func deleteIsIdempotent() async throws {
        try await withCNITestBed { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let attachment = bed.attachment(namespaces[0])
            try await network.tearDown(attachment)
            _ = try await network.setUp(attachment)
            try await network.tearDown(attachment)
            try await network.tearDown(attachment)
            #expect(bed.allocatedAddresses().isEmpty)
            // With no configuration at all, DEL of something never attached still succeeds.
            try FileSystem.removeTree(bed.configDirectory)
            try await network.tearDown(attachment)
        }
    }

    @Test("a second ADD of the same attachment is refused and leaves the first intact")
    func secondAddRefused() async throws {
        try await withCNITestBed { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let attachment = bed.attachment(namespaces[0])
            let ip = try #require(try await network.setUp(attachment).primaryIPv4)
            await #expect { _ = try await network.setUp(attachment) } throws: { FascoError.Code.alreadyExists.matches($0) }
            #expect(try await namespaces[0].ipv4Addresses()?.contains("inet \(ip)/24") == true)
            try await network.tearDown(attachment)
        }
    }

    @Test("DEL after the namespace is gone succeeds and frees the address")
    func deleteAfterNamespaceGone() async throws {
        try await withCNITestBed { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let attachment = bed.attachment(namespaces[0])
            let result = try await network.setUp(attachment)
            let hostVeth = try #require(result.interfaces.first { !$0.isInSandbox && $0.name != bed.bridge }?.name)
            await namespaces[0].remove()
            #expect(!FileSystem.exists(attachment.networkNamespace))

            try await network.tearDown(attachment)
            #expect(bed.allocatedAddresses().isEmpty)
            #expect(!bed.recordExists(attachment))
            #expect(!(try await interfaceExistsOnHost(hostVeth)))
            try await network.tearDown(attachment)
        }
    }

    @Test("DEL through a path that now names another namespace does not touch that namespace")
    func deleteWithReplacedNamespace() async throws {
        try await withCNITestBed(namespaces: 2) { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let first = bed.attachment(namespaces[0])
            let second = bed.attachment(namespaces[1])
            _ = try await network.setUp(first)
            let ip2 = try #require(try await network.setUp(second).primaryIPv4)

            // As if the first pod's supervisor had died and its PID now belonged to the second's.
            var misdirected = first
            misdirected.networkNamespace = namespaces[1].path
            try await network.tearDown(misdirected)
            #expect(try await namespaces[1].ipv4Addresses()?.contains("inet \(ip2)/24") == true)
            #expect(bed.allocatedAddresses() == [ip2])
            #expect(!bed.recordExists(first))
            try await network.tearDown(second)
        }
    }

    @Test("DEL uses the configuration the ADD used, even after the configuration directory changed")
    func deleteUsesCachedConfiguration() async throws {
        try await withCNITestBed { bed, namespaces in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]))
            let network = bed.network()
            let attachment = bed.attachment(namespaces[0])
            let ip = try #require(try await network.setUp(attachment).primaryIPv4)
            // Replace the configuration by one whose plugin does not exist.
            try FileSystem.removeTree("\(bed.configDirectory)/10-test.conflist")
            try bed.writeConfig(bed.conflist(["{\"type\": \"no-such-plugin\"}"]), file: "00-other.conflist")
            #expect(!network.readiness().ready)
            #expect(try await namespaces[0].ipv4Addresses()?.contains("inet \(ip)/24") == true)
            try await network.tearDown(attachment)
            #expect(try await namespaces[0].ipv4Addresses() == nil)
            #expect(bed.allocatedAddresses().isEmpty)
        }
    }

    @Test("a plugin's error object becomes the thrown message; nothing stays attached")
    func pluginError() async throws {
        try await withCNITestBed { bed, namespaces in
            let broken = """
            {"type": "bridge", "bridge": "\(bed.bridge)", "ipam": {"type": "host-local", "dataDir": "\(bed.ipamDirectory)", "ranges": [[{"subnet": "not-a-subnet"}]]}}
            """
            try bed.writeConfig(bed.conflist([broken]))
            let network = bed.network()
            #expect(network.readiness().ready)  // the plugins exist; only running them tells
            let attachment = bed.attachment(namespaces[0])
            await #expect {
                _ = try await network.setUp(attachment)
            } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.message.contains("CNI plugin bridge ADD") && error.message.contains("not-a-subnet")
            }
            #expect(!bed.recordExists(attachment))
            #expect(try await namespaces[0].ipv4Addresses() == nil)
        }
    }

    @Test("readiness: no directory, an empty one, bad JSON, an unknown plugin type; the first file decides")
    func readiness() async throws {
        try await withCNITestBed(namespaces: 1) { bed, namespaces in
            let network = bed.network()
            let attachment = bed.attachment(namespaces[0])
            func notReady(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
                let state = network.readiness()
                #expect(!state.ready, sourceLocation: sourceLocation)
                #expect(state.reason == "NetworkPluginNotReady", sourceLocation: sourceLocation)
                #expect(state.message.contains(fragment), "\(state.message)", sourceLocation: sourceLocation)
            }

            try FileSystem.removeTree(bed.configDirectory)
            notReady("no network configuration")
            try FileSystem.makeDirectories(bed.configDirectory, mode: 0o755)
            notReady("no network configuration")
            try writeText("not a config", to: "\(bed.configDirectory)/README")
            notReady("no network configuration")
            await #expect { _ = try await network.setUp(attachment) } throws: { error in
                FascoError.Code.failedPrecondition.matches(error) && "\(error)".contains("no network configuration")
            }

            try bed.writeConfig("{\"cniVersion\": \"1.0.0\", \"name\": ", file: "50-bad.conflist")
            notReady("50-bad.conflist is not valid JSON")
            await #expect { _ = try await network.setUp(attachment) } throws: { error in
                FascoError.Code.failedPrecondition.matches(error) && "\(error)".contains("not valid JSON")
            }

            // A valid configuration sorting first wins over the broken one.
            try bed.writeConfig(bed.conflist([bed.bridgePlugin()]), file: "40-good.conf")
            #expect(network.readiness() == (true, "", ""))

            try bed.writeConfig(bed.conflist([bed.bridgePlugin(), "{\"type\": \"fasco-no-such-plugin\"}"]), file: "30-unknown.json")
            notReady("fasco-no-such-plugin")
            await #expect { _ = try await network.setUp(attachment) } throws: { error in
                FascoError.Code.failedPrecondition.matches(error) && "\(error)".contains("fasco-no-such-plugin")
            }
            #expect(!bed.recordExists(attachment))

            try bed.writeConfig("{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": []}", file: "20-empty.conflist")
            notReady("\"plugins\" is empty")
            try bed.writeConfig(
                "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"type\": \"bridge\", \"ipam\": {\"type\": \"fasco-no-ipam\"}}",
                file: "10-single.conf")
            notReady("fasco-no-ipam")
            try writeText("{}", to: "\(bed.configDirectory)/.05-hidden.conflist")
            notReady("fasco-no-ipam")
        }
    }

    @Test("deploy/cni/10-fasco.conflist: bridge, portmap and firewall set up a port mapping and rules that DEL removes")
    func shippedConfiguration() async throws {
        let path = shippedConfigurationPath
        let bytes = try #require(try FileSystem.read(path))
        let shipped = try CNINetworkConfig.parse(bytes, source: path)
        #expect(shipped.name == "fasco")
        #expect(shipped.cniVersion == "1.0.0")
        // portmap 1.1.1's CHECK looks for IPv6 rules an IPv4-only pod never gets
        // (containernetworking/plugins#819): the case disableCheck exists for.
        #expect(shipped.disableCheck)
        #expect(shipped.pluginTypes == ["bridge", "portmap", "firewall"])
        let bridge = try #require(shipped.plugins.first)
        #expect(bridge["bridge"] == .string("fasco0"))
        #expect(bridge["isGateway"] == .bool(true) && bridge["ipMasq"] == .bool(true))
        #expect(bridge["ipam"]?["type"] == .string("host-local"))
        #expect(bridge["ipam"]?["ranges"] == .array([.array([.object(["subnet": .string("10.88.0.0/16")])])]))
        #expect(bridge["ipam"]?["routes"] == .array([.object(["dst": .string("0.0.0.0/0")])]))
        #expect(shipped.plugins[1]["capabilities"] == .object(["portMappings": .bool(true)]))
        for type in shipped.requiredExecutables { #expect(FileSystem.exists("\(cniPluginDirectory)/\(type)"), "\(type)") }

        try await withCNITestBed { bed, namespaces in
            // The same chain on the test's own bridge, subnet, name and IPAM directory.
            var plugins = shipped.plugins
            plugins[0]["bridge"] = .string(bed.bridge)
            var ipam = plugins[0]["ipam"]?.objectValue ?? [:]
            ipam["ranges"] = .array([.array([.object(["subnet": .string(bed.subnet)])])])
            ipam["dataDir"] = .string(bed.ipamDirectory)
            plugins[0]["ipam"] = .object(ipam)
            let list = JSONValue.object([
                "cniVersion": .string("1.0.0"), "name": .string(bed.name), "disableCheck": .bool(shipped.disableCheck),
                "plugins": .array(plugins.map(JSONValue.object)),
            ])
            try bed.writeConfig(String(decoding: try list.encoded(), as: UTF8.self))
            let network = bed.network()
            var attachment = bed.attachment(namespaces[0])
            let hostPort = Int32.random(in: 20000...29999)
            attachment.portMappings = [CNIPortMapping(hostPort: hostPort, containerPort: 80), CNIPortMapping(hostPort: 0, containerPort: 81)]

            let ip = try #require(try await network.setUp(attachment).primaryIPv4)
            #expect(ip.hasPrefix(bed.prefix))
            let nat = try await runCommand("iptables", "-t", "nat", "-S").stdoutText
            #expect(nat.contains("--dport \(hostPort) -j DNAT --to-destination \(ip):80"))
            #expect(!nat.contains("\(ip):81"))
            #expect(nat.contains(bed.name))  // ipMasq's rules carry the network name
            let filter = try await runCommand("iptables", "-S").stdoutText
            #expect(filter.contains("-s \(ip)/32 -j ACCEPT"))  // the firewall plugin's forwarding rule
            try await network.check(attachment)  // disabled: succeeds without running the plugins

            try await network.tearDown(attachment)
            let natAfter = try await runCommand("iptables", "-t", "nat", "-S").stdoutText
            let filterAfter = try await runCommand("iptables", "-S").stdoutText
            #expect(!natAfter.contains("\(ip)/32") && !natAfter.contains("\(ip):80") && !natAfter.contains(bed.name))
            #expect(!natAfter.contains(attachment.containerID))
            #expect(!filterAfter.contains("\(ip)/32"))
            #expect(bed.allocatedAddresses().isEmpty)
        }
    }
}

/// deploy/cni/10-fasco.conflist of this checkout.
let shippedConfigurationPath: String = {
    var path = #filePath
    for _ in 0..<3 { path = FileSystem.parent(of: path) }
    return path + "/deploy/cni/10-fasco.conflist"
}()
