import Crypto
import FascoCore
import FoundationEssentials
import ImageStore
@testable import KeyBroker
import Testing
import _CryptoExtras

/// The Alibaba Cloud side of sealed secrets: CoCo's client key files (PKCS#12, legacy RC2 and
/// 3DES), the request signature, the DKMS protobuf wire form and errors, and the aliyun payloads
/// (the end-to-end test against the Python peer is FascoDaemonTests/SealedSecretKMSTests).
struct AliyunTests {
    /// guest-components' client-key test vector (kms/src/plugins/aliyun/client/client_key_client/
    /// credential.rs): a PKCS#12 whose certificate bag is RC2-40 and key bag 3DES, and its password.
    static let vectorPassword = "c383f5528f54394676ca89b8e47096e7"
    static let vectorPKCS12 = "MIIJ2wIBAzCCCacGCSqGSIb3DQEHAaCCCZgEggmUMIIJkDCCBEcGCSqGSIb3DQEHBqCCBDgwggQ0AgEAMIIELQYJKoZIhvcNAQcBMBwGCiqGSIb3DQEMAQYwDgQIvbx5zRNbxlgCAggAgIIEAO8AXPSnArU21ONEuWNkmOxIkHpRN/IojmV8THxDVlUvk0EbQTRGt26NtQxxf8pzoMKLbdiqqjLFgsaBV95l6D8iaQoLoku17VDeuRMAFhCRwSgah+ZUDyE1MbLNRLtXt83VEChBQ7LERbnB/Q1BjdFzppEhgmzeuscQz8Hor1c2qWtzamb+XHwMsiB0cBeOaYr/ckVCJx3GXfAw4uLvAzEj/BENjD43I9/O94WKlH73q1BJWgAu01q6S0M4uBqkHLvtMJHETtSqLisk1+mclPNI8IXevjM5vx9+snvc5j9lM18/CcPjzOWRxOcJg6jFpMwnmQLD96wQjcA4itJVjXvx1RtBOtpVezRrDBoKo+wMmhwc3zj6QNmUsjTdHnTAs7yt5CniFhQj9W1rdbpAy3apOYkE1AlMcrs1B3N4EyVHo7n/ePlolMMbJpQ1yUlq6WQeMPALrf1c4j6puQAM487g3+rRUL9Q/F3kJWnPQ6zmpb8M4nrvNyzoextVmShJjGVkPZGjKeOc0z3xj5C62N7al0Hx8k/V4rF2X3Ov22VbY+m7GYgOWSff7IRL6QEZ9YJ6sFz4+jQjDytENAENhkDvnjWBePxRIlEX3U9hoXdZfdOM/FP6PIv9P6eQpXVpDkWWiTO72Ms/Ek0M309pvtoj/3ZlXcN6nNyTqRBaLnXKg7afeWdlt6IN0mipaPDWioC4k+7+49QC6t1GU07ye3jKtv5hWrfzTGhYqIL2WLtiCjmX0UZRtbigVRob2HlYFhLN54TqPIvZtajqmjAe8TaabWrlLsmc/dbqKMKF3UqE+fxn74seNsXam8yo5ZD+hSMpjqLYozrtESjfd2nW2//e5W5s0/Rxc5ukwdYEpeweT/X0LfVaFqw5bOQYsu6NmSPGC1YcitdaBD2CyXQlMXBKZ7Qrtsqat9Dn95KbRsybeAwdVJ/wrLO6iE9ln+1oRxyP40/Nj8aVo9+ZJ83p5R+UXP8xkaF7UVAcb5yJxOgtK4Ed17UUCcLfeTujVhMNthLIOODIQyvNzIycfDOLdab6Fr8mpnXCKWrnCh+00oMShNBRM3Jo/SC/ZoD0Qadl1j8l7LIRALe9YJoZH7d8LI4TZtyP+36DNFdusXb9dtOVgNaeqcuAcicdW2gJ1JgNtXARGaxYY7nHGHU3ADgt3vUFD6kafnCO62qOpQwWpeOYkgQKS6z8ItcNv8YoLNeZDJxbdYS2po/zpqsVyHzuDH/+Kc32OPm3jtL6sjwZ1NngmBn1NywUMFafZLU0b14EAk2MKFbZk8WPPfnYb+rKH2eI5LrdpdO9rP3zD6pqyod/t6zF/KY/I2iaKGSBgwq0kFATemZJUoqrGvj/o4ERvsUwggVBBgkqhkiG9w0BBwGgggUyBIIFLjCCBSowggUmBgsqhkiG9w0BDAoBAqCCBO4wggTqMBwGCiqGSIb3DQEMAQMwDgQIKa3OClC0p/sCAggABIIEyBoTTYZJei2xr1/KMtfAI3Hifxx/vvT+vD02oyCDqt210epWQFOXHLSmEi01zgrFSTcNkoZEYT+iHBkGtEXWoRXbzanlrX59wswrq0kBWG8gL3JSVz3kvKolc4JJdHsh/qL0841TQSSDsWv5Taybf9jydc+s09nj+1p+4GHsGlsB67F/z/2McKeDDn+vb8GgNe2o7JfwsN8M80VGHRw+cWgHhVgCIgUGMppYjmsh+0lpjSDLkSDNXV1lTCVj4VzmP5LkF+XkT/CNTeDFQqj7nQpkT6zmXDHJ2WFGLCI+NtcKgr0c3u0Ry0Xj8qqSKXrh6AnE3p4kp8QvdD9XO7nU/8ZmuGpWAeaw4YsskDbk+fCod9Qb/KafzsJrbbzgbbgRIoJSvyIPQ6wqzphfmwEQlGDrQ16qcvUzPzW4u9S5sKXLvmTwzgUauaQDkdXCKwsJL73glo8Ajectprl6fXGPwEW8eoARX784DfXpCuNthu8C9JrAO/V6fzK9RqEkJY1hBjPA5exg0ut28vwdZxIRDeSnq8LN34RUWo/NOWxd9jB1HEvZgl+znzUxTMbZ1HleybOJBG3da2xCmrc7ZJxtXpK5IbRF2FNAOIK4XsTjZMYRiHa/QT/nhpGRRhqw0/Yew0DAgTo5d55FRH2MDZwX+xRVfJJT7JQOT7Y3ZZkbOb4tlV7WccnWcpRMSQNgpn1UmCkpTvV2PHP7JMLA7TdYn7UfYc9mAnK+UO6M4K2fkABScbNTSEdKRpIVWPNC+T8RgMQnjCXmI3voicb8zdmr++vKXEBwDr5tfrAurEKLB2KzWYFdFEWSbsuNw5QPRQ07Y5qFDgOfCc5wU0V9f6t6B+yYFZLpRv83WM1o8yxHoKo6f2HeG2QgT+rr3ElSSPBYLiWIRZT67woDGvoNxiGR5CNXPqoW/bBeG2EB8AdKquV6S+bPvPnF3++a0wt8dTC7+jYQao44AS7oKTo7bDTprSehiK8ebUR55XAwVJK1eaAmDemgxigE6/X539JEs5J78LZbV/MkW/NfOxkofxQu1zvpF243qu4xFYRWn12nbcslEIbW1Nwsa6lR4bitMqya0tYf1+VTTnMptPQBRRnPCLzOeYONthXNIQRgs/dc6tXNEx+RMre3P6tFIEJhTddwbOoq4aRwjw8Dj0BJgePDPqvHMHFd42hvi3obfM/rHJ0/UL+M9btC8cs7NKR7ETLf856zsYGy4WaYKOij+mYvYrIf9uMtW0xvH8GVdmmWlgRtcB3rivRM+/eretdi/6MLazQ1DSNSnzRUe1x0n7H6y2vZ3j5pP2NKKpblUpWNQHzWvI28s8XU7rOOdHMv4V4y4opuHgX7Zj8vp320C748A5HsZmvdGUKYxFqqRz8hmyMSQCIe8sX06HHFTXB0DhfzrNRVgPlNxKdQL4qFwsjxdTXeTToB/CgwqLGZl/0JLlD1zAPJ3PzD1lHUG0MA7cF2IauKTIEkSUZZKE306RpAXHccv8L0ntN5oFIh/LdbkqEMIQ/urIthHMPRUxPZhaLeFx21oytfq2G4v/rXzEpSrCvPsPmiW0L1uYGPaiAo6/1dS5mLxMAh+u0fZ2VIQcipbm7zrk47HXLXZH0CFRzBKiV5vC2PpQByKDElMCMGCSqGSIb3DQEJFTEWBBSE9CqDcQy1TLqaDKIRZ/N1+499fzArMB8wBwYFKw4DAhoEFKUlsCE4XdGqVUQyhK9fhfLzM7AXBAhur6C48AYMHA=="

