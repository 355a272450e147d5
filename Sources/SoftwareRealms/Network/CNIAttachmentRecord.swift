import FascoCore
import FoundationEssentials

/// What Fasco keeps about one attachment between its ADD and its DEL, in the cache directory
/// as `<containerID>+<ifname>.json`: the exact network configuration and arguments the ADD
/// ran with, and the final result (SPEC.md section 3: "The runtime must store the result
/// returned by the final plugin persistently").
///
/// Written before the first plugin runs (without a result) and again when the ADD has
/// finished, so that a DEL after a crash still knows which configuration to undo.
struct CNIAttachmentRecord: Sendable, Equatable, Codable {
    static let currentFormat = "fasco.cni.attachment.v1"

    var format = Self.currentFormat
    var containerID: String
    var interfaceName: String
    /// The namespace path the ADD was given, and which namespace that was.
    var networkNamespace: String
    var namespaceIdentity: NamespaceIdentity?
    var cniArgs: String
    var capabilityArguments: [String: JSONValue]
    var network: CNINetworkConfig
    /// The final plugin's result as it printed it; nil until the ADD has finished.
    var result: JSONValue?

    /// The file of the attachment (`containerID` and `interfaceName` already validated: the
    /// ID has no '+', so the name is unambiguous).
    static func path(in directory: String, containerID: String, interfaceName: String) -> String {
        "\(directory)/\(containerID)+\(interfaceName).json"
    }

    /// The record at `path`; nil when there is none. A file that does not decode is an error.
    static func read(_ path: String) throws(FascoError) -> CNIAttachmentRecord? {
        guard let bytes = try FileSystem.read(path, limit: 16 << 20) else { return nil }
        let record: CNIAttachmentRecord
        do {
            record = try JSONDecoder().decode(CNIAttachmentRecord.self, from: Data(bytes))
        } catch {
            throw .internal("CNI attachment record \(path) does not decode: \(error)")
        }
        guard record.format == currentFormat else {
            throw .internal("CNI attachment record \(path) has the unknown format \(record.format.debugDescription)")
        }
        return record
    }

    /// Writes the record crash-safely (temporary file, fsync, rename, fsync of the directory).
    func write(to path: String) throws(FascoError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(self))
        } catch {
            throw .internal("cannot encode the CNI attachment record: \(error)")
        }
        try FileSystem.writeAtomically(bytes, to: path, mode: 0o600)
    }
}
