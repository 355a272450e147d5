import FascoCore
import ImageStore
#if canImport(Glibc)
import Glibc
#endif

/// Fasco's configuration: embedded defaults, overridden by /etc/fasco/fasco.toml,
/// overridden by command-line flags. `deploy/fasco.toml` documents every key.
public struct FascoConfig: Sendable, Equatable, Codable {
    /// Persistent state: images, realm records.
    public var root = "/var/lib/fasco"
    /// Runtime state that does not survive a reboot.
    public var state = "/run/fasco"
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    public var grpc = GRPC()
    public var runtime = Runtime()
    public var cni = CNI()
    public var registry = Registry()
    public var streaming = Streaming()
    public var image = Image()
    public var metrics = Metrics()
    public var kbs = KBS()
    public var kms = KMS()

    /// Key management services that sealed secrets name (CoCo's KMS providers).
    public struct KMS: Sendable, Equatable, Codable {
        public var aws = AWS()
        public var aliyun = Aliyun()

        /// Provider `aliyun` (client_type `client_key`): envelopes and secrets of an Alibaba
        /// Cloud KMS instance, reached with a client key, its password and the instance's CA,
        /// which the key broker releases to the container's realm (initdata `[[credentials]]`).
        public struct Aliyun: Sendable, Equatable, Codable {
            /// A base URL replacing the instance's own
            /// (`https://<kms_instance_id>.cryptoservice.kms.aliyuncs.com`); "" for its own.
            public var endpoint = ""
        }

        /// Provider `aws`: envelope secrets unwrapped by AWS KMS, vault secrets in AWS Secrets
        /// Manager, with static IAM credentials the key broker releases to the container's realm.
        public struct AWS: Sendable, Equatable, Codable {
            /// Base URLs replacing AWS's regional endpoints (`https://kms.<region>.amazonaws.com`,
            /// `https://secretsmanager.<region>.amazonaws.com`); "" for AWS's own.
            public var kmsEndpoint = ""
            public var secretsManagerEndpoint = ""
            /// A PEM CA bundle trusted for them (besides the system's).
            public var caFile: String?
            /// The broker resource (`kbs:///repo/type/tag`) holding the credential document for
            /// pods whose initdata's cdh.toml names none in `[[credentials]]`; "" for none.
            public var credentialURI = ""
        }
    }

    /// The node's key broker (Trustee's KBS, RCAR 0.4.0): used for pods whose initdata names
    /// none (CoCo's cdh.toml `[kbc] url` wins). No url: no key release.
    public struct KBS: Sendable, Equatable, Codable {
        /// `https://kbs.example:8080` (the base, without /kbs/v0); "" for none.
        public var url = ""
        /// A PEM CA bundle trusted for the broker (besides the system's).
        public var caFile: String?
        /// The kind of TEE key each session makes: "ec" (P-256, ECDH-ES+A256KW: CoCo's
        /// default) or "rsa" (2048 bits, RSA-OAEP-256).
        public var teeKey = "ec"
    }

    public struct GRPC: Sendable, Equatable, Codable {
        /// `unix:///path/to.sock`: where kubelet, crictl and critest connect.
        public var listen = "unix:///run/fasco/fasco.sock"
        public var maxRecvMessageSize = 16 << 20
        public var maxSendMessageSize = 16 << 20
        /// How long calls in flight may take to finish on SIGTERM/SIGINT before they are cancelled.
        public var shutdownGracePeriodSeconds = 10.0
    }

    public struct Runtime: Sendable, Equatable, Codable {
        /// The realm backend: `software` (Linux isolation + software RMM).
        public var backend = "software"
        /// The OCI runtime creating Container Realms: `crun` or `runc`.
        public var ociRuntime = "crun"
        /// `auto` (systemd when systemd is init, else cgroupfs), `cgroupfs` or `systemd`.
        public var cgroupDriver = "auto"
        /// The System Realm supervisor; "" means `fasco-realm` next to the fasco executable.
        public var supervisorPath = ""
        /// The cgroup (cgroupfs form) under which pods that name no cgroup parent get theirs
        /// (cgroupfs driver; with systemd such a pod gets the slice fasco-pod<ID>.slice).
        public var cgroupRoot = "/fasco"
    }

    public struct CNI: Sendable, Equatable, Codable {
        public var confDir = "/etc/cni/net.d"
        public var binDirs = ["/usr/lib/cni", "/opt/cni/bin"]
        /// Whether pods join Fasco's embedded default network (deploy/cni/10-fasco.conflist's
        /// bridge) while `confDir` holds no configuration. Its configuration is written to
        /// `<state>/cni/net.d`, never to `confDir`.
        public var defaultNetwork = true
        /// The default network's bridge and subnet.
        public var defaultBridge = "fasco0"
        public var defaultSubnet = "10.88.0.0/16"
    }

