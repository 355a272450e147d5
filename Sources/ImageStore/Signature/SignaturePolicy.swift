import Crypto
import FascoCore
import FoundationEssentials

/// A containers-policy.json(5) signature policy for images pulled from registries
/// (its `docker` transport), as containers/image and CoCo's image-rs read it:
///
///     {"default": [requirements],
///      "transports": {"docker": {"<scope>": [requirements], "": [requirements]}}}
///
/// The scope that applies to an image is the most specific one present, in
/// containers/image's order: the reference itself (`host/repo:tag` or `host/repo@digest`),
/// its repository, each parent namespace, the registry host (with its port), then
/// wildcards of the host without its port (`*.b.example.com`, `*.example.com`, `*.com`),
/// then the transport's `""`, then `default`. All requirements of that scope must hold.
///
/// Requirement types: `insecureAcceptAnything`, `reject`, `sigstoreSigned` (cosign,
/// ECDSA P-256 public keys from `keyPath`, `keyPaths`, `keyData` or `keyDatas`).
/// Anything else (`signedBy`, fulcio, rekor, `remapIdentity`, unknown fields or types)
/// is refused when the policy is loaded, naming where. Other transports are ignored:
/// Fasco pulls only from registries.
public struct SignaturePolicy: Sendable {
    /// Where the policy came from, for messages (`/etc/fasco/policy.json`).
    public let source: String
    public let defaultRequirements: [PolicyRequirement]
    /// The `docker` transport's scopes.
    public let scopes: [String: [PolicyRequirement]]

    /// The requirements that apply to an image and the scope they came from.
    public struct Match: Sendable {
        /// `scope "127.0.0.1:5000/fasco"`, `the docker transport's default scope ""`, `the default`.
        public var scope: String
        public var requirements: [PolicyRequirement]
    }

