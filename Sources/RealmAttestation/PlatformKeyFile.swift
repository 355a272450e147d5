import Crypto
import FascoCore

/// The node's platform key on disk: its raw P-384 scalar (48 bytes) in a 0600 file, made
/// once (atomically) and kept across restarts.
public enum PlatformKeyFile {
    public static func loadOrCreate(_ path: String) throws(FascoError) -> [UInt8] {
        if let bytes = try FileSystem.read(path, limit: 4096) {
            guard bytes.count == 48, (try? P384.Signing.PrivateKey(rawRepresentation: bytes)) != nil else {
                throw .failedPrecondition("the platform key \(path) is not a P-384 key (48 bytes); move it away to make a new one")
            }
            return bytes
        }
        try FileSystem.makeDirectories(FileSystem.parent(of: path), mode: 0o700)
        let bytes = Array(P384.Signing.PrivateKey().rawRepresentation)
        try FileSystem.writeAtomically(bytes, to: path, mode: 0o600)
        return bytes
    }

    /// The public key of a stored platform key, as a JWK.
    public static func publicJWK(_ bytes: [UInt8]) throws(FascoError) -> [String: String] {
        do { return try P384.Signing.PrivateKey(rawRepresentation: bytes).publicKey.jwk } catch {
            throw FascoError(.failedPrecondition, "not a P-384 platform key", cause: error)
        }
    }
}

/// A fresh P-384 private key's raw scalar.
public enum P384Key {
    public static func make() -> [UInt8] { Array(P384.Signing.PrivateKey().rawRepresentation) }
}
