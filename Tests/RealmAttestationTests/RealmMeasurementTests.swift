import Crypto
import FascoCore
import Foundation
import Testing
@testable import RealmAttestation

@Suite struct RealmMeasurementTests {
    /// veraison/cca-realm-measurements `src/realm_config.rs` (test_rim): s2sz 48, num_bps 1, num_wps 1.
    @Test(arguments: [
        (MeasurementAlgorithm.sha256, "6739dfb22b75ee1268d08dfa8369f501bc0b066243553f069f560d1fa1172973"),
        (.sha512, "799e434048fb57eb9d4f0e2a2b98158720377252deab2bdfcd69b5a8f82237f434bd6bb1c75bf160a2d49382f733b3439a3ff769e4ea5dd9a6f72239d44bbbab"),
    ])
    func publishedRIMInit(algorithm: MeasurementAlgorithm, expected: String) throws {
        let params = RealmParameters(s2sz: 48, numBPs: 1, numWPs: 1, hashAlgorithm: algorithm)
        let measurement = try RealmMeasurement(params: params)
        #expect(Hex.encode(measurement.rim) == expected)
        #expect(measurement.rems.allSatisfy { $0 == [UInt8](repeating: 0, count: algorithm.digestSize) })
        #expect(measurement.personalizationValue == [UInt8](repeating: 0, count: 64))
    }

    /// The descriptor layout, computed here by hand from the spec's offsets.
    @Test func dataAndRECDescriptors() throws {
        var measurement = try RealmMeasurement(params: .fasco(.sha256))
        let initial = measurement.rim
        var granule = [UInt8](repeating: 0, count: 4096)
        granule[0] = 0x41
        try measurement.addData(ipa: 0x1000, granule: granule, what: "test")
        var descriptor = [UInt8](repeating: 0, count: 0x100)
        descriptor[0] = 0
        descriptor[0x08] = 0x00; descriptor[0x09] = 0x01
        descriptor.replaceSubrange(0x10..<0x30, with: initial)
        descriptor[0x51] = 0x10
        descriptor[0x58] = 1
        descriptor.replaceSubrange(0x60..<0x80, with: Array(SHA256.hash(data: granule)))
        #expect(measurement.rim == Array(SHA256.hash(data: descriptor)))

        let afterData = measurement.rim
        try measurement.addREC(pc: 0x1000, gprs: [7, 0, 0, 0, 0, 0, 0, 0])
        var params = [UInt8](repeating: 0, count: 4096)
        params[0] = 1
        params[0x201] = 0x10
        params[0x300] = 7
        var rec = [UInt8](repeating: 0, count: 0x100)
        rec[0] = 1
        rec[0x09] = 0x01
        rec.replaceSubrange(0x10..<0x30, with: afterData)
        rec.replaceSubrange(0x50..<0x70, with: Array(SHA256.hash(data: params)))
        #expect(measurement.rim == Array(SHA256.hash(data: rec)))

        // A data granule after the REC is refused: the realm is active.
        #expect(throws: FascoError.self) { try measurement.addData(ipa: 0x2000, granule: granule, what: "late") }
    }

    @Test func unmeasuredContentAndNonRunnableREC() throws {
        var a = try RealmMeasurement(params: .fasco(.sha256))
        var b = a
        try a.addData(ipa: 0, granule: [UInt8](repeating: 1, count: 4096), measured: false, what: "")
        try b.addData(ipa: 0, granule: [UInt8](repeating: 2, count: 4096), measured: false, what: "")
        #expect(a.rim == b.rim)
        let before = a.rim
        try a.addREC(flags: 0, pc: 0, gprs: [UInt64](repeating: 0, count: 8))
        #expect(a.rim == before)
    }

    @Test(arguments: MeasurementAlgorithm.allCases)
    func remExtend(algorithm: MeasurementAlgorithm) throws {
        var measurement = try RealmMeasurement(params: .fasco(algorithm))
        let value = Array("exec".utf8)
        try measurement.extend(index: 2, value: value, what: "x")
        let zero = [UInt8](repeating: 0, count: algorithm.digestSize)
        #expect(measurement.rems[1] == algorithm.hash(zero + value))
        #expect(measurement.rems[0] == zero)
        try measurement.extend(index: 2, value: value, what: "x")
        #expect(measurement.rems[1] == algorithm.hash(algorithm.hash(zero + value) + value))
        #expect(throws: FascoError.self) { try measurement.extend(index: 0, value: value, what: "") }
        #expect(throws: FascoError.self) { try measurement.extend(index: 5, value: value, what: "") }
        #expect(throws: FascoError.self) { try measurement.extend(index: 1, value: [UInt8](repeating: 0, count: 65), what: "") }
        try measurement.extend(index: 4, value: [UInt8](repeating: 9, count: 64), what: "")
    }

    @Test func bytesSpanGranules() throws {
        var measurement = try RealmMeasurement(params: .fasco(.sha256))
        let next = try measurement.addData(ipa: 0x4000, bytes: [UInt8](repeating: 3, count: 5000), what: "doc")
        #expect(next == 0x6000)
        #expect(measurement.log.count == 3)
        guard case .dataCreate(_, _, let second, _) = measurement.log[2] else { Issue.record("not data"); return }
        #expect(second.prefix(904).allSatisfy { $0 == 3 } && second.dropFirst(904).allSatisfy { $0 == 0 })
    }

    @Test func replayAndJSONRoundTrip() throws {
        var measurement = try RealmMeasurement(params: .fasco(.sha512), personalizationValue: [1, 2, 3])
        try measurement.addData(ipa: 0, bytes: Array("document".utf8), what: "doc")
        try measurement.addREC(pc: 0, gprs: [UInt64](repeating: 0, count: 8))
        try measurement.extend(index: 1, value: Array("cmd".utf8), what: "exec")
        #expect(try RealmMeasurement.replay(measurement.log, personalizationValue: [1, 2, 3]) == measurement)
        let json = try JSONEncoder().encode(measurement)
        #expect(try JSONDecoder().decode(RealmMeasurement.self, from: json) == measurement)

        // A record whose values do not follow from its log is refused.
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["rim"] = String(repeating: "0", count: 128)
        let forged = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RealmMeasurement.self, from: forged) }
    }
}
