import FascoCore

extension CNINetwork {
    /// The request configuration for one plugin (SPEC.md section 3, "Deriving request
    /// configuration from plugin configuration"): the plugin object unchanged except that
    /// `name` and `cniVersion` come from the network, `capabilities` and `cni.dev/` keys are
    /// dropped, `runtimeConfig` holds the capability arguments the plugin declares (those set
    /// to true in its `capabilities`) and `prevResult` the previous result when there is one.
    static func request(
        plugin: [String: JSONValue], network: CNINetworkConfig, capabilityArguments: [String: JSONValue], prevResult: JSONValue?
    ) -> JSONValue {
        var request = plugin.filter { !$0.key.hasPrefix("cni.dev/") && $0.key != "capabilities" }
        request["name"] = .string(network.name)
        request["cniVersion"] = .string(network.cniVersion)
        let declared = plugin["capabilities"]?.objectValue ?? [:]
        let runtimeConfig = capabilityArguments.filter { declared[$0.key] == .bool(true) }
        if !runtimeConfig.isEmpty { request["runtimeConfig"] = .object(runtimeConfig) }
        if let prevResult { request["prevResult"] = prevResult }
        return .object(request)
    }

    /// A call of the plugin at `path` for `command` on this attachment.
    func call(
        _ command: CNIPluginCall.Command, type: String, path: String, containerID: String, networkNamespace: String,
        interfaceName: String, cniArgs: String
    ) -> CNIPluginCall {
        CNIPluginCall(
            command: command, type: type, path: path, containerID: containerID, networkNamespace: networkNamespace,
            interfaceName: interfaceName, cniArgs: cniArgs, cniPath: cniPath, timeout: pluginTimeout, outputLimit: outputLimit,
            scratchDirectory: cacheDirectory)
    }

    /// The version to run `network` with. When it declares several (`cniVersions`), the highest
    /// that every plugin reports in VERSION's `supportedVersions` (SPEC.md: runtimes may consult
    /// them); a plugin that does not answer is not consulted. Otherwise its `cniVersion`.
    func selectVersion(_ network: CNINetworkConfig, paths: [String]) async -> String {
        guard network.declaredVersions.count > 1 else { return network.cniVersion }
        var acceptable = network.declaredVersions.compactMap(CNIVersion.init)
        var probed: Set<String> = []
        for (type, path) in zip(network.pluginTypes, paths) where probed.insert(path).inserted {
            let probe = CNIPluginCall(
                command: .version, type: type, path: path, cniPath: cniPath, timeout: pluginTimeout, outputLimit: outputLimit,
                scratchDirectory: cacheDirectory)
            guard let answer = try? await probe.run(.object(["cniVersion": .string(network.cniVersion)])),
                  let supported = answer["supportedVersions"]?.arrayValue
            else { continue }
            let versions = Set(supported.compactMap { $0.stringValue.flatMap(CNIVersion.init) })
            let remaining = acceptable.filter { versions.contains($0) }
            // No common version: keep the configuration's choice and let the plugin say why.
            if !remaining.isEmpty { acceptable = remaining }
        }
        return acceptable.max()?.text ?? network.cniVersion
    }
}
