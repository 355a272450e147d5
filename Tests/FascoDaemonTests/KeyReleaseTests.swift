import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// Key release end to end: a real daemon and real containers against an independent key broker
/// written in the test suite from Trustee's RCAR 0.4.0 protocol (Tests/attestation/kbs.py, which
/// verifies the CCA evidence with cca_verify.py and releases resources only to realms whose RIM
/// `fasco measure` computed from the deployed configs).
@Suite(.serialized) struct KeyReleaseTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/attestation/kbs.py").path
    static let python = AttestationTests.python

    /// The broker process, restartable on the same port.
    final class Broker: @unchecked Sendable {
        let port: Int
        let directory: URL
        var process: Process?

        init(port: Int, directory: URL) {
            self.port = port
            self.directory = directory
        }

        var resources: URL { directory.appendingPathComponent("resources") }
        var policy: URL { directory.appendingPathComponent("policy.json") }
        var log: URL { directory.appendingPathComponent("kbs.log") }

        func resource(_ path: String, _ content: Data) throws {
            let file = resources.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file)
        }

        func start() async throws {
            let ready = directory.appendingPathComponent("ready")
            process = try await KeyReleaseTests.startPeer([
                KeyReleaseTests.script, "--port", "\(port)", "--resources", resources.path, "--policy", policy.path,
                "--trust-anchors", directory.appendingPathComponent("anchors.json").path, "--log", log.path, "--ready", ready.path,
            ], ready: ready, what: "the key broker")
        }

        /// Trusts the daemon's software platform: its `fasco attest --platform-key` trust anchor.
        func trustPlatform(of fixture: PodFixture) async throws {
            let (status, data, errors) = try await AttestationTests.attest(fixture, ["--platform-key"])
            try #require(status == 0, "\(errors)")
            let platform = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            try JSONSerialization.data(withJSONObject: [try #require(platform["trust_anchor"])])
                .write(to: directory.appendingPathComponent("anchors.json"))
        }

        func stop() {
            guard let process else { return }
            // SIGKILL: children of the test process inherit its blocked SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
        }
    }

    /// A Python peer of the suite's (kbs.py, awskms.py), once it wrote its `--ready` file.
    static func startPeer(_ arguments: [String], ready: URL, what: String) async throws -> Process {
        try? FileManager.default.removeItem(at: ready)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready.path) {
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard FileManager.default.fileExists(atPath: ready.path) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw DaemonError("\(what) did not start (\(arguments.joined(separator: " ")))")
        }
        return process
    }

    /// A daemon and a broker (not started: its resources, policy and trust come first) on a free
    /// port; with `node`, the daemon's fasco.toml `[kbs]` names it, with `settings` added.
    /// `config` is added to fasco.toml after that.
    static func withBroker(node: Bool = true, settings: String = "", config extra: String = "",
                           _ body: (PodFixture, Broker) async throws -> Void) async throws {
        let port = Int(try freeLoopbackPort())
        let config = (node ? "[kbs]\nurl = \"http://127.0.0.1:\(port)\"\n" + settings : "") + extra
        try await PodFixture.with(extraConfig: config) { fixture in
            let broker = Broker(port: port, directory: fixture.directory.appendingPathComponent("kbs"))
            try FileManager.default.createDirectory(at: broker.directory, withIntermediateDirectories: true)
            defer { broker.stop() }
            try await body(fixture, broker)
        }
    }

    static func kbsTool(_ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await runCommandAsync(python, [script] + arguments)
        try #require(status == 0, "kbs.py \(arguments.first ?? "") failed: \(errors)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The reference RIM of a container of the test pod, computed offline by `fasco measure` from
    /// the configs as deployed (crictl JSON files).
    static func referenceRIM(_ fixture: PodFixture, name: String, script: String, env: [(String, String)] = [],
                             mounts: [(String, String)] = [], image: String = PodFixture.image,
                             podAnnotations: [String: String] = [:]) async throws -> String {
        let pod = fixture.directory.appendingPathComponent("ref-pod.json")
        let annotations = String(decoding: try JSONSerialization.data(withJSONObject: podAnnotations), as: UTF8.self)
        try """
        {"metadata": {"name": "any", "uid": "any-uid", "namespace": "test", "attempt": 0}, "annotations": \(annotations),
         "linux": {"security_context": {"namespace_options": {"network": 0, "pid": 1, "ipc": 0}}}}
        """.write(to: pod, atomically: true, encoding: .utf8)
        let container: [String: Any] = [
            "metadata": ["name": name], "image": ["image": image], "command": ["/bin/sh", "-c", script],
            "log_path": "\(name)_0.log", "envs": env.map { ["key": $0.0, "value": $0.1] },
            "mounts": mounts.map { ["container_path": $0.0, "host_path": $0.1, "readonly": true] as [String: Any] },
        ]
        let file = fixture.directory.appendingPathComponent("ref-\(name).json")
        try JSONSerialization.data(withJSONObject: container).write(to: file)
        let (status, output, errors) = try await runCommandAsync(DaemonProcess.binary.path, [
            "measure", "--pod", pod.path, "--container", file.path, "--image", image,
            "--root", fixture.directory.appendingPathComponent("root").path,
            "--state", fixture.directory.appendingPathComponent("state").path,
            "--config", fixture.directory.appendingPathComponent("fasco.toml").path])
        try #require(status == 0, "fasco measure failed: \(errors)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        return try #require(document["rim"] as? String)
    }

    static func container(_ fixture: PodFixture, _ pod: (id: String, config: PodSandboxConfig), _ name: String, script: String,
                          env: [(String, String)] = [], mounts: [(String, String)] = [],
                          image: String = PodFixture.image) async throws -> String {
        var config = fixture.containerConfig(name, script: script, image: image)
        config.envs = env.map { KeyValue(key: $0.0, value: $0.1) }
        config.mounts = mounts.map { Mount(containerPath: $0.0, hostPath: $0.1, readonly: true) }
        return try await fixture.createContainer(pod, config)
    }

    static func start(_ fixture: PodFixture, _ id: String) async throws {
        _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
    }

    static func wget(_ fixture: PodFixture, _ container: String, _ target: String) async throws -> (Int32, String, String) {
        let (code, errors, output) = try await GuestAPIDaemonTests.exec(fixture, container, ["wget", "-qO-", "http://127.0.0.1:8006" + target])
        return (code, String(decoding: output, as: UTF8.self), errors)
    }

    @Test("resources reach only the realms the broker's policy names; sealed env values arrive in clear, measured sealed; bad seals fail the start; a broker outage is a clear error and a retry works")
    func keyReleaseEndToEnd() async throws {
        try AttestationTests().requireTools()
        try await Self.withBroker { fixture, broker in
            let port = broker.port

            // The broker's resources: a key, a sealed secret's signing key (public JWK) and its secret.
            let plaintext = "s3cr3t-db-password"
            try broker.resource("default/key/one", Data("plaintext-one".utf8))
            try broker.resource("default/sealed/db", Data(plaintext.utf8))
            try broker.resource("default/signing/key", Data())
            let privateKey = broker.directory.appendingPathComponent("signer.pem").path
            _ = try await Self.kbsTool(["keygen", privateKey, broker.resources.appendingPathComponent("default/signing/key").path])
            let otherKey = broker.directory.appendingPathComponent("other.pem").path
            _ = try await Self.kbsTool(["keygen", otherKey, broker.directory.appendingPathComponent("other.jwk").path])
            let sealed = try await Self.kbsTool(["seal", privateKey, "kbs:///default/signing/key", "kbs:///default/sealed/db"])
            let forged = try await Self.kbsTool(["seal", otherKey, "kbs:///default/signing/key", "kbs:///default/sealed/db"])
            let missing = try await Self.kbsTool(["seal", privateKey, "kbs:///default/signing/key", "kbs:///default/sealed/nothing"])

            // Its policy: the RIMs of the deployed configs, computed offline; "other" is not among them.
            let deployed: [(String, String, [(String, String)])] = [
                ("app", "sleep 1000", []), ("sealed", "sleep 1000", [("DB_PASSWORD", sealed)]),
                ("forged", "sleep 1000", [("DB_PASSWORD", forged)]), ("missing", "sleep 1000", [("API_KEY", missing)]),
            ]
            var rims: [String: String] = [:]
            for (name, script, env) in deployed { rims[name] = try await Self.referenceRIM(fixture, name: name, script: script, env: env) }
            // A secret volume as kubelet lays it out (files are symlinks into ..data), holding a
            // sealed file and a plain one, and a single sealed file mounted alone.
            let volume = fixture.directory.appendingPathComponent("secret-volume")
            let data = volume.appendingPathComponent("..2026_12_06")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try (sealed + "\n").write(to: data.appendingPathComponent("password"), atomically: true, encoding: .utf8)
            try "not-a-secret".write(to: data.appendingPathComponent("user"), atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: volume.appendingPathComponent("..data").path, withDestinationPath: "..2026_12_06")
            for name in ["password", "user"] {
                try FileManager.default.createSymbolicLink(atPath: volume.appendingPathComponent(name).path, withDestinationPath: "..data/" + name)
            }
            let single = fixture.directory.appendingPathComponent("sealed-token")
            try sealed.write(to: single, atomically: true, encoding: .utf8)
            let fileMounts = [("/etc/secret", volume.path), ("/etc/token", single.path)]
            rims["files"] = try await Self.referenceRIM(fixture, name: "files", script: "sleep 1000", mounts: fileMounts)
            try JSONSerialization.data(withJSONObject: ["rims": Array(rims.values)]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            let pod = try await fixture.runPod("keys")
            let app = try await Self.container(fixture, pod, "app", script: "sleep 1000")
            try await Self.start(fixture, app)
            #expect(try await AttestationTests.measurements(fixture, app)["rim"] as? String == rims["app"], "the reference RIM is the live one")

            // A workload's wget against CoCo's CDH path gets the plaintext.
            let (code, body, errors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/one")
            #expect(code == 0 && body == "plaintext-one", "\(code) \(body) \(errors)")
            let brokerLog = { (try? String(contentsOf: broker.log, encoding: .utf8)) ?? "" }
            #expect(brokerLog().contains("attest ok rim=\(rims["app"] ?? "?") tee-key=EC"), "\(brokerLog())")
            // The token form of /aa/token: the session's token and its TEE key as PEM.
            let (tokenCode, tokenBody, tokenErrors) = try await Self.wget(fixture, app, "/aa/token?token_type=kbs")
            let token = try JSONSerialization.jsonObject(with: Data(tokenBody.utf8)) as? [String: Any]
            #expect(tokenCode == 0 && (token?["token"] as? String)?.split(separator: ".").count == 3
                    && (token?["tee_keypair"] as? String)?.contains("BEGIN PRIVATE KEY") == true, "\(tokenBody) \(tokenErrors)")
            // One attestation for both (the session is kept).
            #expect(brokerLog().components(separatedBy: "attest ok").count == 2, "\(brokerLog())")

            // Another config's realm is refused by the broker's policy: 403, the broker's problem named.
            let other = try await Self.container(fixture, pod, "other", script: "sleep 1001")
            try await Self.start(fixture, other)
            let (refused, refusedBody, refusedErrors) = try await Self.wget(fixture, other, "/cdh/resource/default/key/one")
            #expect(refused != 0 && refusedBody.isEmpty && refusedErrors.contains("403"), "\(refused) \(refusedBody) \(refusedErrors)")
            #expect(brokerLog().contains("PolicyDeny"))
            // A missing resource is 404.
            let (absent, _, absentErrors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/none")
            #expect(absent != 0 && absentErrors.contains("404"), "\(absentErrors)")

            // A sealed environment value arrives in clear in the process; the realm measured the sealed form.
            let secretContainer = try await Self.container(fixture, pod, "sealed", script: "sleep 1000", env: [("DB_PASSWORD", sealed)])
            try await Self.start(fixture, secretContainer)
            let (_, _, environ) = try await GuestAPIDaemonTests.exec(fixture, secretContainer, ["env"])
            let environment = String(decoding: environ, as: UTF8.self)
            #expect(environment.contains("DB_PASSWORD=\(plaintext)\n") && !environment.contains("sealed."), "\(environment)")
            let (_, _, initial) = try await GuestAPIDaemonTests.exec(fixture, secretContainer, ["cat", "/proc/1/environ"])
            #expect(String(decoding: initial, as: UTF8.self).contains("DB_PASSWORD=\(plaintext)"))
            let measured = try await AttestationTests.measurements(fixture, secretContainer)
            #expect(measured["rim"] as? String == rims["sealed"])
            let granules = ((measured["log"] as? [[String: Any]]) ?? []).compactMap { $0["content"] as? String }
                .compactMap { Data(base64Encoded: $0) }.reduce(Data(), +)
            let document = String(decoding: granules, as: UTF8.self)
            #expect(document.contains("DB_PASSWORD=\(sealed)") && !document.contains(plaintext), "the measured document holds the sealed form only")
            let realmRecord = try FileManager.default.contentsOfDirectory(
                atPath: fixture.directory.appendingPathComponent("root/realms/containers").path)
                .compactMap { try? String(contentsOf: fixture.directory.appendingPathComponent("root/realms/containers/\($0)"), encoding: .utf8) }
                .joined()
            #expect(!realmRecord.isEmpty && !realmRecord.contains(plaintext), "the realm records never hold the plaintext")
            #expect(!fixture.daemon.stderr.contains(plaintext), "Fasco's log never holds the plaintext")

            // Sealed files of a secret volume and a sealed file mount arrive in clear; the host's stay sealed.
            let files = try await Self.container(fixture, pod, "files", script: "sleep 1000", mounts: fileMounts)
            try await Self.start(fixture, files)
            let (_, _, read) = try await GuestAPIDaemonTests.exec(fixture, files, ["cat", "/etc/secret/password", "/etc/secret/user", "/etc/token"])
            #expect(String(decoding: read, as: UTF8.self) == plaintext + "not-a-secret" + plaintext, "\(String(decoding: read, as: UTF8.self))")
            #expect(try String(contentsOf: single, encoding: .utf8) == sealed)
            #expect(try await AttestationTests.measurements(fixture, files)["rim"] as? String == rims["files"])
            let unsealed = fixture.directory.appendingPathComponent("state/unsealed/\(files)").path
            #expect(FileManager.default.fileExists(atPath: unsealed))
            _ = try await fixture.runtime.stopContainer(StopContainerRequest(containerID: files, timeout: 0), timeout: .seconds(60))
            _ = try await fixture.runtime.removeContainer(RemoveContainerRequest(containerID: files), timeout: .seconds(60))
            #expect(!FileManager.default.fileExists(atPath: unsealed), "the unsealed copies go with the container")

            // A forged signature and a missing secret stop the start, naming the variable.
            let forgedContainer = try await Self.container(fixture, pod, "forged", script: "sleep 1000", env: [("DB_PASSWORD", forged)])
            let forgedStatus = await statusOf { try await Self.start(fixture, forgedContainer) }
            #expect(forgedStatus?.code == .failedPrecondition && forgedStatus?.message.contains("DB_PASSWORD") == true
                    && forgedStatus?.message.contains("signature") == true, "\(String(describing: forgedStatus))")
            let missingContainer = try await Self.container(fixture, pod, "missing", script: "sleep 1000", env: [("API_KEY", missing)])
            let missingStatus = await statusOf { try await Self.start(fixture, missingContainer) }
            #expect(missingStatus?.code == .failedPrecondition && missingStatus?.message.contains("API_KEY") == true
                    && missingStatus?.message.contains("404") == true && missingStatus?.message.contains("ResourceNotFound") == true,
                    "\(String(describing: missingStatus))")
            #expect(try await fixture.status(forgedContainer).status?.state == .exited)

            // The broker down: a clear error naming it; once it is back, the same request works
            // (the restarted broker forgot the session, so the realm attests again).
            broker.stop()
            let (down, _, downErrors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/one")
            #expect(down != 0 && downErrors.contains("503"), "\(downErrors)")
            #expect(fixture.daemon.stderr.contains("key broker http://127.0.0.1:\(port)"), "the daemon's log names the broker")
            try await broker.start()
            let (again, againBody, againErrors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/one")
            #expect(again == 0 && againBody == "plaintext-one", "\(againErrors)")
        }
    }

    @Test("a pod whose initdata's cdh.toml names the broker uses it (the node has none); a pod without keeps CoCo's 404s")
    func brokerFromInitData() async throws {
        try AttestationTests().requireTools()
        try await Self.withBroker(node: false) { fixture, broker in
            let port = broker.port
            try broker.resource("default/key/one", Data("from-initdata-broker".utf8))
            let rim = try await Self.referenceRIM(fixture, name: "app", script: "sleep 1000")
            try JSONSerialization.data(withJSONObject: ["rims": [rim]]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            var config = fixture.podConfig("with-initdata")
            config.annotations = Self.initDataAnnotations(port: port)
            let pod = (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID,
                       config: config)
            let app = try await Self.container(fixture, pod, "app", script: "sleep 1000")
            try await Self.start(fixture, app)
            let (code, body, errors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/one")
            #expect(code == 0 && body == "from-initdata-broker", "\(errors)")
            let log = (try? String(contentsOf: broker.log, encoding: .utf8)) ?? ""
            #expect(log.contains("init-data ok"), "the initdata went with the evidence and matched its personalization value: \(log)")

            let plain = try await fixture.runPod("without-initdata")
            let other = try await Self.container(fixture, plain, "app", script: "sleep 1000")
            try await Self.start(fixture, other)
            let (status, text) = try await Self.rawRequest(fixture, other, "/cdh/resource/default/key/one")
            #expect(status == 404 && text == "Resource Feature Not Enabled", "\(status) \(text)")
            let (tokenStatus, tokenText) = try await Self.rawRequest(fixture, other, "/aa/token?token_type=kbs")
            #expect(tokenStatus == 404 && tokenText == "Attestation Feature Not Enabled")
        }
    }

    @Test("a pod whose initdata names an image signature policy gets it from its broker as the container's realm, with the cosign key; the signed image runs, an unsigned one is refused naming the rule")
    func imagePolicyFromBroker() async throws {
        try AttestationTests().requireTools()
        try await Self.withBroker(node: false) { fixture, broker in
            let port = broker.port
            let namespace = "fasco/podpolicy-\(UInt32.random(in: 0...UInt32.max))"
            let key = broker.directory.appendingPathComponent("cosign").path
            _ = try await SignedImageTests.cosign(["keygen", "--out", key])
            var digest = ""
            for name in ["signed", "unsigned"] {
                digest = try await SignedImageTests.cosign(["copy", "--registry", SignedImageTests.registry, "--source", "fasco/busybox:latest",
                                                            "--target", "\(namespace)/\(name):latest"])
            }
            _ = try await SignedImageTests.cosign(["sign", "--registry", SignedImageTests.registry, "--repository", "\(namespace)/signed",
                                                   "--digest", digest, "--key", key + ".key"])
            try broker.resource("default/cosign-key/1", try Data(contentsOf: URL(fileURLWithPath: key + ".pub")))
            try broker.resource("default/security-policy/test", Data("""
                {"default": [{"type": "reject"}], "transports": {"docker": {"\(SignedImageTests.registry)/\(namespace)/signed": [
                  {"type": "sigstoreSigned", "keyPath": "kbs:///default/cosign-key/1", "signedIdentity": {"type": "matchRepository"}}]}}}
                """.utf8))

            let annotations = Self.initDataAnnotations(
                port: port, cdh: "[image]\nimage_security_policy_uri = \"kbs:///default/security-policy/test\"\n")
            var config = fixture.podConfig("with-policy")
            config.annotations = annotations
            let images = ImageServiceClient(channel: fixture.channel)
            func image(_ name: String) -> String { "\(SignedImageTests.registry)/\(namespace)/\(name):latest" }
            for name in ["signed", "unsigned"] {
                _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: image(name)), sandboxConfig: config), timeout: .seconds(120))
            }
            // The broker releases the policy to both realms: what refuses the unsigned image is the policy.
            var rims: [String] = []
            for name in ["signed", "unsigned"] {
                rims.append(try await Self.referenceRIM(fixture, name: "app", script: "sleep 1000", image: image(name), podAnnotations: annotations))
            }
            try JSONSerialization.data(withJSONObject: ["rims": rims]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            let pod = (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID,
                       config: config)
            let signed = try await Self.container(fixture, pod, "app", script: "sleep 1000", image: image("signed"))
            try await Self.start(fixture, signed)
            let log = (try? String(contentsOf: broker.log, encoding: .utf8)) ?? ""
            #expect(log.contains("release default/security-policy/test") && log.contains("release default/cosign-key/1"), "\(log)")
            let refused = await statusOf { _ = try await Self.container(fixture, pod, "other", script: "sleep 1000", image: image("unsigned")) }
            #expect(refused?.code == .failedPrecondition && refused?.message.contains("kbs:///default/security-policy/test") == true
                    && refused?.message.contains("reject") == true, "\(String(describing: refused))")
            #expect(try await fixture.runtime.listContainers(ListContainersRequest(), timeout: .seconds(30)).containers.map(\.id) == [signed],
                    "nothing is left of the refused container")
        }
    }

    @Test("with [kbs] tee_key = \"rsa\" each session's TEE key is RSA and the broker's RSA-OAEP-256 answers decrypt")
    func rsaTEEKeys() async throws {
        try AttestationTests().requireTools()
        try await Self.withBroker(settings: "tee_key = \"rsa\"\n") { fixture, broker in
            try broker.resource("default/key/one", Data("released-to-rsa".utf8))
            let rim = try await Self.referenceRIM(fixture, name: "app", script: "sleep 1000")
            try JSONSerialization.data(withJSONObject: ["rims": [rim]]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()
            let pod = try await fixture.runPod("rsa")
            let app = try await Self.container(fixture, pod, "app", script: "sleep 1000")
            try await Self.start(fixture, app)
            let (code, body, errors) = try await Self.wget(fixture, app, "/cdh/resource/default/key/one")
            #expect(code == 0 && body == "released-to-rsa", "\(code) \(body) \(errors)")
            let log = (try? String(contentsOf: broker.log, encoding: .utf8)) ?? ""
            #expect(log.contains("attest ok rim=\(rim) tee-key=RSA"), "\(log)")
        }
    }

    /// A pod's annotations carrying initdata whose cdh.toml names the broker on `port`, with `cdh` added.
    static func initDataAnnotations(port: Int, cdh: String = "") -> [String: String] {
        let initData = """
        algorithm = "sha384"
        version = "0.1.0"

        [data]
        "cdh.toml" = '''
        [kbc]
        name = "cc_kbc"
        url = "http://127.0.0.1:\(port)"

        \(cdh)'''

        """
        return ["io.katacontainers.config.hypervisor.cc_init_data": Data(initData.utf8).base64EncodedString()]
    }

    /// Status and body of a guest API request from busybox's nc (wget hides 404 bodies).
    static func rawRequest(_ fixture: PodFixture, _ container: String, _ target: String) async throws -> (Int, String) {
        let (_, _, output) = try await GuestAPIDaemonTests.exec(
            fixture, container, ["/bin/sh", "-c", "printf 'GET \(target) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | nc 127.0.0.1 8006"])
        let text = String(decoding: output, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
    }
}
