import Foundation
@testable import SoftwareRealms
import Testing

@Suite("the embedded default pod network")
struct CNIDefaultNetworkTests {
    @Test("its configuration is deploy/cni/10-fasco.conflist's; install writes it alone into Fasco's directory")
    func matchesShippedFile() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/cni/10-fasco.conflist")
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: shipped)) as? NSDictionary
        let network = try CNIDefaultNetwork()
        let embedded = try JSONSerialization.jsonObject(with: Data(network.conflist.utf8)) as? NSDictionary
        #expect(expected != nil && embedded == expected)

        let directory = NSTemporaryDirectory() + "fasco-default-net-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "{}".write(toFile: directory + "/00-stale.conf", atomically: true, encoding: .utf8)
        try network.install(in: directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["10-fasco.conflist"])

        let other = try CNIDefaultNetwork(bridge: "fdef1", subnet: "10.201.3.0/24")
        #expect(other.name == "fasco-fdef1")
        #expect(other.conflist.contains("\"subnet\": \"10.201.3.0/24\""))
        #expect(throws: (any Error).self) { try CNIDefaultNetwork(bridge: "a bridge", subnet: "10.0.0.0/8") }
        #expect(throws: (any Error).self) { try CNIDefaultNetwork(bridge: "ok", subnet: "10.0.0.0") }
    }
}
