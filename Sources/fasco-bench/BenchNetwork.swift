// The pod network both runtimes of the pod benchmark share: a private CNI configuration
// directory with one bridge network whose bridge, subnet and address store belong to this
// run (so concurrent runs and the host's own CNI setup are left alone). No masquerading,
// no port maps: only what every pod gets. The bridge is deleted at the end.
import Foundation

struct BenchNetwork {
    static let pluginDirectory = "/usr/lib/cni"

    let configDirectory: URL
    let bridge: String
    let subnet: String

    init(directory: URL) throws {
        let run = Int(getpid())
        configDirectory = directory.appendingPathComponent("net.d")
        bridge = "fbench\(run % 1_000_000)"
        subnet = "10.231.\(run % 250).0/24"
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
        let config = """
            {
              "cniVersion": "1.0.0",
              "name": "fasco-bench",
              "plugins": [
                {
                  "type": "bridge",
                  "bridge": "\(bridge)",
                  "isGateway": true,
                  "ipMasq": false,
                  "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": "\(subnet)"}]],
                    "dataDir": "\(directory.appendingPathComponent("ipam").path)"
                  }
                }
              ]
            }

            """
        try config.write(to: configDirectory.appendingPathComponent("10-fasco-bench.conflist"),
                         atomically: true, encoding: .utf8)
    }

    /// Deletes the bridge if a runtime created it.
    func remove() {
        guard FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["link", "del", bridge]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }
}
