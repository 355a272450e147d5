import CZlib
import Crypto
import FascoCore
import FoundationEssentials
import TOMLKit

/// What a pod chooses about its realms' measurement, from its annotations: the hash
/// algorithm and the personalization value (the digest of its initdata). Every realm of the
/// pod, System and Container, uses the same.
public struct RealmOptions: Sendable, Equatable {
    public var algorithm: MeasurementAlgorithm
    /// 64 bytes.
    public var personalizationValue: [UInt8]

    /// `sha-256` (default) or `sha-512`.
    public static let hashAlgorithmAnnotation = "io.fasco.realm.hash-algorithm"
    /// CoCo's initdata: base64 of a gzip-compressed (or plain) TOML document.
    public static let initDataAnnotation = "io.katacontainers.config.hypervisor.cc_init_data"
    /// Initdata larger than this (decompressed) is refused.
    public static let maxInitData = 1 << 20

    public init(algorithm: MeasurementAlgorithm = .sha256, personalizationValue: [UInt8] = [UInt8](repeating: 0, count: 64)) {
        self.algorithm = algorithm
        self.personalizationValue = personalizationValue
    }

    /// The options a pod's annotations ask for; a value that cannot be used is INVALID_ARGUMENT naming the annotation.
    public init(annotations: [String: String]) throws(FascoError) {
        self.init()
        if let name = annotations[Self.hashAlgorithmAnnotation] {
            guard let algorithm = MeasurementAlgorithm(rawValue: name) else {
                throw .invalidArgument("annotation \(Self.hashAlgorithmAnnotation) is \(name.debugDescription): use sha-256 or sha-512")
            }
            self.algorithm = algorithm
        }
        if let encoded = annotations[Self.initDataAnnotation] {
            personalizationValue = try Self.initDataDigest(encoded)
        }
    }

    /// The digest of an initdata document (CoCo: H(the whole TOML text) with its `algorithm`),
    /// truncated or zero-padded to 64 bytes.
    public static func initDataDigest(_ encoded: String) throws(FascoError) -> [UInt8] {
        let (bytes, table) = try initData(encoded)
        let what = "annotation \(initDataAnnotation)"
        guard let algorithm = table["algorithm"]?.string else {
            throw .invalidArgument("\(what) has no algorithm (sha256, sha384 or sha512)")
        }
        let digest: [UInt8]
        switch algorithm {
        case "sha256": digest = Array(SHA256.hash(data: bytes))
        case "sha384": digest = Array(SHA384.hash(data: bytes))
        case "sha512": digest = Array(SHA512.hash(data: bytes))
        default: throw .invalidArgument("\(what): algorithm \(algorithm.debugDescription) is not sha256, sha384 or sha512")
        }
        return Array((digest + [UInt8](repeating: 0, count: 64)).prefix(64))
    }

    /// The initdata document's text (decoded from base64, gunzipped when it is gzip) and its TOML table.
    public static func initData(_ encoded: String) throws(FascoError) -> (text: [UInt8], table: TOMLTable) {
        let what = "annotation \(initDataAnnotation)"
        guard let data = Data(base64Encoded: String(encoded.filter { !$0.isWhitespace })) else {
            throw .invalidArgument("\(what) is not base64")
        }
        var bytes = Array(data)
        if bytes.starts(with: [0x1f, 0x8b]) { bytes = try gunzip(bytes, what: what) }
        guard bytes.count <= maxInitData else { throw .invalidArgument("\(what) is larger than 1 MiB") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidArgument("\(what) is not UTF-8 text") }
        return (bytes, try parseTOML(text, what: what))
    }

    /// A TOML document of a pod's, read with TOMLKit within what toml++ can take (a NUL would
    /// also end the document early while the digest covers it all).
    static func parseTOML(_ text: String, what: String) throws(FascoError) -> TOMLTable {
        if let violation = TOMLLimits.violation(in: text) {
            throw .invalidArgument("\(what) is not TOML that Fasco reads: line \(violation.line): \(violation.reason)")
        }
        do { return try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw .invalidArgument("\(what) is not TOML: line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw .invalidArgument("\(what) is not TOML: \(error)")
        }
    }

    static func gunzip(_ bytes: [UInt8], what: String) throws(FascoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: maxInitData + 1)
        let produced = out.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBufferPointer { input in
                fasco_gunzip(input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
        guard produced >= 0 else {
            throw .invalidArgument(produced == -2 ? "\(what) expands to more than 1 MiB" : "\(what) is not valid gzip")
        }
        return Array(out.prefix(produced))
    }
}
