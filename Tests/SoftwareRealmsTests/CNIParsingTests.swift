import FascoCore
import FoundationEssentials
@testable import SoftwareRealms
import Testing

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8), what: "test JSON") }

private func config(_ text: String, source: String = "/etc/cni/net.d/10-x.conflist") throws -> CNINetworkConfig {
    try CNINetworkConfig.parse(Array(text.utf8), source: source)
}

@Suite("CNI results, configurations and arguments")
struct CNIParsingTests {
    @Test("a 0.2.0 result (ip4/ip6 objects) is read into the same shape")
    func legacyResult() throws {
        let result = try CNIResult.parse(json("""
        {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/16", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}]},
         "ip6": {"ip": "fd00::5/64"}, "dns": {"nameservers": ["10.1.0.1"], "domain": "cluster.local"}}
        """), configVersion: .v1_0_0)
        #expect(result.cniVersion == "0.2.0")
        #expect(result.ips == [CNIResult.IPConfig(address: "10.1.0.5/16", gateway: "10.1.0.1"), CNIResult.IPConfig(address: "fd00::5/64")])
        #expect(result.routes == [CNIResult.Route(destination: "0.0.0.0/0", gateway: "10.1.0.1")])
        #expect(result.dns == CNIResult.DNS(nameservers: ["10.1.0.1"], domain: "cluster.local"))
        #expect(result.primaryIPv4 == "10.1.0.5")
        #expect(result.primaryIPv6 == "fd00::5")
    }

    @Test("0.3.1 and 0.4.0 results: the per-IP version is ignored; the pod's interface decides the primary address")
    func modernResult() throws {
        for version in ["0.3.1", "0.4.0"] {
            let result = try CNIResult.parse(json("""
            {"cniVersion": "\(version)",
             "interfaces": [{"name": "cni0", "mac": "00:11:22:33:44:55"}, {"name": "eth0", "mtu": 1450, "sandbox": "/var/run/netns/blue"}],
             "ips": [{"version": "4", "address": "192.168.9.1/24", "interface": 0},
                     {"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 1}],
             "routes": [{"dst": "10.0.0.0/8", "gw": "10.1.0.254", "priority": 5}]}
            """), configVersion: .v0_4_0)
            #expect(result.cniVersion == version)
            #expect(result.interfaces[1] == CNIResult.Interface(name: "eth0", mtu: 1450, sandbox: "/var/run/netns/blue"))
            #expect(result.ips.count == 2)
            #expect(result.podIPs == ["10.1.0.5"])
            #expect(result.primaryIPv4 == "10.1.0.5")
            #expect(result.primaryIPv6 == nil)
            #expect(result.routes == [CNIResult.Route(destination: "10.0.0.0/8", gateway: "10.1.0.254", priority: 5)])
        }
    }

