import FascoCore
import TOMLKit

extension FascoConfig {
    /// Applies a fasco.toml document over `self`. TOMLKit (toml++) parses it; syntax errors
    /// name the file, line and column. Unknown keys and values of the wrong type are errors
    /// naming the key's path and the line where it is written.
    public mutating func apply(toml text: String, source: String) throws(ConfigError) {
        let table = try Self.parse(text, source: source)
        let reader = Reader(source: source, text: text)
        try reader.table(table, path: []) { key, value throws(ConfigError) in
            switch key.last {
            case "root": root = try reader.string(key, value)
            case "state": state = try reader.string(key, value)
            case "log_level": logLevel = try reader.string(key, value)
            case "grpc":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "listen": grpc.listen = try reader.string(key, value)
                    case "max_recv_message_size": grpc.maxRecvMessageSize = try reader.integer(key, value)
                    case "max_send_message_size": grpc.maxSendMessageSize = try reader.integer(key, value)
                    case "shutdown_grace_period_seconds": grpc.shutdownGracePeriodSeconds = try reader.number(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "runtime":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "backend": runtime.backend = try reader.string(key, value)
                    case "oci_runtime": runtime.ociRuntime = try reader.string(key, value)
                    case "cgroup_driver": runtime.cgroupDriver = try reader.string(key, value)
                    case "supervisor_path": runtime.supervisorPath = try reader.string(key, value)
                    case "cgroup_root": runtime.cgroupRoot = try reader.string(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "cni":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "conf_dir": cni.confDir = try reader.string(key, value)
                    case "bin_dirs": cni.binDirs = try reader.strings(key, value)
                    case "default_network": cni.defaultNetwork = try reader.boolean(key, value)
                    case "default_bridge": cni.defaultBridge = try reader.string(key, value)
                    case "default_subnet": cni.defaultSubnet = try reader.string(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "streaming":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "address": streaming.address = try reader.string(key, value)
                    case "port": streaming.port = try reader.integer(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "image":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "max_layer_bytes": image.maxLayerBytes = Int64(try reader.integer(key, value))
                    case "max_layer_ratio": image.maxLayerRatio = Int64(try reader.integer(key, value))
                    case "layer_ratio_floor_bytes": image.layerRatioFloorBytes = Int64(try reader.integer(key, value))
                    case "max_layer_entries": image.maxLayerEntries = try reader.integer(key, value)
                    case "signature_policy": image.signaturePolicy = try reader.string(key, value)
                    case "decryption_keys": image.decryptionKeys = try reader.strings(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "metrics":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "address": metrics.address = try reader.string(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "kbs":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    switch key.last {
                    case "url": kbs.url = try reader.string(key, value)
                    case "ca_file": kbs.caFile = try reader.string(key, value)
                    case "tee_key": kbs.teeKey = try reader.string(key, value)
                    default: throw reader.unknown(key)
                    }
                }
            case "kms":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    if key.last == "aliyun" {
                        try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                            guard key.last == "endpoint" else { throw reader.unknown(key) }
                            kms.aliyun.endpoint = try reader.string(key, value)
                        }
                        return
                    }
                    guard key.last == "aws" else { throw reader.unknown(key) }
                    try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                        switch key.last {
                        case "kms_endpoint": kms.aws.kmsEndpoint = try reader.string(key, value)
                        case "secrets_manager_endpoint": kms.aws.secretsManagerEndpoint = try reader.string(key, value)
                        case "ca_file": kms.aws.caFile = try reader.string(key, value)
                        case "credential_uri": kms.aws.credentialURI = try reader.string(key, value)
                        default: throw reader.unknown(key)
                        }
                    }
                }
            case "registry":
                try reader.table(try reader.subtable(key, value), path: key) { key, value throws(ConfigError) in
                    guard key.last == "hosts" else { throw reader.unknown(key) }
                    try reader.table(try reader.subtable(key, value), path: key) { hostKey, value throws(ConfigError) in
                        let host = hostKey.last ?? ""
                        var settings = registry.hosts[host] ?? Registry.Host()
                        try reader.table(try reader.subtable(hostKey, value), path: hostKey) { key, value throws(ConfigError) in
                            switch key.last {
                            case "mirrors": settings.mirrors = try reader.strings(key, value)
                            case "ca_file": settings.caFile = try reader.string(key, value)
                            case "insecure_skip_verify": settings.insecureSkipVerify = try reader.boolean(key, value)
                            case "plain_http": settings.plainHTTP = try reader.boolean(key, value)
                            default: throw reader.unknown(key)
                            }
                        }
                        registry.hosts[host] = settings
                    }
                }
            default:
                throw reader.unknown(key)
            }
        }
    }

    /// The document's root table; a syntax error names the file, line and column.
    static func parse(_ text: String, source: String) throws(ConfigError) -> TOMLTable {
        if let violation = TOMLLimits.violation(in: text) {
            throw ConfigError("\(source): line \(violation.line): \(violation.reason)")
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(source): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
    }

    /// Typed access to TOML values with errors that name the file, the key's path and its line.
    private struct Reader {
        let source: String
        let lines: TOMLKeyLines

        init(source: String, text: String) {
            self.source = source
            self.lines = TOMLKeyLines(text)
        }

        func table(_ table: TOMLTable, path: [String], _ body: ([String], TOMLValueConvertible) throws(ConfigError) -> Void) throws(ConfigError) {
            for key in table.keys {
                guard let value = table[key] else { continue }
                try body(path + [key], value)
            }
        }

        /// "file:line: " where the key's line is found, else "file: ".
        private func location(_ key: [String]) -> String {
            lines.line(of: key).map { "\(source):\($0): " } ?? "\(source): "
        }

        func unknown(_ key: [String]) -> ConfigError {
            ConfigError("\(location(key))unknown key \(TOMLKeyLines.display(key))")
        }

        private func wrongType(_ key: [String], _ expected: String, _ value: TOMLValueConvertible) -> ConfigError {
            ConfigError("\(location(key))\(TOMLKeyLines.display(key)) must be \(expected), got a \(Self.typeName(value.type))")
        }

        static func typeName(_ type: TOMLType) -> String {
            switch type {
            case .string: "string"
            case .int: "integer"
            case .double: "float"
            case .bool: "boolean"
            case .date, .time, .dateTime: "datetime"
            case .array: "array"
            case .table: "table"
            }
        }

        func subtable(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> TOMLTable {
            guard let table = value.table else { throw wrongType(key, "a table", value) }
            return table
        }

        func string(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> String {
            guard let string = value.string else { throw wrongType(key, "a string", value) }
            return string
        }

        func boolean(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> Bool {
            guard let flag = value.bool else { throw wrongType(key, "true or false", value) }
            return flag
        }

        func integer(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> Int {
            guard let integer = value.int else { throw wrongType(key, "an integer", value) }
            return integer
        }

        func number(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> Double {
            if let integer = value.int { return Double(integer) }
            if let float = value.double, float.isFinite { return float }
            throw wrongType(key, "a finite number", value)
        }

        func strings(_ key: [String], _ value: TOMLValueConvertible) throws(ConfigError) -> [String] {
            guard let array = value.array else { throw wrongType(key, "an array of strings", value) }
            var strings: [String] = []
            for element in array {
                guard let string = element.string else { throw wrongType(key, "an array of strings", element) }
                strings.append(string)
            }
            return strings
        }
    }
}
