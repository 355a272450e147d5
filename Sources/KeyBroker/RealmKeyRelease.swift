import Crypto
import FascoCore
import RealmAttestation
import RealmCore
import Synchronization

/// Key release for realms (`RealmCore.KeyRelease`): each realm attests to its pod's key broker
/// with its own evidence and keeps its session (TEE key, cookie, token) until it expires; the
/// sessions live in memory only (a restarted daemon attests again).
///
/// The broker of a pod: its initdata's `cdh.toml` `[kbc] url` (and `kbs_cert`), else the node's
/// (fasco.toml `[kbs] url` and `ca_file`).
public final class RealmKeyRelease: KeyRelease, Sendable {
    let node: BrokerEndpoint?
    /// Where `kbs_cert` certificates from initdata are written for libcurl (0600 files).
    let certificateDirectory: String
    let sessions = Mutex<[RealmID: BrokerSession]>([:])
    /// Alibaba Cloud client keys opened lately (`openClientKey`), oldest first.
    let clientKeys = Mutex<[(digest: [UInt8], key: AliyunClientKey)]>([])
    /// Client settings (tests shorten them).
    let attempts: Int
    /// The kind of each session's fresh TEE key (fasco.toml `[kbs] tee_key`).
    let teeKey: TEEKeyPair.Kind
    /// Where sealed secrets of provider `aws` reach AWS (fasco.toml `[kms.aws]`).
    let aws: AWSEndpoints
    /// The base URL replacing an Alibaba Cloud KMS instance's own (fasco.toml `[kms.aliyun] endpoint`).
    let aliyunEndpoint: String?
    /// The broker resource holding the AWS credential for pods whose initdata names none
    /// (fasco.toml `[kms.aws] credential_uri`).
    let awsCredentialURI: String?

    public init(node: BrokerEndpoint?, certificateDirectory: String, attempts: Int = 3, teeKey: TEEKeyPair.Kind = .ec,
                aws: AWSEndpoints = AWSEndpoints(), awsCredentialURI: String? = nil, aliyunEndpoint: String? = nil) {
        self.node = node
        self.certificateDirectory = certificateDirectory
        self.attempts = attempts
        self.teeKey = teeKey
        self.aws = aws
        self.awsCredentialURI = awsCredentialURI
        self.aliyunEndpoint = aliyunEndpoint
    }

    public func isConfigured(for pod: SystemRealm) -> Bool {
        (try? endpoint(for: pod)) != nil
    }

    /// The pod's broker; nil when neither its initdata nor the node names one.
    func endpoint(for pod: SystemRealm) throws(FascoError) -> BrokerEndpoint? {
        if let fromInitData = try InitDataKeyBroker.from(annotations: pod.annotations) {
            let caFile = try fromInitData.certificatePEM.map { pem throws(FascoError) in try certificateFile(Array(pem.utf8), kind: "kbs-cert") }
            return BrokerEndpoint(url: fromInitData.url, caFile: caFile)
        }
        return node
    }

    /// A PEM certificate as a file libcurl can trust (0600, named by its digest, written once).
    func certificateFile(_ pem: [UInt8], kind: String) throws(FascoError) -> String {
        let path = certificateDirectory + "/\(kind)-" + Hex.encode(Array(SHA256.hash(data: pem)).prefix(16)) + ".pem"
        if !FileSystem.exists(path) {
            try FileSystem.makeDirectories(certificateDirectory, mode: 0o700)
            try FileSystem.writeAtomically(pem, to: path, mode: 0o600, durable: false)
        }
        return path
    }

    func client(for pod: SystemRealm) throws(FascoError) -> KeyBrokerClient {
        guard let endpoint = try endpoint(for: pod) else {
            throw .failedPrecondition("no key broker is configured for pod \(pod.id) (its initdata's cdh.toml [kbc] url, or fasco.toml [kbs] url)")
        }
        var client = KeyBrokerClient(endpoint: endpoint)
        client.attempts = attempts
        client.teeKey = teeKey
        return client
    }

    /// The realm's live session with `client`'s broker, or a new one.
    func session(_ client: KeyBrokerClient, realm: RealmID, pod: SystemRealm, evidence: Evidence, fresh: Bool = false) async throws(FascoError) -> BrokerSession {
        if !fresh, let kept = sessions.withLock({ $0[realm] }), kept.isValid, kept.endpoint == client.endpoint { return kept }
        let initData = InitDataKeyBroker.initDataText(annotations: pod.annotations)
        let made = try await client.attest(initData: initData, evidence: evidence)
        sessions.withLock { $0[realm] = made }
        return made
    }

    public func resource(_ uri: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8] {
        try await resource(try ResourceURI(uri: uri), realm: realm, of: pod, evidence: evidence)
    }

    func resource(_ resource: ResourceURI, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8] {
        let client = try client(for: pod)
        let kept = try await session(client, realm: realm, pod: pod, evidence: evidence)
        do throws(FascoError) {
            return try await client.resource(resource, session: kept)
        } catch where error.code == .unauthenticated {
            // The broker forgot the session (restarted, or expired early): attest once more.
            let fresh = try await session(client, realm: realm, pod: pod, evidence: evidence, fresh: true)
            return try await client.resource(resource, session: fresh)
        }
    }

