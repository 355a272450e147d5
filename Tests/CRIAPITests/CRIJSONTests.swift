import CRIAPI
import Testing

@Suite struct CRIJSONTests {
    @Test func crictlFormDecodes() throws {
        let json = try CRIJSON(parsing: Array("""
        {"metadata": {"name": "p", "uid": "u", "namespace": "n", "attempt": "3"},
         "Hostname": "h", "logDirectory": "/logs", "labels": {"a": "b"}, "unknown_key": [1, 2],
         "port_mappings": [{"protocol": "UDP", "container_port": 53, "host_port": 5353}],
         "linux": {"security_context": {"namespace_options": {"network": 2, "pid": "CONTAINER"},
                                        "run_as_user": {"value": 1000}, "supplemental_groups": [1, 2]}}}
        """.utf8))
        let config = try PodSandboxConfig(json: json, at: "pod")
        #expect(config.metadata == PodSandboxMetadata(name: "p", uid: "u", namespace: "n", attempt: 3))
        #expect(config.hostname == "h")
        #expect(config.logDirectory == "/logs")
        #expect(config.labels == ["a": "b"])
        #expect(config.portMappings.first?.protocol == .udp)
        #expect(config.portMappings.first?.containerPort == 53)
        let options = config.linux?.securityContext?.namespaceOptions
        #expect(options?.network == .node)
        #expect(options?.pid == .container)
        #expect(config.linux?.securityContext?.runAsUser?.value == 1000)
        #expect(config.linux?.securityContext?.supplementalGroups == [1, 2])
    }

    @Test(arguments: [
        (#"{"metadata": 7}"#, "pod.metadata"),
        (#"{"metadata": {"attempt": -1}}"#, "pod.metadata.attempt"),
        (#"{"port_mappings": [{}, {"host_port": "x"}]}"#, "pod.port_mappings[1].host_port"),
        (#"{"labels": {"a": 1}}"#, "pod.labels.a"),
        (#"[1]"#, "pod"),
    ])
    func badFieldsNameTheirPath(text: String, path: String) throws {
        let json = try CRIJSON(parsing: Array(text.utf8))
        #expect {
            _ = try PodSandboxConfig(json: json, at: "pod")
        } throws: { error in
            (error as? CRIJSONError)?.path == path
        }
    }

    @Test func notJSONIsRefused() {
        #expect(throws: CRIJSONError.self) { _ = try CRIJSON(parsing: Array("{".utf8)) }
    }
}