    /// The CRI streaming server (Exec, Attach, PortForward URLs).
    public struct Streaming: Sendable, Equatable, Codable {
        /// The IP address it listens on; the URLs handed out name it, so clients must reach it.
        public var address = "127.0.0.1"
        /// 0 picks a free port at each start (containerd's default).
        public var port = 0
    }

    /// Bounds on what one image layer may expand to when it is unpacked (decompression bombs).
    /// A layer past one is refused with RESOURCE_EXHAUSTED while it unpacks.
    public struct Image: Sendable, Equatable, Codable {
        /// Uncompressed bytes of one layer, whatever its compressed size.
        public var maxLayerBytes = LayerLimits().maxBytes
        /// Uncompressed bytes per compressed byte, past `layerRatioFloorBytes`.
        public var maxLayerRatio = LayerLimits().maxRatio
        /// Uncompressed bytes any layer may have whatever its ratio.
        public var layerRatioFloorBytes = LayerLimits().ratioFloorBytes
        /// Tar entries of one layer.
        public var maxLayerEntries = LayerLimits().maxEntries
        /// A containers-policy.json(5) file PullImage and CreateContainer hold images to;
        /// empty: no policy, every image is admitted.
        public var signaturePolicy = ""
        /// PEM private keys (EC P-256 or RSA) that open ocicrypt's JWE key wrapper of encrypted
        /// layers, as containerd's imgcrypt decryption keys do; empty: only the key broker's keys.
        public var decryptionKeys: [String] = []

        public var layerLimits: LayerLimits {
            LayerLimits(maxBytes: maxLayerBytes, maxRatio: maxLayerRatio, ratioFloorBytes: layerRatioFloorBytes,
                        maxEntries: maxLayerEntries)
        }
    }

    /// The Prometheus endpoint.
    public struct Metrics: Sendable, Equatable, Codable {
        /// `host:port` (`[v6]:port` for IPv6) where `GET /metrics` answers in Prometheus text
        /// format; empty: no endpoint, and nothing is recorded. Loopback is recommended: the
        /// endpoint has no authentication.
        public var address = ""
    }

    /// Per-registry settings, keyed by registry host as image names spell it
    /// (`registry.k8s.io`, `docker.io`, `127.0.0.1:5000`).
    public struct Registry: Sendable, Equatable, Codable {
        public var hosts: [String: Host] = [:]

        public struct Host: Sendable, Equatable, Codable {
            /// Endpoints tried in order before the registry itself, e.g. `http://127.0.0.1:5000`.
            public var mirrors: [String] = []
            /// A PEM CA bundle trusted for this registry and its https mirrors (besides the system's).
            public var caFile: String?
            /// Skip TLS verification (never for production registries).
            public var insecureSkipVerify = false
            /// Speak plain HTTP to the registry itself (loopback registries default to it).
            public var plainHTTP: Bool?

            public init() {}
        }
    }

    public init() {}

    /// Where image content and snapshots live: the image filesystem ImageFsInfo reports.
    public var imagesDirectory: String { root + "/images" }