    @Test("a result without cniVersion is read as the configuration's version")
    func resultVersionFromConfiguration() throws {
        let legacy = try CNIResult.parse(json(#"{"ip4": {"ip": "10.1.0.5/16"}}"#), configVersion: try #require(CNIVersion("0.2.0")))
        #expect(legacy.primaryIPv4 == "10.1.0.5")
        #expect(legacy.cniVersion == "0.2.0")
    }

    @Test("invalid results are refused with the field named", arguments: [
        (#"[1]"#, "not a JSON object"),
        (#"{"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5"}]}"#, "ips[0].address"),
        (#"{"cniVersion": "1.0.0", "ips": [{"address": "300.1.0.5/16"}]}"#, "ips[0].address"),
        (#"{"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/33"}]}"#, "ips[0].address"),
        (#"{"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/16", "interface": 2}]}"#, "not an index into interfaces"),
        (#"{"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/16", "gateway": "x"}]}"#, "ips[0].gateway"),
        (#"{"cniVersion": "1.0.0", "ips": {"address": "10.1.0.5/16"}}"#, "ips is an object, not a list"),
        (#"{"cniVersion": "1.0.0", "routes": [{"gw": "10.1.0.1"}]}"#, "routes[0].dst"),
        (#"{"cniVersion": "1.0.0", "interfaces": [{"mac": "x"}]}"#, "interfaces[0] has no name"),
        (#"{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mtu": -1}]}"#, "interfaces[0].mtu"),
        (#"{"cniVersion": "1.0.0", "dns": {"nameservers": [1]}}"#, "dns.nameservers[0]"),
        (#"{"cniVersion": 1}"#, "cniVersion 1 is not a version"),
        (#"{"cniVersion": "0.2.0", "ip4": {"gateway": "10.1.0.1"}}"#, "ip4 has no ip"),
    ])
    func invalidResults(text: String, fragment: String) throws {
        #expect { _ = try CNIResult.parse(json(text), configVersion: .v1_0_0) } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test("CNIResult encodes as the 1.0.0 shape and decodes back")
    func resultCodable() throws {
        let result = CNIResult(
            cniVersion: "1.0.0", interfaces: [CNIResult.Interface(name: "eth0", sandbox: "/x")],
            ips: [CNIResult.IPConfig(address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 0)],
            routes: [CNIResult.Route(destination: "0.0.0.0/0")], dns: CNIResult.DNS(nameservers: ["10.1.0.1"]))
        let encoded = try JSONValue.parse(Array(try JSONEncoder().encode(result)), what: "encoded result")
        #expect(encoded["routes"] == .array([.object(["dst": .string("0.0.0.0/0")])]))
        #expect(try CNIResult.parse(encoded, configVersion: .v1_0_0) == result)
    }

    @Test("JSON values keep integers, numbers, nesting and unknown keys as they were")
    func jsonRoundTrip() throws {
        let text = #"{"a":[1,-2,2.5,1e300,true,false,null,"s\u00e9\n"],"b":{"c":{}},"big":9223372036854775807,"url":"http://x/y"}"#
        let value = try json(text)
        #expect(value["a"] == .array([.integer(1), .integer(-2), .number(2.5), .number(1e300), .bool(true), .bool(false), .null, .string("sé\n")]))
        #expect(value["big"] == .integer(Int64.max))
        #expect(try json(String(decoding: value.encoded(), as: UTF8.self)) == value)
        #expect(String(decoding: try JSONValue.object(["url": .string("http://x/y")]).encoded(), as: UTF8.self) == #"{"url":"http://x/y"}"#)
        // A repeated key keeps one value instead of failing or crashing.
        #expect(try json(#"{"k": 1, "k": 2}"#)["k"] != nil)
        #expect(throws: FascoError.self) { try json("{") }
        #expect(throws: FascoError.self) { try json("") }
    }

    @Test("a configuration list: name, version, disableCheck, plugins and the executables they need")
    func configurationList() throws {
        let parsed = try config("""
        {"cniVersion": "1.0.0", "name": "fasco", "disableCheck": "true",
         "plugins": [{"type": "bridge", "ipam": {"type": "host-local"}}, {"type": "portmap"}, {"type": "bridge", "ipam": {}}]}
        """)
        #expect(parsed.name == "fasco")
        #expect(parsed.cniVersion == "1.0.0")
        #expect(parsed.disableCheck)
        #expect(parsed.pluginTypes == ["bridge", "portmap", "bridge"])
        #expect(parsed.requiredExecutables == ["bridge", "host-local", "portmap"])
    }

    @Test("a single plugin configuration (.conf) becomes a list of one")
    func singleConfiguration() throws {
        let parsed = try config(#"{"cniVersion": "0.3.1", "name": "single", "type": "bridge", "bridge": "b0"}"#, source: "/x/10-a.conf")
        #expect(parsed.plugins.count == 1)
        #expect(parsed.plugins[0]["bridge"] == .string("b0"))
        #expect(parsed.cniVersion == "0.3.1")
        #expect(!parsed.version.supportsCheck)
    }

    @Test("version choice: the highest declared version this client understands")
    func versionChoice() throws {
        let parsed = try config(#"{"cniVersion": "0.4.0", "cniVersions": ["1.0.0", "0.3.1", "9.0.0"], "name": "n", "plugins": [{"type": "a"}]}"#)
        #expect(parsed.cniVersion == "1.0.0")
        #expect(parsed.declaredVersions == ["1.0.0", "0.4.0", "0.3.1"])
        #expect(try #require(CNIVersion("0.10.0")) > (try #require(CNIVersion("0.4.0"))))
        #expect(CNIVersion("1.0") == CNIVersion("1.0.0"))
        #expect(CNIVersion("1.x.0") == nil)
        #expect(CNIVersion("") == nil)
    }

    @Test("invalid configurations are refused naming the problem", arguments: [
        (#"[]"#, "not a JSON object"),
        (#"{"cniVersion": "1.0.0", "plugins": [{"type": "a"}]}"#, "\"name\" is missing"),
        (#"{"cniVersion": "1.0.0", "name": "-bad", "plugins": [{"type": "a"}]}"#, "network name"),
        (#"{"name": "n", "plugins": [{"type": "a"}]}"#, "\"cniVersion\" is missing"),
        (#"{"cniVersion": "2.0.0", "name": "n", "plugins": [{"type": "a"}]}"#, "newer than this client understands"),
        (#"{"cniVersion": "one", "name": "n", "plugins": [{"type": "a"}]}"#, "is not a version"),
        (#"{"cniVersion": "1.0.0", "name": "n", "plugins": {}}"#, "\"plugins\" is not a list"),
        (#"{"cniVersion": "1.0.0", "name": "n", "plugins": []}"#, "\"plugins\" is empty"),
        (#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"bridge": "x"}]}"#, "plugins[0] has no \"type\""),
        (#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../bin/sh"}]}"#, "invalid type"),
        (#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a", "ipam": {"type": "x/y"}}]}"#, "invalid IPAM type"),
        (#"{"cniVersion": "1.0.0", "name": "n", "disableCheck": 1, "plugins": [{"type": "a"}]}"#, "disableCheck"),
        (#"{"cniVersion": "1.0.0", "name": "n", "type": "a"}"#, "a .conflist has no \"plugins\" list"),
    ])
    func invalidConfigurations(text: String, fragment: String) throws {
        #expect { _ = try config(text) } throws: { error in
            (error as? FascoError)?.code == .failedPrecondition && "\(error)".contains(fragment)
        }
    }

    @Test("CNI_ARGS and capability arguments of an attachment")
    func attachmentArguments() throws {
        let attachment = CNIAttachment(
            containerID: "abc", networkNamespace: "/proc/1/ns/net", podNamespace: "kube-system", podName: "dns", podUID: "u",
            portMappings: [CNIPortMapping(hostPort: 53, containerPort: 5353, protocol: "UDP"), CNIPortMapping(hostPort: 0, containerPort: 80)])
        #expect(attachment.cniArgs == "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u")
        #expect(attachment.capabilityArguments == ["portMappings": .array([.object([
            "hostPort": .integer(53), "containerPort": .integer(5353), "protocol": .string("udp"),
        ])])])
        #expect(CNIAttachment(containerID: "a", networkNamespace: "/x").capabilityArguments.isEmpty)
        #expect(CNIAttachment(containerID: "a", networkNamespace: "/x", bandwidth: CNIBandwidth()).capabilityArguments.isEmpty)
        try attachment.validate(requireNamespace: true)
        // DEL may come with no namespace at all.
        try CNIAttachment(containerID: "abc", networkNamespace: "").validate(requireNamespace: false)
        #expect(throws: FascoError.self) { try CNIAttachment(containerID: "abc", networkNamespace: "").validate(requireNamespace: true) }
    }
}
