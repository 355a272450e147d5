@testable import CRIStreaming
import Testing

@Suite("SPDY/3 header dictionary")
struct SPDYDictionaryTests {
    @Test("the dictionary is the draft's 1423 bytes (zlib dictionary ID 0xe3c6a7c2)")
    func dictionaryIdentity() {
        let bytes = SPDYDictionary.bytes
        #expect(bytes.count == 1423)
        // Adler-32 (RFC 1950 section 8.2), the ID a zlib stream names its dictionary by.
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(b << 16 | a == 0xe3c6_a7c2)
    }
}
