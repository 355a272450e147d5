import FoundationEssentials

/// One step of the RMM that built a realm's measurements, with its full inputs: the entries of
/// a realm's replayable measurement log. Its JSON is the log format `fasco attest
/// --measurements` prints (docs/attestation.md):
///
///     {"op": "realm-create", "params": {"flags", "s2sz", "sve_vl", "num_bps", "num_wps", "pmu_num_ctrs", "hash_algo"}}
///     {"op": "data-create", "ipa": N, "flags": 0|1, "content": BASE64 (4096 bytes), "what": TEXT}
///     {"op": "rec-create", "flags": N, "pc": N, "gprs": [8 x N]}
///     {"op": "measurement-extend", "index": 1..4, "value": BASE64 (<= 64 bytes), "what": TEXT}
public enum RMMOperation: Sendable, Equatable {
    /// RMI_REALM_CREATE: RIM = H(params buffer).
    case realmCreate(RealmParameters)
    /// RMI_DATA_CREATE of one 4 KiB granule at `ipa`; `flags` 1 measures its content.
    case dataCreate(ipa: UInt64, flags: UInt64, content: [UInt8], what: String)
    /// RMI_REC_CREATE; extends the RIM only when `flags` bit 0 (runnable) is set.
    case recCreate(flags: UInt64, pc: UInt64, gprs: [UInt64])
    /// RSI_MEASUREMENT_EXTEND of REM `index` (1...4) with `value` (at most 64 bytes).
    case measurementExtend(index: Int, value: [UInt8], what: String)

    public static let granuleSize = 4096
    /// RMI_MEASURE_CONTENT: a DATA granule whose content is measured.
    public static let measureContent: UInt64 = 1
    /// RmiRecParams.flags bit 0: the REC is runnable.
    public static let runnable: UInt64 = 1
}

extension RMMOperation: Codable {
    enum CodingKeys: String, CodingKey {
        case op, params, ipa, flags, content, what, pc, gprs, index, value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let op = try container.decode(String.self, forKey: .op)
        switch op {
        case "realm-create":
            self = .realmCreate(try container.decode(RealmParameters.self, forKey: .params))
        case "data-create":
            self = .dataCreate(ipa: try container.decode(UInt64.self, forKey: .ipa),
                               flags: try container.decode(UInt64.self, forKey: .flags),
                               content: Array(try container.decode(Data.self, forKey: .content)),
                               what: try container.decodeIfPresent(String.self, forKey: .what) ?? "")
        case "rec-create":
            self = .recCreate(flags: try container.decode(UInt64.self, forKey: .flags),
                              pc: try container.decode(UInt64.self, forKey: .pc),
                              gprs: try container.decode([UInt64].self, forKey: .gprs))
        case "measurement-extend":
            self = .measurementExtend(index: try container.decode(Int.self, forKey: .index),
                                      value: Array(try container.decode(Data.self, forKey: .value)),
                                      what: try container.decodeIfPresent(String.self, forKey: .what) ?? "")
        default:
            throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription: "unknown RMM operation \(op.debugDescription)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .realmCreate(let params):
            try container.encode("realm-create", forKey: .op)
            try container.encode(params, forKey: .params)
        case .dataCreate(let ipa, let flags, let content, let what):
            try container.encode("data-create", forKey: .op)
            try container.encode(ipa, forKey: .ipa)
            try container.encode(flags, forKey: .flags)
            try container.encode(Data(content), forKey: .content)
            try container.encode(what, forKey: .what)
        case .recCreate(let flags, let pc, let gprs):
            try container.encode("rec-create", forKey: .op)
            try container.encode(flags, forKey: .flags)
            try container.encode(pc, forKey: .pc)
            try container.encode(gprs, forKey: .gprs)
        case .measurementExtend(let index, let value, let what):
            try container.encode("measurement-extend", forKey: .op)
            try container.encode(index, forKey: .index)
            try container.encode(Data(value), forKey: .value)
            try container.encode(what, forKey: .what)
        }
    }
}
