import Crypto
import FascoCore
import FoundationEssentials
import KeyBroker
import Testing
import _CryptoExtras

/// The node's image decryption keys (ocicrypt's JWE key wrapper) against RFC 7520 section 5.2
/// ("Key Encryption using RSA-OAEP with AES-GCM"): its RSA key, written as a PEM file as an
/// operator would, opens its general and flattened JSON serializations; another key opens
/// neither; a tampered ciphertext is refused; a file that is no key stops the start, named.
@Suite struct NodeDecryptionKeysTests {
    static let n = "wbdxI55VaanZXPY29Lg5hdmv2XhvqAhoxUkanfzf2-5zVUxa6prHRrI4pP1AhoqJRlZfYtWWd5mmHRG2pAHIlh0ySJ9wi0BioZBl"
            + "1XP2e-C-FyXJGcTy0HdKQWlrfhTm42EW7Vv04r4gfao6uxjLGwfpGrZLarohiWCPnkNrg71S2CuNZSQBIPGjXfkmIy2tl_VWgGnL"
            + "22GplyXj5YlBLdxXp3XeStsqo571utNfoUTU8E4qdzJ3U1DItoVkPGsMwlmmnJiwA7sXRItBCivR4M5qnZtdw-7v4WuR4779ubDu"
            + "J5nalMv2S66-RPcnFAzWSKxtBDnFJJDGIUe7Tzizjg1nms0Xq_yPub_UOlWn0ec85FCft1hACpWG8schrOBeNqHBODFskYpUc2LC"
            + "5JA2TaPF2dA67dg1TTsC_FupfQ2kNGcE1LgprxKHcVWYQb86B-HozjHZcqtauBzFNV5tbTuB-TpkcvJfNcFLlH3b8mb-H_ox35Fj"
            + "qBSAjLKyoeqfKTpVjvXhd09knwgJf6VKq6UC418_TOljMVfFTWXUxlnfhOOnzW6HSSzD1c9WrCuVzsUMv54szidQ9wf1cYWf3g5q"
            + "FDxDQKis99gcDaiCAwM3yEBIzuNeeCa5dartHDb1xEB_HcHSeYbghbMjGfasvKn0aZRsnTyC0xhWBlsolZE"
    static let d = "n7fzJc3_WG59VEOBTkayzuSMM780OJQuZjN_KbH8lOZG25ZoA7T4Bxcc0xQn5oZE5uSCIwg91oCt0JvxPcpmqzaJZg1nirjcWZ-o"
            + "BtVk7gCAWq-B3qhfF3izlbkosrzjHajIcY33HBhsy4_WerrXg4MDNE4HYojy68TcxT2LYQRxUOCf5TtJXvM8olexlSGtVnQnDRut"
            + "xEUCwiewfmmrfveEogLx9EA-KMgAjTiISXxqIXQhWUQX1G7v_mV_Hr2YuImYcNcHkRvp9E7ook0876DhkO8v4UOZLwA1OlUX98mk"
            + "oqwc58A_Y2lBYbVx1_s5lpPsEqbbH-nqIjh1fL0gdNfihLxnclWtW7pCztLnImZAyeCWAG7ZIfv-Rn9fLIv9jZ6r7r-MSH9sqbuz"
            + "iHN2grGjD_jfRluMHa0l84fFKl6bcqN1JWxPVhzNZo01yDF-1LiQnqUYSepPf6X3a2SOdkqBRiquE6EvLuSYIDpJq3jDIsgoL8Mo"
            + "1LoomgiJxUwL_GWEOGu28gplyzm-9Q0U0nyhEf1uhSR8aJAQWAiFImWH5W_IQT9I7-yrindr_2fWQ_i1UgMsGzA7aOGzZfPljRy6"
            + "z-tY_KuBG00-28S_aWvjyUc-Alp8AUyKjBZ-7CWH32fGWK48j1t-zomrwjL_mnhsPbGs0c9WsWgRzI-K8gE"
    static let p = "7_2v3OQZzlPFcHyYfLABQ3XP85Es4hCdwCkbDeltaUXgVy9l9etKghvM4hRkOvbb01kYVuLFmxIkCDtpi-zLCYAdXKrAK3PtSbtz"
            + "ld_XZ9nlsYa_QZWpXB_IrtFjVfdKUdMz94pHUhFGFj7nr6NNxfpiHSHWFE1zD_AC3mY46J961Y2LRnreVwAGNw53p07Db8yD_92p"
            + "Da97vqcZOdgtybH9q6uma-RFNhO1AoiJhYZj69hjmMRXx-x56HO9cnXNbmzNSCFCKnQmn4GQLmRj9sfbZRqL94bbtE4_e0Zrpo8R"
            + "No8vxRLqQNwIy85fc6BRgBJomt8QdQvIgPgWCv5HoQ"
    static let q = "zqOHk1P6WN_rHuM7ZF1cXH0x6RuOHq67WuHiSknqQeefGBA9PWs6ZyKQCO-O6mKXtcgE8_Q_hA2kMRcKOcvHil1hqMCNSXlflM7W"
            + "PRPZu2qCDcqssd_uMbP-DqYthH_EzwL9KnYoH7JQFxxmcv5An8oXUtTwk4knKjkIYGRuUwfQTus0w1NfjFAyxOOiAQ37ussIcE6C"
            + "6ZSsM3n41UlbJ7TCqewzVJaPJN5cxjySPZPD3Vp01a9YgAD6a3IIaKJdIxJS1ImnfPevSJQBE79-EXe2kSwVgOzvt-gsmM29QQ8v"
            + "eHy4uAqca5dZzMs7hkkHtw1z0jHV90epQJJlXXnH8Q"
    static let encryptedKey = "rT99rwrBTbTI7IJM8fU3Eli7226HEB7IchCxNuh7lCiud48LxeolRdtFF4nzQibeYOl5S_PJsAXZwSXtDePz9hk-BbtsTBqC2UsP"
            + "OdwjC9NhNupNNu9uHIVftDyucvI6hvALeZ6OGnhNV4v1zx2k7O1D89mAzfw-_kT3tkuorpDU-CpBENfIHX1Q58-Aad3FzMuo3Fn9"
            + "buEP2yXakLXYa15BUXQsupM4A1GD4_H4Bd7V3u9h8Gkg8BpxKdUV9ScfJQTcYm6eJEBz3aSwIaK4T3-dwWpuBOhROQXBosJzS1as"
            + "nuHtVMt2pKIIfux5BC6huIvmY7kzV7W7aIUrpYm_3H4zYvyMeq5pGqFmW2k8zpO878TRlZx7pZfPYDSXZyS0CfKKkMozT_qiCwZT"
            + "Sz4duYnt8hS4Z9sGthXn9uDqd6wycMagnQfOTs_lycTWmY-aqWVDKhjYNRf03NiwRtb5BE-tOdFwCASQj3uuAgPGrO2AWBe38UjQ"
            + "b0lvXn1SpyvYZ3WFc7WOJYaTa7A8DRn6MC6T-xDmMuxC0G7S2rscw5lQQU06MvZTlFOt0UvfuKBa03cxA_nIBIhLMjY2kOTxQMmp"
            + "DPTr6Cbo8aKaOnx6ASE5Jx9paBpnNmOOKH35j_QlrQhDWUN6A2Gg8iFayJ69xDEdHAVCGRzN3woEI2ozDRs"
    static let protected = "eyJhbGciOiJSU0EtT0FFUCIsImtpZCI6InNhbXdpc2UuZ2FtZ2VlQGhvYmJpdG9uLmV4YW1wbGUiLCJlbmMiOiJBMjU2R0NNIn0"
    static let iv = "-nBoKLH0YkLZPSI9"
    static let ciphertext = "o4k2cnGN8rSSw3IDo1YuySkqeS_t2m1GXklSgqBdpACm6UJuJowOHC5ytjqYgRL-I-soPlwqMUf4UgRWWeaOGNw6vGW-xyM01lTY"
            + "xrXfVzIIaRdhYtEMRBvBWbEwP7ua1DRfvaOjgZv6Ifa3brcAM64d8p5lhhNcizPersuhw5f-pGYzseva-TUaL8iWnctc-sSwy7SQ"
            + "mRkfhDjwbz0fz6kFovEgj64X1I5s7E6GLp5fnbYGLa1QUiML7Cc2GxgvI7zqWo0YIEc7aCflLG1-8BboVWFdZKLK9vNoycrYHumw"
            + "zKluLWEbSVmaPpOslY2n525DxDfWaVFUfKQxMF56vn4B9QMpWAbnypNimbM8zVOw"
    static let tag = "UCGiqJxhBI3IFVdPalHHvA"
    static let plaintext = "You can trust us to stick with you through thick and thin–to the bitter end. And you can trust us to"
            + " keep any secret of yours–closer than you keep it yourself. But you cannot trust us to let you face "
            + "trouble alone, and go off without a word. We are your friends, Frodo."

