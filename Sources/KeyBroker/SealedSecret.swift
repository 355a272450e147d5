import Crypto
import FascoCore
import FoundationEssentials
import _CryptoExtras

/// CoCo's sealed secret (guest-components `confidential-data-hub/docs/SEALED_SECRET.md`):
/// `sealed.` + a compact JWS whose header names the signing key (`kid`, a `kbs:///` resource
/// holding the public key as a JWK, EC P-256) and whose payload (version `0.1.0`) says where the
/// secret is:
///
/// - `vault`: a pointer. Provider `kbs`: the secret is the broker's resource `name`; provider
///   `aws`: it is the AWS Secrets Manager secret `name` in `provider_settings.region`
///   (`annotations.version_id` / `version_stage` optional); provider `aliyun`: the secret
///   `name` of the Alibaba Cloud KMS instance `provider_settings.kms_instance_id`, reached with
///   the client key `client_key_id` (`client_type` `client_key`).
/// - `envelope`: the secret encrypted with a data key (`encrypted_data`, `iv`, `wrap_type`
///   `A256GCM` or `A256CTR`), the data key wrapped by a KMS key (`encrypted_key`, `key_id`).
///   Provider `aws`: AWS KMS unwraps it (`provider_settings.region`,
///   `annotations.encryption_context`); provider `aliyun`: the Alibaba Cloud KMS instance does
///   (`annotations.iv` the wrap's IV), as CoCo's KMS drivers do.
///
/// CoCo's `ehsm` driver, and the aliyun driver's `ecs_ram_role` and `sts_token` client types
/// (which need Alibaba Cloud's instance metadata or a token file inside a guest), are refused
/// by name.
public struct SealedSecret: Sendable {
    public let header: [UInt8]
    public let signingInput: [UInt8]
    public let signature: [UInt8]
    public let keyID: ResourceURI
    public let content: Content

    public enum Content: Sendable {
        /// A resource of the key broker.
        case brokerResource(ResourceURI)
        /// A secret of AWS Secrets Manager.
        case awsSecret(AWSSecret)
        /// A secret of an Alibaba Cloud KMS instance.
        case aliyunSecret(AliyunSecret)
        /// An envelope whose data key a KMS unwraps.
        case envelope(Envelope)
    }

    public struct AWSSecret: Sendable, Equatable {
        public var name: String
        public var region: String
        public var versionID: String?
        public var versionStage: String?
    }

    /// An Alibaba Cloud KMS instance and the client key to reach it with.
    public struct AliyunSettings: Sendable, Equatable {
        public var clientKeyID: String
        public var kmsInstanceID: String
    }

    public struct AliyunSecret: Sendable, Equatable {
        public var name: String
        public var settings: AliyunSettings
        public var versionStage: String?
        public var versionID: String?
    }

    public struct Envelope: Sendable {
        public enum WrapType: String, Sendable { case a256gcm = "A256GCM", a256ctr = "A256CTR" }
        /// The KMS that unwraps the data key, and what it needs besides `keyID`.
        public enum KMS: Sendable, Equatable {
            case aws(region: String, encryptionContext: [String: String])
            case aliyun(AliyunSettings, iv: [UInt8])
        }
        public var keyID: String
        public var encryptedKey: [UInt8]
        public var encryptedData: [UInt8]
        public var wrapType: WrapType
        public var iv: [UInt8]
        public var kms: KMS

