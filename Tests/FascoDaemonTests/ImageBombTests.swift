import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// Decompression bombs pushed to the kit's registry and pulled through the real daemon's
/// PullImage, on a daemon whose root is a 512 MiB tmpfs (a bomb that got past its bound
/// would fill it and fail with "no space" instead of the bound's message).
@Suite("PullImage refuses decompression bombs", .serialized)
struct ImageBombTests {
    static let bombs = repositoryRoot.appendingPathComponent("Tests/images/bombs.py").path

    static func bombs(_ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await runCommandAsync("/usr/bin/python3", [bombs] + arguments)
        guard status == 0 else { throw DaemonError("bombs.py \(arguments) failed: \(errors)") }
        return output
    }

    /// Makes and pushes the bomb `kind` (zeros, entries) as 127.0.0.1:5000/fasco/bomb-KIND:latest;
    /// returns the image and its layer's digest.
    static func push(_ kind: String, in directory: URL) async throws -> (image: String, layer: String) {
        let file = directory.appendingPathComponent("\(kind).tar.gz").path
        _ = try await bombs(kind == "zeros" ? ["zeros", "--size", "\(2 << 30)", "--out", file]
                                            : ["entries", "--count", "200000", "--out", file])
        #if arch(arm64)
        let architecture = "arm64"
        #else
        let architecture = "amd64"
        #endif
        let output = try await bombs(["push", "--registry", "127.0.0.1:5000", "--repository", "fasco/bomb-\(kind)", "--layer", file,
                                      "--architecture", architecture] + (kind == "zeros" ? ["--fake-diff-id"] : []))
        return ("127.0.0.1:5000/fasco/bomb-\(kind):latest", String(output.split(separator: "\n").first ?? ""))
    }

    /// A daemon whose directory is a fresh tmpfs of `megabytes` MiB, with `config` as fasco.toml.
    static func daemon(megabytes: Int, config: String = "") throws -> (DaemonProcess, URL) {
        let directory = try DaemonProcess.makeDirectory(in: "/var/tmp")
        guard mount("tmpfs", directory.path, "tmpfs", 0, "size=\(megabytes)m,mode=0755") == 0 else {
            throw DaemonError("cannot mount a tmpfs at \(directory.path): errno \(errno)")
        }
        let file = directory.appendingPathComponent("fasco.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return (try DaemonProcess(extraArguments: ["--config", file.path], directory: directory), directory)
    }

    static func release(_ daemon: DaemonProcess, _ directory: URL) async {
        await daemon.stop()
        _ = umount2(directory.path, Int32(MNT_DETACH))
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("2 GiB of zeros in 2 MiB and 200,000 empty files are RESOURCE_EXHAUSTED naming layer, bound and key; busybox still pulls")
    func bombsRefused() async throws {
        let work = try DaemonProcess.makeDirectory(in: "/var/tmp")
        defer { try? FileManager.default.removeItem(at: work) }
        let zeros = try await Self.push("zeros", in: work)
        let entries = try await Self.push("entries", in: work)

        let (daemon, directory) = try Self.daemon(megabytes: 512)
        try await daemon.waitUntilServing()
        let channel = GRPCChannel(target: daemon.endpoint)
        defer { channel.close() }
        let images = ImageServiceClient(channel: channel)
        for (bomb, expected) in [(zeros, "(image.max_layer_ratio = 100, applied past image.layer_ratio_floor_bytes = 268435456)"),
                                 (entries, "has more than 100000 entries (image.max_layer_entries = 100000)")] {
            let status = await statusOf {
                _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: bomb.image)), timeout: .seconds(120))
            }
            #expect(status?.code == .resourceExhausted, "\(String(describing: status))")
            #expect(status?.message.contains("layer \(bomb.layer)") == true, "\(String(describing: status))")
            #expect(status?.message.contains(expected) == true, "\(String(describing: status))")
            let snapshots = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/root/images/snapshots")
            #expect(snapshots.isEmpty, "the partial unpack is removed: \(snapshots)")
        }
        let listed = try await images.listImages(ListImagesRequest())
        #expect(listed.images.isEmpty)
        let pulled = try await images.pullImage(PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/fasco/busybox:latest")),
                                                timeout: .seconds(120))
        #expect(pulled.imageRef.hasPrefix("sha256:"))
        await Self.release(daemon, directory)
    }

    @Test("[image] in fasco.toml reaches the unpacker: max_layer_entries = 10 refuses busybox")
    func configuredBound() async throws {
        let (daemon, directory) = try Self.daemon(megabytes: 256, config: "[image]\nmax_layer_entries = 10\n")
        try await daemon.waitUntilServing()
        let channel = GRPCChannel(target: daemon.endpoint)
        defer { channel.close() }
        let status = await statusOf {
            _ = try await ImageServiceClient(channel: channel).pullImage(
                PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/fasco/busybox:latest")), timeout: .seconds(120))
        }
        #expect(status?.code == .resourceExhausted, "\(String(describing: status))")
        #expect(status?.message.contains("(image.max_layer_entries = 10)") == true, "\(String(describing: status))")
        await Self.release(daemon, directory)
    }
}
