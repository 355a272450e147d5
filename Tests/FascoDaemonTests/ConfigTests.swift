#if canImport(Glibc)
import Glibc
#endif
import CRIServer
import FascoCore
import Foundation
@testable import FascoDaemon
import Foundation
@testable import ImageStore
import Testing

@Suite("fasco.toml")
struct ConfigTests {
    @Test("embedded defaults are the documented ones and valid")
    func defaults() throws {
        let config = FascoConfig()
        #expect(config.grpc.listen == "unix:///run/fasco/fasco.sock")
        #expect(config.root == "/var/lib/fasco")
        #expect(config.state == "/run/fasco")
        #expect(config.grpc.maxRecvMessageSize == 16 << 20)
        #expect(config.runtime.backend == "software")
        #expect(try config.socketPath == "/run/fasco/fasco.sock")
        try config.validate()
    }

    @Test("every documented key is read")
    func everyKey() throws {
        var config = FascoConfig()
        try config.apply(toml: """
            root = "/srv/fasco"
            state = "/run/f"
            log_level = "debug"
            [grpc]
            listen = "unix:/run/f/f.sock"
            max_recv_message_size = 4096
            max_send_message_size = 8192
            shutdown_grace_period_seconds = 2.5
            [runtime]
            backend = "software"
            oci_runtime = "runc"
            cgroup_driver = "cgroupfs"
            [cni]
            conf_dir = "/etc/cni/other"
            bin_dirs = ["/a", "/b"]
            [streaming]
            address = "::1"
            port = 10010
            [image]
            max_layer_bytes = 1000000
            max_layer_ratio = 20
            layer_ratio_floor_bytes = 5000
            max_layer_entries = 300
            signature_policy = "/etc/fasco/policy.json"
            decryption_keys = ["/etc/fasco/keys/a.pem"]
            [metrics]
            address = "127.0.0.1:9464"
            [kbs]
            url = "https://kbs.example:8080"
            ca_file = "/etc/fasco/kbs-ca.pem"
            tee_key = "rsa"
            [kms.aws]
            kms_endpoint = "https://kms-fips.eu-west-1.amazonaws.com"
            secrets_manager_endpoint = "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"
            ca_file = "/etc/fasco/aws-ca.pem"
            credential_uri = "kbs:///default/aws/credential"
            [kms.aliyun]
            endpoint = "https://kst-1.cryptoservice.kms.aliyuncs.com:8443"
            """, source: "t.toml")
        try config.validate()
        #expect(config.root == "/srv/fasco")
        #expect(config.state == "/run/f")
        #expect(config.logLevel == "debug")
        #expect(try config.socketPath == "/run/f/f.sock")
        #expect(config.grpc.maxRecvMessageSize == 4096)
        #expect(config.grpc.maxSendMessageSize == 8192)
        #expect(config.grpc.shutdownGracePeriodSeconds == 2.5)
        #expect(config.runtime.ociRuntime == "runc")
        #expect(config.runtime.cgroupDriver == "cgroupfs")
        #expect(config.cni.confDir == "/etc/cni/other")
        #expect(config.cni.binDirs == ["/a", "/b"])
        #expect(config.streaming.address == "::1")
        #expect(config.streaming.port == 10010)
        #expect(config.image.layerLimits == LayerLimits(maxBytes: 1_000_000, maxRatio: 20, ratioFloorBytes: 5000, maxEntries: 300))
        #expect(config.image.signaturePolicy == "/etc/fasco/policy.json")
        #expect(config.metrics.address == "127.0.0.1:9464")
        #expect(config.image.decryptionKeys == ["/etc/fasco/keys/a.pem"])
        #expect(config.kbs.url == "https://kbs.example:8080" && config.kbs.caFile == "/etc/fasco/kbs-ca.pem" && config.kbs.teeKey == "rsa")
        #expect(config.kms.aws == FascoConfig.KMS.AWS(
            kmsEndpoint: "https://kms-fips.eu-west-1.amazonaws.com",
            secretsManagerEndpoint: "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com",
            caFile: "/etc/fasco/aws-ca.pem", credentialURI: "kbs:///default/aws/credential"))
        #expect(config.kms.aliyun.endpoint == "https://kst-1.cryptoservice.kms.aliyuncs.com:8443")
    }

    @Test("deploy/fasco.toml states the embedded defaults")
    func deployedFileIsTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/fasco.toml").path
        var config = FascoConfig()
        try config.apply(toml: try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(config == FascoConfig())
        #expect(config.image.layerLimits == LayerLimits())
        // The bounds refuse 2 GiB of zeros in 2 MiB of gzip before 512 MiB, and let a 20 GiB layer
        // compressed 3:1 and a 4 KiB layer of text through.
        #expect(LayerLimits().byteBound(compressedBytes: 2 << 20).bytes < 512 << 20)
        #expect(LayerLimits().byteBound(compressedBytes: (20 << 30) / 3).bytes > 20 << 30)
        #expect(LayerLimits().byteBound(compressedBytes: 4096).bytes >= 64 << 20)
    }

    @Test("the streaming server's address must be an IP address and its port fit 16 bits")
    func streamingValidation() throws {
        #expect(FascoConfig().streaming.address == "127.0.0.1")
        #expect(FascoConfig().streaming.port == 0)
        for (key, text) in [("streaming.port", "[streaming]\nport = 70000"), ("streaming.address", "[streaming]\naddress = \"localhost\"")] {
            var config = FascoConfig()
            try config.apply(toml: text, source: "s.toml")
            #expect(throws: ConfigError.self) { try config.validate() }
            do { try config.validate() } catch { #expect(error.description.hasPrefix(key), "\(error)") }
        }
    }

    @Test("unknown keys are named with their line", arguments: [
        ("colour = 1", "colour", 1),
        ("[grpc]\n\nlisten_on = \"x\"", "grpc.listen_on", 3),
        ("[runtime]\nbackend = \"software\"\nhypervisor = \"qemu\"", "runtime.hypervisor", 3),
        ("[images]\nx = 1", "images", 1),
        ("[image]\nmax_layer_size = 1", "image.max_layer_size", 2),
    ])
    func unknownKeys(text: String, key: String, line: Int) {
        var config = FascoConfig()
        #expect { try config.apply(toml: text, source: "f.toml") } throws: { error in
            let message = String(describing: error)
            return message.contains("unknown key \(key)") && message.contains("f.toml:\(line)")
        }
    }

    @Test("values of the wrong type are named")
    func wrongTypes() {
        var config = FascoConfig()
        #expect { try config.apply(toml: "[grpc]\nmax_recv_message_size = \"big\"", source: "f.toml") } throws: {
            String(describing: $0).contains("grpc.max_recv_message_size must be an integer, got a string")
        }
        #expect { try config.apply(toml: "grpc = 3", source: "f.toml") } throws: {
            String(describing: $0).contains("grpc must be a table")
        }
        #expect { try config.apply(toml: "[cni]\nbin_dirs = [1]", source: "f.toml") } throws: {
            String(describing: $0).contains("cni.bin_dirs must be an array of strings")
        }
    }

    @Test("key lines are found for dotted keys, inline tables and past multi-line strings; a NUL is refused", arguments: [
        ("root = \"\"\"\n[grpc]\nx = 1\n\"\"\"\n[grpc]\nlisten_on = 1", "f.toml:6: unknown key grpc.listen_on"),
        ("log_level = \"info\"\nruntime.hypervisor = \"qemu\"", "f.toml:2: unknown key runtime.hypervisor"),
        ("root = \"/x\"\ncni = { conf_dir = 3 }", "f.toml:2: cni.conf_dir must be a string, got a integer"),
        ("[registry.hosts.'b.io']\n\nplain_http = 1", "f.toml:3: registry.hosts.\"b.io\".plain_http must be true or false"),
        ("root = \"/a\"\n\u{0}", "f.toml: line 2: a NUL character"),
        ("root = \"/a\"\n" + String(repeating: "a.", count: 200_000) + "b = 1", "f.toml: line 2: a key of more than 64 dotted parts"),
    ])
    func keyLines(text: String, fragment: String) {
        var config = FascoConfig()
        #expect { try config.apply(toml: text, source: "f.toml") } throws: { String(describing: $0).contains(fragment) }
    }

    @Test("dots in strings, comments and numbers do not count as key parts")
    func dotsElsewhere() throws {
        var config = FascoConfig()
        let dots = String(repeating: ".", count: 200)
        try config.apply(toml: """
            root = "/\(dots)" # \(dots)
            [grpc]
            shutdown_grace_period_seconds = 1.5
            [cni]
            bin_dirs = ['/\(dots)', \"\"\"
            /\(dots)\"\"\"]
            """, source: "f.toml")
        #expect(config.root == "/" + dots)
        #expect(config.cni.binDirs == ["/" + dots, "/" + dots])
    }

    @Test("TOML syntax errors name the file and position")
    func syntaxError() {
        var config = FascoConfig()
        #expect { try config.apply(toml: "root = \n", source: "f.toml") } throws: {
            String(describing: $0).hasPrefix("f.toml: line 1")
        }
    }

    @Test("bad values are rejected naming the key", arguments: [
        ("log_level = \"loud\"", "log_level"),
        ("root = \"relative\"", "root"),
        ("[grpc]\nlisten = \"tcp://0.0.0.0:1\"", "grpc.listen"),
        ("[grpc]\nlisten = \"unix://relative.sock\"", "grpc.listen"),
        ("[grpc]\nmax_send_message_size = 10", "grpc.max_send_message_size"),
        ("[grpc]\nshutdown_grace_period_seconds = -1", "grpc.shutdown_grace_period_seconds"),
        ("[runtime]\nbackend = \"cca\"", "runtime.backend"),
        ("[runtime]\ncgroup_driver = \"v3\"", "runtime.cgroup_driver"),
        ("[image]\nmax_layer_bytes = 0", "image.max_layer_bytes"),
        ("[image]\nmax_layer_ratio = -1", "image.max_layer_ratio"),
        ("[image]\nlayer_ratio_floor_bytes = 0", "image.layer_ratio_floor_bytes"),
        ("[image]\nmax_layer_entries = 0", "image.max_layer_entries"),
        ("[image]\nsignature_policy = \"policy.json\"", "image.signature_policy"),
        ("[image]\ndecryption_keys = [\"key.pem\"]", "image.decryption_keys"),
        ("[kbs]\ntee_key = \"ed25519\"", "kbs.tee_key"),
        ("[kbs]\nurl = \"kbs.example\"", "kbs.url"),
        ("[kms.aws]\nkms_endpoint = \"kms.eu-west-1.amazonaws.com\"", "kms.aws.kms_endpoint"),
        ("[kms.aws]\nsecrets_manager_endpoint = \"ftp://x\"", "kms.aws.secrets_manager_endpoint"),
        ("[kms.aws]\nca_file = \"aws-ca.pem\"", "kms.aws.ca_file"),
        ("[kms.aws]\ncredential_uri = \"https://kbs/x\"", "kms.aws.credential_uri"),
        ("[kms.aliyun]\nendpoint = \"http://kst-1.example\"", "kms.aliyun.endpoint"),
        ("[metrics]\naddress = \"localhost:9464\"", "metrics.address"),
        ("[metrics]\naddress = \"127.0.0.1\"", "metrics.address"),
        ("[metrics]\naddress = \"127.0.0.1:0\"", "metrics.address"),
        ("[metrics]\naddress = \"127.0.0.1:65536\"", "metrics.address"),
        ("[metrics]\naddress = \"127.0.0.1:+80\"", "metrics.address"),
        ("[metrics]\naddress = \"::1:9464\"", "metrics.address"),
        ("[metrics]\naddress = \"[::1]9464\"", "metrics.address"),
    ])
    func badValues(text: String, key: String) throws {
        var config = FascoConfig()
        try config.apply(toml: text, source: "f.toml")
        #expect { try config.validate() } throws: { String(describing: $0).contains(key) }
    }

    @Test("metrics.address: off by default; IPv4 host:port and [IPv6]:port are accepted; its table refuses unknown keys")
    func metricsAddress() throws {
        #expect(FascoConfig().metrics.address == "")
        for text in ["127.0.0.1:9464", "[::1]:9464", "0.0.0.0:1", "[::]:65535"] {
            var config = FascoConfig()
            config.metrics.address = text
            try config.validate()
            #expect(MetricsAddress(text)?.description == text)
        }
        var config = FascoConfig()
        #expect { try config.apply(toml: "[metrics]\nport = 1\n", source: "m.toml") } throws: {
            String(describing: $0) == "m.toml:2: unknown key metrics.port"
        }
        #expect { try config.apply(toml: "[metrics]\naddress = 9464\n", source: "m.toml") } throws: {
            String(describing: $0).contains("metrics.address must be a string")
        }
    }

    @Test("a missing explicit file is an error; the missing default file is not")
    func missingFile() throws {
        #expect(throws: ConfigError.self) { try FascoConfig.load(path: "/nonexistent/fasco.toml") }
        // The default file in a directory of the test's own, not the host's /etc/fasco.
        let directory = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaultFile = directory.appendingPathComponent("fasco.toml").path
        #expect(try FascoConfig.load(path: nil, defaultFile: defaultFile) == FascoConfig(), "a missing default file gives the defaults")
        try "log_level = \"warning\"\n".write(toFile: defaultFile, atomically: true, encoding: .utf8)
        var expected = FascoConfig()
        expected.logLevel = "warning"
        #expect(try FascoConfig.load(path: nil, defaultFile: defaultFile) == expected, "an existing default file is read")
    }

    @Test("cgroup driver: as configured; auto is systemd where systemd is init, else cgroupfs; anything else is refused")
    func cgroupDriver() throws {
        for booted in [false, true] {
            #expect(HostChecks.detectCgroupDriver("cgroupfs", systemdBooted: booted) == .cgroupfs)
            #expect(HostChecks.detectCgroupDriver("systemd", systemdBooted: booted) == .systemd)
        }
        #expect(HostChecks.detectCgroupDriver("auto", systemdBooted: false) == .cgroupfs)
        #expect(HostChecks.detectCgroupDriver("auto", systemdBooted: true) == .systemd)
        var config = FascoConfig()
        for driver in ["auto", "cgroupfs", "systemd"] {
            config.runtime.cgroupDriver = driver
            try config.validate()
        }
        for driver in ["Systemd", "", "cgroupfs2"] {
            config.runtime.cgroupDriver = driver
            #expect(throws: ConfigError.self) { try config.validate() }
        }
    }
}

