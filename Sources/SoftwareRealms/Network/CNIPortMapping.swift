import FascoCore

/// One host port forwarded into the pod: the `portMappings` capability argument of the CNI
/// conventions (CONVENTIONS.md, "Well-known Capabilities"), which the `portmap` plugin acts on.
public struct CNIPortMapping: Sendable, Equatable, Codable {
    public var hostPort: Int32
    public var containerPort: Int32
    /// "tcp", "udp" or "sctp" (any case; sent in lower case).
    public var `protocol`: String
    /// The host address to listen on; empty for all.
    public var hostIP: String

    public init(hostPort: Int32, containerPort: Int32, protocol: String = "tcp", hostIP: String = "") {
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostIP = hostIP
    }

    /// Whether the mapping asks for a host port at all; kubelet sends container ports without
    /// one, which are not forwarded (as containerd and CRI-O do).
    var mapsHostPort: Bool { hostPort > 0 }

    func validate() throws(FascoError) {
        guard (1...65535).contains(hostPort) else { throw .invalidArgument("port mapping: host port \(hostPort) is out of range") }
        guard (1...65535).contains(containerPort) else {
            throw .invalidArgument("port mapping: container port \(containerPort) is out of range")
        }
        guard ["tcp", "udp", "sctp"].contains(`protocol`.lowercased()) else {
            throw .invalidArgument("port mapping: unknown protocol \(`protocol`.debugDescription)")
        }
        guard hostIP.isEmpty || IPAddressText.family(of: hostIP) != nil else {
            throw .invalidArgument("port mapping: host IP \(hostIP.debugDescription) is not an IP address")
        }
    }

    /// The JSON object the convention defines.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "hostPort": .integer(Int64(hostPort)),
            "containerPort": .integer(Int64(containerPort)),
            "protocol": .string(`protocol`.lowercased()),
        ]
        if !hostIP.isEmpty { object["hostIP"] = .string(hostIP) }
        return .object(object)
    }
}
