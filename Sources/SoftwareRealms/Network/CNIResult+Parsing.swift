import FascoCore

extension CNIResult {
    /// Reads a plugin's ADD result. The result's own `cniVersion` decides its shape (the
    /// configuration's when it has none): before 0.3.0 an `ip4`/`ip6` object each with `ip`,
    /// `gateway` and `routes`; from 0.3.0 on `interfaces`, `ips` and `routes` lists (0.3.x and
    /// 0.4.0 add a `version` to each IP, which is implied by the address and ignored).
    /// Addresses, gateways, route destinations and interface indexes are checked.
    static func parse(_ json: JSONValue, configVersion: CNIVersion) throws(FascoError) -> CNIResult {
        guard let object = json.objectValue else { throw invalid("the result is not a JSON object") }
        var version = configVersion
        if let text = object["cniVersion"] {
            guard let string = text.stringValue, let parsed = CNIVersion(string) else {
                throw invalid("cniVersion \(describe(text)) is not a version")
            }
            version = parsed
        }
        var result = CNIResult(cniVersion: version.text)
        if version.hasLegacyResult {
            for key in ["ip4", "ip6"] {
                guard let entry = object[key], entry != .null else { continue }
                guard let ipObject = entry.objectValue else { throw invalid("\(key) is not an object") }
                guard let address = try string(ipObject["ip"], "\(key).ip") else { throw invalid("\(key) has no ip") }
                result.ips.append(IPConfig(address: address, gateway: try string(ipObject["gateway"], "\(key).gateway")))
                result.routes += try routes(ipObject["routes"], "\(key).routes")
            }
        } else {
            for (index, entry) in try array(object["interfaces"], "interfaces").enumerated() {
                guard let item = entry.objectValue else { throw invalid("interfaces[\(index)] is not an object") }
                guard let name = try string(item["name"], "interfaces[\(index)].name") else {
                    throw invalid("interfaces[\(index)] has no name")
                }
                result.interfaces.append(Interface(
                    name: name, mac: try string(item["mac"], "interfaces[\(index)].mac"),
                    mtu: try integer(item["mtu"], "interfaces[\(index)].mtu"),
                    sandbox: try string(item["sandbox"], "interfaces[\(index)].sandbox")))
            }
            for (index, entry) in try array(object["ips"], "ips").enumerated() {
                guard let item = entry.objectValue else { throw invalid("ips[\(index)] is not an object") }
                guard let address = try string(item["address"], "ips[\(index)].address") else {
                    throw invalid("ips[\(index)] has no address")
                }
                let interface = try integer(item["interface"], "ips[\(index)].interface")
                if let interface, !result.interfaces.indices.contains(interface) {
                    throw invalid("ips[\(index)].interface \(interface) is not an index into interfaces")
                }
                result.ips.append(IPConfig(
                    address: address, gateway: try string(item["gateway"], "ips[\(index)].gateway"), interface: interface))
            }
            result.routes = try routes(object["routes"], "routes")
        }
        result.dns = try dns(object["dns"])

        for (index, config) in result.ips.enumerated() {
            guard IPAddressText.parseCIDR(config.address) != nil else {
                throw invalid("ips[\(index)].address \(config.address.debugDescription) is not an address in CIDR notation")
            }
            if let gateway = config.gateway, !gateway.isEmpty, IPAddressText.family(of: gateway) == nil {
                throw invalid("ips[\(index)].gateway \(gateway.debugDescription) is not an IP address")
            }
        }
        return result
    }

    private static func routes(_ value: JSONValue?, _ key: String) throws(FascoError) -> [Route] {
        var routes: [Route] = []
        for (index, entry) in try array(value, key).enumerated() {
            let name = "\(key)[\(index)]"
            guard let item = entry.objectValue else { throw invalid("\(name) is not an object") }
            guard let destination = try string(item["dst"], "\(name).dst"), IPAddressText.parseCIDR(destination) != nil else {
                throw invalid("\(name).dst is not a destination in CIDR notation")
            }
            let gateway = try string(item["gw"], "\(name).gw")
            if let gateway, !gateway.isEmpty, IPAddressText.family(of: gateway) == nil {
                throw invalid("\(name).gw \(gateway.debugDescription) is not an IP address")
            }
            routes.append(Route(
                destination: destination, gateway: gateway,
                mtu: try integer(item["mtu"], "\(name).mtu"), advmss: try integer(item["advmss"], "\(name).advmss"),
                priority: try integer(item["priority"], "\(name).priority"), table: try integer(item["table"], "\(name).table"),
                scope: try integer(item["scope"], "\(name).scope")))
        }
        return routes
    }

    private static func dns(_ value: JSONValue?) throws(FascoError) -> DNS {
        guard let value, value != .null else { return DNS() }
        guard let object = value.objectValue else { throw invalid("dns is not an object") }
        return DNS(
            nameservers: try strings(object["nameservers"], "dns.nameservers"), domain: try string(object["domain"], "dns.domain"),
            search: try strings(object["search"], "dns.search"), options: try strings(object["options"], "dns.options"))
    }

    /// A string member; absent or null is nil, any other type an error.
    private static func string(_ value: JSONValue?, _ key: String) throws(FascoError) -> String? {
        guard let value, value != .null else { return nil }
        guard let string = value.stringValue else { throw invalid("\(key) is \(describe(value)), not a string") }
        return string
    }

    private static func integer(_ value: JSONValue?, _ key: String) throws(FascoError) -> Int? {
        guard let value, value != .null else { return nil }
        guard let number = value.integerValue, let int = Int(exactly: number), int >= 0 else {
            throw invalid("\(key) is \(describe(value)), not a non-negative integer")
        }
        return int
    }

    private static func array(_ value: JSONValue?, _ key: String) throws(FascoError) -> [JSONValue] {
        guard let value, value != .null else { return [] }
        guard let array = value.arrayValue else { throw invalid("\(key) is \(describe(value)), not a list") }
        return array
    }

    private static func strings(_ value: JSONValue?, _ key: String) throws(FascoError) -> [String] {
        var strings: [String] = []
        for (index, entry) in try array(value, key).enumerated() {
            guard let string = entry.stringValue else { throw invalid("\(key)[\(index)] is \(describe(entry)), not a string") }
            strings.append(string)
        }
        return strings
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "\(flag)"
        case .integer(let number): "\(number)"
        case .number(let number): "\(number)"
        case .string(let text): text.debugDescription
        case .array: "a list"
        case .object: "an object"
        }
    }

    private static func invalid(_ problem: String) -> FascoError {
        .internal("the CNI result is invalid: \(problem)")
    }
}
