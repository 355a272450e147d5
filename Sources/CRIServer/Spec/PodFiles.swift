import CRIAPI
import FascoCore

/// The content of the files a pod prepares for its containers: /etc/hostname, /etc/hosts and
/// /etc/resolv.conf. Pure functions of the pod config (and of host facts passed in); the
/// backend writes the results and bind-mounts them through `PodSandboxContext`.
public enum PodFiles {
    /// The pod's hostname: its config's, else the host's (`hostHostname`, `HostFacts.hostname`),
    /// as containerd does. INVALID_ARGUMENT when it cannot be a hostname.
    public static func hostname(_ config: PodSandboxConfig, hostHostname: String) throws(FascoError) -> String {
        let name = config.hostname.isEmpty ? hostHostname : config.hostname
        try validateHostname(name)
        return name
    }

    /// /etc/hostname: the name and a newline.
    public static func hostnameFile(_ hostname: String) -> String {
        hostname + "\n"
    }

    /// /etc/hosts of a pod with its own network namespace: loopback and the IPv6 multicast names,
    /// then each pod IP with the hostname. (Kubelet mounts its own /etc/hosts into most pods;
    /// a pod on the host network should get a copy of the host's file instead.)
    public static func hosts(hostname: String, podIPs: [String] = []) -> String {
        var text = """
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        ff00::0\tip6-mcastprefix
        ff02::1\tip6-allnodes
        ff02::2\tip6-allrouters

        """
        for address in podIPs where !address.isEmpty {
            text += "\(address)\t\(hostname)\n"
        }
        return text
    }

    /// /etc/resolv.conf from the pod's DNSConfig: `search`, one `nameserver` line per server and
    /// `options`, in containerd's layout. A missing or empty DNSConfig gives `hostResolvConf`
    /// (the content of the host's /etc/resolv.conf) unchanged. An entry with whitespace or a
    /// control character, or a server that is not an IP address, is INVALID_ARGUMENT.
    public static func resolvConf(_ dns: DNSConfig?, hostResolvConf: String) throws(FascoError) -> String {
        guard let dns, !(dns.servers.isEmpty && dns.searches.isEmpty && dns.options.isEmpty) else {
            return hostResolvConf
        }
        for entry in dns.servers + dns.searches + dns.options {
            guard !entry.isEmpty, !entry.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
                throw .invalidArgument("DNS config entry \(entry.debugDescription) is empty or has whitespace")
            }
        }
        for server in dns.servers where IPAddressText.family(of: server) == nil {
            throw .invalidArgument("DNS server \(server.debugDescription) is not an IP address")
        }
        var text = ""
        if !dns.searches.isEmpty { text += "search \(dns.searches.joined(separator: " "))\n" }
        for server in dns.servers { text += "nameserver \(server)\n" }
        if !dns.options.isEmpty { text += "options \(dns.options.joined(separator: " "))\n" }
        return text
    }

    /// A hostname sethostname(2) accepts and a file can hold: 1 to 64 bytes, no whitespace, no
    /// control characters, no `/`.
    public static func validateHostname(_ name: String) throws(FascoError) {
        guard !name.isEmpty, name.utf8.count <= 64,
              !name.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "/" })
        else { throw .invalidArgument("hostname \(name.debugDescription) is not valid") }
    }
}
