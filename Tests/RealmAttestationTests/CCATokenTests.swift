import Crypto
import FascoCore
import Testing
@testable import RealmAttestation

@Suite struct CBORTests {
    /// RFC 8949 Appendix A.
    @Test func appendixA() {
        #expect(CBOR.unsigned(0).encoded == [0x00])
        #expect(CBOR.unsigned(23).encoded == [0x17])
        #expect(CBOR.unsigned(24).encoded == [0x18, 0x18])
        #expect(CBOR.unsigned(1000).encoded == [0x19, 0x03, 0xe8])
        #expect(CBOR.unsigned(1_000_000).encoded == [0x1a, 0x00, 0x0f, 0x42, 0x40])
        #expect(CBOR.unsigned(1_000_000_000_000).encoded == [0x1b, 0x00, 0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x00])
        #expect(CBOR.int(-1).encoded == [0x20])
        #expect(CBOR.int(-1000).encoded == [0x39, 0x03, 0xe7])
        #expect(CBOR.bytes([1, 2, 3, 4]).encoded == [0x44, 1, 2, 3, 4])
        #expect(CBOR.text("IETF").encoded == [0x64, 0x49, 0x45, 0x54, 0x46])
        #expect(CBOR.array([.unsigned(1), .array([.unsigned(2), .unsigned(3)])]).encoded == [0x82, 0x01, 0x82, 0x02, 0x03])
        #expect(CBOR.intMap([(1, .unsigned(2)), (3, .unsigned(4))]).encoded == [0xa2, 0x01, 0x02, 0x03, 0x04])
        #expect(CBOR.tagged(1, .unsigned(1_363_896_240)).encoded == [0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0])
        #expect(CBOR.bool(true).encoded == [0xf5])
        #expect(CBOR.null.encoded == [0xf6])
    }

    @Test func deterministicKeyOrder() {
        // Keys sort by their encoded bytes: 10 (0x0a) < 265 (0x19...) < -1 (0x20).
        let map = CBOR.intMap([(-1, .unsigned(0)), (265, .unsigned(0)), (10, .unsigned(0))])
        #expect(map.encoded == [0xa3, 0x0a, 0x00, 0x19, 0x01, 0x09, 0x00, 0x20, 0x00])
    }

    @Test func decodeRoundTripAndHostileInput() throws {
        let item = CBOR.tagged(907, .intMap([(44234, .array([.int(263), .bytes([1, 2])])), (-3, .text("x"))]))
        #expect(try CBOR.decode(item.encoded).encoded == item.encoded)
        #expect(throws: FascoError.self) { try CBOR.decode([0x5a, 0xff, 0xff, 0xff, 0xff]) }
        #expect(throws: FascoError.self) { try CBOR.decode([0x9f]) }
        #expect(throws: FascoError.self) { try CBOR.decode([0x01, 0x02]) }
        #expect(throws: FascoError.self) { try CBOR.decode([UInt8](repeating: 0x81, count: 100) + [0x00]) }
        #expect(throws: FascoError.self) { try CBOR.decode([0x62, 0xff, 0xfe]) }
    }
}

@Suite struct CCATokenTests {
    func sample() throws -> (RealmMeasurement, P384.Signing.PrivateKey, PlatformIdentity) {
        var measurement = try RealmMeasurement(params: .fasco(.sha256), personalizationValue: [0xaa])
        try measurement.addData(ipa: 0, bytes: Array("config".utf8), what: "doc")
        try measurement.addREC(pc: 0, gprs: [UInt64](repeating: 0, count: 8))
        let platform = PlatformIdentity.software(key: P384.Signing.PrivateKey(), components: [
            .init(type: "fasco", measurement: MeasurementAlgorithm.sha256.hash([1]), version: "1", signerID: [UInt8](repeating: 0, count: 32)),
        ])
        return (measurement, P384.Signing.PrivateKey(), platform)
    }

    /// Opens a token of either format, checking both signatures and the RAK binding.
    func open(_ token: [UInt8], platformKey: P384.Signing.PublicKey) throws -> (realm: CBOR, platform: CBOR) {
        let outer = try CBOR.decode(token)
        var platformBytes: [UInt8]?
        var realmBytes: [UInt8]?
        switch outer {
        case .tagged(907, let map):
            if case .array(let p)? = map[44234], p.count == 2, p[0] == .int(263) { platformBytes = p[1].bytesValue }
            if case .array(let r)? = map[44241], r.count == 2, r[0] == .int(263) { realmBytes = r[1].bytesValue }
        case .tagged(399, let map):
            platformBytes = map[44234]?.bytesValue
            realmBytes = map[44241]?.bytesValue
        default: break
        }
        let realmToken = try #require(realmBytes)
        let platformToken = try #require(platformBytes)
        // The RAK comes from the realm token itself.
        guard case .tagged(18, .array(let parts)) = try CBOR.decode(realmToken), let unverified = parts[2].bytesValue else {
            throw FascoError.invalidArgument("realm token shape")
        }
        let coseKey = try #require(try CBOR.decode(unverified)[44237]?.bytesValue)
        let key = try CBOR.decode(coseKey)
        let x = try #require(key[-2]?.bytesValue), y = try #require(key[-3]?.bytesValue)
        #expect(key[1] == .int(2) && key[-1] == .int(2))
        let rak = try P384.Signing.PublicKey(rawRepresentation: x + y)
        let realm = try CBOR.decode(try COSESign1.verify(realmToken, key: rak))
        let platform = try CBOR.decode(try COSESign1.verify(platformToken, key: platformKey))
        #expect(platform[10]?.bytesValue == Array(SHA256.hash(data: coseKey)))
        return (realm, platform)
    }

