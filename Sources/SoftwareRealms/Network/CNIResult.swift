import FascoCore

/// What a network attachment configured: the ADD success result of SPEC.md section 5, read
/// from any result version (0.1.0 to 1.1.0) into the 1.0.0 shape.
public struct CNIResult: Sendable, Equatable, Codable {
    /// The version the plugin answered in.
    public var cniVersion: String
    /// Interfaces made by the attachment, host-side ones included.
    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [Route]
    public var dns: DNS

    public init(cniVersion: String, interfaces: [Interface] = [], ips: [IPConfig] = [], routes: [Route] = [], dns: DNS = DNS()) {
        self.cniVersion = cniVersion
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns
    }

    public struct Interface: Sendable, Equatable, Codable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        /// The namespace path for an interface inside the pod; nil or empty on the host.
        public var sandbox: String?

        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.sandbox = sandbox
        }

        public var isInSandbox: Bool { !(sandbox ?? "").isEmpty }
    }

    public struct IPConfig: Sendable, Equatable, Codable {
        /// CIDR notation: "10.88.0.5/16".
        public var address: String
        public var gateway: String?
        /// Index into `interfaces` of the interface that carries the address.
        public var interface: Int?

        public init(address: String, gateway: String? = nil, interface: Int? = nil) {
            self.address = address
            self.gateway = gateway
            self.interface = interface
        }

        /// The address without its prefix length.
        public var ip: String { String(address.prefix { $0 != "/" }) }
        public var isIPv4: Bool { IPAddressText.family(of: ip) == .ipv4 }
        public var isIPv6: Bool { IPAddressText.family(of: ip) == .ipv6 }
    }

    public struct Route: Sendable, Equatable, Codable {
        /// CIDR notation.
        public var destination: String
        /// The next hop; when nil the gateway of the matching `ips` entry may be used.
        public var gateway: String?
        public var mtu: Int?
        public var advmss: Int?
        public var priority: Int?
        public var table: Int?
        public var scope: Int?

        public init(destination: String, gateway: String? = nil, mtu: Int? = nil, advmss: Int? = nil,
                    priority: Int? = nil, table: Int? = nil, scope: Int? = nil) {
            self.destination = destination
            self.gateway = gateway
            self.mtu = mtu
            self.advmss = advmss
            self.priority = priority
            self.table = table
            self.scope = scope
        }

        enum CodingKeys: String, CodingKey {
            case destination = "dst", gateway = "gw", mtu, advmss, priority, table, scope
        }
    }

    public struct DNS: Sendable, Equatable, Codable {
        public var nameservers: [String]
        public var domain: String?
        public var search: [String]
        public var options: [String]

        public init(nameservers: [String] = [], domain: String? = nil, search: [String] = [], options: [String] = []) {
            self.nameservers = nameservers
            self.domain = domain
            self.search = search
            self.options = options
        }
    }

    /// The pod's addresses without prefix length, IPv4 first (the order CRI's PodIP and
    /// additional IPs take): those on interfaces inside the pod, or every address when the
    /// result does not say which interface is the pod's.
    public var podIPs: [String] {
        let inPod = ips.filter { config in
            guard let index = config.interface else { return true }
            return interfaces.indices.contains(index) && interfaces[index].isInSandbox
        }
        let chosen = inPod.isEmpty ? ips : inPod
        return chosen.filter(\.isIPv4).map(\.ip) + chosen.filter(\.isIPv6).map(\.ip)
    }

    /// The pod's first IPv4 address, without prefix length.
    public var primaryIPv4: String? { podIPs.first { IPAddressText.family(of: $0) == .ipv4 } }
    /// The pod's first IPv6 address, without prefix length.
    public var primaryIPv6: String? { podIPs.first { IPAddressText.family(of: $0) == .ipv6 } }
}
