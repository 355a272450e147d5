import Crypto
import FascoCore

/// COSE_Sign1 (RFC 9052 §4.2) with ES384 (alg -35): the envelope of both CCA tokens.
public enum COSESign1 {
    public static let tag: UInt64 = 18
    public static let es384: Int64 = -35

    /// The protected header: {1 (alg): -35}.
    static var protectedHeader: [UInt8] { CBOR.intMap([(1, .int(es384))]).encoded }

    /// Sig_structure = ["Signature1", protected, external_aad (empty), payload].
    public static func toBeSigned(protected: [UInt8], payload: [UInt8]) -> [UInt8] {
        CBOR.array([.text("Signature1"), .bytes(protected), .bytes([]), .bytes(payload)]).encoded
    }

    /// Signs `payload` and returns the tagged COSE_Sign1 (#6.18) encoded.
    public static func sign(payload: [UInt8], key: P384.Signing.PrivateKey) throws(FascoError) -> [UInt8] {
        let protected = protectedHeader
        let signature: [UInt8]
        do {
            signature = Array(try key.signature(for: toBeSigned(protected: protected, payload: payload)).rawRepresentation)
        } catch {
            throw .internal("cannot sign a token", cause: error)
        }
        return CBOR.tagged(tag, .array([.bytes(protected), .map([]), .bytes(payload), .bytes(signature)])).encoded
    }

    /// The payload of a COSE_Sign1 (tagged or not) whose ES384 signature verifies under `key`.
    public static func verify(_ bytes: [UInt8], key: P384.Signing.PublicKey) throws(FascoError) -> [UInt8] {
        var item = try CBOR.decode(bytes)
        if case .tagged(tag, let inner) = item { item = inner }
        guard case .array(let parts) = item, parts.count == 4, let protected = parts[0].bytesValue,
              let payload = parts[2].bytesValue, let signature = parts[3].bytesValue else {
            throw .invalidArgument("not a COSE_Sign1")
        }
        guard try CBOR.decode(protected)[1] == .int(es384) else { throw .invalidArgument("COSE_Sign1: the algorithm is not ES384") }
        guard let parsed = try? P384.Signing.ECDSASignature(rawRepresentation: signature),
              key.isValidSignature(parsed, for: toBeSigned(protected: protected, payload: payload)) else {
            throw .invalidArgument("COSE_Sign1: the signature does not verify")
        }
        return payload
    }
}

extension P384.Signing.PublicKey {
    /// As a COSE_Key (RFC 9053 §7.1.1): {1 (kty): 2 (EC2), -1 (crv): 2 (P-384), -2: x, -3: y}.
    public var coseKey: [UInt8] {
        let raw = Array(rawRepresentation)
        return CBOR.intMap([(1, .int(2)), (-1, .int(2)), (-2, .bytes(Array(raw[0..<48]))), (-3, .bytes(Array(raw[48..<96])))]).encoded
    }

    /// As a JWK (RFC 7518 §6.2): kty, crv, x, y (base64url without padding), keys sorted.
    public var jwk: [String: String] {
        let raw = Array(rawRepresentation)
        return ["kty": "EC", "crv": "P-384", "x": Base64URL.encode(Array(raw[0..<48])), "y": Base64URL.encode(Array(raw[48..<96]))]
    }
}