    @Test(arguments: CCAToken.Format.allCases)
    func tokenVerifiesAndCarriesTheClaims(format: CCAToken.Format) throws {
        let (measurement, rak, platform) = try sample()
        let token = try CCAToken.make(measurement: measurement, rak: rak, challenge: [1, 2, 3], platform: platform, format: format)
        let (realm, claims) = try open(token, platformKey: try platform.signingKey().publicKey)
        #expect(realm[10]?.bytesValue == [1, 2, 3] + [UInt8](repeating: 0, count: 61))
        #expect(realm[265]?.textValue == "tag:arm.com,2023:realm#1.0.0")
        #expect(realm[44238]?.bytesValue == measurement.rim)
        #expect(realm[44236]?.textValue == "sha-256")
        #expect(realm[44235]?.bytesValue == [0xaa] + [UInt8](repeating: 0, count: 63))
        guard case .array(let rems)? = realm[44239] else { Issue.record("no REMs"); return }
        #expect(rems.count == 4)
        #expect(claims[2396]?.bytesValue == Array("fasco software rmm, not hardware".utf8))
        #expect(claims[256]?.bytesValue?.count == 33 && claims[256]?.bytesValue?.first == 0x01)
        #expect(claims[265]?.textValue == "tag:arm.com,2023:cca_platform#1.0.0")
    }

    @Test func oneRealmsTokenDoesNotVerifyUnderAnothersKey() throws {
        let (measurement, rakA, platform) = try sample()
        let rakB = P384.Signing.PrivateKey()
        let token = try CCAToken.make(measurement: measurement, rak: rakA, challenge: [1], platform: platform, format: .legacy)
        guard case .tagged(399, let map) = try CBOR.decode(token), let realmToken = map[44241]?.bytesValue else {
            Issue.record("not a legacy collection")
            return
        }
        _ = try COSESign1.verify(realmToken, key: rakA.publicKey)
        #expect(throws: FascoError.self) { _ = try COSESign1.verify(realmToken, key: rakB.publicKey) }
        // Nor does a realm token of B pass as A's: the platform token binds A's key.
        let tokenB = try CCAToken.make(measurement: measurement, rak: rakB, challenge: [1], platform: platform, format: .legacy)
        guard case .tagged(399, let mapB) = try CBOR.decode(tokenB), let platformB = mapB[44234]?.bytesValue else {
            Issue.record("not a legacy collection")
            return
        }
        let claimsB = try CBOR.decode(try COSESign1.verify(platformB, key: try platform.signingKey().publicKey))
        #expect(claimsB[10]?.bytesValue != Array(SHA256.hash(data: rakA.publicKey.coseKey)))
    }

    @Test func tamperedOrForeignTokensFail() throws {
        let (measurement, rak, platform) = try sample()
        let token = try CCAToken.make(measurement: measurement, rak: rak, challenge: [9], platform: platform, format: .legacy)
        let platformKey = try platform.signingKey().publicKey
        // Flip one byte in the realm claims (the RIM sits near the end of the realm token).
        var flipped = token
        flipped[flipped.count - 120] ^= 0x01
        #expect(throws: (any Error).self) { _ = try open(flipped, platformKey: platformKey) }
        // Another platform's key does not verify this platform token.
        #expect(throws: (any Error).self) { _ = try open(token, platformKey: P384.Signing.PrivateKey().publicKey) }
        #expect(throws: FascoError.self) {
            _ = try CCAToken.make(measurement: measurement, rak: rak, challenge: [UInt8](repeating: 1, count: 65), platform: platform)
        }
    }
}

@Suite struct AttestationKeyPoolTests {
    @Test func everyKeyIsHandedOutOnceAndThePoolRefills() async throws {
        let pool = AttestationKeyPool(capacity: 4)
        var seen = Set<[UInt8]>()
        for _ in 0..<12 {
            let key = pool.take()  // the first ones are made on the spot: the pool starts empty
            #expect(key.count == 48)
            #expect(seen.insert(key).inserted, "a key was handed out twice")
            _ = try P384.Signing.PrivateKey(rawRepresentation: key)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while pool.ready < 4 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(pool.ready == 4)
        #expect(!seen.contains(pool.take()))
    }
}
