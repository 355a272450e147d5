import FascoCore
import Logging

/// The pod network of the software backend: a CNI client (SPEC.md sections 2 and 3) that runs
/// real CNI plugins (bridge, host-local, portmap, firewall, ...) against a pod's network namespace.
///
/// The configuration is the first `*.conflist`, `*.conf` or `*.json` file of `configDirectory`
/// in lexical order, as kubelet's runtimes pick it (else that of `defaultDirectory`, Fasco's
/// embedded default network); it is read afresh for each ADD. Each
/// attachment's configuration, arguments and result are kept in `cacheDirectory`, so DEL and
/// CHECK run exactly what the ADD ran even after the configuration directory changes.
///
/// Callers serialise operations on one attachment (the pod's own lock); different pods may
/// be set up concurrently (the plugins lock what they share).
public struct CNINetwork: Sendable {
    public var configDirectory: String
    /// Where the embedded default network's configuration lies (`CNIDefaultNetwork.install`),
    /// used for ADDs while `configDirectory` holds no configuration (or cannot be listed, e.g.
    /// does not exist); nil: pods then get a loopback only.
    public var defaultDirectory: String?
    /// Searched in order for plugin executables; also passed to plugins as CNI_PATH.
    public var pluginDirectories: [String]
    /// Where attachment records are kept (created on first use, mode 0700).
    public var cacheDirectory: String
    /// How long one plugin execution may take before its process group is killed.
    public var pluginTimeout: Duration
    /// The most a plugin may print (stdout and stderr together) before its call fails.
    public var outputLimit: Int
    /// Where clean-ups that fail without an error to throw them in are reported.
    public var logger: Logger

    public init(
        configDirectory: String, pluginDirectories: [String], cacheDirectory: String,
        pluginTimeout: Duration = .seconds(60), outputLimit: Int = 1 << 20, defaultDirectory: String? = nil,
        logger: Logger = Logger(label: "fasco.cni")
    ) {
        self.logger = logger
        self.configDirectory = configDirectory
        self.defaultDirectory = defaultDirectory
        self.pluginDirectories = pluginDirectories
        self.cacheDirectory = cacheDirectory
        self.pluginTimeout = pluginTimeout
        self.outputLimit = outputLimit
    }

    /// The reason CRI's NetworkReady condition carries when the network is not ready.
    public static let notReadyReason = "NetworkPluginNotReady"

    /// Whether a usable network configuration exists and every executable it names (plugin
    /// types and IPAM types) is found; when not, the reason and a message saying what is wrong,
    /// for CRI Status's NetworkReady condition.
    public func readiness() -> (ready: Bool, reason: String, message: String) {
        do throws(FascoError) {
            _ = try resolvedNetwork()
            return (true, "", "")
        } catch {
            return (false, Self.notReadyReason, error.message)
        }
    }

    /// The result the attachment's ADD returned, from the cache; nil when it is not attached
    /// (or its ADD has not finished). For reporting a pod's addresses after a daemon restart.
    public func cachedResult(containerID: String, interfaceName: String = "eth0") throws(FascoError) -> CNIResult? {
        guard CNIAttachment.isValidContainerID(containerID), CNIAttachment.isValidInterfaceName(interfaceName) else {
            throw .invalidArgument("invalid container ID or interface name")
        }
        guard let record = try CNIAttachmentRecord.read(recordPath(containerID, interfaceName)), let result = record.result else {
            return nil
        }
        return try CNIResult.parse(result, configVersion: record.network.version)
    }

    /// The current configuration and the path of each plugin executable in chain order;
    /// `failedPrecondition` saying what is missing otherwise.
    func resolvedNetwork() throws(FascoError) -> (network: CNINetworkConfig, paths: [String]) {
        let network = try CNINetworkConfig.load(directory: effectiveDirectory)
        var paths: [String] = []
        var missing: [String] = []
        for type in network.requiredExecutables where pluginPath(type) == nil { missing.append(type) }
        for type in network.pluginTypes {
            if let path = pluginPath(type) {
                paths.append(path)
            } else if !missing.contains(type) {
                missing.append(type)  // removed since the line above looked
            }
        }
        guard missing.isEmpty else {
            throw .failedPrecondition(
                "network \(network.name) (\(network.source)) needs the CNI plugin\(missing.count == 1 ? "" : "s") "
                + "\(missing.joined(separator: ", ")), not found in \(pluginDirectories.joined(separator: ":"))")
        }
        return (network, paths)
    }

    /// Whether `directory` holds a network configuration file.
    public static func hasConfiguration(_ directory: String) throws(FascoError) -> Bool {
        try CNINetworkConfig.firstFile(in: directory) != nil
    }

    /// The directory whose configuration an ADD uses now: `configDirectory`, unless it holds
    /// none (or cannot be listed, see `defaultDirectory`) and there is a default network.
    public var effectiveDirectory: String {
        guard let defaultDirectory, ((try? CNINetworkConfig.firstFile(in: configDirectory)) ?? nil) == nil else { return configDirectory }
        return defaultDirectory
    }

    /// The executable for a plugin type: the first executable regular file of that name in
    /// `pluginDirectories`.
    func pluginPath(_ type: String) -> String? {
        guard CNINetworkConfig.isValidPluginType(type) else { return nil }
        for directory in pluginDirectories where !directory.isEmpty {
            if let path = ProcessSpawner.resolve(directory + "/" + type) { return path }
        }
        return nil
    }

    func recordPath(_ containerID: String, _ interfaceName: String) -> String {
        CNIAttachmentRecord.path(in: cacheDirectory, containerID: containerID, interfaceName: interfaceName)
    }

    var cniPath: String { pluginDirectories.joined(separator: ":") }
}