    static func b64u(_ text: String) throws -> [UInt8] { try #require(Base64URL.decode(text)) }

    static func keyFile(_ directory: String) throws -> String {
        let key = try _RSA.Signing.PrivateKey(n: b64u(n), e: [1, 0, 1], d: b64u(d), p: b64u(p), q: b64u(q))
        let path = directory + "/rfc7520.pem"
        try FileSystem.writeAtomically(Array(key.pemRepresentation.utf8), to: path, durable: false)
        return path
    }

    static func general(ciphertext: String = ciphertext) -> [UInt8] {
        Array(#"{"recipients":[{"encrypted_key":"\#(encryptedKey)"}],"protected":"\#(protected)","iv":"\#(iv)","ciphertext":"\#(ciphertext)","tag":"\#(tag)"}"#.utf8)
    }

    static var flattened: [UInt8] {
        Array(#"{"protected":"\#(protected)","encrypted_key":"\#(encryptedKey)","iv":"\#(iv)","ciphertext":"\#(ciphertext)","tag":"\#(tag)"}"#.utf8)
    }

    @Test("RFC 7520 5.2 opens with its RSA key in both serializations; another key opens nothing; tampering is refused")
    func rfc7520() throws {
        let directory = try FileSystem.makeTemporaryDirectory(prefix: "fasco-node-keys-")
        defer { try? FileSystem.removeTree(directory) }
        let keys = try NodeDecryptionKeys(files: [try Self.keyFile(directory)])
        #expect(try keys.open(Self.general()) == Array(Self.plaintext.utf8))
        #expect(try keys.open(Self.flattened) == Array(Self.plaintext.utf8))

        let other = directory + "/other.pem"
        try FileSystem.writeAtomically(Array(P256.KeyAgreement.PrivateKey().pemRepresentation.utf8), to: other, durable: false)
        #expect(try NodeDecryptionKeys(files: [other]).open(Self.general()) == nil, "an EC key opens no RSA recipient")

        var bytes = try Self.b64u(Self.ciphertext)
        bytes[3] ^= 1
        #expect(throws: FascoError.self) { try keys.open(Self.general(ciphertext: Base64URL.encode(bytes))) }
    }

    @Test("a decryption key file that is missing or holds no key stops the start, naming the file")
    func badFiles() throws {
        let directory = try FileSystem.makeTemporaryDirectory(prefix: "fasco-node-keys-")
        defer { try? FileSystem.removeTree(directory) }
        try FileSystem.writeAtomically(Array("not a key".utf8), to: directory + "/junk.pem", durable: false)
        for path in [directory + "/missing.pem", directory + "/junk.pem"] {
            do {
                _ = try NodeDecryptionKeys(files: [path])
                Issue.record("\(path) was accepted")
            } catch {
                #expect(error.code == .failedPrecondition && error.message.contains(path))
            }
        }
    }
}