    /// Reads and parses the policy at `path`; every problem is INVALID_ARGUMENT naming the file and the place.
    public static func load(path: String) throws(FascoError) -> SignaturePolicy {
        guard let bytes = try FileSystem.read(path, limit: 4 << 20) else {
            throw .invalidArgument("signature policy \(path) does not exist")
        }
        return try SignaturePolicy(json: bytes, source: path, baseDirectory: String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]))
    }

    /// Parses a policy document. `baseDirectory` resolves relative key paths; `brokerKeys` holds
    /// the keys of `kbs:///` key paths (as CoCo's image-rs reads them from its key broker), which
    /// `brokerKeyPaths(in:)` lists.
    public init(json bytes: [UInt8], source: String, baseDirectory: String = "", brokerKeys: [String: [UInt8]] = [:]) throws(FascoError) {
        func invalid(_ why: String) -> FascoError { .invalidArgument("signature policy \(source): \(why)") }
        let document: JSONValue
        do { document = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) } catch {
            throw invalid("not valid JSON: \(error)")
        }
        guard case .object(let top) = document else { throw invalid("the document must be a JSON object, got \(document.typeName)") }
        for key in top.keys where key != "default" && key != "transports" { throw invalid("unknown field \"\(key.prefix(100))\"") }
        guard let defaults = top["default"] else { throw invalid("the \"default\" requirements are mandatory") }
        let reader = Reader(source: source, baseDirectory: baseDirectory, brokerKeys: brokerKeys)
        self.source = source
        defaultRequirements = try reader.requirements(defaults, at: "default")
        var scopes: [String: [PolicyRequirement]] = [:]
        if let transports = top["transports"] {
            guard case .object(let byTransport) = transports else { throw invalid("\"transports\" must be an object, got \(transports.typeName)") }
            for (transport, value) in byTransport {
                guard case .object(let byScope) = value else {
                    throw invalid("transports.\(transport.prefix(100)) must be an object, got \(value.typeName)")
                }
                // Only docker: scopes can match what Fasco pulls; other transports are parsed, then unused.
                for (scope, requirements) in byScope {
                    let place = "transports.\(transport.prefix(100)).\"\(scope.prefix(300))\""
                    if transport == "docker" && !Self.isValidDockerScope(scope) {
                        throw invalid("\(place): not a docker scope (a registry host, a repository or namespace under it, a reference with a tag or digest, or *.domain)")
                    }
                    let parsed = try reader.requirements(requirements, at: place)
                    if transport == "docker" { scopes[scope] = parsed }
                }
            }
        }
        self.scopes = scopes
    }

    /// The policy that admits anything (no `signature_policy` configured).
    public static let acceptAnything = SignaturePolicy(source: "(none)", defaultRequirements: [.insecureAcceptAnything], scopes: [:])

    init(source: String, defaultRequirements: [PolicyRequirement], scopes: [String: [PolicyRequirement]]) {
        self.source = source
        self.defaultRequirements = defaultRequirements
        self.scopes = scopes
    }

    // MARK: Scopes

    /// The scopes searched for `reference`, most specific first (containers/image's
    /// `PolicyConfigurationIdentity` then `PolicyConfigurationNamespaces`).
    public static func candidateScopes(_ reference: ImageReference) -> [String] {
        var scopes = [SignedReference(reference).description]
        var name = reference.repository
        while true {
            scopes.append(name)
            guard let slash = name.lastIndex(of: "/") else { break }
            name = String(name[..<slash])
        }
        var host = Substring(name)
        if !host.hasPrefix("["), let colon = host.firstIndex(of: ":") { host = host[..<colon] }
        while let dot = host.firstIndex(of: ".") {
            host = host[host.index(after: dot)...]
            scopes.append("*." + host)
        }
        return scopes
    }

    /// The requirements for `reference`; nil `reference` (an image known by no name) gets `default`.
    public func match(_ reference: ImageReference?) -> Match {
        if let reference {
            for scope in Self.candidateScopes(reference) {
                if let requirements = scopes[scope] { return Match(scope: "scope \"\(scope)\"", requirements: requirements) }
            }
            if let requirements = scopes[""] { return Match(scope: "the docker transport's default scope \"\"", requirements: requirements) }
        }
        return Match(scope: "the default", requirements: defaultRequirements)
    }

    /// Whether any requirement of `reference`'s scope needs signatures.
    public func needsSignatures(_ reference: ImageReference) -> Bool {
        match(reference).requirements.contains { if case .sigstoreSigned = $0 { true } else { false } }
    }

    static func isValidDockerScope(_ scope: String) -> Bool {
        if scope.isEmpty { return true }
        if scope.hasPrefix("*.") { return ImageReference.isValidDomain(String(scope.dropFirst(2))) && !scope.contains(":") }
        var components = scope.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let host = components.first, ImageReference.isValidDomain(host) else { return false }
        components.removeFirst()
        if components.isEmpty { return true }
        // A full reference: its last component may carry a tag or a digest.
        guard (try? ImageReference(parsing: scope)) != nil else { return false }  // a validity probe
        var last = components.removeLast()
        if let at = last.firstIndex(of: "@") { last = String(last[..<at]) } else if let colon = last.firstIndex(of: ":") { last = String(last[..<colon]) }
        return (components + [last]).allSatisfy(ImageReference.isValidPathComponent)
    }

    // MARK: Evaluation

    /// Throws FAILED_PRECONDITION naming the scope and the requirement that refused `image`
    /// (known by `reference`, its resolved manifest or index digest `digest`) given the
    /// cosign `signatures` found for it.
    public func admit(_ reference: ImageReference?, digest: Digest?, signatures: [CosignSignature]) throws(FascoError) {
        let match = match(reference)
        let name = reference.map { SignedReference($0).description } ?? "(an image with no name)"
        for (position, requirement) in match.requirements.enumerated() {
            let refusal: String?
            switch requirement {
            case .insecureAcceptAnything:
                refusal = nil
            case .reject:
                refusal = "it rejects every image"
            case .sigstoreSigned(let rule):
                refusal = Self.sigstoreRefusal(reference, digest: digest, signatures: signatures, rule: rule)
            }
            if let refusal {
                throw .failedPrecondition("image \(name) is refused by the signature policy \(source): \(match.scope), requirement \(position + 1) "
                    + "(\(requirement)): \(refusal)")
            }
        }
    }

    static func sigstoreRefusal(_ reference: ImageReference?, digest: Digest?, signatures: [CosignSignature],
                                rule: PolicyRequirement.SigstoreSigned) -> String? {
        guard let reference, let digest else { return "the image has no registry name and digest to look signatures up by" }
        let image = SignedReference(reference)
        let candidates = signatures.filter { $0.repository == reference.repository && $0.manifestDigest == digest }
        guard !candidates.isEmpty else {
            return "no cosign signature of \(digest) (tag \(CosignSignature.tag(for: digest)) in \(reference.repository))"
        }
        var reasons: [String] = []
        for (index, signature) in candidates.enumerated() {
            guard let reason = signature.rejection(image: image, digest: digest, rule: rule) else { return nil }
            reasons.append("signature \(index + 1): \(reason)")
            if reasons.count == 5 { break }
        }
        return "none of its \(candidates.count) signature(s) is accepted: " + reasons.joined(separator: "; ")
    }
}

