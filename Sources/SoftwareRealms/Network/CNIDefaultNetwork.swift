import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Fasco's embedded default pod network: the bridge network of deploy/cni/10-fasco.conflist
/// (bridge `fasco0`, 10.88.0.0/16 from host-local, masquerade, portmap, firewall). Pods join it
/// when the configured CNI directory holds no network configuration: it is written to a
/// directory of Fasco's own (`install`), never to the host's CNI directory, and a configuration
/// that appears there later takes over for new pods (`CNINetwork.defaultDirectory`).
public struct CNIDefaultNetwork: Sendable, Equatable {
    public static let defaultBridge = "fasco0"
    public static let defaultSubnet = "10.88.0.0/16"

    /// The Linux bridge pods are attached to (1-15 bytes: letters, digits, '-', '_', '.').
    public var bridge: String
    /// The pods' subnet in CIDR form, the bridge's gateway its first address.
    public var subnet: String

    public init(bridge: String = Self.defaultBridge, subnet: String = Self.defaultSubnet) throws(FascoError) {
        guard (1...15).contains(bridge.utf8.count),
              bridge.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
        else { throw .invalidArgument("the default network's bridge must be 1-15 letters, digits, '-', '_' or '.', got \(bridge.debugDescription)") }
        let parts = subnet.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]), (1...128).contains(length), !parts[0].isEmpty,
              parts[0].allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" })
        else { throw .invalidArgument("the default network's subnet must be in CIDR form (10.88.0.0/16), got \(subnet.debugDescription)") }
        self.bridge = bridge
        self.subnet = subnet
    }

    /// The network's name: "fasco" on the default bridge, "fasco-BRIDGE" on another (host-local
    /// keeps each name's leases apart, in /var/lib/cni/networks/NAME).
    public var name: String { bridge == Self.defaultBridge ? "fasco" : "fasco-\(bridge)" }

    /// The configuration list, as deploy/cni/10-fasco.conflist has it for the defaults.
    public var conflist: String {
        """
        {
          "cniVersion": "1.0.0",
          "name": "\(name)",
          "disableCheck": true,
          "plugins": [
            {
              "type": "bridge",
              "bridge": "\(bridge)",
              "isGateway": true,
              "ipMasq": true,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": "\(subnet)" }]],
                "routes": [{ "dst": "0.0.0.0/0" }]
              }
            },
            {
              "type": "portmap",
              "capabilities": { "portMappings": true }
            },
            {
              "type": "firewall"
            }
          ]
        }

        """
    }

    /// Writes the configuration to `directory/10-fasco.conflist` (made 0755 when missing),
    /// replacing what an earlier start wrote; returns the directory. Leftovers it cannot remove
    /// are reported to `logger` (one sorting first would be picked instead).
    @discardableResult
    public func install(in directory: String, logger: Logger = Logger(label: "fasco.cni")) throws(FascoError) -> String {
        try FileSystem.makeDirectories(directory, mode: 0o755)
        // Only Fasco writes here: whatever else is found is a leftover, never to be picked instead.
        let names: [String]
        do throws(FascoError) {
            names = try FileSystem.list(directory)
        } catch {
            logger.cleanUpFailed("list the default network's directory for leftovers", error: error, left: "whatever \(directory) holds")
            names = []
        }
        for name in names where name != "10-fasco.conflist" && !name.hasPrefix(".") {
            let path = directory + "/" + name
            if unlink(path) != 0 && errno != ENOENT {
                logger.cleanUpFailed(
                    "remove a leftover from the default network's directory", error: FascoError.internal(FileSystem.errnoText), left: path)
            }
        }
        try FileSystem.writeAtomically(Array(conflist.utf8), to: directory + "/10-fasco.conflist", mode: 0o644)
        return directory
    }
}