@Suite("DiskUsage")
struct DiskUsageTests {
    @Test("counts allocated bytes and inodes, hard links once, symlinks not followed")
    func measuresTree() throws {
        var template = Array("/tmp/fasco-du-XXXXXX".utf8CString)
        let root = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = system("rm -rf '\(root)'") }
        let empty = try DiskUsage.measure(root)
        #expect(empty.inodesUsed == 1)
        #expect(empty.mountpoint == root)
        mkdir(root + "/d", 0o755)
        let fd = open(root + "/d/f", O_CREAT | O_WRONLY, 0o644)
        let block = [UInt8](repeating: 7, count: 64 << 10)
        #expect(write(fd, block, block.count) == block.count)
        fsync(fd)
        close(fd)
        link(root + "/d/f", root + "/d/hardlink")
        symlink("/usr", root + "/usr-link")
        let usage = try DiskUsage.measure(root)
        #expect(usage.inodesUsed == 4, "root, d, f (once), usr-link")
        #expect(usage.usedBytes >= empty.usedBytes + UInt64(64 << 10))
        #expect(usage.usedBytes < empty.usedBytes + UInt64(1 << 20), "the symlink's target is not counted")
        #expect(usage.timestampNanos > 1_600_000_000 * 1_000_000_000)
        #expect(throws: Error.self) { try DiskUsage.measure(root + "/missing") }
    }
}

