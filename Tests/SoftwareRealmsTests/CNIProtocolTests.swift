import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Plugins written as shell scripts that record what they were given (stdin and CNI_*
/// variables) and print canned answers: what the client sends is checked exactly.
struct FakePlugins {
    let directory: String
    var binDirectory: String { directory + "/bin" }
    var logDirectory: String { directory + "/log" }
    var configDirectory: String { directory + "/net.d" }
    var cacheDirectory: String { directory + "/cache" }

    static func make() throws -> FakePlugins {
        let plugins = FakePlugins(directory: try makeTemporaryDirectory("fasco-cni-fake"))
        for sub in [plugins.binDirectory, plugins.logDirectory, plugins.configDirectory] {
            try FileSystem.makeDirectories(sub, mode: 0o755)
        }
        try writeText("", to: plugins.logDirectory + "/calls")
        return plugins
    }

    func network(timeout: Duration = .seconds(30), outputLimit: Int = 1 << 20) -> CNINetwork {
        CNINetwork(configDirectory: configDirectory, pluginDirectories: [binDirectory, directory + "/no-such-dir"],
                   cacheDirectory: cacheDirectory, pluginTimeout: timeout, outputLimit: outputLimit)
    }

    /// A plugin that logs each call as "<type> <command>" and its input as <n>.json / <n>.env,
    /// then runs `body` (which may print a result, fail, sleep...).
    func install(_ type: String, body: String) throws {
        let script = """
        #!/bin/sh
        log=\(logDirectory)
        n=$(( $(wc -l < "$log/calls") ))
        echo "\(type) $CNI_COMMAND" >> "$log/calls"
        cat > "$log/$n.json"
        env | grep '^CNI_' | sort > "$log/$n.env"
        \(body)
        """
        try writeText(script, to: "\(binDirectory)/\(type)", mode: 0o755)
    }

    /// A plugin that prints `result` on ADD and a 1.0.0 VERSION answer, and nothing otherwise.
    func installRecorder(_ type: String, result: String) throws {
        try writeText(result, to: "\(directory)/\(type).result")
        try install(type, body: """
        case "$CNI_COMMAND" in
        ADD) cat "\(directory)/\(type).result" ;;
        VERSION) echo '{"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]}' ;;
        esac
        """)
    }

    func writeConfig(_ text: String, file: String = "10-fake.conflist") throws {
        try writeText(text, to: "\(configDirectory)/\(file)")
    }

    func calls() throws -> [String] {
        (try readText(logDirectory + "/calls") ?? "").split(separator: "\n").map(String.init)
    }

    func request(_ index: Int) throws -> JSONValue {
        try JSONValue.parse(try #require(try FileSystem.read("\(logDirectory)/\(index).json")), what: "request \(index)")
    }

    func environment(_ index: Int) throws -> [String: String] {
        var variables: [String: String] = [:]
        for line in (try readText("\(logDirectory)/\(index).env") ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2 { variables[String(parts[0])] = String(parts[1]) }
        }
        return variables
    }

    func cleanUp() { try? FileSystem.removeTree(directory) }
}

/// Runs `body` with fake plugins and a network namespace (the client insists on a real one).
func withFakePlugins(_ body: (FakePlugins, TestNetworkNamespace) async throws -> Void) async throws {
    let plugins = try FakePlugins.make()
    let namespace: TestNetworkNamespace
    do {
        namespace = try await TestNetworkNamespace.make()
    } catch {
        plugins.cleanUp()
        throw error
    }
    do {
        try await body(plugins, namespace)
    } catch {
        await namespace.remove()
        plugins.cleanUp()
        throw error
    }
    await namespace.remove()
    plugins.cleanUp()
}

private let resultA = """
{"cniVersion": "1.0.0", "interfaces": [{"name": "br0"}, {"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/x"}],
 "ips": [{"address": "10.9.0.5/24", "gateway": "10.9.0.1", "interface": 1}], "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}
"""
private let resultB = """
{"cniVersion": "1.0.0", "interfaces": [{"name": "br0"}, {"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/x"}],
 "ips": [{"address": "10.9.0.5/24", "gateway": "10.9.0.1", "interface": 1}, {"address": "fd00:9::5/64", "interface": 1}],
 "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.9.0.1"], "search": ["example.test"]}, "pluginSpecific": {"kept": true}}
"""

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8), what: "test JSON") }

