import FascoCore
import FoundationEssentials

/// A realm's measurements as the RMM keeps them (Arm RMM spec DEN0137; TF-RMM
/// `lib/measurement`): the Realm Initial Measurement (RIM), four Realm Extensible
/// Measurements (REMs), the personalization value, and the log of every operation that made
/// them, from which anyone can recompute them. Values change only through the RMM
/// operations, so the log and the values cannot disagree.
public struct RealmMeasurement: Sendable, Equatable {
    public let algorithm: MeasurementAlgorithm
    /// The RIM (digest size bytes).
    public private(set) var rim: [UInt8]
    /// REM 1...4, at indexes 0...3 (digest size bytes each).
    public private(set) var rems: [[UInt8]]
    /// The 64-byte Realm Personalization Value (not measured into the RIM; a token claim).
    public let personalizationValue: [UInt8]
    public private(set) var log: [RMMOperation]
    /// False once a REC was created: the realm is activated and its RIM final.
    public private(set) var acceptsData: Bool

    public static let remCount = 4
    public static let maxExtendValue = 64
    public static let personalizationSize = 64

    /// RMI_REALM_CREATE with `params`: RIM init.
    public init(params: RealmParameters, personalizationValue: [UInt8] = []) throws(FascoError) {
        guard let algorithm = MeasurementAlgorithm(rmiValue: params.hashAlgorithm) else {
            throw .invalidArgument("realm hash algorithm \(params.hashAlgorithm) is not 0 (sha-256) or 1 (sha-512)")
        }
        guard personalizationValue.count <= Self.personalizationSize else {
            throw .invalidArgument("a personalization value has at most 64 bytes, not \(personalizationValue.count)")
        }
        self.algorithm = algorithm
        self.rim = algorithm.hash(params.measuredBuffer)
        self.rems = Array(repeating: [UInt8](repeating: 0, count: algorithm.digestSize), count: Self.remCount)
        self.personalizationValue = personalizationValue + [UInt8](repeating: 0, count: Self.personalizationSize - personalizationValue.count)
        self.log = [.realmCreate(params)]
        self.acceptsData = true
    }

    /// RMI_DATA_CREATE: one granule at `ipa`, its content measured when `measured`.
    public mutating func addData(ipa: UInt64, granule: [UInt8], measured: Bool = true, what: String) throws(FascoError) {
        try apply(.dataCreate(ipa: ipa, flags: measured ? RMMOperation.measureContent : 0, content: granule, what: what))
    }

    /// Loads `bytes` as consecutive granules from `ipa` (the last one zero-padded); returns the next free IPA.
    @discardableResult
    public mutating func addData(ipa: UInt64, bytes: [UInt8], what: String) throws(FascoError) -> UInt64 {
        let size = RMMOperation.granuleSize
        var next = ipa
        var offset = 0
        repeat {
            var granule = Array(bytes[offset..<min(offset + size, bytes.count)])
            granule += [UInt8](repeating: 0, count: size - granule.count)
            try addData(ipa: next, granule: granule, what: what)
            next += UInt64(size)
            offset += size
        } while offset < bytes.count
        return next
    }

    /// RMI_REC_CREATE.
    public mutating func addREC(flags: UInt64 = RMMOperation.runnable, pc: UInt64, gprs: [UInt64]) throws(FascoError) {
        try apply(.recCreate(flags: flags, pc: pc, gprs: gprs))
    }

    /// RSI_MEASUREMENT_EXTEND: REM[index] = H(REM[index] ‖ value).
    public mutating func extend(index: Int, value: [UInt8], what: String) throws(FascoError) {
        try apply(.measurementExtend(index: index, value: value, what: what))
    }

    /// What `extend` would make of the REMs, without changing anything (to persist before it takes effect).
    public func extended(index: Int, value: [UInt8], what: String) throws(FascoError) -> RealmMeasurement {
        var copy = self
        try copy.extend(index: index, value: value, what: what)
        return copy
    }