extension SignaturePolicy {
    /// The `kbs:///` resources a policy document names as sigstoreSigned `keyPath`/`keyPaths`,
    /// in order, once each (none for a document that is not JSON: parsing it says why, so
    /// the decoding error is not wanted here).
    public static func brokerKeyPaths(in bytes: [UInt8]) -> [String] {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return [] }
        var found: [String] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .object(let fields):
                for (key, field) in fields.sorted(by: { $0.key < $1.key }) {
                    if key == "keyPath", case .string(let text) = field, text.hasPrefix("kbs:///") {
                        if !found.contains(text) { found.append(text) }
                    } else if key == "keyPaths", case .array(let items) = field {
                        for case .string(let text) in items where text.hasPrefix("kbs:///") && !found.contains(text) { found.append(text) }
                    } else {
                        visit(field)
                    }
                }
            case .array(let items): items.forEach(visit)
            default: break
            }
        }
        visit(document)
        return found
    }

    /// Typed reading of requirement objects, strict as containers/image is.
    struct Reader {
        let source: String
        let baseDirectory: String
        var brokerKeys: [String: [UInt8]] = [:]

        func invalid(_ place: String, _ why: String) -> FascoError {
            .invalidArgument("signature policy \(source): \(place): \(why)")
        }

        func requirements(_ value: JSONValue, at place: String) throws(FascoError) -> [PolicyRequirement] {
            guard case .array(let list) = value else { throw invalid(place, "must be an array of requirements, got \(value.typeName)") }
            guard !list.isEmpty else { throw invalid(place, "an empty list of requirements (use [{\"type\": \"insecureAcceptAnything\"}] to accept anything)") }
            var result: [PolicyRequirement] = []
            for (index, item) in list.enumerated() { result.append(try requirement(item, at: "\(place)[\(index)]")) }
            return result
        }

        func requirement(_ value: JSONValue, at place: String) throws(FascoError) -> PolicyRequirement {
            guard case .object(let fields) = value else { throw invalid(place, "a requirement must be an object, got \(value.typeName)") }
            guard case .string(let type)? = fields["type"] else { throw invalid(place, "a requirement needs a string \"type\"") }
            func only(_ allowed: Set<String>) throws(FascoError) {
                for key in fields.keys.sorted() where !allowed.contains(key) {
                    throw invalid(place, "unknown field \"\(key.prefix(100))\" in a \(type) requirement")
                }
            }
            switch type {
            case "insecureAcceptAnything":
                try only(["type"])
                return .insecureAcceptAnything
            case "reject":
                try only(["type"])
                return .reject
            case "sigstoreSigned":
                for key in ["fulcio", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "pki"]
                where fields[key] != nil {
                    throw invalid(place, "sigstoreSigned with \"\(key)\" is not supported by Fasco (only public keys: keyPath, keyPaths, keyData, keyDatas)")
                }
                try only(["type", "keyPath", "keyPaths", "keyData", "keyDatas", "signedIdentity"])
                return .sigstoreSigned(try sigstoreSigned(fields, at: place))
            case "signedBy":
                throw invalid(place, "signedBy (GPG simple signing) is not supported by Fasco; use sigstoreSigned")
            default:
                throw invalid(place, "unknown requirement type \"\(type.prefix(100))\" (Fasco knows insecureAcceptAnything, reject, sigstoreSigned)")
            }
        }

        func sigstoreSigned(_ fields: [String: JSONValue], at place: String) throws(FascoError) -> PolicyRequirement.SigstoreSigned {
            let given = ["keyPath", "keyPaths", "keyData", "keyDatas"].filter { fields[$0] != nil }
            guard given.count == 1, let which = given.first, let value = fields[which] else {
                throw invalid(place, "sigstoreSigned needs exactly one of keyPath, keyPaths, keyData, keyDatas (got \(given.isEmpty ? "none" : given.joined(separator: ", ")))")
            }
            var texts: [String] = []
            switch value {
            case .string(let text) where !which.hasSuffix("s"):
                texts = [text]
            case .array(let items) where which.hasSuffix("s"):
                for item in items {
                    guard case .string(let text) = item else { throw invalid(place, "\(which) must list strings, got \(item.typeName)") }
                    texts.append(text)
                }
            default:
                throw invalid(place, "\(which) must be \(which.hasSuffix("s") ? "an array of strings" : "a string"), got \(value.typeName)")
            }
            guard !texts.isEmpty else { throw invalid(place, "\(which) lists no keys") }
            var keys: [[UInt8]] = []
            for text in texts {
                let pem: String
                let origin: String
                if which.hasPrefix("keyPath"), text.hasPrefix("kbs:///") {
                    origin = "\(which) \(text)"
                    guard let bytes = brokerKeys[text] else { throw invalid(place, "\(origin) was not released by the key broker") }
                    pem = String(decoding: bytes, as: UTF8.self)
                } else if which.hasPrefix("keyPath") {
                    let path = text.hasPrefix("/") || baseDirectory.isEmpty ? text : baseDirectory + "/" + text
                    origin = "\(which) \(path)"
                    guard let bytes = try FileSystem.read(path, limit: 1 << 20) else { throw invalid(place, "\(origin) does not exist") }
                    pem = String(decoding: bytes, as: UTF8.self)
                } else {
                    origin = which
                    guard let bytes = Data(base64Encoded: text) else { throw invalid(place, "\(which) is not base64 (of a PEM public key)") }
                    pem = String(decoding: bytes, as: UTF8.self)
                }
                do { keys.append(Array(try P256.Signing.PublicKey(pemRepresentation: pem).derRepresentation)) } catch {
                    throw invalid(place, "\(origin) is not a PEM ECDSA P-256 public key (cosign's cosign.pub): \(error)")
                }
            }
            let keySource = which.hasPrefix("keyPath") ? "\(which) \(texts.joined(separator: ", "))" : which
            return PolicyRequirement.SigstoreSigned(keySource: keySource, keys: keys,
                                                    signedIdentity: try signedIdentity(fields["signedIdentity"], at: place + ".signedIdentity"))
        }

        func signedIdentity(_ value: JSONValue?, at place: String) throws(FascoError) -> SignedIdentity {
            guard let value else { return .matchRepoDigestOrExact }
            guard case .object(let fields) = value, case .string(let type)? = fields["type"] else {
                throw invalid(place, "must be an object with a string \"type\"")
            }
            func only(_ allowed: Set<String>) throws(FascoError) {
                for key in fields.keys.sorted() where !allowed.contains(key) { throw invalid(place, "unknown field \"\(key.prefix(100))\" in \(type)") }
            }
            func reference(_ key: String, repositoryOnly: Bool) throws(FascoError) -> String {
                // Either failure is the same refusal, which names the field.
                guard case .string(let text)? = fields[key], let parsed = try? SignedReference(parsing: text) else {
                    throw invalid(place, "\(type) needs \"\(key)\", a docker reference")
                }
                if repositoryOnly && parsed.suffix != nil { throw invalid(place, "\(key) must be a repository, without tag or digest") }
                if !repositoryOnly && parsed.suffix == nil { throw invalid(place, "\(key) must carry a tag or a digest") }
                return parsed.description
            }
            switch type {
            case "matchExact": try only(["type"]); return .matchExact
            case "matchRepoDigestOrExact": try only(["type"]); return .matchRepoDigestOrExact
            case "matchRepository": try only(["type"]); return .matchRepository
            case "exactReference": try only(["type", "dockerReference"]); return .exactReference(try reference("dockerReference", repositoryOnly: false))
            case "exactRepository": try only(["type", "dockerRepository"]); return .exactRepository(try reference("dockerRepository", repositoryOnly: true))
            case "remapIdentity": throw invalid(place, "remapIdentity is not supported by Fasco")
            default:
                throw invalid(place, "unknown signedIdentity type \"\(type.prefix(100))\" (Fasco knows matchExact, matchRepoDigestOrExact, matchRepository, exactReference, exactRepository)")
            }
        }
    }
}