@Suite("CNI protocol (scripted plugins)", .enabled(if: runningAsRoot && FileSystem.exists("/usr/bin/unshare"), "needs root and unshare"))
struct CNIProtocolTests {
    @Test("ADD chains plugins: name and cniVersion injected, runtimeConfig only for declared capabilities, prevResult passed on")
    func addChain() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.installRecorder("fake-a", result: resultA)
            try plugins.installRecorder("fake-b", result: resultB)
            try plugins.installRecorder("fake-c", result: resultB)
            try plugins.writeConfig("""
            {"cniVersion": "1.0.0", "name": "chain", "plugins": [
              {"type": "fake-a", "capabilities": {"portMappings": true, "bandwidth": false}, "custom": {"k": [1, 2.5, "x", null]},
               "cni.dev/reserved": 1, "name": "ignored", "cniVersion": "0.1.0"},
              {"type": "fake-b", "capabilities": {"bandwidth": true}},
              {"type": "fake-c"}
            ]}
            """)
            let network = plugins.network()
            let attachment = CNIAttachment(
                containerID: "pod-1", networkNamespace: namespace.path, podNamespace: "ns", podName: "web", podUID: "u-1",
                portMappings: [
                    CNIPortMapping(hostPort: 8080, containerPort: 80, protocol: "TCP", hostIP: "127.0.0.1"),
                    CNIPortMapping(hostPort: 0, containerPort: 81),
                ],
                bandwidth: CNIBandwidth(ingressRate: 1000, egressRate: 2000))

            let result = try await network.setUp(attachment)
            #expect(try plugins.calls() == ["fake-a ADD", "fake-b ADD", "fake-c ADD"])
            #expect(result == (try CNIResult.parse(json(resultB), configVersion: .v1_0_0)))
            #expect(result.primaryIPv4 == "10.9.0.5")
            #expect(result.primaryIPv6 == "fd00:9::5")
            #expect(result.podIPs == ["10.9.0.5", "fd00:9::5"])
            #expect(result.dns.search == ["example.test"])

