import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("fasco image import", .serialized)
struct ImportTests {
    static let layout = "/var/tmp/fasco-images/busybox"

    func listTags(_ endpoint: String) async throws -> [String] {
        let channel = GRPCChannel(target: endpoint)
        defer { channel.close() }
        return try await ImageServiceClient(channel: channel).listImages().images.flatMap(\.repoTags).sorted()
    }

    @Test("imports an OCI layout, an OCI archive and a Docker archive without a registry")
    func importEveryFormat() async throws {
        guard FileManager.default.fileExists(atPath: Self.layout + "/index.json") else {
            Issue.record("the test-image kit has not built \(Self.layout) (Tests/images/kit.sh all; make test runs it)")
            return
        }
        let daemon = try DaemonProcess()
        try await withCleanUp({ await daemon.stop() }) {
            try await daemon.waitUntilServing()
            let fasco = DaemonProcess.binary.path

            // An OCI layout whose names are bare tags: --name gives the repository.
            var (status, output, errors) = try runCommand(fasco, ["image", "import", Self.layout, "--name", "fasco.local/busybox", "--endpoint", daemon.endpoint])
            #expect(status == 0, "\(output)\(errors)")
            #expect(output.hasPrefix("sha256:"))
            #expect(output.split(separator: "\n").count == 2, "one line per image: \(output)")
            #expect(try await listTags(daemon.endpoint) == ["fasco.local/busybox:1.35", "fasco.local/busybox:1.36",
                                                            "fasco.local/busybox:latest", "fasco.local/busybox:variant-user"])

            // A Docker archive (docker save format) and an OCI archive, written by skopeo.
            let docker = daemon.directory.appendingPathComponent("docker.tar").path
            let oci = daemon.directory.appendingPathComponent("oci.tar").path
            for (destination, ref) in [("docker-archive:\(docker):fasco.local/docker-saved:v1", "docker"), ("oci-archive:\(oci):v2", "oci")] {
                let (copied, _, copyErrors) = try runCommand("/usr/bin/skopeo", ["copy", "oci:\(Self.layout):latest", destination])
                #expect(copied == 0, "skopeo (\(ref)): \(copyErrors)")
            }
            (status, output, errors) = try runCommand(fasco, ["image", "import", docker, "--endpoint", daemon.endpoint])
            #expect(status == 0, "\(output)\(errors)")
            (status, output, errors) = try runCommand(fasco, ["image", "import", oci, "--name", "fasco.local/oci-archived", "--endpoint", daemon.endpoint])
            #expect(status == 0, "\(output)\(errors)")
            let tags = try await listTags(daemon.endpoint)
            #expect(tags.contains("fasco.local/docker-saved:v1"))
            #expect(tags.contains("fasco.local/oci-archived:v2"))

            // ImageFsInfo measures the daemon's real image root: what the imports stored is counted.
            let channel = GRPCChannel(target: daemon.endpoint)
            defer { channel.close() }
            let fs = try await ImageServiceClient(channel: channel).imageFsInfo(timeout: .seconds(30))
            let usage = try #require(fs.imageFilesystems.first)
            #expect(usage.fsID?.mountpoint == daemon.directory.appendingPathComponent("root/images").path)
            let (duStatus, du, _) = try runCommand("/usr/bin/du", ["-s", "-B1", daemon.directory.appendingPathComponent("root/images").path])
            let measured = Double(du.split(separator: "\t").first.flatMap { UInt64($0) } ?? 0)
            let reported = Double(usage.usedBytes?.value ?? 0)
            #expect(duStatus == 0 && measured > Double(1 << 20), "the imports stored something: du says \(du)")
            #expect(abs(reported - measured) <= measured * 0.05, "ImageFsInfo reports \(reported) bytes, du -s \(measured)")
            #expect((usage.inodesUsed?.value ?? 0) > 10)
            #expect(usage.timestamp > 0)

            // Nothing importable is a clear error, and the daemon keeps serving.
            (status, output, errors) = try runCommand(fasco, ["image", "import", "/nonexistent", "--endpoint", daemon.endpoint])
            #expect(status != 0)
            #expect(output.contains("NOT_FOUND"), "\(output)")
            #expect(try await listTags(daemon.endpoint).count == tags.count)
        }
    }
}