    static func clientKey(id: String = "KAAP.test", password: String = vectorPassword) throws -> AliyunClientKey {
        let json = #"{"KeyId":"\#(id)","PrivateKeyData":"\#(vectorPKCS12)"}"#
        return try AliyunClientKey(json: Array(json.utf8), password: Array((password + "\n").utf8))
    }

    @Test("CoCo's client key vector opens with its password (RC2 and 3DES bags); another password does not")
    func clientKeyVector() throws {
        let key = try Self.clientKey()
        #expect(key.id == "KAAP.test")
        // The password as guest-components' example files hold it, in JSON.
        let wrapped = try AliyunClientKey(json: Array(#"{"KeyId":"KAAP.test","PrivateKeyData":"\#(Self.vectorPKCS12)"}"#.utf8),
                                          password: Array(#"{"ClientKeyPassword": "\#(Self.vectorPassword)"}"#.utf8))
        #expect(wrapped.id == "KAAP.test")
        let signature = try #require(Data(base64Encoded: try key.sign("example content")))
        #expect(key.key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: Array("example content".utf8),
                                                   padding: .insecurePKCS1v1_5))
        for (json, password) in [(#"{"KeyId":"KAAP.test","PrivateKeyData":"\#(Self.vectorPKCS12)"}"#, "wrong"),
                                 (#"{"KeyId":"KAAP.test","PrivateKeyData":"AAAA"}"#, Self.vectorPassword),
                                 (#"{"KeyId":"../x","PrivateKeyData":"\#(Self.vectorPKCS12)"}"#, Self.vectorPassword),
                                 ("not json", Self.vectorPassword)] {
            #expect { try AliyunClientKey(json: Array(json.utf8), password: Array(password.utf8)) } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .invalidArgument && !error.message.contains(Self.vectorPassword) && !error.message.contains("MIIJ")
            }
        }
    }

    @Test("a request carries the x-kms headers, the body's SHA-256 and a signature over CoCo's string to sign")
    func signedRequest() throws {
        var client = try AliyunKMSClient(instanceID: "kst-test1", clientKey: try Self.clientKey(), endpoint: nil, caFile: "/ca.pem")
        client.now = { 784_111_777 }
        #expect(client.endpoint == "https://kst-test1.cryptoservice.kms.aliyuncs.com")
        let body: [UInt8] = [1, 2, 3]
        let request = try client.signedRequest("Decrypt", body: body)
        #expect(request.url == "https://kst-test1.cryptoservice.kms.aliyuncs.com/" && request.tls.caFile == "/ca.pem")
        let digest = Hex.encode(SHA256.hash(data: body)).uppercased()
        #expect(request.headers["Content-Sha256"] == digest && request.headers["date"] == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(request.headers["x-kms-acccesskeyid"] == "KAAP.test" && request.headers["x-kms-apiname"] == "Decrypt")
        #expect(request.headers["x-kms-apiversion"] == "dkms-gcs-0.2" && request.headers["x-kms-signaturemethod"] == "RSA_PKCS1_SHA_256")
        #expect(request.headers["Content-Type"] == "application/x-protobuf")
        let expected = "POST\n\(digest)\napplication/x-protobuf\nSun, 06 Nov 1994 08:49:37 GMT\n"
            + "x-kms-acccesskeyid:KAAP.test\nx-kms-apiname:Decrypt\nx-kms-apiversion:dkms-gcs-0.2\nx-kms-signaturemethod:RSA_PKCS1_SHA_256\n/"
        let authorization = try #require(request.headers["Authorization"])
        #expect(authorization.hasPrefix("Bearer "))
        let signature = try #require(Data(base64Encoded: String(authorization.dropFirst(7))))
        #expect(try Self.clientKey().key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                                                   for: Array(expected.utf8), padding: .insecurePKCS1v1_5))
        let overridden = try AliyunKMSClient(instanceID: "kst-test1", clientKey: try Self.clientKey(), endpoint: "https://127.0.0.1:9443/", caFile: nil)
        #expect(overridden.endpoint == "https://127.0.0.1:9443")
        #expect(throws: FascoError.self) { try AliyunKMSClient(instanceID: "evil.example/x", clientKey: try Self.clientKey(), endpoint: nil, caFile: nil) }
    }

    @Test("RFC 9110's IMF-fixdate and weekdays")
    func dates() {
        #expect(UTCTime(secondsSinceEpoch: 784_111_777).imfFixdate == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(UTCTime(secondsSinceEpoch: 0).imfFixdate == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(UTCTime(secondsSinceEpoch: 1_796_601_600).imfFixdate == "Mon, 07 Dec 2026 00:00:00 GMT")
        #expect(UTCTime(secondsSinceEpoch: -1).imfFixdate == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test("the DKMS wire form: fields encoded as proto3 does, messages decoded, damaged ones refused")
    func wire() throws {
        #expect(DKMSWire.varint(300) == [0xac, 0x02] && DKMSWire.varint(0) == [0])
        #expect(DKMSWire.string(2, "k") == [0x12, 1, 0x6b] && DKMSWire.string(2, "").isEmpty && DKMSWire.integer(4, 1) == [0x20, 1])
        let message = try DKMSWire.Message(DKMSWire.bytes(2, [9, 9]) + [0x08, 0x96, 0x01] + DKMSWire.string(3, "x") + [0x1d, 1, 2, 3, 4])
        #expect(message.bytes(2) == [9, 9] && message.varints[1] == 150 && message.string(3) == "x")
        for damaged: [UInt8] in [[0x12, 5, 1], [0x08], [0x0b], [0x00, 1], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]] {
            #expect(throws: FascoError.self, "\(damaged)") { try DKMSWire.Message(damaged) }
        }
        let error = DKMSWire.integer(1, 403) + DKMSWire.string(2, "Forbidden.NoPermission") + DKMSWire.string(3, "no\nway") + DKMSWire.string(4, "req-1")
        let (failure, retryable) = AliyunKMSClient.problem(HTTPResponse(status: 403, headers: HTTPHeaders(), body: error), what: "Alibaba Cloud KMS x Decrypt")
        #expect(failure.message == "Alibaba Cloud KMS x Decrypt: HTTP 403 Forbidden.NoPermission: no way (request req-1)" && !retryable)
        #expect(failure.code == .permissionDenied)
        let throttled = AliyunKMSClient.problem(HTTPResponse(status: 400, headers: HTTPHeaders(), body: DKMSWire.string(2, "Rejected.Throttling")), what: "x")
        #expect(throttled.1 && throttled.0.code == .unavailable)
        #expect(AliyunKMSClient.problem(HTTPResponse(status: 502, headers: HTTPHeaders(), body: Array("<html>".utf8)), what: "x").1)
    }

    static func payload(_ fields: String, provider: String = "aliyun", settings: String = #"{"client_type":"client_key","client_key_id":"KAAP.test","kms_instance_id":"kst-test1"}"#) -> String {
        #"{"version":"0.1.0",\#(fields),"provider":"\#(provider)","provider_settings":\#(settings)}"#
    }

    @Test("aliyun envelopes and vault secrets parse; other client types and bad settings are refused saying why")
    func payloads() throws {
        let signer = P256.Signing.PrivateKey()
        func sealed(_ payload: String) throws -> SealedSecret { try SealedSecret(try KeyBrokerTests.seal(payload, kid: "kbs:///a/b/c", with: signer)) }
        let envelope = Self.payload(#""type":"envelope","key_id":"key-1","encrypted_key":"AQID","encrypted_data":"AAAA","wrap_type":"A256GCM","iv":"AAAAAAAAAAAAAAAA","annotations":{"iv":"BAUG"}"#)
        guard case .envelope(let opened) = try sealed(envelope).content else { Issue.record("not an envelope"); return }
        #expect(opened.kms == .aliyun(SealedSecret.AliyunSettings(clientKeyID: "KAAP.test", kmsInstanceID: "kst-test1"), iv: [4, 5, 6]))
        let vault = Self.payload(#""type":"vault","name":"db","annotations":{"version_stage":"ACSCurrent","version_id":""}"#)
        guard case .aliyunSecret(let secret) = try sealed(vault).content else { Issue.record("not an aliyun secret"); return }
        #expect(secret == SealedSecret.AliyunSecret(name: "db", settings: SealedSecret.AliyunSettings(clientKeyID: "KAAP.test", kmsInstanceID: "kst-test1"),
                                                    versionStage: "ACSCurrent", versionID: ""))
        let refusals: [(String, String)] = [
            (Self.payload(#""type":"vault","name":"db""#, settings: #"{"client_type":"ecs_ram_role"}"#), "ecs_ram_role"),
            (Self.payload(#""type":"vault","name":"db""#, settings: #"{"client_key_id":"KAAP.test"}"#), "client_type"),
            (Self.payload(#""type":"vault","name":"db""#, settings: #"{"client_type":"client_key","client_key_id":"../../etc","kms_instance_id":"kst-1"}"#), "client_key_id"),
            (Self.payload(#""type":"vault","name":"db""#, settings: #"{"client_type":"client_key","client_key_id":"K","kms_instance_id":"a.evil.com"}"#), "kms_instance_id"),
            (envelope.replacingOccurrences(of: #""annotations":{"iv":"BAUG"}"#, with: #""annotations":{}"#), "iv"),
        ]
        for (payload, expected) in refusals {
            #expect { try sealed(payload) } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .invalidArgument && error.message.contains(expected)
            }
        }
    }

    @Test("mutated DKMS answers and aliyun payloads are refused or parsed, never anything else")
    func mutations() throws {
        var random = SplitMix64(seed: 0xA11_CE)
        let answer = DKMSWire.integer(1, 403) + DKMSWire.string(2, "Forbidden.NoPermission") + DKMSWire.string(3, "no") + DKMSWire.bytes(5, [1, 2, 3])
        let signer = P256.Signing.PrivateKey()
        let payload = Array(Self.payload(#""type":"envelope","key_id":"key-1","encrypted_key":"AQID","encrypted_data":"AAAA","wrap_type":"A256GCM","iv":"AAAAAAAAAAAAAAAA","annotations":{"iv":"BAUG"}"#).utf8)
        for round in 0..<3000 {
            var bytes = round % 2 == 0 ? answer : payload
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: at)
                default: bytes = Array(bytes[..<at])
                }
            }
            if round % 2 == 0 {
                _ = try? DKMSWire.Message(bytes)
                let (failure, _) = AliyunKMSClient.problem(HTTPResponse(status: 403, headers: HTTPHeaders(), body: bytes), what: "x")
                #expect(failure.message.hasPrefix("x: HTTP 403") && !failure.message.unicodeScalars.contains { $0.properties.generalCategory == .control })
            } else {
                let sealed = try KeyBrokerTests.seal(String(decoding: bytes, as: UTF8.self), kid: "kbs:///a/b/c", with: signer)
                do { _ = try SealedSecret(sealed) } catch { #expect(error.code == .invalidArgument, "round \(round): \(error)") }
            }
        }
    }

    @Test("opened client keys are kept by the digest of both files, the last 16; a file that does not open is not kept")
    func clientKeyCache() throws {
        let release = RealmKeyRelease(node: nil, certificateDirectory: "/nonexistent")
        let json = Array(#"{"KeyId":"KAAP.test","PrivateKeyData":"\#(Self.vectorPKCS12)"}"#.utf8)
        let first = try release.openClientKey(json: json, password: Array(Self.vectorPassword.utf8))
        let again = try release.openClientKey(json: json, password: Array(Self.vectorPassword.utf8))
        #expect(first.id == again.id && release.clientKeys.withLock { $0.count } == 1)
        #expect(throws: FascoError.self) { try release.openClientKey(json: json, password: Array("wrong".utf8)) }
        #expect(release.clientKeys.withLock { $0.count } == 1)
        _ = try release.openClientKey(json: json, password: Array((Self.vectorPassword + "\n").utf8))
        #expect(release.clientKeys.withLock { $0.count } == 2, "another file (here: its password's newline) is another entry")
    }
}