            let first = try plugins.request(0)
            #expect(first["type"] == .string("fake-a"))
            #expect(first["name"] == .string("chain"))
            #expect(first["cniVersion"] == .string("1.0.0"))
            #expect(first["custom"] == .object(["k": .array([.integer(1), .number(2.5), .string("x"), .null])]))
            #expect(first["capabilities"] == nil)
            #expect(first["cni.dev/reserved"] == nil)
            #expect(first["prevResult"] == nil)
            #expect(first["runtimeConfig"] == .object(["portMappings": .array([.object([
                "hostPort": .integer(8080), "containerPort": .integer(80), "protocol": .string("tcp"), "hostIP": .string("127.0.0.1"),
            ])])]))
            let second = try plugins.request(1)
            #expect(second["prevResult"] == (try json(resultA)))
            #expect(second["runtimeConfig"] == .object(["bandwidth": .object(["ingressRate": .integer(1000), "egressRate": .integer(2000)])]))
            let third = try plugins.request(2)
            #expect(third["prevResult"] == (try json(resultB)))
            #expect(third["runtimeConfig"] == nil)

            let environment = try plugins.environment(0)
            #expect(environment["CNI_COMMAND"] == "ADD")
            #expect(environment["CNI_CONTAINERID"] == "pod-1")
            #expect(environment["CNI_NETNS"] == namespace.path)
            #expect(environment["CNI_IFNAME"] == "eth0")
            #expect(environment["CNI_PATH"] == "\(plugins.binDirectory):\(plugins.directory)/no-such-dir")
            #expect(environment["CNI_ARGS"]
                    == "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=pod-1;K8S_POD_UID=u-1")

            // CHECK in chain order, DEL in reverse, each with the final result and the cached arguments.
            try await network.check(attachment)
            try FileSystem.removeTree(plugins.configDirectory)
            var bare = attachment
            bare.portMappings = []
            bare.bandwidth = nil
            try await network.tearDown(bare)
            #expect(try plugins.calls() == [
                "fake-a ADD", "fake-b ADD", "fake-c ADD", "fake-a CHECK", "fake-b CHECK", "fake-c CHECK",
                "fake-c DEL", "fake-b DEL", "fake-a DEL",
            ])
            for index in 3...8 {
                #expect(try plugins.request(index)["prevResult"] == (try json(resultB)), "call \(index)")
                #expect(try plugins.environment(index)["CNI_NETNS"] == namespace.path)
                #expect(try plugins.environment(index)["CNI_ARGS"] == environment["CNI_ARGS"])
            }
            #expect(try plugins.request(8)["runtimeConfig"] == first["runtimeConfig"])
            #expect(try plugins.environment(8)["CNI_COMMAND"] == "DEL")
            #expect(try network.cachedResult(containerID: "pod-1") == nil)
        }
    }

    @Test("a plugin's error object becomes the error, with its code; what ran is undone in reverse")
    func pluginErrorUndoes() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.installRecorder("fake-a", result: resultA)
            try plugins.install("fake-b", body: """
            if [ "$CNI_COMMAND" = ADD ]; then
              echo '{"cniVersion": "1.0.0", "code": 7, "msg": "Invalid Configuration", "details": "Network 192.168.0.0/31 too small"}'
              echo 'some log line' >&2
              exit 1
            fi
            """)
            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-a"}, {"type": "fake-b"}]}"#)
            let network = plugins.network()
            let attachment = CNIAttachment(containerID: "pod-2", networkNamespace: namespace.path)
            await #expect {
                _ = try await network.setUp(attachment)
            } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .failedPrecondition && error.message.contains("CNI plugin fake-b ADD for pod-2 failed")
                    && error.message.contains("Invalid Configuration: Network 192.168.0.0/31 too small (CNI error code 7)")
                    && error.message.contains("some log line") && !error.message.contains("undoing")
            }
            #expect(try plugins.calls() == ["fake-a ADD", "fake-b ADD", "fake-b DEL", "fake-a DEL"])
            #expect(try plugins.request(2)["prevResult"] == (try json(resultA)))
            #expect(!FileSystem.exists(network.recordPath("pod-2", "eth0")))
        }
    }

    @Test("error codes map to Fasco codes; a plugin without an error object is reported by its stderr and exit")
    func errorShapes() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.install("fake-busy", body: """
            [ "$CNI_COMMAND" = ADD ] && { echo '{"code": 11, "msg": "try again later"}'; exit 1; }
            exit 0
            """)
            try plugins.install("fake-crash", body: """
            [ "$CNI_COMMAND" = ADD ] && { echo 'panic: something broke' >&2; exit 2; }
            exit 0
            """)
            try plugins.install("fake-silent", body: "exit 0")
            try plugins.install("fake-garbage", body: "[ \"$CNI_COMMAND\" = ADD ] && echo 'not json'; exit 0")
            try plugins.install("fake-badresult", body: """
            [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5"}]}'
            exit 0
            """)
            try plugins.install("fake-undo-fails", body: """
            [ "$CNI_COMMAND" = ADD ] && { echo '{"code": 999, "msg": "add broke"}'; exit 1; }
            echo '{"code": 999, "msg": "del broke too"}'; exit 1
            """)
            let cases: [(String, FascoError.Code, [String])] = [
                ("fake-busy", .unavailable, ["try again later (CNI error code 11)"]),
                ("fake-crash", .internal, ["failed with exit status 2", "panic: something broke"]),
                ("fake-silent", .internal, ["succeeded without printing a result"]),
                ("fake-garbage", .internal, ["not JSON", "not json"]),
                ("fake-badresult", .internal, ["is not an address in CIDR notation"]),
                ("fake-undo-fails", .internal, ["add broke", "undoing the attachment failed too", "del broke too"]),
            ]
            for (type, code, fragments) in cases {
                try FileSystem.removeTree(plugins.configDirectory + "/10-fake.conflist")
                try plugins.writeConfig("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"type\": \"\(type)\"}]}")
                let network = plugins.network()
                let attachment = CNIAttachment(containerID: "pod-\(type)", networkNamespace: namespace.path)
                await #expect("\(type)") {
                    _ = try await network.setUp(attachment)
                } throws: { error in
                    guard let error = error as? FascoError else { return false }
                    return error.code == code && fragments.allSatisfy { error.message.contains($0) }
                }
                #expect(!FileSystem.exists(network.recordPath(attachment.containerID, "eth0")), "\(type)")
            }
        }
    }

    @Test("a hanging plugin is killed at the timeout; one that prints too much fails")
    func timeoutAndOutputBound() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.install("fake-slow", body: "[ \"$CNI_COMMAND\" = ADD ] && sleep 30; exit 0")
            try plugins.install("fake-loud", body: "[ \"$CNI_COMMAND\" = ADD ] && yes | head -c 300000; exit 0")
            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-slow"}]}"#)
            let attachment = CNIAttachment(containerID: "pod-slow", networkNamespace: namespace.path)
            await #expect {
                _ = try await plugins.network(timeout: .milliseconds(500)).setUp(attachment)
            } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .deadlineExceeded && error.message.contains("CNI plugin fake-slow ADD for pod-slow")
                    && error.message.contains("did not finish")
            }
            #expect(try plugins.calls() == ["fake-slow ADD", "fake-slow DEL"])

            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-loud"}]}"#, file: "00-loud.conflist")
            await #expect {
                _ = try await plugins.network(outputLimit: 100_000).setUp(CNIAttachment(containerID: "pod-loud", networkNamespace: namespace.path))
            } throws: { error in
                (error as? FascoError)?.message.contains("printed more than 100000 bytes") == true
            }
        }
    }

    @Test("cniVersions: the highest version every plugin supports is used, and kept for DEL")
    func versionSelection() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.installRecorder("fake-a", result: resultA)
            try plugins.writeConfig("""
            {"cniVersion": "0.4.0", "cniVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"], "name": "v", "plugins": [{"type": "fake-a"}]}
            """)
            let network = plugins.network()
            let attachment = CNIAttachment(containerID: "pod-v", networkNamespace: namespace.path)
            _ = try await network.setUp(attachment)
            #expect(try plugins.calls() == ["fake-a VERSION", "fake-a ADD"])
            #expect(try plugins.environment(0)["CNI_COMMAND"] == "VERSION")
            #expect(try plugins.request(0) == .object(["cniVersion": .string("1.1.0")]))
            #expect(try plugins.request(1)["cniVersion"] == .string("1.0.0"))
            try plugins.writeConfig(#"{"cniVersion": "1.1.0", "name": "v", "plugins": [{"type": "fake-a"}]}"#, file: "00-newer.conflist")
            try await network.tearDown(attachment)
            #expect(try plugins.request(2)["cniVersion"] == .string("1.0.0"))
        }
    }

    @Test("version 0.3.1: no CHECK, no prevResult on DEL; disableCheck skips the plugins; CHECK of an unknown pod is NOT_FOUND")
    func checkRules() async throws {
        try await withFakePlugins { plugins, namespace in
            let legacy = #"{"cniVersion": "0.3.1", "ips": [{"version": "4", "address": "10.9.0.7/24", "gateway": "10.9.0.1"}]}"#
            try plugins.installRecorder("fake-a", result: legacy)
            try plugins.writeConfig(#"{"cniVersion": "0.3.1", "name": "old", "plugins": [{"type": "fake-a"}, {"type": "fake-a"}]}"#)
            let network = plugins.network()
            let attachment = CNIAttachment(containerID: "pod-old", networkNamespace: namespace.path)
            #expect(try await network.setUp(attachment).primaryIPv4 == "10.9.0.7")
            await #expect { try await network.check(attachment) } throws: { FascoError.Code.unimplemented.matches($0) }
            try await network.tearDown(attachment)
            #expect(try plugins.calls() == ["fake-a ADD", "fake-a ADD", "fake-a DEL", "fake-a DEL"])
            #expect(try plugins.request(1)["prevResult"] == (try json(legacy)))
            #expect(try plugins.request(2)["prevResult"] == nil)

            try plugins.writeConfig(
                #"{"cniVersion": "1.0.0", "name": "nocheck", "disableCheck": true, "plugins": [{"type": "fake-a"}]}"#, file: "00-nocheck.conflist")
            let other = CNIAttachment(containerID: "pod-nocheck", networkNamespace: namespace.path)
            _ = try await network.setUp(other)
            try await network.check(other)
            #expect(try plugins.calls().count == 5)
            await #expect { try await network.check(CNIAttachment(containerID: "pod-unknown", networkNamespace: namespace.path)) } throws: {
                FascoError.Code.notFound.matches($0)
            }
            try await network.tearDown(other)
        }
    }

    @Test("invalid attachments are refused before any plugin runs, the daemon's own namespace included")
    func invalidAttachments() async throws {
        try await withFakePlugins { plugins, namespace in
            try plugins.installRecorder("fake-a", result: resultA)
            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-a"}]}"#)
            let network = plugins.network()
            let invalid: [CNIAttachment] = [
                CNIAttachment(containerID: "../escape", networkNamespace: namespace.path),
                CNIAttachment(containerID: "", networkNamespace: namespace.path),
                CNIAttachment(containerID: "ok", networkNamespace: namespace.path, interfaceName: "much-too-long-name0"),
                CNIAttachment(containerID: "ok", networkNamespace: namespace.path, interfaceName: "a/b"),
                CNIAttachment(containerID: "ok", networkNamespace: namespace.path, podName: "a;b=c"),
                CNIAttachment(containerID: "ok", networkNamespace: "relative/path"),
                CNIAttachment(containerID: "ok", networkNamespace: "/proc/self/ns/net"),
                CNIAttachment(containerID: "ok", networkNamespace: plugins.directory + "/no-such-namespace"),
                CNIAttachment(containerID: "ok", networkNamespace: plugins.configDirectory),
                CNIAttachment(containerID: "ok", networkNamespace: namespace.path, portMappings: [CNIPortMapping(hostPort: 70000, containerPort: 80)]),
                CNIAttachment(containerID: "ok", networkNamespace: namespace.path, portMappings: [CNIPortMapping(hostPort: 80, containerPort: 80, protocol: "icmp")]),
            ]
            for attachment in invalid {
                await #expect("\(attachment)") { _ = try await network.setUp(attachment) } throws: {
                    FascoError.Code.invalidArgument.matches($0)
                }
            }
            #expect(try plugins.calls().isEmpty)
        }
    }
}
