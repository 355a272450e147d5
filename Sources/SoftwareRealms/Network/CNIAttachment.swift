import FascoCore

/// One pod's attachment to the network: the attachment parameters of SPEC.md section 3
/// (container ID, namespace, interface name, generic and capability arguments).
public struct CNIAttachment: Sendable, Equatable {
    /// CNI_CONTAINERID: the pod sandbox ID.
    public var containerID: String
    /// CNI_NETNS: a path to the pod's network namespace, e.g. /proc/<pid>/ns/net of its supervisor.
    public var networkNamespace: String
    /// CNI_IFNAME: the interface made inside the pod.
    public var interfaceName: String
    /// K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID in CNI_ARGS (with K8S_POD_INFRA_CONTAINER_ID
    /// set to `containerID` and IgnoreUnknown=1, as kubelet's runtimes pass them).
    public var podNamespace: String
    public var podName: String
    public var podUID: String
    /// The `portMappings` capability argument; entries without a host port are not forwarded.
    public var portMappings: [CNIPortMapping]
    /// The `bandwidth` capability argument.
    public var bandwidth: CNIBandwidth?

    public init(
        containerID: String, networkNamespace: String, interfaceName: String = "eth0",
        podNamespace: String = "", podName: String = "", podUID: String = "",
        portMappings: [CNIPortMapping] = [], bandwidth: CNIBandwidth? = nil
    ) {
        self.containerID = containerID
        self.networkNamespace = networkNamespace
        self.interfaceName = interfaceName
        self.podNamespace = podNamespace
        self.podName = podName
        self.podUID = podUID
        self.portMappings = portMappings
        self.bandwidth = bandwidth
    }

    /// The CNI_ARGS value: `KEY=value` pairs separated by semicolons.
    var cniArgs: String {
        [
            ("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", podNamespace), ("K8S_POD_NAME", podName),
            ("K8S_POD_INFRA_CONTAINER_ID", containerID), ("K8S_POD_UID", podUID),
        ].map { "\($0.0)=\($0.1)" }.joined(separator: ";")
    }

    /// The capability arguments this attachment provides, by capability name; a plugin gets
    /// those it declares in its `capabilities` as `runtimeConfig`.
    var capabilityArguments: [String: JSONValue] {
        var arguments: [String: JSONValue] = [:]
        let forwarded = portMappings.filter(\.mapsHostPort)
        if !forwarded.isEmpty { arguments["portMappings"] = .array(forwarded.map(\.json)) }
        if let bandwidth, !bandwidth.isEmpty { arguments["bandwidth"] = bandwidth.json }
        return arguments
    }

    /// Checks what the plugins would choke on or misread: the ID and interface name rules of
    /// SPEC.md section 2, CNI_ARGS values that would split into other pairs, port mappings.
    /// `requireNamespace` is false for DEL, which may run after the namespace is gone.
    func validate(requireNamespace: Bool) throws(FascoError) {
        guard Self.isValidContainerID(containerID) else {
            throw .invalidArgument(
                "CNI container ID \(containerID.debugDescription) must start with a letter or digit followed by letters, digits, '_', '.' or '-'")
        }
        guard Self.isValidInterfaceName(interfaceName) else {
            throw .invalidArgument("interface name \(interfaceName.debugDescription) is not a valid Linux interface name")
        }
        if requireNamespace {
            guard networkNamespace.hasPrefix("/") else {
                throw .invalidArgument("network namespace \(networkNamespace.debugDescription) is not an absolute path")
            }
        }
        guard !networkNamespace.utf8.contains(0) else { throw .invalidArgument("network namespace path contains a NUL byte") }
        for (key, value) in [("pod namespace", podNamespace), ("pod name", podName), ("pod UID", podUID)] {
            guard !value.contains(";"), !value.contains("="), !value.utf8.contains(0) else {
                throw .invalidArgument("\(key) \(value.debugDescription) cannot be passed in CNI_ARGS (contains ';', '=' or NUL)")
            }
        }
        for mapping in portMappings where mapping.mapsHostPort { try mapping.validate() }
    }

    static func isValidContainerID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= 1024, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// Linux's rules (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or whitespace.
    static func isValidInterfaceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...15).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { $0 > 32 && $0 != 127 && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}