    public func token(realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> (token: String, privateKeyPEM: String) {
        let made = try await session(try client(for: pod), realm: realm, pod: pod, evidence: evidence)
        return (made.token, made.key.privateKeyPEM)
    }

    public func unseal(_ sealed: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8] {
        let secret = try SealedSecret(sealed)
        let key = try await resource(secret.keyID, realm: realm, of: pod, evidence: evidence)
        try secret.verify(publicKeyJWK: key)
        switch secret.content {
        case .brokerResource(let uri):
            return try await resource(uri, realm: realm, of: pod, evidence: evidence)
        case .awsSecret(let named):
            let client = try await awsClient(region: named.region, realm: realm, of: pod, evidence: evidence)
            return try await client.secretValue(id: named.name, versionID: named.versionID, versionStage: named.versionStage)
        case .aliyunSecret(let named):
            let client = try await aliyunClient(named.settings, realm: realm, of: pod, evidence: evidence)
            return try await client.secretValue(name: named.name, versionStage: named.versionStage, versionID: named.versionID)
        case .envelope(let envelope):
            let dataKey: [UInt8]
            switch envelope.kms {
            case .aws(let region, let context):
                let client = try await awsClient(region: region, realm: realm, of: pod, evidence: evidence)
                dataKey = try await client.decrypt(ciphertext: envelope.encryptedKey, keyID: envelope.keyID, encryptionContext: context)
            case .aliyun(let settings, let iv):
                let client = try await aliyunClient(settings, realm: realm, of: pod, evidence: evidence)
                dataKey = try await client.decrypt(ciphertext: envelope.encryptedKey, keyID: envelope.keyID, iv: iv)
            }
            return try envelope.open(with: dataKey)
        }
    }

    /// A client of the Alibaba Cloud KMS instance with the client key, its password and the
    /// instance's CA the broker releases to `realm`: the resources the pod's initdata
    /// `[[credentials]]` give for the aliyun driver's paths (`clientKey_<id>.json`,
    /// `password_<id>.json`, `PrivateKmsCA_<instance>.pem`).
    func aliyunClient(_ settings: SealedSecret.AliyunSettings, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> AliyunKMSClient {
        let credentials = try InitDataCredentials.from(annotations: pod.annotations)
        func released(_ name: String) async throws(FascoError) -> [UInt8] {
            let path = InitDataCredentials.aliyunCredentialDirectory + "/" + name
            guard let uri = credentials[path] else {
                throw .failedPrecondition("provider aliyun needs \(name) from the key broker: the pod's initdata cdh.toml has no "
                    + "[[credentials]] entry with path \(path.debugDescription)")
            }
            return try await resource(try ResourceURI(uri: uri), realm: realm, of: pod, evidence: evidence)
        }
        let clientKey: AliyunClientKey
        do throws(FascoError) {
            clientKey = try openClientKey(json: try await released("clientKey_\(settings.clientKeyID).json"),
                                          password: try await released("password_\(settings.clientKeyID).json"))
        } catch where error.code == .invalidArgument {
            throw .failedPrecondition("the Alibaba Cloud client key \(settings.clientKeyID) the broker released: \(error.message)")
        }
        guard clientKey.id == settings.clientKeyID else {
            throw .failedPrecondition("the client key the broker released for \(settings.clientKeyID) is \(clientKey.id)")
        }
        let ca = try await released("PrivateKmsCA_\(settings.kmsInstanceID).pem")
        var client = try AliyunKMSClient(instanceID: settings.kmsInstanceID, clientKey: clientKey, endpoint: aliyunEndpoint,
                                         caFile: try certificateFile(ca, kind: "aliyun-kms-ca"))
        client.attempts = attempts
        return client
    }

    /// The client key the files open to; the last few opened are kept, by the digest of both
    /// files, as opening a PKCS#12 file runs its key derivation (thousands of rounds) each time.
    func openClientKey(json: [UInt8], password: [UInt8]) throws(FascoError) -> AliyunClientKey {
        let digest = Array(SHA256.hash(data: json + [0] + password))
        if let kept = clientKeys.withLock({ $0.first { $0.digest == digest }?.key }) { return kept }
        let opened = try AliyunClientKey(json: json, password: password)
        clientKeys.withLock { kept in
            kept.removeAll { $0.digest == digest }
            kept.append((digest, opened))
            if kept.count > 16 { kept.removeFirst() }
        }
        return opened
    }

    /// A client of AWS with the credential the broker releases to `realm`: the resource the
    /// pod's initdata gives for CoCo's `aws` credential path, else fasco.toml's.
    func awsClient(region: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> AWSClient {
        let path = InitDataCredentials.awsCredentialPath
        guard let uri = try InitDataCredentials.from(annotations: pod.annotations)[path] ?? awsCredentialURI else {
            throw .failedPrecondition("provider aws needs an AWS credential from the key broker: the pod's initdata cdh.toml has no "
                + "[[credentials]] entry with path \(path.debugDescription), and fasco.toml has no [kms.aws] credential_uri")
        }
        let bytes = try await resource(try ResourceURI(uri: uri), realm: realm, of: pod, evidence: evidence)
        let credential: AWSCredential
        do throws(FascoError) { credential = try AWSCredential(json: bytes) } catch {
            throw .failedPrecondition("the AWS credential \(uri) the broker released: \(error.message)")
        }
        var client = try AWSClient(region: region, credential: credential, endpoints: aws)
        client.attempts = attempts
        return client
    }

    public func forget(realm: RealmID) {
        _ = sessions.withLock { $0.removeValue(forKey: realm) }
    }
}
