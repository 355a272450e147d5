/// The measured fields of RmiRealmParams (RMM spec DEN0137, RMI_REALM_CREATE; TF-RMM
/// `lib/smc/include/smc-rmi.h`). RIM init is the hash of the 4096-byte parameter buffer
/// with these fields at their offsets and every other byte zero (rpv, vmid and the RTT
/// fields are not measured).
public struct RealmParameters: Sendable, Equatable, Codable {
    /// Bit 0 LPA2, bit 1 SVE, bit 2 PMU.
    public var flags: UInt64
    public var s2sz: UInt8
    public var sveVL: UInt8
    public var numBPs: UInt8
    public var numWPs: UInt8
    public var pmuNumCounters: UInt8
    public var hashAlgorithm: UInt8

    public init(flags: UInt64 = 0, s2sz: UInt8, sveVL: UInt8 = 0, numBPs: UInt8 = 0, numWPs: UInt8 = 0,
                pmuNumCounters: UInt8 = 0, hashAlgorithm: MeasurementAlgorithm) {
        self.flags = flags
        self.s2sz = s2sz
        self.sveVL = sveVL
        self.numBPs = numBPs
        self.numWPs = numWPs
        self.pmuNumCounters = pmuNumCounters
        self.hashAlgorithm = hashAlgorithm.rmiValue
    }

    /// What every Fasco realm is created with: a 48-bit IPA space, no SVE, PMU, breakpoints
    /// or watchpoints (a software realm has none to offer).
    public static func fasco(_ algorithm: MeasurementAlgorithm) -> RealmParameters {
        RealmParameters(s2sz: 48, hashAlgorithm: algorithm)
    }

    /// The 4096-byte RmiRealmParams buffer as RMI_REALM_CREATE measures it.
    public var measuredBuffer: [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        buffer.storeLE(flags, at: 0x00)
        buffer[0x08] = s2sz
        buffer[0x10] = sveVL
        buffer[0x18] = numBPs
        buffer[0x20] = numWPs
        buffer[0x28] = pmuNumCounters
        buffer[0x30] = hashAlgorithm
        return buffer
    }

    enum CodingKeys: String, CodingKey {
        case flags, s2sz
        case sveVL = "sve_vl"
        case numBPs = "num_bps"
        case numWPs = "num_wps"
        case pmuNumCounters = "pmu_num_ctrs"
        case hashAlgorithm = "hash_algo"
    }
}

extension Array where Element == UInt8 {
    /// Writes `value` little-endian at `offset` (the caller sized the buffer).
    mutating func storeLE(_ value: UInt64, at offset: Int) {
        for index in 0..<8 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    /// Copies `bytes` to `offset` (the caller sized the buffer).
    mutating func store(_ bytes: [UInt8], at offset: Int) {
        self.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }
}