        /// The secret, decrypted with the unwrapped data key: AES-256-GCM (a 12-byte IV, the
        /// 16-byte tag after the ciphertext, no associated data) or AES-256-CTR (the 16-byte IV
        /// is the first counter block), as CoCo's `crypto` crate does.
        public func open(with dataKey: [UInt8]) throws(FascoError) -> [UInt8] {
            guard dataKey.count == 32 else {
                throw .failedPrecondition("the KMS unwrapped a data key of \(dataKey.count) bytes; \(wrapType.rawValue) needs 32")
            }
            let key = SymmetricKey(data: dataKey)
            switch wrapType {
            case .a256gcm:
                guard encryptedData.count >= 16, let nonce = try? AES.GCM.Nonce(data: iv),
                      let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: encryptedData.dropLast(16), tag: encryptedData.suffix(16)),
                      let plain = try? AES.GCM.open(box, using: key) else {
                    throw .failedPrecondition("its encrypted_data does not open with the unwrapped data key (AES-256-GCM: wrong key or tampered data)")
                }
                return Array(plain)
            case .a256ctr:
                guard let nonce = try? AES._CTR.Nonce(nonceBytes: iv), let plain = try? AES._CTR.decrypt(encryptedData, using: key, nonce: nonce) else {
                    throw .failedPrecondition("its encrypted_data cannot be decrypted with AES-256-CTR")
                }
                return Array(plain)
            }
        }
    }

    /// The sealed-secret format version CoCo writes and accepts.
    public static let version = "0.1.0"

    struct Header: Decodable { var alg: String; var kid: String? }
    struct Payload: Decodable {
        struct Settings: Decodable {
            var region: String?
            var client_type: String?
            var client_key_id: String?
            var kms_instance_id: String?
        }
        struct Annotations: Decodable {
            var encryption_context: [String: String]?
            var version_id: String?
            var version_stage: String?
            var iv: String?
        }
        var version: String?
        var type: String
        var provider: String?
        var name: String?
        var key_id: String?
        var encrypted_key: String?
        var encrypted_data: String?
        var wrap_type: String?
        var iv: String?
        var provider_settings: Settings?
        var annotations: Annotations?
    }

    /// Parses the sealed form; INVALID_ARGUMENT for anything that is not one Fasco can unseal.
    /// Messages never quote the payload's secret parts.
    public init(_ text: String) throws(FascoError) {
        guard text.hasPrefix("sealed.") else { throw .invalidArgument("it does not start with sealed.") }
        let jws = text.dropFirst("sealed.".count)
        let parts = jws.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalidArgument("it is not sealed. followed by a compact JWS (header.payload.signature)") }
        guard let header = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]), let signature = Base64URL.decode(parts[2]) else {
            throw .invalidArgument("its JWS parts are not base64url")
        }
        let decodedHeader: Header
        do { decodedHeader = try JSONDecoder().decode(Header.self, from: Data(header)) } catch {
            throw .invalidArgument("its JWS header is not JSON with alg")
        }
        guard decodedHeader.alg == "ES256" else {
            throw .invalidArgument("its JWS alg is \(decodedHeader.alg.prefix(20).debugDescription); sealed secrets are signed ES256")
        }
        guard let kid = decodedHeader.kid else { throw .invalidArgument("its JWS header has no kid naming the signing key") }
        guard kid.hasPrefix("kbs://") else {
            throw .invalidArgument("its signing key \(kid.prefix(100).debugDescription) is not a kbs:/// resource (a key file in a guest image, "
                + "which CoCo also allows, does not exist on Fasco)")
        }
        let decoded: Payload
        do { decoded = try JSONDecoder().decode(Payload.self, from: Data(payload)) } catch {
            throw .invalidArgument("its payload is not a sealed secret's JSON (type, provider, provider_settings, annotations)")
        }
        guard decoded.version == Self.version else {
            throw .invalidArgument("its version is \(decoded.version?.prefix(20).debugDescription ?? "missing"); sealed secrets are version \(Self.version)")
        }
        self.header = header
        self.signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
        self.keyID = try ResourceURI(uri: kid)
        self.content = try Self.content(of: decoded)
    }

    static func content(of payload: Payload) throws(FascoError) -> Content {
        let provider = payload.provider ?? (payload.type == "vault" ? "kbs" : "")
        func region() throws(FascoError) -> String {
            guard let region = payload.provider_settings?.region else { throw .invalidArgument("its provider_settings have no region (provider aws)") }
            guard AWSClient.isRegion(region) else { throw .invalidArgument("its region \(region.prefix(64).debugDescription) is not an AWS region name") }
            return region
        }
        func aliyun() throws(FascoError) -> AliyunSettings {
            let settings = payload.provider_settings
            guard let type = settings?.client_type else { throw .invalidArgument("its provider_settings have no client_type (provider aliyun)") }
            guard type == "client_key" else {
                throw .invalidArgument("its client_type is \(type.prefix(20).debugDescription); Fasco reaches Alibaba Cloud KMS with client_key "
                    + "(ecs_ram_role and sts_token need the instance metadata service or a token file inside a guest)")
            }
            guard let clientKey = settings?.client_key_id, AliyunKMSClient.isClientKeyID(clientKey) else {
                throw .invalidArgument("its provider_settings have no client_key_id of letters, digits, '.', '_' and '-'")
            }
            guard let instance = settings?.kms_instance_id, AliyunKMSClient.isInstanceID(instance) else {
                throw .invalidArgument("its provider_settings have no kms_instance_id of letters, digits and '-'")
            }
            return AliyunSettings(clientKeyID: clientKey, kmsInstanceID: instance)
        }
        switch (payload.type, provider) {
        case ("vault", "kbs"):
            guard let name = payload.name else { throw .invalidArgument("its payload has no name (the kbs:/// resource of the secret)") }
            return .brokerResource(try ResourceURI(uri: name))
        case ("vault", "aws"):
            guard let name = payload.name, (1...2048).contains(name.utf8.count) else {
                throw .invalidArgument("its payload has no name (the AWS Secrets Manager secret)")
            }
            return .awsSecret(AWSSecret(name: name, region: try region(), versionID: payload.annotations?.version_id,
                                        versionStage: payload.annotations?.version_stage))
        case ("vault", "aliyun"):
            guard let name = payload.name, (1...2048).contains(name.utf8.count) else {
                throw .invalidArgument("its payload has no name (the Alibaba Cloud KMS secret)")
            }
            return .aliyunSecret(AliyunSecret(name: name, settings: try aliyun(), versionStage: payload.annotations?.version_stage,
                                              versionID: payload.annotations?.version_id))
        case ("envelope", "aws"), ("envelope", "aliyun"):
            guard let keyID = payload.key_id, (1...2048).contains(keyID.utf8.count) else { throw .invalidArgument("its payload has no key_id") }
            guard let encryptedKey = payload.encrypted_key.flatMap({ Data(base64Encoded: $0) }), !encryptedKey.isEmpty else {
                throw .invalidArgument("its encrypted_key is missing or not base64")
            }
            guard let encryptedData = payload.encrypted_data.flatMap({ Data(base64Encoded: $0) }) else {
                throw .invalidArgument("its encrypted_data is missing or not base64")
            }
            guard let wrapType = payload.wrap_type.flatMap(Envelope.WrapType.init(rawValue:)) else {
                throw .invalidArgument("its wrap_type is \(payload.wrap_type?.prefix(20).debugDescription ?? "missing"); A256GCM and A256CTR are supported")
            }
            guard let iv = payload.iv.flatMap({ Data(base64Encoded: $0) }), iv.count == (wrapType == .a256gcm ? 12 : 16) else {
                throw .invalidArgument("its iv is missing, not base64, or not \(wrapType == .a256gcm ? 12 : 16) bytes as \(wrapType.rawValue) needs")
            }
            let kms: Envelope.KMS
            if provider == "aws" {
                kms = .aws(region: try region(), encryptionContext: payload.annotations?.encryption_context ?? [:])
            } else {
                guard let wrapIV = payload.annotations?.iv.flatMap({ Data(base64Encoded: $0) }), !wrapIV.isEmpty else {
                    throw .invalidArgument("its annotations have no base64 iv (the Alibaba Cloud KMS wrap's)")
                }
                kms = .aliyun(try aliyun(), iv: Array(wrapIV))
            }
            return .envelope(Envelope(keyID: keyID, encryptedKey: Array(encryptedKey), encryptedData: Array(encryptedData),
                                      wrapType: wrapType, iv: Array(iv), kms: kms))
        case ("vault", _), ("envelope", _):
            throw .invalidArgument("its provider is \(provider.prefix(20).debugDescription); Fasco unseals \(payload.type) secrets of provider "
                + (payload.type == "vault" ? "kbs, aws and aliyun" : "aws and aliyun") + " (CoCo's ehsm driver is not supported)")
        default:
            throw .invalidArgument("its type is \(payload.type.prefix(20).debugDescription); sealed secrets are vault or envelope")
        }
    }

    /// Checks the ES256 signature with the signing key (a JWK of an EC P-256 public key).
    public func verify(publicKeyJWK: [UInt8]) throws(FascoError) {
        struct JWK: Decodable { var kty: String; var crv: String?; var x: String?; var y: String? }
        guard let jwk = try? JSONDecoder().decode(JWK.self, from: Data(publicKeyJWK)), jwk.kty == "EC", jwk.crv == "P-256",
              let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode), x.count == 32, y.count == 32,
              let key = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y) else {
            throw .invalidArgument("the signing key \(keyID) is not a JWK of an EC P-256 public key")
        }
        guard signature.count == 64, let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
              key.isValidSignature(ecdsa, for: SHA256.hash(data: signingInput)) else {
            throw .invalidArgument("its signature does not verify with the signing key \(keyID)")
        }
    }
}
