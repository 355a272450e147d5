import CRIAPI
import Foundation
import Testing
import TestSupport

/// Sealed secrets of CoCo's `aws` provider end to end: a real daemon and containers, the test
/// key broker (kbs.py) releasing the signing key and the AWS credential to the container's realm
/// only, and an independent AWS KMS / Secrets Manager peer (Tests/attestation/awskms.py, written
/// from AWS's public API references) that verifies every request's SigV4 signature and seals the
/// envelopes itself.
@Suite(.serialized) struct SealedSecretKMSTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/attestation/awskms.py").path

    /// The KMS peer: its state file (re-read on each request), log and process.
    final class KMS: @unchecked Sendable {
        let port: Int
        let directory: URL
        var process: Process?

        init(directory: URL) throws {
            self.port = Int(try freeLoopbackPort())
            self.directory = directory
        }

        var stateFile: URL { directory.appendingPathComponent("state.json") }
        var log: URL { directory.appendingPathComponent("kms.log") }
        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// The access key the broker's credential holds, a key it may use, one it may not, a secret.
        func writeState(failNext: Int = 0, down: Bool = false) throws {
            let state: [String: Any] = [
                "region": "eu-west-1",
                "credentials": ["AKIDFASCOTEST": ["secret": "fasco/test+secret", "session_token": "session-token-1"]],
                "keys": [
                    "1234abcd-12ab-34cd-56ef-1234567890ab": ["material": String(repeating: "1f", count: 32), "allowed": ["AKIDFASCOTEST"],
                                                             "enabled": true, "aliases": ["alias/coco"]],
                    "denied-key": ["material": String(repeating: "2e", count: 32), "allowed": ["AKIDSOMEONEELSE"], "enabled": true],
                ],
                "secrets": ["prod/db-password": ["string": "from-secrets-manager", "allowed": ["AKIDFASCOTEST"]]],
                "fail_next": failNext, "down": down,
            ]
            try JSONSerialization.data(withJSONObject: state).write(to: stateFile, options: .atomic)
        }

        func start() async throws {
            let ready = directory.appendingPathComponent("ready")
            process = try await KeyReleaseTests.startPeer([
                SealedSecretKMSTests.script, "serve", "--port", "\(port)", "--state", stateFile.path, "--log", log.path, "--ready", ready.path,
            ], ready: ready, what: "the KMS peer")
        }

        func stop() {
            guard let process else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
        }
    }

    static func tool(_ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await runCommandAsync(KeyReleaseTests.python, [script] + arguments)
        try #require(status == 0, "awskms.py \(arguments.first ?? "") failed: \(errors)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let credentialPath = "/run/confidential-containers/cdh/kbs/kms-credential/aws/credential.json"

    /// A broker (kbs.py) and a KMS peer for a daemon whose fasco.toml points `[kms.aws]` at the
    /// peer (with `config` added); the broker holds the signing key and the AWS credential.
    static func withKMS(node: Bool, config: String = "",
                        _ body: (PodFixture, KeyReleaseTests.Broker, KMS, _ signer: String) async throws -> Void) async throws {
        try AttestationTests().requireTools()
        let kmsDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("fasco-kms-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: kmsDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: kmsDirectory) }  // test scratch; a leftover is harmless
        let kms = try KMS(directory: kmsDirectory)
        defer { kms.stop() }
        let endpoints = "[kms.aws]\nkms_endpoint = \"http://127.0.0.1:\(kms.port)\"\nsecrets_manager_endpoint = \"http://127.0.0.1:\(kms.port)/\"\n"
        try await KeyReleaseTests.withBroker(node: node, config: endpoints + config) { fixture, broker in
            try broker.resource("default/signing/key", Data())
            let signer = broker.directory.appendingPathComponent("signer.pem").path
            _ = try await KeyReleaseTests.kbsTool(["keygen", signer, broker.resources.appendingPathComponent("default/signing/key").path])
            try broker.resource("default/aws/credential", Data(try await tool([
                "credential", "--access-key", "AKIDFASCOTEST", "--secret", "fasco/test+secret", "--session-token", "session-token-1"]).utf8))
            try kms.writeState()
            try await kms.start()
            try await body(fixture, broker, kms, signer)
        }
    }

    static func envelope(_ kms: KMS, signer: String, _ plaintext: String, key: String = "alias/coco", wrap: String = "A256GCM") async throws -> String {
        try await tool(["seal-envelope", "--signing-key", signer, "--kid", "kbs:///default/signing/key", "--state", kms.stateFile.path,
                        "--key-id", key, "--region", "eu-west-1", "--context", "purpose=fasco-test", "--wrap", wrap, "--plaintext", plaintext])
    }

    static func environment(_ fixture: PodFixture, _ container: String) async throws -> String {
        let (_, _, output) = try await GuestAPIDaemonTests.exec(fixture, container, ["env"])
        return String(decoding: output, as: UTF8.self)
    }

    @Test("envelope (AES-256-GCM and -CTR) and vault secrets of provider aws arrive in clear, with the credential the broker releases for initdata's [[credentials]]; a refused key, a KMS outage and a pod without the credential each stop the start naming the variable; retries ride out a flaky KMS")
    func awsProviderEndToEnd() async throws {
        try await Self.withKMS(node: false) { fixture, broker, kms, signer in
            let gcm = try await Self.envelope(kms, signer: signer, "envelope-gcm-plaintext")
            let ctr = try await Self.envelope(kms, signer: signer, "envelope-ctr-plaintext", key: "1234abcd-12ab-34cd-56ef-1234567890ab", wrap: "A256CTR")
            let vault = try await Self.tool(["seal-vault", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                             "--name", "prod/db-password", "--region", "eu-west-1"])
            let denied = try await Self.envelope(kms, signer: signer, "never-released", key: "denied-key")
            // A sealed file mount holding an envelope too.
            let sealedFile = fixture.directory.appendingPathComponent("sealed-envelope")
            try (gcm + "\n").write(to: sealedFile, atomically: true, encoding: .utf8)

            let annotations = KeyReleaseTests.initDataAnnotations(port: broker.port, cdh: """
                [[credentials]]
                path = "\(Self.credentialPath)"
                resource_uri = "kbs:///default/aws/credential"
                """)
            let deployed: [(String, [(String, String)], [(String, String)])] = [
                ("clear", [("GCM", gcm), ("CTR", ctr), ("DB", vault)], [("/etc/envelope", sealedFile.path)]),
                ("denied", [("TOKEN", denied)], []), ("flaky", [("GCM", gcm)], []), ("outage", [("GCM", gcm)], []), ("back", [("GCM", gcm)], []),
            ]
            var rims: [String] = []
            for (name, env, mounts) in deployed {
                rims.append(try await KeyReleaseTests.referenceRIM(fixture, name: name, script: "sleep 1000", env: env, mounts: mounts,
                                                                  podAnnotations: annotations))
            }
            try JSONSerialization.data(withJSONObject: ["rims": rims]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            var config = fixture.podConfig("aws-secrets")
            config.annotations = annotations
            let pod = (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID,
                       config: config)
            func container(_ index: Int) async throws -> String {
                let (name, env, mounts) = deployed[index]
                return try await KeyReleaseTests.container(fixture, pod, name, script: "sleep 1000", env: env, mounts: mounts)
            }

            // All three kinds arrive in clear, in the environment and in the file.
            let clear = try await container(0)
            try await KeyReleaseTests.start(fixture, clear)
            let environment = try await Self.environment(fixture, clear)
            #expect(environment.contains("GCM=envelope-gcm-plaintext\n") && environment.contains("CTR=envelope-ctr-plaintext\n")
                    && environment.contains("DB=from-secrets-manager\n") && !environment.contains("sealed."), "\(environment)")
            let (_, _, file) = try await GuestAPIDaemonTests.exec(fixture, clear, ["cat", "/etc/envelope"])
            #expect(String(decoding: file, as: UTF8.self) == "envelope-gcm-plaintext")
            // The KMS saw signed requests from the broker-released credential; the broker released it to the container's realm.
            #expect(kms.logText.contains("Decrypt ok key=1234abcd-12ab-34cd-56ef-1234567890ab by=AKIDFASCOTEST"), "\(kms.logText)")
            #expect(kms.logText.contains("GetSecretValue ok key=prod/db-password by=AKIDFASCOTEST"), "\(kms.logText)")
            let brokerLog = (try? String(contentsOf: broker.log, encoding: .utf8)) ?? ""
            #expect(brokerLog.contains("release default/aws/credential to rim=\(rims[0])"), "\(brokerLog)")
            for secret in ["envelope-gcm-plaintext", "envelope-ctr-plaintext", "from-secrets-manager", "fasco/test+secret"] {
                #expect(!fixture.daemon.stderr.contains(secret), "Fasco's log never holds \(secret)")
            }

            // A key the credential may not use: KMS refuses, the start stops naming the variable and KMS's error.
            let refused = try await container(1)
            let refusal = await statusOf { try await KeyReleaseTests.start(fixture, refused) }
            #expect(refusal?.code == .failedPrecondition && refusal?.message.contains("TOKEN") == true
                    && refusal?.message.contains("AccessDeniedException") == true && refusal?.message.contains("AWS KMS") == true,
                    "\(String(describing: refusal))")

            // Two 503s, then success: the client's retries ride them out.
            try kms.writeState(failNext: 2)
            let flaky = try await container(2)
            try await KeyReleaseTests.start(fixture, flaky)
            #expect(try await Self.environment(fixture, flaky).contains("GCM=envelope-gcm-plaintext\n"))

            // KMS down: a clear error naming the service and its error; once back, the next start works.
            try kms.writeState(down: true)
            let outage = try await container(3)
            let downStatus = await statusOf { try await KeyReleaseTests.start(fixture, outage) }
            #expect(downStatus?.code == .failedPrecondition && downStatus?.message.contains("GCM") == true
                    && downStatus?.message.contains("KMSInternalException") == true
                    && downStatus?.message.contains("http://127.0.0.1:\(kms.port)") == true, "\(String(describing: downStatus))")
            try kms.writeState()
            let back = try await container(4)
            try await KeyReleaseTests.start(fixture, back)
            #expect(try await Self.environment(fixture, back).contains("GCM=envelope-gcm-plaintext\n"))

            // A pod whose initdata gives no credential (and no [kms.aws] credential_uri): refused, saying where it is looked for.
            var bare = fixture.podConfig("no-credential")
            bare.annotations = KeyReleaseTests.initDataAnnotations(port: broker.port)
            let barePod = (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: bare), timeout: .seconds(60)).podSandboxID,
                           config: bare)
            let orphan = try await KeyReleaseTests.container(fixture, barePod, "orphan", script: "sleep 1000", env: [("GCM", gcm)])
            let orphanStatus = await statusOf { try await KeyReleaseTests.start(fixture, orphan) }
            #expect(orphanStatus?.code == .failedPrecondition && orphanStatus?.message.contains("GCM") == true
                    && orphanStatus?.message.contains("[[credentials]]") == true, "\(String(describing: orphanStatus))")

            // Initdata asking for a credential outside CoCo's directory is refused at RunPodSandbox.
            var escaping = fixture.podConfig("escaping")
            escaping.annotations = KeyReleaseTests.initDataAnnotations(
                port: broker.port, cdh: "[[credentials]]\npath = \"/etc/shadow\"\nresource_uri = \"kbs:///default/aws/credential\"\n")
            let escapeStatus = await statusOf { _ = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: escaping), timeout: .seconds(60)) }
            #expect(escapeStatus?.code == .invalidArgument && escapeStatus?.message.contains("/etc/shadow") == true, "\(String(describing: escapeStatus))")
        }
    }

    @Test("a pod without initdata uses the node's broker and fasco.toml's [kms.aws] credential_uri")
    func nodeCredential() async throws {
        try await Self.withKMS(node: true, config: "credential_uri = \"kbs:///default/aws/credential\"\n") { fixture, broker, kms, signer in
            let gcm = try await Self.envelope(kms, signer: signer, "node-credential-plaintext")
            let rim = try await KeyReleaseTests.referenceRIM(fixture, name: "app", script: "sleep 1000", env: [("SECRET", gcm)])
            try JSONSerialization.data(withJSONObject: ["rims": [rim]]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()
            let pod = try await fixture.runPod("node")
            let app = try await KeyReleaseTests.container(fixture, pod, "app", script: "sleep 1000", env: [("SECRET", gcm)])
            try await KeyReleaseTests.start(fixture, app)
            #expect(try await Self.environment(fixture, app).contains("SECRET=node-credential-plaintext\n"))
            #expect(kms.logText.contains("Decrypt ok") && kms.logText.contains("by=AKIDFASCOTEST"), "\(kms.logText)")
        }
    }

    // MARK: Alibaba Cloud KMS (provider aliyun, client_type client_key)

    static let aliyunScript = repositoryRoot.appendingPathComponent("Tests/attestation/aliyunkms.py").path

    static func aliyunTool(_ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await runCommandAsync(KeyReleaseTests.python, [aliyunScript] + arguments)
        try #require(status == 0, "aliyunkms.py \(arguments.first ?? "") failed: \(errors)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("envelope and vault secrets of provider aliyun arrive in clear: client key, password and instance CA released by the broker for initdata's [[credentials]], signed protobuf requests over HTTPS; a key the client key may not use, another CA and a missing credential each stop the start naming the variable")
    func aliyunProviderEndToEnd() async throws {
        try AttestationTests().requireTools()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fasco-aliyun-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }  // test scratch; a leftover is harmless
        let state = directory.appendingPathComponent("state.json")
        try JSONSerialization.data(withJSONObject: [
            "client_keys": [String: Any](),
            "keys": ["key-fasco": ["material": String(repeating: "3c", count: 32), "allowed": ["KAAP.fasco"], "enabled": true],
                     "key-other": ["material": String(repeating: "4d", count: 32), "allowed": ["KAAP.someone"], "enabled": true]],
            "secrets": ["db-password": ["data": "from-alibaba-kms", "allowed": ["KAAP.fasco"]]],
        ]).write(to: state, options: .atomic)
        let credentials = directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        _ = try await Self.aliyunTool(["client-key", "--id", "KAAP.fasco", "--state", state.path, "--out-dir", credentials.path])
        let tls = directory.appendingPathComponent("tls")
        let port = Int(try freeLoopbackPort())
        let ready = directory.appendingPathComponent("ready")
        let log = directory.appendingPathComponent("kms.log")
        let peer = try await KeyReleaseTests.startPeer([
            Self.aliyunScript, "serve", "--port", "\(port)", "--state", state.path, "--tls-dir", tls.path, "--log", log.path, "--ready", ready.path,
        ], ready: ready, what: "the Alibaba Cloud KMS peer")
        defer {
            kill(peer.processIdentifier, SIGKILL)
            peer.waitUntilExit()
        }
        // Another CA, which did not sign the peer's certificate.
        let otherCA = directory.appendingPathComponent("other-ca.pem")
        let (caStatus, _, caErrors) = try await runCommandAsync("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            directory.appendingPathComponent("other-ca.key").path, "-out", otherCA.path, "-subj", "/CN=not the instance CA", "-days", "2"])
        try #require(caStatus == 0, "\(caErrors)")

        let config = "[kms.aliyun]\nendpoint = \"https://127.0.0.1:\(port)\"\n"
        try await KeyReleaseTests.withBroker(node: false, config: config) { fixture, broker in
            try broker.resource("default/signing/key", Data())
            let signer = broker.directory.appendingPathComponent("signer.pem").path
            _ = try await KeyReleaseTests.kbsTool(["keygen", signer, broker.resources.appendingPathComponent("default/signing/key").path])
            try broker.resource("default/aliyun/client-key", try Data(contentsOf: credentials.appendingPathComponent("clientKey_KAAP.fasco.json")))
            try broker.resource("default/aliyun/password", try Data(contentsOf: credentials.appendingPathComponent("password_KAAP.fasco.json")))
            try broker.resource("default/aliyun/ca", try Data(contentsOf: tls.appendingPathComponent("ca.pem")))
            try broker.resource("default/aliyun/other-ca", try Data(contentsOf: otherCA))

            let settings = ["--client-key-id", "KAAP.fasco", "--kms-instance-id", "kst-fasco"]
            let envelope = try await Self.aliyunTool(["seal-envelope", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                                      "--state", state.path, "--key-id", "key-fasco", "--plaintext", "aliyun-envelope-plaintext"] + settings)
            let vault = try await Self.aliyunTool(["seal-vault", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                                   "--name", "db-password"] + settings)
            let denied = try await Self.aliyunTool(["seal-envelope", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                                    "--state", state.path, "--key-id", "key-other", "--plaintext", "never"] + settings)
            func annotations(ca: String) -> [String: String] {
                let base = "/run/confidential-containers/cdh/kbs/kms-credential/aliyun"
                return KeyReleaseTests.initDataAnnotations(port: broker.port, cdh: """
                    [[credentials]]
                    path = "\(base)/clientKey_KAAP.fasco.json"
                    resource_uri = "kbs:///default/aliyun/client-key"
                    [[credentials]]
                    path = "\(base)/password_KAAP.fasco.json"
                    resource_uri = "kbs:///default/aliyun/password"
                    [[credentials]]
                    path = "\(base)/PrivateKmsCA_kst-fasco.pem"
                    resource_uri = "kbs:///default/aliyun/\(ca)"
                    """)
            }
            let good = annotations(ca: "ca")
            let wrongCA = annotations(ca: "other-ca")
            let deployed: [(String, [(String, String)], [String: String])] = [
                ("clear", [("ENVELOPE", envelope), ("VAULT", vault)], good), ("denied", [("TOKEN", denied)], good),
                ("pinned", [("ENVELOPE", envelope)], wrongCA),
            ]
            var rims: [String] = []
            for (name, env, pod) in deployed {
                rims.append(try await KeyReleaseTests.referenceRIM(fixture, name: name, script: "sleep 1000", env: env, podAnnotations: pod))
            }
            try JSONSerialization.data(withJSONObject: ["rims": rims]).write(to: broker.policy)
            try await broker.trustPlatform(of: fixture)
            try await broker.start()

            func pod(_ name: String, _ annotations: [String: String]) async throws -> (id: String, config: PodSandboxConfig) {
                var config = fixture.podConfig(name)
                config.annotations = annotations
                return (id: try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID,
                        config: config)
            }
            let main = try await pod("aliyun", good)
            let clear = try await KeyReleaseTests.container(fixture, main, "clear", script: "sleep 1000", env: deployed[0].1)
            try await KeyReleaseTests.start(fixture, clear)
            let environment = try await Self.environment(fixture, clear)
            #expect(environment.contains("ENVELOPE=aliyun-envelope-plaintext\n") && environment.contains("VAULT=from-alibaba-kms\n")
                    && !environment.contains("sealed."), "\(environment)")
            let kmsLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(kmsLog.contains("Decrypt ok key=key-fasco by=KAAP.fasco") && kmsLog.contains("GetSecretValue ok"), "\(kmsLog)")
            let brokerLog = (try? String(contentsOf: broker.log, encoding: .utf8)) ?? ""
            #expect(brokerLog.contains("release default/aliyun/client-key to rim=\(rims[0])")
                    && brokerLog.contains("release default/aliyun/password to rim=\(rims[0])"), "\(brokerLog)")
            for secret in ["aliyun-envelope-plaintext", "from-alibaba-kms"] {
                #expect(!fixture.daemon.stderr.contains(secret), "Fasco's log never holds \(secret)")
            }

            // A key the client key may not use: the instance refuses, the start stops naming the variable and the code.
            let refused = try await KeyReleaseTests.container(fixture, main, "denied", script: "sleep 1000", env: deployed[1].1)
            let refusal = await statusOf { try await KeyReleaseTests.start(fixture, refused) }
            #expect(refusal?.code == .failedPrecondition && refusal?.message.contains("TOKEN") == true
                    && refusal?.message.contains("Forbidden.NoPermission") == true, "\(String(describing: refusal))")

            // The instance's CA is the one the broker released: with another, TLS fails and nothing is sent.
            let pinnedPod = try await pod("aliyun-other-ca", wrongCA)
            let pinned = try await KeyReleaseTests.container(fixture, pinnedPod, "pinned", script: "sleep 1000", env: deployed[2].1)
            let before = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").count
            let pinnedStatus = await statusOf { try await KeyReleaseTests.start(fixture, pinned) }
            #expect(pinnedStatus?.code == .failedPrecondition && pinnedStatus?.message.contains("ENVELOPE") == true
                    && pinnedStatus?.message.contains("https://127.0.0.1:\(port)") == true, "\(String(describing: pinnedStatus))")
            #expect(((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").count == before, "no request reached the peer")

            // A pod whose initdata gives no client key: refused, naming the file CoCo's driver reads.
            let bare = try await pod("aliyun-bare", KeyReleaseTests.initDataAnnotations(port: broker.port))
            let orphan = try await KeyReleaseTests.container(fixture, bare, "orphan", script: "sleep 1000", env: [("ENVELOPE", envelope)])
            let orphanStatus = await statusOf { try await KeyReleaseTests.start(fixture, orphan) }
            #expect(orphanStatus?.code == .failedPrecondition && orphanStatus?.message.contains("clientKey_KAAP.fasco.json") == true,
                    "\(String(describing: orphanStatus))")
        }
    }
}
