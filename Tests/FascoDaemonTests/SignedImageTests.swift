import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// The signature policy through the real daemon and the kit's registry: images copied into
/// a namespace of their own and signed as cosign signs (Tests/images/cosign.py, Python's
/// `cryptography` from the test venv, independent of Fasco's code), pulled and run under a containers-policy.json.
@Suite("Signed-image policy", .serialized)
struct SignedImageTests {
    static let tool = repositoryRoot.appendingPathComponent("Tests/images/cosign.py").path
    /// The test venv (make py-deps) has `cryptography`.
    static let python = repositoryRoot.appendingPathComponent(".build-py/bin/python").path
    static let registry = "127.0.0.1:5000"

    static func cosign(_ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await runCommandAsync(python, [tool] + arguments)
        guard status == 0 else { throw DaemonError("cosign.py \(arguments) failed: \(errors)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Keys A and B in `work`, and the kit's busybox copied to NAMESPACE/{signed, unsigned,
    /// otherkey, otherdigest, open, closed}: signed by A; none; by B; by A naming another digest.
    static func prepare(_ work: URL) async throws -> (namespace: String, keyA: String, keyB: String) {
        let namespace = "fasco/sig-\(UUID().uuidString.prefix(8).lowercased())"
        let keyA = work.appendingPathComponent("a").path
        let keyB = work.appendingPathComponent("b").path
        _ = try await cosign(["keygen", "--out", keyA])
        _ = try await cosign(["keygen", "--out", keyB])
        var digest = ""
        for name in ["signed", "unsigned", "otherkey", "otherdigest", "open", "closed"] {
            digest = try await cosign(["copy", "--registry", registry, "--source", "fasco/busybox:latest", "--target", "\(namespace)/\(name):latest"])
        }
        _ = try await cosign(["sign", "--registry", registry, "--repository", "\(namespace)/signed", "--digest", digest, "--key", keyA + ".key"])
        _ = try await cosign(["sign", "--registry", registry, "--repository", "\(namespace)/otherkey", "--digest", digest, "--key", keyB + ".key"])
        _ = try await cosign(["sign", "--registry", registry, "--repository", "\(namespace)/otherdigest", "--digest", digest, "--key", keyA + ".key",
                              "--signed-digest", "sha256:" + String(repeating: "ab", count: 32)])
        return (namespace, keyA, keyB)
    }

    /// A policy: default reject; NAMESPACE needs a cosign signature by `key` (matchRepository,
    /// as cosign signs repositories); NAMESPACE/open admits anything (when `open`); NAMESPACE/closed rejects.
    static func policy(namespace: String, key: String, open: Bool = true) -> String {
        let openScope = open ? "\"\(registry)/\(namespace)/open\": [{\"type\": \"insecureAcceptAnything\"}]," : ""
        return """
        {"default": [{"type": "reject"}],
         "transports": {"docker": {
            "\(registry)/\(namespace)": [{"type": "sigstoreSigned", "keyPath": "\(key).pub", "signedIdentity": {"type": "matchRepository"}}],
            \(openScope)
            "\(registry)/\(namespace)/closed": [{"type": "reject"}]}}}
        """
    }

    static func fixture(directory: URL? = nil, policyFile: URL) async throws -> PodFixture {
        try await PodFixture(directory: directory, importImage: false, extraConfig: "[image]\nsignature_policy = \"\(policyFile.path)\"\n")
    }

    @Test("PullImage and CreateContainer admit the signed image and refuse unsigned, wrongly signed, rejected ones (FAILED_PRECONDITION naming scope and rule); a policy change refuses what was pulled")
    func signedImages() async throws {
        let work = try DaemonProcess.makeDirectory(in: "/var/tmp")
        defer { try? FileManager.default.removeItem(at: work) }
        let (namespace, keyA, keyB) = try await Self.prepare(work)
        let policyFile = work.appendingPathComponent("policy.json")
        try Self.policy(namespace: namespace, key: keyA).write(to: policyFile, atomically: true, encoding: .utf8)
        let scope = "scope \"\(Self.registry)/\(namespace)\""
        func image(_ name: String) -> String { "\(Self.registry)/\(namespace)/\(name):latest" }

        let fixture = try await Self.fixture(policyFile: policyFile)
        let images = ImageServiceClient(channel: fixture.channel)
        func pullStatus(_ name: String) async -> GRPCStatus? {
            await statusOf { _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: name)), timeout: .seconds(120)) }
        }
        // Refusals first: nothing of a refused image may be stored.
        for (name, expected) in [
            ("unsigned", "\(scope), requirement 1 (sigstoreSigned (keyPath \(keyA).pub, signedIdentity matchRepository)): no cosign signature of sha256:"),
            ("otherkey", "\(scope), requirement 1 (sigstoreSigned (keyPath \(keyA).pub, signedIdentity matchRepository)): none of its 1 signature(s) is accepted: signature 1: it is not signed by the policy's key"),
            ("otherdigest", "its payload signs manifest sha256:abababab"),
            ("closed", "scope \"\(Self.registry)/\(namespace)/closed\", requirement 1 (reject): it rejects every image"),
        ] {
            let status = await pullStatus(image(name))
            #expect(status?.code == .failedPrecondition, "\(name): \(String(describing: status))")
            #expect(status?.message.contains("image \(image(name)) is refused by the signature policy \(policyFile.path)") == true,
                    "\(name): \(String(describing: status))")
            #expect(status?.message.contains(expected) == true, "\(name): \(String(describing: status))")
        }
        let outside = await pullStatus("\(Self.registry)/fasco/busybox:latest")
        #expect(outside?.code == .failedPrecondition)
        #expect(outside?.message.contains("the default, requirement 1 (reject)") == true, "\(String(describing: outside))")
        let root = fixture.directory.appendingPathComponent("root/images")
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: root.path + "/content/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "a refused pull stores nothing: \(blobs)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/snapshots").filter { !$0.hasPrefix(".") }.isEmpty)
        #expect(try await images.listImages(ListImagesRequest()).images.isEmpty)