    /// The socket path of `grpc.listen`.
    public var socketPath: String {
        get throws(ConfigError) { try Self.socketPath(of: grpc.listen) }
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static func socketPath(of endpoint: String) throws(ConfigError) -> String {
        for prefix in ["unix://", "unix:"] where endpoint.hasPrefix(prefix) {
            let path = String(endpoint.dropFirst(prefix.count))
            guard path.hasPrefix("/") else { break }
            return path
        }
        throw ConfigError("grpc.listen must be unix:///absolute/path.sock, got \(endpoint)")
    }

    /// Checks values that parse but make no sense; names the key.
    public func validate() throws(ConfigError) {
        guard Self.logLevels.contains(logLevel) else {
            throw ConfigError("log_level must be one of \(Self.logLevels.joined(separator: ", ")), got \(logLevel)")
        }
        for key in image.decryptionKeys where !key.hasPrefix("/") {
            throw ConfigError("image.decryption_keys must hold absolute paths, got \(key)")
        }
        if !image.signaturePolicy.isEmpty && !image.signaturePolicy.hasPrefix("/") {
            throw ConfigError("image.signature_policy must be an absolute path (or empty: no policy), got \(image.signaturePolicy)")
        }
        for (key, path) in [("root", root), ("state", state), ("cni.conf_dir", cni.confDir)] where !path.hasPrefix("/") {
            throw ConfigError("\(key) must be an absolute path, got \(path)")
        }
        _ = try socketPath
        for (key, size) in [("grpc.max_recv_message_size", grpc.maxRecvMessageSize),
                            ("grpc.max_send_message_size", grpc.maxSendMessageSize)]
        where size < 1024 || size > Int(Int32.max) {
            throw ConfigError("\(key) must be between 1024 and \(Int32.max) bytes, got \(size)")
        }
        guard grpc.shutdownGracePeriodSeconds >= 0, grpc.shutdownGracePeriodSeconds <= 3600 else {
            throw ConfigError("grpc.shutdown_grace_period_seconds must be between 0 and 3600, got \(grpc.shutdownGracePeriodSeconds)")
        }
        guard runtime.backend == "software" else {
            throw ConfigError("runtime.backend must be software (the only backend this build has), got \(runtime.backend)")
        }
        guard ["crun", "runc"].contains(runtime.ociRuntime) else {
            throw ConfigError("runtime.oci_runtime must be crun or runc, got \(runtime.ociRuntime)")
        }
        for (host, settings) in registry.hosts {
            for mirror in settings.mirrors where !(mirror.hasPrefix("http://") || mirror.hasPrefix("https://")) || mirror.count < 10 {
                throw ConfigError("registry.hosts.\"\(host)\".mirrors: \(mirror) is not an http:// or https:// URL")
            }
            if let caFile = settings.caFile, !caFile.hasPrefix("/") {
                throw ConfigError("registry.hosts.\"\(host)\".ca_file must be an absolute path, got \(caFile)")
            }
        }
        if !kbs.url.isEmpty, !(kbs.url.hasPrefix("http://") || kbs.url.hasPrefix("https://")) {
            throw ConfigError("kbs.url must be an http:// or https:// URL, got \(kbs.url)")
        }
        guard ["ec", "rsa"].contains(kbs.teeKey) else {
            throw ConfigError("kbs.tee_key must be \"ec\" or \"rsa\", got \(kbs.teeKey.debugDescription)")
        }
        if let caFile = kbs.caFile, !caFile.hasPrefix("/") {
            throw ConfigError("kbs.ca_file must be an absolute path, got \(caFile)")
        }
        for (name, url) in [("kms_endpoint", kms.aws.kmsEndpoint), ("secrets_manager_endpoint", kms.aws.secretsManagerEndpoint)]
        where !url.isEmpty && !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ConfigError("kms.aws.\(name) must be an http:// or https:// URL, got \(url)")
        }
        if !kms.aliyun.endpoint.isEmpty, !kms.aliyun.endpoint.hasPrefix("https://") {
            throw ConfigError("kms.aliyun.endpoint must be an https:// URL (the instance's CA is checked), got \(kms.aliyun.endpoint)")
        }
        if let caFile = kms.aws.caFile, !caFile.hasPrefix("/") {
            throw ConfigError("kms.aws.ca_file must be an absolute path, got \(caFile)")
        }
        if !kms.aws.credentialURI.isEmpty, !kms.aws.credentialURI.hasPrefix("kbs:///") {
            throw ConfigError("kms.aws.credential_uri must be a kbs:///repo/type/tag resource, got \(kms.aws.credentialURI)")
        }
        guard streaming.port >= 0, streaming.port <= 65535 else {
            throw ConfigError("streaming.port must be between 0 and 65535, got \(streaming.port)")
        }
        guard IPAddressText.family(of: streaming.address) != nil else {
            throw ConfigError("streaming.address must be an IPv4 or IPv6 address, got \(streaming.address)")
        }
        for (key, value) in [(LayerLimits.maxBytesKey, image.maxLayerBytes), (LayerLimits.maxRatioKey, image.maxLayerRatio),
                             (LayerLimits.ratioFloorBytesKey, image.layerRatioFloorBytes),
                             (LayerLimits.maxEntriesKey, Int64(image.maxLayerEntries))] where value < 1 {
            throw ConfigError("\(key) must be at least 1, got \(value)")
        }
        if !metrics.address.isEmpty, MetricsAddress(metrics.address) == nil {
            throw ConfigError("metrics.address must be host:port with an IP address host ([v6]:port for IPv6) and a port from 1 to 65535 (or empty: off), got \(metrics.address)")
        }
        guard ["auto", "cgroupfs", "systemd"].contains(runtime.cgroupDriver) else {
            throw ConfigError("runtime.cgroup_driver must be auto, cgroupfs or systemd, got \(runtime.cgroupDriver)")
        }
    }
}

/// A configuration that cannot be used; the message names the key (and line).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
