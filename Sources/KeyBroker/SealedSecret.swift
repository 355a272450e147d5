import Crypto
import FascoCore
import FoundationEssentials

/// CoCo's sealed secret (guest-components `confidential-data-hub/docs/SEALED_SECRET.md`):
/// `sealed.` + a compact JWS whose header names the signing key (`kid`, a `kbs:///` resource
/// holding the public key as a JWK, EC P-256) and whose payload says where the secret is. Only
/// the `vault` type with the `kbs` provider is unsealed here: the secret is the resource `name`.
/// The `envelope` type is refused with why: CoCo unwraps its key through a cloud KMS (aliyun,
/// ehsm), not the key broker.
public struct SealedSecret: Sendable {
    public let header: [UInt8]
    public let signingInput: [UInt8]
    public let signature: [UInt8]
    public let keyID: ResourceURI
    public let secret: ResourceURI

    struct Header: Decodable { var alg: String; var kid: String? }
    struct Payload: Decodable {
        var version: String?
        var type: String
        var provider: String?
        var name: String?
    }

    /// Parses the sealed form; INVALID_ARGUMENT for anything that is not one CoCo could unseal.
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
        let decodedPayload: Payload
        do { decodedPayload = try JSONDecoder().decode(Payload.self, from: Data(payload)) } catch {
            throw .invalidArgument("its payload is not JSON with a type")
        }
        if decodedPayload.type == "envelope" {
            throw .invalidArgument("it is an envelope sealed secret, whose key CoCo unwraps through a cloud KMS (provider "
                + "\(decodedPayload.provider?.prefix(20).debugDescription ?? "none")); Fasco unseals vault secrets held by the key broker")
        }
        guard decodedPayload.type == "vault" else {
            throw .invalidArgument("its type is \(decodedPayload.type.prefix(20).debugDescription); only vault sealed secrets are supported")
        }
        guard decodedPayload.provider == nil || decodedPayload.provider == "kbs" else {
            throw .invalidArgument("its provider is \(decodedPayload.provider?.prefix(20).debugDescription ?? ""); only kbs is supported")
        }
        guard let name = decodedPayload.name else { throw .invalidArgument("its payload has no name (the kbs:/// resource of the secret)") }
        self.header = header
        self.signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
        self.keyID = try ResourceURI(uri: kid)
        self.secret = try ResourceURI(uri: name)
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
