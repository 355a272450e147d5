import FascoCore
import ImageStore
import Testing

@Suite("digests")
struct DigestTests {
    @Test("SHA-256 and SHA-512 of known inputs (FIPS 180-4 test vectors)")
    func vectors() {
        #expect(Digest.of(Array("abc".utf8)).description
            == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.of([UInt8]()).description
            == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.of(Array("abc".utf8), algorithm: .sha512).encoded.hasPrefix("ddaf35a193617aba"))
    }

    @Test("incremental hashing equals one-shot hashing")
    func incremental() {
        var hasher = DigestHasher()
        hasher.update(Array("a".utf8))
        hasher.update(Array("bc".utf8))
        #expect(hasher.byteCount == 3)
        #expect(hasher.finalize() == Digest.of(Array("abc".utf8)))
    }

    @Test("parsing accepts canonical digests and rejects everything else", arguments: [
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ])
    func parses(text: String) throws {
        #expect(try Digest(parsing: text).description == text)
    }

    @Test("bad digests are INVALID_ARGUMENT", arguments: [
        "", "sha256", "sha256:", "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "sha256:../../../../etc/passwd000000000000000000000000000000000000000000",
    ])
    func rejects(text: String) {
        #expect { try Digest(parsing: text) } throws: { ($0 as? FascoError)?.code == .invalidArgument }
    }
}
