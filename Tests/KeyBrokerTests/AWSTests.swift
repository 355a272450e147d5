import Crypto
import FascoCore
import FoundationEssentials
import ImageStore
@testable import KeyBroker
import Testing
import TestSupport

/// The AWS side of sealed secrets: SigV4 against AWS's published signature test suite, the
/// JSON protocol's errors, CoCo's credential file, and the envelope's two wrap types (the
/// end-to-end test against the Python peer is FascoDaemonTests/SealedSecretKMSTests).
struct AWSTests {
    // AWS's sig-v4 test suite: these credentials, region, service, time and host.
    static let accessKey = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let headers: [(name: String, value: String)] = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]

    static func sign(_ method: String, query: [(name: String, value: String)] = []) -> String {
        AWSSignatureV4.authorization(AWSSignatureV4.Request(method: method, query: query, headers: headers, body: []),
                                     accessKeyID: accessKey, secretAccessKey: secret, region: "us-east-1", service: "service",
                                     amzDate: "20150830T123600Z")
    }

    @Test("SigV4 matches AWS's test suite: get-vanilla, get-vanilla-query-order-key-case, post-vanilla")
    func signatureVectors() {
        let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="
        #expect(Self.sign("GET") == prefix + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(Self.sign("GET", query: [("Param2", "value2"), ("Param1", "value1")])
            == prefix + "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        #expect(Self.sign("POST") == prefix + "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test("canonical headers: lowercase, sorted, runs of spaces made one; values URI-encoded")
    func canonicalForm() {
        let request = AWSSignatureV4.Request(method: "POST", headers: [("X-Amz-Target", "TrentService.Decrypt"), ("Host", "h:8080"),
                                                                       ("My-Header", "  a   b  ")], body: Array("{}".utf8))
        let (text, signed) = AWSSignatureV4.canonicalRequest(request)
        #expect(signed == "host;my-header;x-amz-target")
        #expect(text.contains("host:h:8080\nmy-header:a b\nx-amz-target:TrentService.Decrypt\n"))
        #expect(text.hasSuffix(Hex.encode(SHA256.hash(data: Array("{}".utf8)))))
        #expect(AWSSignatureV4.uriEncode("a b/c~é") == "a%20b%2Fc~%C3%A9")
    }

    @Test("X-Amz-Date from seconds since the epoch")
    func amzDate() {
        #expect(AWSSignatureV4.amzDate(secondsSinceEpoch: 1_440_938_160) == "20150830T123600Z")
        #expect(AWSSignatureV4.amzDate(secondsSinceEpoch: 0) == "19700101T000000Z")
        #expect(AWSSignatureV4.amzDate(secondsSinceEpoch: 951_782_399) == "20000228T235959Z")
        #expect(AWSSignatureV4.amzDate(secondsSinceEpoch: 951_782_400) == "20000229T000000Z")
        #expect(AWSSignatureV4.amzDate(secondsSinceEpoch: 1_796_601_600) == "20261207T000000Z")
    }

    @Test("a request is signed with the session token, for the configured endpoint's host")
    func signedRequest() throws {
        var client = try AWSClient(region: "eu-west-1", credential: AWSCredential(accessKeyID: "AK", secretAccessKey: "S", sessionToken: "T"),
                                   endpoints: AWSEndpoints(kms: "http://127.0.0.1:4566/"))
        client.now = { 1_440_938_160 }
        let request = client.signedRequest(.kms, "Decrypt", url: "http://127.0.0.1:4566", host: "127.0.0.1:4566", payload: Array("{}".utf8))
        #expect(request.url == "http://127.0.0.1:4566/")
        #expect(request.headers["X-Amz-Target"] == "TrentService.Decrypt" && request.headers["X-Amz-Security-Token"] == "T")
        #expect(request.headers["Content-Type"] == "application/x-amz-json-1.1" && request.headers["Host"] == "127.0.0.1:4566")
        let authorization = try #require(request.headers["Authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AK/20150830/eu-west-1/kms/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="))
        #expect(AWSEndpoints().url(.kms, region: "eu-west-1") == "https://kms.eu-west-1.amazonaws.com")
        #expect(AWSEndpoints().url(.secretsManager, region: "eu-west-1") == "https://secretsmanager.eu-west-1.amazonaws.com")
        #expect(client.endpoints.url(.kms, region: "eu-west-1") == "http://127.0.0.1:4566")
        #expect(AWSClient.host(of: "https://kms.example:8443/x") == "kms.example:8443" && AWSClient.host(of: "ftp://x") == nil)
        #expect(AWSClient.host(of: "https://user@evil/") == nil)
    }

    @Test("a region becomes part of a host name, so only region names pass")
    func regions() {
        for good in ["us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1"] { #expect(AWSClient.isRegion(good), "\(good)") }
        for bad in ["", "evil.com", "us-east-1/x", "US-EAST-1", "-a", "a-", "a--b", "a:1", "a b", String(repeating: "a", count: 41)] {
            #expect(!AWSClient.isRegion(bad), "\(bad)")
        }
    }

    @Test("AWS JSON errors name the type and message; 5xx and throttling are retried, 4xx not")
    func problems() {
        func problem(_ status: Int, _ body: String, headers: HTTPHeaders = HTTPHeaders()) -> (FascoError, Bool) {
            AWSClient.problem(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)), what: "AWS KMS x Decrypt")
        }
        let denied = problem(400, #"{"__type":"com.amazonaws.kms#AccessDeniedException","message":"not allowed"}"#)
        #expect(denied.0.message == "AWS KMS x Decrypt: HTTP 400 AccessDeniedException: not allowed" && !denied.1)
        #expect(denied.0.code == .failedPrecondition)
        let throttled = problem(400, #"{"__type":"ThrottlingException","Message":"slow down"}"#)
        #expect(throttled.1 && throttled.0.code == .unavailable && throttled.0.message.contains("slow down"))
        let down = problem(503, "", headers: ["x-amzn-ErrorType": "ServiceUnavailableException:http://internal"])
        #expect(down.1 && down.0.message == "AWS KMS x Decrypt: HTTP 503 ServiceUnavailableException")
    }

    @Test("CoCo's AWS credential file; anything else is refused without quoting it")
    func credentials() throws {
        let credential = try AWSCredential(json: Array(#"{"access_key_id":"AKIA1","secret_access_key":"s3cr3t","session_token":null}"#.utf8))
        #expect(credential.accessKeyID == "AKIA1" && credential.secretAccessKey == "s3cr3t" && credential.sessionToken == nil)
        #expect(try AWSCredential(json: Array(#"{"access_key_id":"A","secret_access_key":"B","session_token":"T"}"#.utf8)).sessionToken == "T")
        #expect(try AWSCredential(json: Array(#"{"access_key_id":"A","secret_access_key":"B","session_token":""}"#.utf8)).sessionToken == nil)
        for bad in [#"{"access_key_id":"A"}"#, "s3cr3t-not-json", #"{"access_key_id":"A","secret_access_key":"s3cr3t\nX-Evil: 1"}"#,
                    #"{"access_key_id":"","secret_access_key":"s3cr3t"}"#] {
            #expect { try AWSCredential(json: Array(bad.utf8)) } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .invalidArgument && !error.message.contains("s3cr3t")
            }
        }
    }

    static func envelopePayload(data: [UInt8], iv: [UInt8], wrap: String = "A256GCM", region: String = "us-east-1",
                                context: String = #"{"purpose":"test"}"#) -> String {
        #"{"version":"0.1.0","type":"envelope","key_id":"alias/coco","encrypted_key":"AQID","encrypted_data":"\#(Base64URL.encodeStandard(data))","#
            + #""wrap_type":"\#(wrap)","iv":"\#(Base64URL.encodeStandard(iv))","provider":"aws","provider_settings":{"region":"\#(region)"},"#
            + #""annotations":{"encryption_context":\#(context)}}"#
    }

    @Test("envelope sealed secrets of provider aws: parsed, and opened with the data key (AES-256-GCM, AES-256-CTR)")
    func envelopes() throws {
        let signer = P256.Signing.PrivateKey()
        let dataKey = SymmetricKey(size: .bits256)
        let keyBytes = dataKey.withUnsafeBytes { Array($0) }
        let nonce = AES.GCM.Nonce()
        let box = try AES.GCM.seal(Array("the secret".utf8), using: dataKey, nonce: nonce)
        let payload = Self.envelopePayload(data: Array(box.ciphertext) + Array(box.tag), iv: Array(nonce))
        let sealed = try SealedSecret(try KeyBrokerTests.seal(payload, kid: "kbs:///default/signing/key", with: signer))
        guard case .envelope(let envelope) = sealed.content else { Issue.record("not an envelope: \(sealed.content)"); return }
        #expect(envelope.keyID == "alias/coco" && envelope.encryptedKey == [1, 2, 3])
        #expect(envelope.kms == .aws(region: "us-east-1", encryptionContext: ["purpose": "test"]) && envelope.wrapType == .a256gcm)
        #expect(try envelope.open(with: keyBytes) == Array("the secret".utf8))
        // Another key, a flipped bit, a short key: refused.
        #expect(throws: FascoError.self) { try envelope.open(with: Array(repeating: 7, count: 32)) }
        var tampered = envelope
        tampered.encryptedData[0] ^= 1
        #expect(throws: FascoError.self) { try tampered.open(with: keyBytes) }
        #expect(throws: FascoError.self) { try envelope.open(with: Array(keyBytes.prefix(16))) }

        // A256CTR: NIST SP 800-38A F.5.6 CTR-AES256.Decrypt, the IV the whole first counter block.
        let ctr = Self.envelopePayload(data: NISTCTRAES256.ciphertext, iv: NISTCTRAES256.counter, wrap: "A256CTR")
        let ctrSealed = try SealedSecret(try KeyBrokerTests.seal(ctr, kid: "kbs:///default/signing/key", with: signer))
        guard case .envelope(let ctrEnvelope) = ctrSealed.content else { Issue.record("not an envelope"); return }
        #expect(try ctrEnvelope.open(with: NISTCTRAES256.key) == NISTCTRAES256.plaintext)
    }

    @Test("vault sealed secrets of provider aws name a Secrets Manager secret")
    func awsVault() throws {
        let signer = P256.Signing.PrivateKey()
        let payload = #"{"version":"0.1.0","type":"vault","name":"prod/db","provider":"aws","provider_settings":{"region":"eu-west-1"},"#
            + #""annotations":{"version_id":"","version_stage":"AWSPREVIOUS"}}"#
        let sealed = try SealedSecret(try KeyBrokerTests.seal(payload, kid: "kbs:///default/signing/key", with: signer))
        guard case .awsSecret(let secret) = sealed.content else { Issue.record("not an aws secret"); return }
        #expect(secret == SealedSecret.AWSSecret(name: "prod/db", region: "eu-west-1", versionID: "", versionStage: "AWSPREVIOUS"))
    }

    @Test("sealed secrets Fasco cannot unseal are refused saying why")
    func refusals() throws {
        let signer = P256.Signing.PrivateKey()
        let gcm = Self.envelopePayload(data: Array(repeating: 0, count: 20), iv: Array(repeating: 0, count: 12))
        let cases: [(String, String, String)] = [
            (gcm.replacingOccurrences(of: #""provider":"aws""#, with: #""provider":"hsm""#), "kbs:///a/b/c", "ehsm driver is not supported"),
            (gcm.replacingOccurrences(of: #""provider":"aws""#, with: #""provider":"ehsm""#), "kbs:///a/b/c", "is \"ehsm\""),
            (gcm.replacingOccurrences(of: "0.1.0", with: "0.2.0"), "kbs:///a/b/c", "version"),
            (gcm.replacingOccurrences(of: "A256GCM", with: "A128CBC"), "kbs:///a/b/c", "wrap_type"),
            (gcm.replacingOccurrences(of: "A256GCM", with: "A256CTR"), "kbs:///a/b/c", "16 bytes"),
            (gcm.replacingOccurrences(of: "us-east-1", with: "evil.example/x"), "kbs:///a/b/c", "region"),
            (gcm.replacingOccurrences(of: #""provider_settings":{"region":"us-east-1"}"#, with: #""provider_settings":{}"#), "kbs:///a/b/c", "no region"),
            (gcm.replacingOccurrences(of: #""encrypted_key":"AQID""#, with: #""encrypted_key":"%%%""#), "kbs:///a/b/c", "encrypted_key"),
            (gcm.replacingOccurrences(of: #"{"purpose":"test"}"#, with: #"{"n":1}"#), "kbs:///a/b/c", "payload"),
            (gcm, "signing-key.jwk", "not a kbs:/// resource"),
            (#"{"version":"0.1.0","type":"other"}"#, "kbs:///a/b/c", "vault or envelope"),
        ]
        for (payload, kid, expected) in cases {
            #expect { try SealedSecret(try KeyBrokerTests.seal(payload, kid: kid, with: signer)) } throws: { error in
                guard let error = error as? FascoError else { return false }
                return error.code == .invalidArgument && error.message.contains(expected)
            }
        }
    }
}

extension AWSTests {
    @Test("mutated sealed secrets, credentials and AWS answers are refused with INVALID_ARGUMENT or parsed, never anything else")
    func mutations() throws {
        let signer = P256.Signing.PrivateKey()
        let payload = Self.envelopePayload(data: Array(repeating: 9, count: 40), iv: Array(repeating: 1, count: 12))
        let sealed = Array(try KeyBrokerTests.seal(payload, kid: "kbs:///default/signing/key", with: signer).utf8)
        let jsonPayload = Array(payload.utf8)
        var random = SplitMix64(seed: 0x5EA1_ED00)  // seeded: a failing mutation can be replayed
        let alphabet = Array(#"{}[]":,.-_=+/\0123456789abcdefABCDEF sealed"#.utf8) + [0, 0xff, 0xc3]
        func mutate(_ input: [UInt8]) -> [UInt8] {
            var bytes = input
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] = alphabet.randomElement(using: &random)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(alphabet.randomElement(using: &random)!, at: at)
                default: bytes = Array(bytes[..<at]) + Array(bytes[at...].prefix(Int.random(in: 0...8, using: &random)))
                }
            }
            return bytes
        }
        var refused = 0
        for round in 0..<3000 {
            let text = String(decoding: mutate(sealed), as: UTF8.self)
            do { _ = try SealedSecret(text) } catch { #expect(error.code == .invalidArgument, "round \(round): \(error)"); refused += 1 }
            // The payload alone, re-signed: the parser sees every shape of JSON, not just bad signatures' base64.
            let resigned = try KeyBrokerTests.seal(String(decoding: mutate(jsonPayload), as: UTF8.self), kid: "kbs:///a/b/c", with: signer)
            do { _ = try SealedSecret(resigned) } catch { #expect(error.code == .invalidArgument, "round \(round): \(error)") }
            do { _ = try AWSCredential(json: mutate(Array(#"{"access_key_id":"A","secret_access_key":"B","session_token":null}"#.utf8))) } catch {
                #expect(error.code == .invalidArgument)
            }
            let answer = mutate(Array(#"{"__type":"com.amazonaws.kms#NotFoundException","message":"no such key"}"#.utf8))
            let (failure, _) = AWSClient.problem(HTTPResponse(status: 400, headers: HTTPHeaders(), body: answer), what: "AWS KMS x Decrypt")
            #expect(failure.message.hasPrefix("AWS KMS x Decrypt: HTTP 400")
                    && !failure.message.unicodeScalars.contains { $0.properties.generalCategory == .control }, "\(failure.message.debugDescription)")
        }
        #expect(refused > 2000, "most mutations of the sealed form are refused (\(refused))")
    }
}