@Suite("fasco.toml registry hosts")
struct RegistryConfigTests {
    @Test("mirrors, CA files and TLS settings per registry host")
    func hosts() throws {
        var config = FascoConfig()
        try config.apply(toml: """
            [registry.hosts."registry.k8s.io"]
            mirrors = ["http://127.0.0.1:5000", "https://mirror.example:5443"]
            [registry.hosts."127.0.0.1:5443"]
            ca_file = "/var/tmp/fasco-registry/ca.crt"
            insecure_skip_verify = true
            plain_http = false
            """, source: "r.toml")
        try config.validate()
        #expect(config.registry.hosts["registry.k8s.io"]?.mirrors == ["http://127.0.0.1:5000", "https://mirror.example:5443"])
        let tls = try #require(config.registry.hosts["127.0.0.1:5443"])
        #expect(tls.caFile == "/var/tmp/fasco-registry/ca.crt")
        #expect(tls.insecureSkipVerify)
        #expect(tls.plainHTTP == false)
    }

    @Test("unknown host keys and bad mirrors are named", arguments: [
        ("[registry.hosts.\"a.io\"]\nmirror = [\"http://x.io\"]", "registry.hosts.\"a.io\".mirror"),
        ("[registry]\nmirrors = 1", "registry.mirrors"),
        ("[registry.hosts.\"a.io\"]\ninsecure_skip_verify = \"yes\"", "registry.hosts.\"a.io\".insecure_skip_verify must be true or false"),
    ])
    func badKeys(text: String, fragment: String) {
        var config = FascoConfig()
        #expect { try config.apply(toml: text, source: "r.toml") } throws: { String(describing: $0).contains(fragment) }
    }

    @Test("a mirror that is not an http(s) URL fails validation")
    func badMirror() throws {
        var config = FascoConfig()
        try config.apply(toml: "[registry.hosts.\"a.io\"]\nmirrors = [\"ftp://x\"]", source: "r.toml")
        #expect { try config.validate() } throws: { String(describing: $0).contains("ftp://x is not an http") }
    }
}
