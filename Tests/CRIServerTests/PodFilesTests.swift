import CRIAPI
import CRIServer
import FascoCore
import Testing

@Suite("PodFiles and StopSignal")
struct PodFilesTests {
    @Test("resolv.conf from a DNSConfig in containerd's layout")
    func resolvConf() throws {
        let dns = DNSConfig(servers: ["10.10.10.10", "fd00::53"], searches: ["google.com", "svc.local"], options: ["ndots:8", "edns0"])
        #expect(try PodFiles.resolvConf(dns, hostResolvConf: "nameserver 1.1.1.1\n") == """
            search google.com svc.local
            nameserver 10.10.10.10
            nameserver fd00::53
            options ndots:8 edns0

            """)
        #expect(try PodFiles.resolvConf(DNSConfig(servers: ["10.0.0.1"]), hostResolvConf: "") == "nameserver 10.0.0.1\n")
    }

    @Test("an empty or missing DNSConfig copies the host's resolv.conf")
    func hostResolvConf() throws {
        let host = "# host\nnameserver 192.168.1.1\nsearch lan\n"
        #expect(try PodFiles.resolvConf(nil, hostResolvConf: host) == host)
        #expect(try PodFiles.resolvConf(DNSConfig(), hostResolvConf: host) == host)
    }

    @Test("DNS entries that would inject lines, or servers that are not addresses, are INVALID_ARGUMENT")
    func badDNS() {
        for dns in [
            DNSConfig(servers: ["10.0.0.1\nnameserver 6.6.6.6"]),
            DNSConfig(servers: ["dns.example"]),
            DNSConfig(searches: ["a b"]),
            DNSConfig(options: [""]),
        ] {
            #expect(specError { _ = try PodFiles.resolvConf(dns, hostResolvConf: "") }?.code == .invalidArgument)
        }
    }

    @Test("hostname: the pod's, else the host's; validated")
    func hostname() throws {
        var config = PodSandboxConfig()
        config.hostname = "test-hostname"
        #expect(try PodFiles.hostname(config, hostHostname: "host") == "test-hostname")
        #expect(PodFiles.hostnameFile("test-hostname") == "test-hostname\n")
        config.hostname = ""
        #expect(try PodFiles.hostname(config, hostHostname: "host") == "host")
        for bad in ["a b", "a/b", String(repeating: "h", count: 65), "x\n"] {
            config.hostname = bad
            #expect(specError { _ = try PodFiles.hostname(config, hostHostname: "host") }?.code == .invalidArgument, "\(bad)")
        }
    }

    @Test("hosts: loopback names, then the pod's addresses")
    func hosts() {
        let text = PodFiles.hosts(hostname: "web-0", podIPs: ["10.88.0.5", "fd00::5"])
        let lines = text.split(separator: "\n")
        #expect(lines.first == "127.0.0.1\tlocalhost")
        #expect(lines.contains("::1\tlocalhost ip6-localhost ip6-loopback"))
        #expect(lines.suffix(2) == ["10.88.0.5\tweb-0", "fd00::5\tweb-0"])
        #expect(text.hasSuffix("\n"))
    }

    @Test("stop signals: CRI enum first, then the image's text, else SIGTERM")
    func stopSignal() throws {
        #expect(try StopSignal.resolve(cri: .runtimeDefault, image: nil) == 15)
        #expect(try StopSignal.resolve(cri: .runtimeDefault, image: "") == 15)
        #expect(try StopSignal.resolve(cri: .sigkill, image: "SIGQUIT") == 9)
        #expect(try StopSignal.resolve(cri: .runtimeDefault, image: "SIGQUIT") == 3)
        #expect(try StopSignal.number(.sigrtminplus3) == 37)
        #expect(try StopSignal.number(.sigrtmaxminus1) == 63)
        #expect(try StopSignal.number(.sigrtmax) == 64)
        #expect(try StopSignal.number(.sigcld) == 17)
        #expect(try StopSignal.number(.runtimeDefault) == nil)
        #expect(specError { _ = try StopSignal.number(.unrecognized(99)) }?.code == .invalidArgument)
    }

    @Test("signal text: names with or without SIG, any case, numbers, real-time offsets")
    func signalText() throws {
        let cases: [(String, Int32)] = [
            ("SIGTERM", 15), ("TERM", 15), ("term", 15), ("15", 15), ("SIGKILL", 9), ("SIGWINCH", 28), ("SIGUSR1", 10),
            ("SIGRTMIN", 34), ("SIGRTMIN+3", 37), ("RTMIN+0", 34), ("SIGRTMAX-2", 62), ("SIGRTMAX", 64), ("SIGPWR", 30),
        ]
        for (text, number) in cases {
            #expect(try StopSignal.parse(text) == number, "\(text)")
        }
        for bad in ["", "SIGFOO", "0", "65", "-9", "SIGRTMIN+31", "SIGRTMAX-", "SIG"] {
            #expect(specError { _ = try StopSignal.parse(bad) }?.code == .invalidArgument, "\(bad)")
        }
    }
}
