import enum Crypto.P256
import FascoCore
import Foundation
@testable import ImageStore
import Testing

/// containers-policy.json parsing, scope matching and cosign signature checks, with keys
/// and signatures made here by swift-crypto (the daemon tests sign with Python instead).
@Suite("Signature policy")
struct SignaturePolicyTests {
    static func policy(_ json: String, base: String = "") throws(FascoError) -> SignaturePolicy {
        try SignaturePolicy(json: Array(json.utf8), source: "policy.json", baseDirectory: base)
    }

    static func parseError(_ json: String) -> String? {
        do throws(FascoError) {
            _ = try policy(json)
            return nil
        } catch {
            #expect(error.code == .invalidArgument)
            return error.message
        }
    }

    static func keyData(_ key: P256.Signing.PrivateKey) -> String {
        Data(key.publicKey.pemRepresentation.utf8).base64EncodedString()
    }

    /// A cosign signature by `key` of `digest` naming `identity`, as cosign stores it.
    static func signature(_ key: P256.Signing.PrivateKey, repository: String, digest: Digest, identity: String? = nil,
                          signedDigest: Digest? = nil, type: String = "cosign container image signature") throws -> CosignSignature {
        let payload = """
        {"critical":{"identity":{"docker-reference":"\(identity ?? repository)"},"image":{"docker-manifest-digest":"\(signedDigest ?? digest)"},"type":"\(type)"},"optional":null}
        """
        let signature = try key.signature(for: Data(payload.utf8))
        return CosignSignature(repository: repository, manifestDigest: digest, payload: Data(payload.utf8).base64EncodedString(),
                               signature: signature.derRepresentation.base64EncodedString())
    }

    static let digest = Digest.of(Array("manifest".utf8))
    static let otherDigest = Digest.of(Array("another manifest".utf8))

