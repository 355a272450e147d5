import ArgumentParser
import CRIServer
import FoundationEssentials
import GRPCTransport
import RealmAttestation
#if canImport(Glibc)
import Glibc
#endif

/// `fasco attest`: a realm's CCA token, its measurements, or the node's platform key.
struct Attest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a realm's CCA attestation token, its measurements, or the node's platform key.",
        discussion: """
            fasco attest REALM_ID [--challenge HEX] [--format cmw|legacy] [--out FILE]
                writes the raw CBOR token (stdout without --out).
            fasco attest --measurements REALM_ID
                prints the hash algorithm, RIM, REMs, personalization value and the replayable log as JSON.
            fasco attest --platform-key
                prints the node's platform public key as a JWK and as a Trustee trust-anchor entry.
            REALM_ID is a pod sandbox or container ID, or a unique prefix of one.
            """)

    @Argument(help: "A pod sandbox or container ID, or a unique prefix.")
    var realm: String?

    @Option(help: "The challenge, hex, at most 64 bytes (zero-padded to 64).")
    var challenge = ""

    @Option(help: "cmw (CMW collection, tag 907) or legacy (tag 399, as Trustee's CCA verifier reads).")
    var format = "cmw"

    @Option(help: "Write the token to this file instead of stdout.")
    var out: String?

    @Flag(help: "Print the realm's measurements and their log as JSON.")
    var measurements = false

    @Flag(help: "Print the node's platform public key (JWK and Trustee trust-anchor entry).")
    var platformKey = false

    @Option(help: "CRI endpoint of the Fasco daemon.")
    var endpoint = "unix:///run/fasco/fasco.sock"

    func validate() throws {
        if platformKey {
            guard realm == nil, !measurements else { throw ValidationError("--platform-key takes no realm and no --measurements") }
        } else {
            guard let realm, !realm.isEmpty else { throw ValidationError("a realm ID is required") }
        }
    }

    func run() async throws {
        let channel = GRPCChannel(target: endpoint)
        defer { channel.close() }
        do {
            if platformKey {
                let bytes = try await channel.unary(AdminService.platformKeyPath, request: Array("{}".utf8))
                try printJSON(bytes)
            } else if measurements {
                let request = AdminService.RealmRequest(realm: realm ?? "")
                let bytes = try await channel.unary(AdminService.measurementsPath, request: Array(try JSONEncoder().encode(request)))
                let response = try JSONDecoder().decode(AdminService.MeasurementsResponse.self, from: Data(bytes))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(response.measurement), as: UTF8.self))
            } else {
                let request = AdminService.RealmRequest(realm: realm ?? "", challenge: challenge, format: format)
                let bytes = try await channel.unary(AdminService.attestPath, request: Array(try JSONEncoder().encode(request)))
                let response = try JSONDecoder().decode(AdminService.AttestResponse.self, from: Data(bytes))
                try write(Array(response.token))
            }
        } catch {
            FileHandleOutput.standardError("fasco attest: \(error)\n")
            throw ExitCode.failure
        }
    }

    private func printJSON(_ bytes: [UInt8]) throws {
        let object = try JSONDecoder().decode(AdminService.PlatformKeyResponse.self, from: Data(bytes))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(object), as: UTF8.self))
    }

    private func write(_ token: [UInt8]) throws {
        if let out {
            try FileHandleOutput.write(token, to: out)
        } else {
            FileHandleOutput.standardOutput(token)
        }
    }
}

/// Raw bytes to stdout, stderr or a file.
enum FileHandleOutput {
    static func standardOutput(_ bytes: [UInt8]) { writeAll(1, bytes) }

    static func standardError(_ text: String) { writeAll(2, Array(text.utf8)) }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        writeAll(fd, bytes)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
