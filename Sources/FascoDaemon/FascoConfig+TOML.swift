import TOML

extension FascoConfig {
    /// Applies a fasco.toml document over `self`. Unknown keys and values of the
    /// wrong type are errors naming the key and its line.
    public mutating func apply(toml text: String, source: String) throws(ConfigError) {
        let table: TOMLTable
        do {
            table = try TOML.parse(text)
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        let reader = Reader(source: source)
        try reader.table(table, prefix: "") { key, value, line throws(ConfigError) in
            switch key {
            case "root": root = try reader.string(key, value, line)
            case "state": state = try reader.string(key, value, line)
            case "log_level": logLevel = try reader.string(key, value, line)
            case "grpc":
                try reader.table(try reader.subtable(key, value, line), prefix: "grpc.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "listen": grpc.listen = try reader.string("grpc." + key, value, line)
                    case "max_recv_message_size": grpc.maxRecvMessageSize = try reader.integer("grpc." + key, value, line)
                    case "max_send_message_size": grpc.maxSendMessageSize = try reader.integer("grpc." + key, value, line)
                    case "shutdown_grace_period_seconds": grpc.shutdownGracePeriodSeconds = try reader.number("grpc." + key, value, line)
                    default: throw reader.unknown("grpc." + key, line)
                    }
                }
            case "runtime":
                try reader.table(try reader.subtable(key, value, line), prefix: "runtime.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "backend": runtime.backend = try reader.string("runtime." + key, value, line)
                    case "oci_runtime": runtime.ociRuntime = try reader.string("runtime." + key, value, line)
                    case "cgroup_driver": runtime.cgroupDriver = try reader.string("runtime." + key, value, line)
                    case "supervisor_path": runtime.supervisorPath = try reader.string("runtime." + key, value, line)
                    case "cgroup_root": runtime.cgroupRoot = try reader.string("runtime." + key, value, line)
                    default: throw reader.unknown("runtime." + key, line)
                    }
                }
            case "cni":
                try reader.table(try reader.subtable(key, value, line), prefix: "cni.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "conf_dir": cni.confDir = try reader.string("cni." + key, value, line)
                    case "bin_dirs": cni.binDirs = try reader.strings("cni." + key, value, line)
                    default: throw reader.unknown("cni." + key, line)
                    }
                }
            case "streaming":
                try reader.table(try reader.subtable(key, value, line), prefix: "streaming.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "address": streaming.address = try reader.string("streaming." + key, value, line)
                    case "port": streaming.port = try reader.integer("streaming." + key, value, line)
                    default: throw reader.unknown("streaming." + key, line)
                    }
                }
            case "image":
                try reader.table(try reader.subtable(key, value, line), prefix: "image.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "max_layer_bytes": image.maxLayerBytes = Int64(try reader.integer("image." + key, value, line))
                    case "max_layer_ratio": image.maxLayerRatio = Int64(try reader.integer("image." + key, value, line))
                    case "layer_ratio_floor_bytes": image.layerRatioFloorBytes = Int64(try reader.integer("image." + key, value, line))
                    case "max_layer_entries": image.maxLayerEntries = try reader.integer("image." + key, value, line)
                    default: throw reader.unknown("image." + key, line)
                    }
                }
            case "kbs":
                try reader.table(try reader.subtable(key, value, line), prefix: "kbs.") { key, value, line throws(ConfigError) in
                    switch key {
                    case "url": kbs.url = try reader.string("kbs." + key, value, line)
                    case "ca_file": kbs.caFile = try reader.string("kbs." + key, value, line)
                    default: throw reader.unknown("kbs." + key, line)
                    }
                }
            case "registry":
                try reader.table(try reader.subtable(key, value, line), prefix: "registry.") { key, value, line throws(ConfigError) in
                    guard key == "hosts" else { throw reader.unknown("registry." + key, line) }
                    try reader.table(try reader.subtable("registry.hosts", value, line), prefix: "") { host, value, line throws(ConfigError) in
                        let prefix = "registry.hosts.\"\(host)\"."
                        var settings = registry.hosts[host] ?? Registry.Host()
                        try reader.table(try reader.subtable(String(prefix.dropLast()), value, line), prefix: prefix) { key, value, line throws(ConfigError) in
                            switch key {
                            case "mirrors": settings.mirrors = try reader.strings(prefix + key, value, line)
                            case "ca_file": settings.caFile = try reader.string(prefix + key, value, line)
                            case "insecure_skip_verify": settings.insecureSkipVerify = try reader.boolean(prefix + key, value, line)
                            case "plain_http": settings.plainHTTP = try reader.boolean(prefix + key, value, line)
                            default: throw reader.unknown(prefix + key, line)
                            }
                        }
                        registry.hosts[host] = settings
                    }
                }
            default:
                throw reader.unknown(key, line)
            }
        }
    }

    /// Typed access to TOML values with errors that name the key, line and file.
    private struct Reader {
        let source: String

        func table(_ table: TOMLTable, prefix: String, _ body: (String, TOMLValue, Int) throws(ConfigError) -> Void) throws(ConfigError) {
            for entry in table.entries { try body(entry.key, entry.value, entry.line) }
        }

        func unknown(_ key: String, _ line: Int) -> ConfigError {
            ConfigError("\(source):\(line): unknown key \(key)")
        }

        private func wrongType(_ key: String, _ expected: String, _ value: TOMLValue, _ line: Int) -> ConfigError {
            ConfigError("\(source):\(line): \(key) must be \(expected), got a \(value.typeName)")
        }

        func subtable(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> TOMLTable {
            guard case .table(let table) = value else { throw wrongType(key, "a table", value, line) }
            return table
        }

        func string(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> String {
            guard case .string(let string) = value else { throw wrongType(key, "a string", value, line) }
            return string
        }

        func boolean(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> Bool {
            guard case .boolean(let flag) = value else { throw wrongType(key, "true or false", value, line) }
            return flag
        }

        func integer(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> Int {
            guard case .integer(let integer) = value else { throw wrongType(key, "an integer", value, line) }
            return Int(integer)
        }

        func number(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> Double {
            switch value {
            case .integer(let integer): return Double(integer)
            case .float(let float) where float.isFinite: return float
            default: throw wrongType(key, "a finite number", value, line)
            }
        }

        func strings(_ key: String, _ value: TOMLValue, _ line: Int) throws(ConfigError) -> [String] {
            guard case .array(let values) = value else { throw wrongType(key, "an array of strings", value, line) }
            var strings: [String] = []
            for element in values {
                guard case .string(let string) = element else { throw wrongType(key, "an array of strings", element, line) }
                strings.append(string)
            }
            return strings
        }
    }
}