    @Test("scopes are searched as containers/image does: reference, repository, namespaces, host, wildcards")
    func candidateScopes() throws {
        let tagged = try ImageReference(parsing: "registry.b.example.com:5000/ns/sub/app:v1")
        #expect(SignaturePolicy.candidateScopes(tagged) == [
            "registry.b.example.com:5000/ns/sub/app:v1", "registry.b.example.com:5000/ns/sub/app", "registry.b.example.com:5000/ns/sub",
            "registry.b.example.com:5000/ns", "registry.b.example.com:5000", "*.b.example.com", "*.example.com", "*.com",
        ])
        let digested = try ImageReference(parsing: "busybox@\(Self.digest)")
        #expect(SignaturePolicy.candidateScopes(digested) == [
            "docker.io/library/busybox@\(Self.digest)", "docker.io/library/busybox", "docker.io/library", "docker.io", "*.io",
        ])
    }

    @Test("the most specific scope wins; then the transport's \"\", then default")
    func mostSpecificScope() throws {
        let policy = try Self.policy("""
        {"default": [{"type": "reject"}],
         "transports": {"docker": {
            "example.com": [{"type": "insecureAcceptAnything"}],
            "example.com/team": [{"type": "reject"}],
            "example.com/team/app:v1": [{"type": "insecureAcceptAnything"}],
            "*.example.com": [{"type": "insecureAcceptAnything"}],
            "": [{"type": "reject"}, {"type": "insecureAcceptAnything"}]},
          "dir": {"": [{"type": "insecureAcceptAnything"}]}}}
        """)
        func scope(_ name: String) throws -> String { policy.match(try ImageReference(parsing: name)).scope }
        #expect(try scope("example.com/team/app:v1") == "scope \"example.com/team/app:v1\"")
        #expect(try scope("example.com/team/app:v2") == "scope \"example.com/team\"")
        #expect(try scope("example.com/other/app") == "scope \"example.com\"")
        #expect(try scope("mirror.example.com/team/app") == "scope \"*.example.com\"")
        #expect(try scope("quay.io/x/y") == "the docker transport's default scope \"\"")
        #expect(policy.match(nil).scope == "the default")
        #expect(throws: Never.self) { try policy.admit(try ImageReference(parsing: "example.com/team/app:v1"), digest: nil, signatures: []) }
        let refused = #expect(throws: FascoError.self) {
            try policy.admit(try ImageReference(parsing: "example.com/team/app:v2"), digest: nil, signatures: [])
        }
        #expect(refused?.code == .failedPrecondition)
        #expect(refused?.message == "image example.com/team/app:v2 is refused by the signature policy policy.json: scope \"example.com/team\", requirement 1 (reject): it rejects every image")
        // Every requirement must hold.
        let both = #expect(throws: FascoError.self) { try policy.admit(try ImageReference(parsing: "quay.io/a/b"), digest: nil, signatures: []) }
        #expect(both?.message.contains("requirement 1 (reject)") == true)
    }

    @Test("bad policies are refused with a message naming the place", arguments: [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("{\"transports\": {}}", "\"default\" requirements are mandatory"),
        ("{\"default\": [], \"x\": 1}", "unknown field \"x\""),
        ("{\"default\": []}", "default: an empty list of requirements"),
        ("{\"default\": [{\"type\": \"acceptEverything\"}]}", "default[0]: unknown requirement type \"acceptEverything\""),
        ("{\"default\": [{\"type\": \"reject\", \"keyPath\": \"/k\"}]}", "default[0]: unknown field \"keyPath\" in a reject requirement"),
        ("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\"}]}", "signedBy (GPG simple signing) is not supported"),
        ("{\"default\": [{\"type\": \"sigstoreSigned\"}]}", "needs exactly one of keyPath, keyPaths, keyData, keyDatas (got none)"),
        ("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/nonexistent/cosign.pub\"}]}", "keyPath /nonexistent/cosign.pub does not exist"),
        ("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"bm90IGEga2V5\"}]}", "keyData is not a PEM ECDSA P-256 public key"),
        ("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"x\", \"fulcio\": {}}]}", "\"fulcio\" is not supported by Fasco"),
        ("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"Example.com/Bad Scope\": [{\"type\": \"reject\"}]}}}",
         "not a docker scope"),
        ("{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"a.example.com\": [{\"type\": \"nope\"}]}}}",
         "transports.docker.\"a.example.com\"[0]: unknown requirement type \"nope\""),
    ])
    func badPolicies(_ json: String, _ expected: String) {
        let message = Self.parseError(json)
        #expect(message?.hasPrefix("signature policy policy.json: ") == true, "\(String(describing: message))")
        #expect(message?.contains(expected) == true, "\(String(describing: message))")
    }

    @Test("signedIdentity types: the known ones parse, remapIdentity and unknown ones are refused")
    func signedIdentityParsing() throws {
        let key = Self.keyData(P256.Signing.PrivateKey())
        func identity(_ json: String) throws(FascoError) -> SignedIdentity? {
            let policy = try Self.policy("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"\(key)\", \"signedIdentity\": \(json)}]}")
            guard case .sigstoreSigned(let rule) = policy.defaultRequirements.first else { return nil }
            return rule.signedIdentity
        }
        #expect(try identity("{\"type\": \"matchRepository\"}") == .matchRepository)
        #expect(try identity("{\"type\": \"exactRepository\", \"dockerRepository\": \"busybox\"}") == .exactRepository("docker.io/library/busybox"))
        let withoutIdentity = try Self.policy("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"\(key)\"}]}")
        guard case .sigstoreSigned(let rule) = withoutIdentity.defaultRequirements.first else { Issue.record("not sigstoreSigned"); return }
        #expect(rule.signedIdentity == .matchRepoDigestOrExact)
        #expect(throws: FascoError.self) { try identity("{\"type\": \"remapIdentity\", \"prefix\": \"a.io\", \"signedPrefix\": \"b.io\"}") }
        let unknown = #expect(throws: FascoError.self) { try identity("{\"type\": \"matchAnything\"}") }
        #expect(unknown?.message.contains("unknown signedIdentity type \"matchAnything\"") == true)
    }

    @Test("a cosign signature by the policy's key of the image's digest admits it; others are refused naming why")
    func sigstoreSigned() throws {
        let key = P256.Signing.PrivateKey()
        let other = P256.Signing.PrivateKey()
        let policy = try Self.policy("""
        {"default": [{"type": "reject"}],
         "transports": {"docker": {"example.com/signed": [{"type": "sigstoreSigned", "keyData": "\(Self.keyData(key))",
                                                           "signedIdentity": {"type": "matchRepository"}}]}}}
        """)
        let image = try ImageReference(parsing: "example.com/signed/app:v1")
        let repository = image.repository
        func refusal(_ signatures: [CosignSignature], digest: Digest? = SignaturePolicyTests.digest) -> String? {
            do throws(FascoError) {
                try policy.admit(image, digest: digest, signatures: signatures)
                return nil
            } catch {
                #expect(error.code == .failedPrecondition)
                return error.message
            }
        }
        let good = try Self.signature(key, repository: repository, digest: Self.digest)
        #expect(refusal([good]) == nil)
        #expect(refusal([try Self.signature(other, repository: repository, digest: Self.digest), good]) == nil, "one accepted signature is enough")
        #expect(refusal([])?.contains("scope \"example.com/signed\", requirement 1 (sigstoreSigned (keyData, signedIdentity matchRepository)): no cosign signature of \(Self.digest)") == true)
        #expect(refusal([try Self.signature(other, repository: repository, digest: Self.digest)])?.contains("not signed by the policy's key") == true)
        #expect(refusal([try Self.signature(key, repository: repository, digest: Self.digest, signedDigest: Self.otherDigest)])?
            .contains("its payload signs manifest \(Self.otherDigest), not \(Self.digest)") == true)
        #expect(refusal([try Self.signature(key, repository: repository, digest: Self.digest, identity: "example.com/elsewhere")])?
            .contains("names example.com/elsewhere, which signedIdentity matchRepository does not accept") == true)
        #expect(refusal([try Self.signature(key, repository: repository, digest: Self.digest, type: "something else")])?
            .contains("critical.type") == true)
        var tampered = good
        tampered.payload = Data(Data(base64Encoded: good.payload)!.map { $0 == UInt8(ascii: "1") ? UInt8(ascii: "2") : $0 }).base64EncodedString()
        #expect(refusal([tampered])?.contains("not signed by the policy's key") == true, "a changed payload no longer verifies")
        #expect(refusal([good], digest: Self.otherDigest)?.contains("no cosign signature of \(Self.otherDigest)") == true,
                "a signature of another digest is not looked at")
    }

    @Test("matchRepoDigestOrExact (the default): a tag needs the exact reference, a digest the repository")
    func matchRepoDigestOrExact() throws {
        let key = P256.Signing.PrivateKey()
        let policy = try Self.policy("{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"\(Self.keyData(key))\"}]}")
        let repository = "example.com/app"
        let bare = try Self.signature(key, repository: repository, digest: Self.digest)
        let tagged = try Self.signature(key, repository: repository, digest: Self.digest, identity: "example.com/app:v1")
        #expect(throws: FascoError.self) { try policy.admit(try ImageReference(parsing: "example.com/app:v1"), digest: Self.digest, signatures: [bare]) }
        #expect(throws: Never.self) { try policy.admit(try ImageReference(parsing: "example.com/app:v1"), digest: Self.digest, signatures: [tagged]) }
        #expect(throws: FascoError.self) { try policy.admit(try ImageReference(parsing: "example.com/app:v2"), digest: Self.digest, signatures: [tagged]) }
        #expect(throws: Never.self) {
            try policy.admit(try ImageReference(parsing: "example.com/app@\(Self.digest)"), digest: Self.digest, signatures: [bare])
        }
    }

    @Test("keyPath is read relative to the policy file; the signature's tag is sha256-<hex>.sig")
    func keyPathAndTag() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = P256.Signing.PrivateKey()
        try key.publicKey.pemRepresentation.write(to: directory.appendingPathComponent("cosign.pub"), atomically: true, encoding: .utf8)
        try "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"cosign.pub\"}]}"
            .write(to: directory.appendingPathComponent("policy.json"), atomically: true, encoding: .utf8)
        let policy = try SignaturePolicy.load(path: directory.appendingPathComponent("policy.json").path)
        #expect(policy.needsSignatures(try ImageReference(parsing: "busybox")))
        #expect(CosignSignature.tag(for: Self.digest) == "sha256-\(Self.digest.encoded).sig")
    }
}
