import Testing
@testable import CRIAPI

/// Wire bytes built by hand: what a hostile or buggy client can send.
@Suite("hostile wire data decodes safely")
struct HostileWireTests {
    /// A length-delimited field (wire type 2).
    static func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            out.append(byte)
        } while value != 0
        return out
    }

    @Test("invalid UTF-8 in a string field is repaired, not fatal")
    func invalidUTF8() throws {
        // VersionRequest.version = 1; 0xFF and a lone continuation byte are never valid UTF-8.
        let bytes = Self.field(1, [0x76, 0xFF, 0x31, 0x80])
        let decoded = try VersionRequest.decode(bytes)
        #expect(decoded.version == "v\u{FFFD}1\u{FFFD}")
    }

    @Test("a map key repeated on the wire keeps the last value")
    func repeatedMapKeys() throws {
        // PodSandboxConfig.labels = 6; entry key = 1, value = 2.
        func entry(_ key: String, _ value: String) -> [UInt8] {
            Self.field(6, Self.field(1, Array(key.utf8)) + Self.field(2, Array(value.utf8)))
        }
        let bytes = entry("app", "first") + entry("tier", "web") + entry("app", "second")
        let decoded = try PodSandboxConfig.decode(bytes)
        #expect(decoded.labels == ["app": "second", "tier": "web"])
    }

    @Test("absent sub-messages decode as nil, empty ones as present")
    func absentAndEmptySubMessages() throws {
        #expect(try CreateContainerRequest.decode([]).config == nil)
        // CreateContainerRequest.config = 2, present but empty.
        let decoded = try CreateContainerRequest.decode(Self.field(2, []))
        #expect(decoded.config == ContainerConfig())
    }

    @Test("truncated and malformed bytes are a decoding error naming the type")
    func malformed() {
        let truncated = Self.field(1, Array("hello".utf8)).dropLast(2)
        #expect(throws: CRIDecodingError.self) { try VersionRequest.decode(Array(truncated)) }
        do {
            _ = try VersionRequest.decode([0xFF, 0xFF, 0xFF])
            Issue.record("garbage decoded")
        } catch {
            #expect(error.description.contains("VersionRequest"))
            #expect(error.byteCount == 3)
        }
        // A string field sent with the varint wire type.
        #expect(throws: CRIDecodingError.self) { try VersionRequest.decode([0x08, 0x01]) }
    }

    @Test("random garbage never crashes any decoder")
    func randomGarbage() {
        var random = TestRandom(seed: 7)
        var decoded = 0
        var rejected = 0
        for round in 0..<3000 {
            let bytes = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let outcome: Bool
            switch round % 4 {
            case 0: outcome = (try? ContainerConfig.decode(bytes)) != nil
            case 1: outcome = (try? PodSandboxConfig.decode(bytes)) != nil
            case 2: outcome = (try? ExecSyncResponse.decode(bytes)) != nil
            default: outcome = (try? ListContainersResponse.decode(bytes)) != nil
            }
            if outcome { decoded += 1 } else { rejected += 1 }
        }
        // Both outcomes occur: the decoder is neither rejecting nor accepting everything.
        #expect(decoded > 0)
        #expect(rejected > 0)
    }
}