    /// Applies one operation as the RMM does.
    public mutating func apply(_ operation: RMMOperation) throws(FascoError) {
        switch operation {
        case .realmCreate:
            throw .invalidArgument("realm-create comes first, and only once")
        case .dataCreate(let ipa, let flags, let content, _):
            guard acceptsData else { throw .failedPrecondition("data-create after rec-create: the realm is already activated") }
            guard content.count == RMMOperation.granuleSize else {
                throw .invalidArgument("a data granule has 4096 bytes, not \(content.count)")
            }
            guard ipa % UInt64(RMMOperation.granuleSize) == 0 else { throw .invalidArgument("IPA \(ipa) is not granule-aligned") }
            guard flags == 0 || flags == RMMOperation.measureContent else { throw .invalidArgument("data-create flags \(flags) are not 0 or 1") }
            var descriptor = descriptorHeader(type: 0)
            descriptor.storeLE(ipa, at: 0x50)
            descriptor.storeLE(flags, at: 0x58)
            if flags == RMMOperation.measureContent { descriptor.store(algorithm.hash(content), at: 0x60) }
            rim = algorithm.hash(descriptor)
        case .recCreate(let flags, let pc, let gprs):
            guard gprs.count == 8 else { throw .invalidArgument("rec-create takes 8 general purpose registers, not \(gprs.count)") }
            acceptsData = false
            guard flags & RMMOperation.runnable != 0 else { break }
            var params = [UInt8](repeating: 0, count: 4096)
            params.storeLE(flags, at: 0x000)
            params.storeLE(pc, at: 0x200)
            for (index, value) in gprs.enumerated() { params.storeLE(value, at: 0x300 + 8 * index) }
            var descriptor = descriptorHeader(type: 1)
            descriptor.store(algorithm.hash(params), at: 0x50)
            rim = algorithm.hash(descriptor)
        case .measurementExtend(let index, let value, _):
            guard (1...Self.remCount).contains(index) else {
                throw .invalidArgument("measurement index \(index) is not 1 to 4 (0 is the RIM)")
            }
            guard value.count <= Self.maxExtendValue else {
                throw .invalidArgument("a measurement value has at most 64 bytes, not \(value.count)")
            }
            rems[index - 1] = algorithm.hash(rems[index - 1] + value)
        }
        log.append(operation)
    }

    /// A measurement descriptor (0x100 bytes): type, length, and the current RIM in a 64-byte slot.
    private func descriptorHeader(type: UInt8) -> [UInt8] {
        var descriptor = [UInt8](repeating: 0, count: 0x100)
        descriptor[0] = type
        descriptor.storeLE(0x100, at: 0x08)
        descriptor.store(rim, at: 0x10)
        return descriptor
    }

    /// Recomputes a realm's measurements from its log alone.
    public static func replay(_ log: [RMMOperation], personalizationValue: [UInt8] = []) throws(FascoError) -> RealmMeasurement {
        guard case .realmCreate(let params)? = log.first else { throw .invalidArgument("a measurement log starts with realm-create") }
        var measurement = try RealmMeasurement(params: params, personalizationValue: personalizationValue)
        for operation in log.dropFirst() { try measurement.apply(operation) }
        return measurement
    }
}

extension RealmMeasurement: Codable {
    enum CodingKeys: String, CodingKey {
        case algorithm = "hash_algorithm"
        case rim, rems, log
        case personalizationValue = "personalization_value"
    }

    /// Decoding replays the log: values that do not follow from it are refused.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let log = try container.decode([RMMOperation].self, forKey: .log)
        guard let personalization = Hex.decode(try container.decode(String.self, forKey: .personalizationValue)) else {
            throw DecodingError.dataCorruptedError(forKey: .personalizationValue, in: container, debugDescription: "not hex")
        }
        let replayed: RealmMeasurement
        do { replayed = try Self.replay(log, personalizationValue: personalization) } catch {
            throw DecodingError.dataCorruptedError(forKey: .log, in: container, debugDescription: error.message)
        }
        let algorithm = try container.decode(MeasurementAlgorithm.self, forKey: .algorithm)
        let rim = try container.decode(String.self, forKey: .rim)
        let rems = try container.decode([String].self, forKey: .rems)
        guard algorithm == replayed.algorithm, rim == Hex.encode(replayed.rim), rems == replayed.rems.map(Hex.encode) else {
            throw DecodingError.dataCorruptedError(forKey: .rim, in: container, debugDescription: "the measurements do not follow from their log")
        }
        self = replayed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(algorithm, forKey: .algorithm)
        try container.encode(Hex.encode(rim), forKey: .rim)
        try container.encode(rems.map(Hex.encode), forKey: .rems)
        try container.encode(Hex.encode(personalizationValue), forKey: .personalizationValue)
        try container.encode(log, forKey: .log)
    }
}
