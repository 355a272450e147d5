import Testing
@testable import CRIAPI

@Suite("CRI messages round-trip through protobuf-c")
struct RoundTripTests {
    @Test("the generated table covers every message of the proto")
    func coversEveryMessage() {
        // api.proto v0.35 defines 158 messages (map entries excluded) and nests none besides enums.
        #expect(allMessageRoundTrips.count == 158)
        #expect(Set(allMessageRoundTrips.map(\.name)).count == allMessageRoundTrips.count)
    }

    @Test("random values of every message survive Swift -> protobuf-c -> Swift", arguments: 0..<4)
    func everyMessageRoundTrips(batch: Int) throws {
        for (index, entry) in allMessageRoundTrips.enumerated() {
            for iteration in 0..<25 {
                var random = TestRandom(seed: UInt64(batch * 1_000_003 + index * 101 + iteration))
                let equal = try entry.roundTrip(&random)
                #expect(equal, "\(entry.name) seed batch \(batch) iteration \(iteration)")
                if !equal { return }
            }
        }
    }

    @Test("a default message encodes to no bytes and decodes from none")
    func defaultsAreEmpty() throws {
        #expect(ContainerConfig().encode().isEmpty)
        #expect(try ContainerConfig.decode([]) == ContainerConfig())
        #expect(try VersionRequest.decode([]) == VersionRequest())
    }

    @Test("nested values, maps and repeated fields keep their content")
    func nestedContent() throws {
        let config = ContainerConfig(
            metadata: ContainerMetadata(name: "app", attempt: 3),
            image: ImageSpec(image: "busybox", annotations: ["a": "1"]),
            command: ["/bin/sh", "-c"], args: ["echo hi"],
            envs: [KeyValue(key: "PATH", value: "/bin"), KeyValue(key: "EMPTY", value: "")],
            labels: ["io.kubernetes.pod": "x", "": "empty key"],
            linux: LinuxContainerConfig(resources: LinuxContainerResources(cpuShares: 512, memoryLimitInBytes: -1)))
        let decoded = try ContainerConfig.decode(config.encode())
        #expect(decoded == config)
        #expect(decoded.linux?.resources?.memoryLimitInBytes == -1)
        #expect(decoded.windows == nil)
    }

    @Test("open enums keep values the proto does not know")
    func unknownEnumValues() throws {
        let mapping = PortMapping(protocol: .unrecognized(42), containerPort: 80)
        let decoded = try PortMapping.decode(mapping.encode())
        #expect(decoded.protocol == .unrecognized(42))
        #expect(decoded.protocol.rawValue == 42)
        #expect(Protocol(rawValue: 2) == .sctp)
    }
}
