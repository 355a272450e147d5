import FascoCore

/// A network configuration as the runtime executes it (SPEC.md section 1): a name, the
/// protocol version selected, and the plugin configuration objects in chain order. A single
/// plugin configuration (a `.conf` file, as before spec 1.0) becomes a list of one.
///
/// Codable so that the attachment cache keeps the exact configuration an ADD used.
struct CNINetworkConfig: Sendable, Equatable, Codable {
    var name: String
    /// The version plugins are given in `cniVersion`.
    var cniVersion: String
    /// Every version the configuration declares (`cniVersion` and `cniVersions`) that this
    /// client understands, highest first; `cniVersion` is chosen among them.
    var declaredVersions: [String]
    /// `disableCheck`: CHECK must not be run.
    var disableCheck: Bool
    /// Plugin configuration objects, each with a `type`.
    var plugins: [[String: JSONValue]]
    /// The file it was read from.
    var source: String

    var version: CNIVersion {
        // `cniVersion` was validated when parsed; the fallback is never used for a parsed config.
        CNIVersion(cniVersion) ?? .v1_0_0
    }

    /// The plugin type (executable name) of each plugin, in chain order.
    var pluginTypes: [String] { plugins.map { $0["type"]?.stringValue ?? "" } }

    /// Parses a configuration file's bytes. A JSON object with `plugins` is a list; otherwise it
    /// must be a single plugin configuration with a `type` (a `.conflist` must be a list).
    static func parse(_ bytes: [UInt8], source: String) throws(FascoError) -> CNINetworkConfig {
        let json: JSONValue
        do throws(FascoError) {
            json = try JSONValue.parse(bytes, what: "network configuration \(source)")
        } catch {
            throw .failedPrecondition(error.message)
        }
        guard let object = json.objectValue else { throw invalid(source, "it is not a JSON object") }
        let isList = object["plugins"] != nil
        if source.hasSuffix(".conflist") && !isList { throw invalid(source, "a .conflist has no \"plugins\" list") }

        guard let name = object["name"]?.stringValue else { throw invalid(source, "\"name\" is missing or not a string") }
        guard isValidName(name) else {
            throw invalid(source, "network name \(name.debugDescription) must start with a letter or digit followed by letters, digits, '_', '.' or '-'")
        }

        var declared: [String] = []
        if let version = object["cniVersion"] {
            guard let text = version.stringValue else { throw invalid(source, "\"cniVersion\" is not a string") }
            declared.append(text)
        }
        if isList, let versions = object["cniVersions"] {
            guard let list = versions.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid(source, "\"cniVersions\" is not a list of strings")
            }
            declared += list.compactMap(\.stringValue)
        }
        guard !declared.isEmpty else { throw invalid(source, "\"cniVersion\" is missing") }
        for text in declared where CNIVersion(text) == nil {
            throw invalid(source, "CNI version \(text.debugDescription) is not a version")
        }
        let understood = Set(declared.compactMap(CNIVersion.init).filter { $0 <= .newestUnderstood })
        let ordered = understood.sorted(by: >).map(\.text)
        guard let chosen = ordered.first else {
            throw invalid(source, "CNI version \(declared.joined(separator: ", ")) is newer than this client understands (\(CNIVersion.newestUnderstood))")
        }

        var disableCheck = false
        if isList, let flag = object["disableCheck"] {
            // libcni also takes the strings "true" and "false".
            switch flag {
            case .bool(let value): disableCheck = value
            case .string("true"): disableCheck = true
            case .string("false"): disableCheck = false
            default: throw invalid(source, "\"disableCheck\" is not a boolean")
            }
        }

        var plugins: [[String: JSONValue]] = []
        if isList {
            guard let list = object["plugins"]?.arrayValue else { throw invalid(source, "\"plugins\" is not a list") }
            for (index, entry) in list.enumerated() {
                guard let plugin = entry.objectValue else { throw invalid(source, "plugins[\(index)] is not an object") }
                plugins.append(plugin)
            }
            guard !plugins.isEmpty else { throw invalid(source, "\"plugins\" is empty") }
        } else {
            plugins = [object]
        }
        for (index, plugin) in plugins.enumerated() {
            let what = isList ? "plugins[\(index)]" : "the configuration"
            guard let type = plugin["type"]?.stringValue else { throw invalid(source, "\(what) has no \"type\"") }
            guard isValidPluginType(type) else { throw invalid(source, "\(what) has an invalid type \(type.debugDescription)") }
            if let ipam = plugin["ipam"]?.objectValue, let type = ipam["type"] {
                guard let text = type.stringValue, text.isEmpty || isValidPluginType(text) else {
                    throw invalid(source, "\(what) has an invalid IPAM type")
                }
            }
        }
        return CNINetworkConfig(
            name: name, cniVersion: chosen, declaredVersions: ordered, disableCheck: disableCheck, plugins: plugins, source: source)
    }

    /// The executables a chain needs: each plugin's type and the IPAM plugin it delegates to.
    var requiredExecutables: [String] {
        var names: [String] = []
        for plugin in plugins {
            for name in [plugin["type"]?.stringValue, plugin["ipam"]?["type"]?.stringValue].compactMap({ $0 })
            where !name.isEmpty && !names.contains(name) {
                names.append(name)
            }
        }
        return names
    }

    /// SPEC.md section 1: an alphanumeric first character, then alphanumerics, '_', '.' or '-'.
    static func isValidName(_ name: String) -> Bool {
        CNIAttachment.isValidContainerID(name)
    }

    /// A file name in a plugin directory: not empty, no '/', not "." or "..".
    static func isValidPluginType(_ type: String) -> Bool {
        !type.isEmpty && type != "." && type != ".." && !type.contains("/") && !type.utf8.contains(0) && type.utf8.count <= 255
    }

    private static func invalid(_ source: String, _ problem: String) -> FascoError {
        .failedPrecondition("network configuration \(source) is invalid: \(problem)")
    }
}