        // The signed image and the open scope are admitted, and containers are created from them.
        let signed = try await images.pullImage(PullImageRequest(image: ImageSpec(image: image("signed"))), timeout: .seconds(120))
        _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: image("open"))), timeout: .seconds(120))
        let pod = try await fixture.runPod("signed")
        _ = try await fixture.createContainer(pod, fixture.containerConfig("by-tag", script: "true", image: image("signed")))
        _ = try await fixture.createContainer(pod, fixture.containerConfig("by-id", script: "true", image: signed.imageRef))
        _ = try await fixture.createContainer(pod, fixture.containerConfig("open", script: "true", image: image("open")))

        // The policy changes (the scope now wants key B, NAMESPACE/open is no longer open) and the
        // daemon restarts on the same root: what was pulled is held to the new policy at CreateContainer.
        try Self.policy(namespace: namespace, key: keyB, open: false).write(to: policyFile, atomically: true, encoding: .utf8)
        for pod in try await fixture.runtime.listPodSandbox().items {
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
        }
        fixture.channel.close()
        fixture.daemon.signal(SIGTERM)
        _ = await fixture.daemon.waitForExit()
        let second = try await Self.fixture(directory: fixture.directory, policyFile: policyFile)
        let listed = try await ImageServiceClient(channel: second.channel).listImages(ListImagesRequest())
        #expect(listed.images.count == 1, "signed and open are one image (the same config): \(listed.images.map(\.repoTags))")
        let pod2 = try await second.runPod("changed")
        for (name, reference, expected) in [
            ("by-tag", image("signed"), "it is not signed by the policy's key (keyPath \(keyB).pub)"),
            ("by-id", signed.imageRef, "requirement 1 (sigstoreSigned"),
            ("open", image("open"), "scope \"\(Self.registry)/\(namespace)\", requirement 1 (sigstoreSigned (keyPath \(keyB).pub, signedIdentity matchRepository)): no cosign signature"),
        ] {
            let status = await statusOf { _ = try await second.createContainer(pod2, second.containerConfig(name, script: "true", image: reference)) }
            #expect(status?.code == .failedPrecondition, "\(name): \(String(describing: status))")
            #expect(status?.message.contains(expected) == true, "\(name): \(String(describing: status))")
        }
        await second.tearDown()
    }

    @Test("a policy Fasco cannot enforce stops start-up with a message naming the file and the place")
    func badPolicyStopsStart() async throws {
        let directory = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let policy = directory.appendingPathComponent("policy.json")
        try "{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"example.com\": [{\"type\": \"acceptIfNice\"}]}}}"
            .write(to: policy, atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("fasco.toml")
        try "[image]\nsignature_policy = \"\(policy.path)\"\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try runCommand(DaemonProcess.binary.path, ["serve", "--config", file.path])
        #expect(status != 0)
        #expect(stderr.contains("signature policy \(policy.path): transports.docker.\"example.com\"[0]: unknown requirement type \"acceptIfNice\""),
                "\(stderr)")
    }
}
