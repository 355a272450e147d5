import CRIAPI
import FascoCore
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// Encrypted images end to end: images encrypted in the test suite from ocicrypt's published
/// scheme with CoCo's attestation-agent key provider (Tests/images/encrypt.py, independent of
/// Fasco's code), pulled from the local registry, and run only once the container's realm
/// attested to the independent key broker (Tests/attestation/kbs.py) and received the key.
@Suite(.serialized) struct EncryptedImageTests {
    static let encrypt = repositoryRoot.appendingPathComponent("Tests/images/encrypt.py").path

    static func encryptTool(_ arguments: [String]) async throws -> [String] {
        let (status, output, errors) = try await runCommandAsync(KeyReleaseTests.python, [encrypt] + arguments)
        try #require(status == 0, "encrypt.py \(arguments.first ?? "") failed: \(errors)")
        return output.split(separator: "\n").map(String.init)
    }

    /// Every file below `directory` whose name starts with `prefix`.
    static func files(below directory: String, named prefix: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if (path as NSString).lastPathComponent.hasPrefix(prefix) { found.append(path) }
        }
        return found
    }

    /// The bundles under `<root>/containers` (not the trash), after the background clean-up ran.
    static func bundles(_ fixture: PodFixture) async throws -> [String] {
        let directory = fixture.directory.appendingPathComponent("root/containers").path
        for _ in 0..<50 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let trash = names.filter { $0.hasPrefix(".trash") }.flatMap {
                (try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + $0)) ?? []
            }
            if trash.isEmpty { return names.filter { !$0.hasPrefix(".trash") }.sorted() }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the trash under \(directory) was not emptied")
        return []
    }

    @Test("an encrypted image runs only after its realm attested and received the key; a tampered layer, a wrong key and a refused attestation fail cleanly with nothing left; ImageStatus says encrypted; a user name is refused")
    func encryptedImageEndToEnd() async throws {
        try AttestationTests().requireTools()
        let repository = "fasco/encrypted-\(UInt32.random(in: 0...UInt32.max))"
        try await KeyReleaseTests.withBroker { fixture, broker in
            let kek = broker.directory.appendingPathComponent("kek").path
            let otherKEK = broker.directory.appendingPathComponent("other-kek").path
            _ = try await Self.encryptTool(["kek", kek])
            _ = try await Self.encryptTool(["kek", otherKEK])
            try broker.resource("default/image-key/1", try Data(contentsOf: URL(fileURLWithPath: kek)))

            // Three images of busybox's layer: encrypted right, tampered, and wrapped with another key.
            let kid = "kbs:///default/image-key/1"
            let good = try await Self.encryptTool(["copy", "--registry", "127.0.0.1:5000", "--source", "fasco/busybox:latest",
                                                   "--target", "\(repository):good", "--kek", kek, "--kid", kid, "--label", "test=good"])
            _ = try await Self.encryptTool(["copy", "--registry", "127.0.0.1:5000", "--source", "fasco/busybox:latest",
                                            "--target", "\(repository):tampered", "--kek", kek, "--kid", kid, "--tamper", "ciphertext",
                                            "--label", "test=tampered"])
            _ = try await Self.encryptTool(["copy", "--registry", "127.0.0.1:5000", "--source", "fasco/busybox:latest",
                                            "--target", "\(repository):wrong-key", "--kek", otherKEK, "--kid", kid, "--label", "test=wrong-key"])
            let encryptedLayer = try #require(good.dropFirst().first)
            let snapshotDirectory = fixture.directory.appendingPathComponent("root/images/snapshots").path
            let snapshotsBefore = try FileManager.default.contentsOfDirectory(atPath: snapshotDirectory).sorted()
            let images = ImageServiceClient(channel: fixture.channel)
            var refs: [String: String] = [:]
            for tag in ["good", "tampered", "wrong-key"] {
                let name = "127.0.0.1:5000/\(repository):\(tag)"
                refs[tag] = try await images.pullImage(PullImageRequest(image: ImageSpec(image: name)), timeout: .seconds(120)).imageRef
            }
            let goodImage = "127.0.0.1:5000/\(repository):good"

            // ImageStatus says it is encrypted, and by whose key.
            let status = try await images.imageStatus(ImageStatusRequest(image: ImageSpec(image: goodImage), verbose: true), timeout: .seconds(30))
            let info = try #require(try JSONSerialization.jsonObject(with: Data((status.info["info"] ?? "").utf8)) as? [String: Any])
            #expect(info["encrypted"] as? Bool == true)
            let layers = info["encryptedLayers"] as? [[String: Any]] ?? []
            #expect(layers.count == 1 && layers.first?["digest"] as? String == encryptedLayer
                    && (layers.first?["keys"] as? [String]) == [kid], "\(info)")
            // The pull stored the encrypted blob and unpacked nothing of it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: snapshotDirectory).sorted() == snapshotsBefore,
                    "the pulls made no shared snapshot")

            // The broker's policy: the RIM `fasco measure` computes for the deployed config, which
            // names the encrypted layer's digest.
            let rim = try await KeyReleaseTests.referenceRIM(fixture, name: "app", script: "sleep 1000", image: goodImage)
            try JSONSerialization.data(withJSONObject: ["rims": [rim]]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            let pod = try await fixture.runPod("encrypted")
            let before = try await Self.bundles(fixture)
            let app = try await KeyReleaseTests.container(fixture, pod, "app", script: "sleep 1000", image: goodImage)
            try await KeyReleaseTests.start(fixture, app)
            let (code, _, output) = try await GuestAPIDaemonTests.exec(fixture, app, ["cat", "/etc/passwd"])
            #expect(code == 0 && String(decoding: output, as: UTF8.self).contains("fasco:x:1000:1000"), "the decrypted rootfs runs")
            let measured = try await AttestationTests.measurements(fixture, app)
            #expect(measured["rim"] as? String == rim, "the realm that received the key is the one the policy names")
            let granules = ((measured["log"] as? [[String: Any]]) ?? []).compactMap { $0["content"] as? String }
                .compactMap { Data(base64Encoded: $0) }.reduce(Data(), +)
            #expect(String(decoding: granules, as: UTF8.self).contains("\"encryptedLayers\":[\"\(encryptedLayer)\"]"),
                    "the measured document names the encrypted blob")
            let brokerLog = { (try? String(contentsOf: broker.log, encoding: .utf8)) ?? "" }
            #expect(brokerLog().contains("release default/image-key/1 to rim=\(rim)"), "\(brokerLog())")
            // The plaintext is the container's own: under its bundle, not in the shared store.
            let bundle = fixture.directory.appendingPathComponent("root/containers/\(app)").path
            #expect(FileManager.default.fileExists(atPath: bundle + "/layers"))
            #expect(Self.files(below: bundle, named: "plain-").isEmpty, "the decrypted blob is gone once unpacked")

            // Failures: each a clear error, and nothing left (no bundle, no decrypted file).
            let cases: [(String, String, String, GRPCStatus.Code)] = [
                ("tampered", "sleep 1000", "HMAC", .failedPrecondition),
                ("wrong-key", "sleep 1000", "does not open", .failedPrecondition),
                ("good", "sleep 1001", "PolicyDeny", .permissionDenied),
            ]
            for (tag, script, words, expectedCode) in cases {
                if tag != "good" {
                    let other = try await KeyReleaseTests.referenceRIM(fixture, name: "app", script: script, image: "127.0.0.1:5000/\(repository):\(tag)")
                    try JSONSerialization.data(withJSONObject: ["rims": [rim, other]]).write(to: broker.policy)
                }
                let failure = await statusOf {
                    _ = try await KeyReleaseTests.container(fixture, pod, "app-\(tag)", script: script, image: "127.0.0.1:5000/\(repository):\(tag)")
                }
                #expect(failure?.code == expectedCode && failure?.message.contains(words) == true
                        && failure?.message.contains("layer") == true, "\(tag): \(String(describing: failure))")
                #expect(try await Self.bundles(fixture) == (before + [app]).sorted(), "\(tag): nothing left")
                #expect(Self.files(below: fixture.directory.appendingPathComponent("root").path, named: "plain-").isEmpty)
            }

            // A user name cannot be resolved before the key: FAILED_PRECONDITION, saying why.
            var named = fixture.containerConfig("named", script: "sleep 1000", image: goodImage)
            named.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(runAsUsername: "fasco"))
            let namedFailure = await statusOf { _ = try await fixture.createContainer(pod, named) }
            #expect(namedFailure?.code == .failedPrecondition && namedFailure?.message.contains("encrypted") == true, "\(String(describing: namedFailure))")

            // Removing the container removes its decrypted layers.
            _ = try await fixture.runtime.stopContainer(StopContainerRequest(containerID: app, timeout: 0), timeout: .seconds(60))
            _ = try await fixture.runtime.removeContainer(RemoveContainerRequest(containerID: app), timeout: .seconds(60))
            #expect(try await Self.bundles(fixture) == before)
            #expect(!FileManager.default.fileExists(atPath: bundle))
        }
    }

    @Test("node decryption keys (ocicrypt's JWE wrapper, EC P-256 and RSA) open encrypted images without a broker, in a pod with its own user namespace too; an image for another key is refused naming what was tried")
    func nodeDecryptionKeys() async throws {
        try AttestationTests().requireTools()
        let keys = try FileSystem.makeTemporaryDirectory(prefix: "fasco-node-keys-")
        defer { try? FileSystem.removeTree(keys) }
        for (name, generate) in [("ec", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"]), ("rsa", ["genrsa", "-out"]),
                                 ("other", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"])] {
            let (made, _, madeErrors) = try await runCommandAsync("/usr/bin/openssl", generate + ["\(keys)/\(name).pem"] + (name == "rsa" ? ["2048"] : []))
            try #require(made == 0, "\(madeErrors)")
            let (pub, _, pubErrors) = try await runCommandAsync(
                "/usr/bin/openssl", [name == "rsa" ? "rsa" : "ec", "-in", "\(keys)/\(name).pem", "-pubout", "-out", "\(keys)/\(name).pub"])
            try #require(pub == 0, "\(pubErrors)")
        }
        let repository = "fasco/jwe-\(UInt32.random(in: 0...UInt32.max))"
        for name in ["ec", "rsa", "other"] {
            _ = try await Self.encryptTool(["copy", "--registry", "127.0.0.1:5000", "--source", "fasco/busybox:latest",
                                            "--target", "\(repository):\(name)", "--jwe-key", "\(keys)/\(name).pub", "--label", "test=\(name)"])
        }
        let config = "[image]\ndecryption_keys = [\"\(keys)/ec.pem\", \"\(keys)/rsa.pem\"]\n"
        try await PodFixture.with(extraConfig: config) { fixture in
            // A pod with a user namespace of its own: the container's own (decrypted) layers are
            // idmapped like shared ones, and its mount points made once they are mounted.
            let usernsConfig = UserNamespaceTests.userNamespacePod(fixture, "userns-encrypted")
            let usernsPod = (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: usernsConfig), timeout: .seconds(60))
                .podSandboxID, config: usernsConfig)
            let images = ImageServiceClient(channel: fixture.channel)
            for name in ["ec", "rsa", "other"] {
                _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/\(repository):\(name)")), timeout: .seconds(120))
            }
            let pod = try await fixture.runPod("node-keys")
            let before = try await Self.bundles(fixture)
            var made: [String] = []
            for name in ["ec", "rsa"] {
                let id = try await KeyReleaseTests.container(fixture, pod, name, script: "sleep 1000", image: "127.0.0.1:5000/\(repository):\(name)")
                try await KeyReleaseTests.start(fixture, id)
                let (code, _, output) = try await GuestAPIDaemonTests.exec(fixture, id, ["cat", "/etc/passwd"])
                #expect(code == 0 && String(decoding: output, as: UTF8.self).contains("fasco:x:1000:1000"), "\(name): the decrypted rootfs runs")
                made.append(id)
            }
            var inNamespace = fixture.containerConfig(
                "userns", script: "id -u; stat -c %u /etc/passwd; sleep 1000", image: "127.0.0.1:5000/\(repository):ec")
            inNamespace.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: usernsConfig.linux?.securityContext?.namespaceOptions))
            let usernsContainer = try await fixture.createContainer(usernsPod, inNamespace)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: usernsContainer), timeout: .seconds(60))
            let lines = try await fixture.waitForLog(fixture.logDirectory + "/userns-encrypted/userns_0.log") { $0.count >= 2 }
            #expect(lines.prefix(2) == ["stdout 0", "stdout 0"], "root inside, owning the decrypted files: \(lines)")
            made.append(usernsContainer)

            let failure = await statusOf {
                _ = try await KeyReleaseTests.container(fixture, pod, "other", script: "sleep 1000", image: "127.0.0.1:5000/\(repository):other")
            }
            #expect(failure?.code == .failedPrecondition && failure?.message.contains("none of the node's decryption keys opens") == true,
                    "\(String(describing: failure))")
            #expect(try await Self.bundles(fixture) == (before + made).sorted(), "nothing left of the refused one")
        }
    }
}
