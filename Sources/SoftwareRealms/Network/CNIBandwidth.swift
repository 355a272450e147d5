import FascoCore

/// Traffic limits for the pod: the `bandwidth` capability argument of the CNI conventions,
/// which the `bandwidth` plugin acts on. Rates are in bits per second, bursts in bits; nil
/// leaves that direction unlimited.
public struct CNIBandwidth: Sendable, Equatable, Codable {
    public var ingressRate: UInt64?
    public var ingressBurst: UInt64?
    public var egressRate: UInt64?
    public var egressBurst: UInt64?

    public init(ingressRate: UInt64? = nil, ingressBurst: UInt64? = nil, egressRate: UInt64? = nil, egressBurst: UInt64? = nil) {
        self.ingressRate = ingressRate
        self.ingressBurst = ingressBurst
        self.egressRate = egressRate
        self.egressBurst = egressBurst
    }

    var isEmpty: Bool { ingressRate == nil && ingressBurst == nil && egressRate == nil && egressBurst == nil }

    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        let fields: [(String, UInt64?)] = [
            ("ingressRate", ingressRate), ("ingressBurst", ingressBurst), ("egressRate", egressRate), ("egressBurst", egressBurst),
        ]
        for (key, value) in fields {
            if let value { object[key] = .integer(Int64(clamping: value)) }
        }
        return .object(object)
    }
}
