import CRIAPI
import Foundation
import GRPCTransport
import Testing

/// Realm measurement and attestation on a real daemon with real containers, checked by the
/// independent tools in Tests/attestation (an RMM model and a CCA verifier in Python, written
/// from the public specs, sharing no code with Fasco).
@Suite(.serialized) struct AttestationTests {
    static let python = repositoryRoot.appendingPathComponent(".build-py/bin/python").path
    static let model = repositoryRoot.appendingPathComponent("Tests/attestation/rmm_model.py").path
    static let verifier = repositoryRoot.appendingPathComponent("Tests/attestation/cca_verify.py").path

    /// `fasco attest ARGS` against the fixture's daemon: exit status, stdout bytes, stderr.
    static func attest(_ fixture: PodFixture, _ arguments: [String]) async throws -> (Int32, Data, String) {
        let out = fixture.directory.appendingPathComponent("attest-\(UUID().uuidString.prefix(8)).out")
        let (status, _, errors) = try await runCommandAsync(
            "/bin/sh", ["-c", "exec \"$0\" \"$@\" > \(out.path)", DaemonProcess.binary.path, "attest"] + arguments + ["--endpoint", fixture.daemon.endpoint])
        let data = (try? Data(contentsOf: out)) ?? Data()
        return (status, data, errors)
    }

    static func measurements(_ fixture: PodFixture, _ realm: String) async throws -> [String: Any] {
        let (status, data, errors) = try await attest(fixture, ["--measurements", realm])
        try #require(status == 0, "fasco attest --measurements failed: \(errors)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Replays a measurements document with the independent model: its exit status and verdict.
    static func replay(_ fixture: PodFixture, _ document: [String: Any]) async throws -> (Int32, String) {
        let file = fixture.directory.appendingPathComponent("measurements-\(UUID().uuidString.prefix(8)).json")
        try JSONSerialization.data(withJSONObject: document).write(to: file)
        let (status, output, errors) = try await runCommandAsync(python, [model, "replay", file.path])
        return (status, output + errors)
    }

    /// Verifies a token with the independent verifier and the node's platform key.
    static func verify(_ fixture: PodFixture, token: Data, challenge: String) async throws -> (Int32, [String: Any]) {
        let tokenFile = fixture.directory.appendingPathComponent("token-\(UUID().uuidString.prefix(8)).cbor")
        try token.write(to: tokenFile)
        let (keyStatus, keyData, keyErrors) = try await attest(fixture, ["--platform-key"])
        try #require(keyStatus == 0, "fasco attest --platform-key failed: \(keyErrors)")
        let key = try #require(try JSONSerialization.jsonObject(with: keyData) as? [String: Any])
        let jwkFile = fixture.directory.appendingPathComponent("platform.jwk")
        try JSONSerialization.data(withJSONObject: try #require(key["jwk"])).write(to: jwkFile)
        let (status, output, errors) = try await runCommandAsync(
            python, [verifier, tokenFile.path, "--challenge", challenge, "--platform-jwk", jwkFile.path])
        let report = (try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]) ?? ["raw": output + errors]
        return (status, report)
    }

    func requireTools() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "the Python environment is missing: make py-deps (make test runs it)")
    }

    /// A pod named `name` whose config is otherwise the same for every name (as replicas are).
    func replica(_ fixture: PodFixture, _ name: String, env: [KeyValue] = []) async throws -> (pod: String, container: String) {
        let pod = try await fixture.runPod(name)
        var config = fixture.containerConfig("app", script: "sleep 1000")
        config.envs = env + [
            KeyValue(key: "KUBERNETES_SERVICE_HOST", value: name == "replica-a" ? "10.96.0.1" : "10.96.0.2"),
            KeyValue(key: "KUBERNETES_PORT", value: "tcp://10.96.0.1:443"),
        ]
        let container = try await fixture.createContainer(pod, config)
        _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60))
        return (pod.id, container)
    }

    @Test("replicas measure the same, a changed input changes the RIM, every log replays, tokens verify")
    func replicasAndTokens() async throws {
        try requireTools()
        try await PodFixture.with { fixture in
            let a = try await replica(fixture, "replica-a")
            let b = try await replica(fixture, "replica-b")
            let c = try await replica(fixture, "replica-c", env: [KeyValue(key: "MODE", value: "debug")])

            let ma = try await Self.measurements(fixture, a.container)
            let mb = try await Self.measurements(fixture, b.container)
            let mc = try await Self.measurements(fixture, c.container)
            #expect(ma["hash_algorithm"] as? String == "sha-256")
            #expect((ma["rim"] as? String)?.count == 64)
            #expect(ma["rim"] as? String == mb["rim"] as? String, "two replicas (other names, IDs, service links) measure the same")
            #expect(ma["rim"] as? String != mc["rim"] as? String, "one more environment variable changes the RIM")
            let pa = try await Self.measurements(fixture, a.pod)
            let pb = try await Self.measurements(fixture, b.pod)
            #expect(pa["rim"] as? String == pb["rim"] as? String, "the System Realms of two replicas measure the same")
            #expect(pa["rim"] as? String != ma["rim"] as? String)

            for document in [ma, mc, pa] {
                let (status, verdict) = try await Self.replay(fixture, document)
                #expect(status == 0, "the independent model replays the log to the reported values: \(verdict)")
            }
            // A forged value does not replay.
            var forged = ma
            forged["rim"] = String(repeating: "0", count: 64)
            #expect(try await Self.replay(fixture, forged).0 == 1)

            // A token over a challenge verifies, with the live RIM and the challenge.
            let challenge = "00112233445566778899aabbccddeeff"
            for format in ["cmw", "legacy"] {
                let (status, token, errors) = try await Self.attest(fixture, [a.container, "--challenge", challenge, "--format", format])
                try #require(status == 0, "fasco attest failed: \(errors)")
                let (verified, report) = try await Self.verify(fixture, token: token, challenge: challenge)
                #expect(verified == 0, "\(report)")
                #expect(report["format"] as? String == format)
                let realm = report["realm"] as? [String: Any]
                #expect(realm?["rim"] as? String == ma["rim"] as? String)
                let platform = report["platform"] as? [String: Any]
                let implementation = Data(Array("fasco software rmm, not hardware".utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(platform?["implementation_id"] as? String == implementation, "the platform says it is software")

                // Another challenge does not verify; nor does a flipped byte.
                #expect(try await Self.verify(fixture, token: token, challenge: "ff").0 == 1)
                var flipped = token
                flipped[flipped.count - 40] ^= 0x01
                #expect(try await Self.verify(fixture, token: flipped, challenge: challenge).0 != 0)
            }

            // Bad requests are refused with a reason, and the daemon keeps serving.
            let (long, _, longErrors) = try await Self.attest(fixture, [a.container, "--challenge", String(repeating: "ab", count: 65)])
            #expect(long != 0 && longErrors.contains("64"), "\(longErrors)")
            let (unknown, _, unknownErrors) = try await Self.attest(fixture, ["0000000000000000000000"])
            #expect(unknown != 0 && unknownErrors.lowercased().contains("not"), "\(unknownErrors)")
            let (format, _, _) = try await Self.attest(fixture, [a.container, "--format", "jwt"])
            #expect(format != 0)

            // Verbose status says what the backend is and is not.
            let status = try await fixture.status(a.container, verbose: true)
            let info = try #require(status.info["attestation"])
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
            #expect(summary["confidential"] as? Bool == false)
            #expect(summary["backend"] as? String == "software")
            #expect(summary["rim"] as? String == ma["rim"] as? String)
            let node = try await fixture.runtime.status(StatusRequest(verbose: true))
            let nodeInfo = try #require(node.info["attestation"])
            let nodeSummary = try #require(try JSONSerialization.jsonObject(with: Data(nodeInfo.utf8)) as? [String: Any])
            #expect(nodeSummary["confidential"] as? Bool == false && nodeSummary["hardware_backed"] as? Bool == false)
            #expect(nodeSummary["measures"] as? Bool == true)
        }
    }

    @Test("ExecSync extends REM 1 and names its command in the log, the log still replays, and a restart keeps RIM, REMs and keys")
    func sessionsAndRestart() async throws {
        try requireTools()
        let fixture = try await PodFixture()
        var restarted: PodFixture?
        do {
            let pod = try await fixture.runPod("sessions")
            let container = try await fixture.runContainer(pod, "app", script: "sleep 1000")
            let before = try await Self.measurements(fixture, container)
            let zero = String(repeating: "0", count: 64)
            #expect((before["rems"] as? [String]) == [zero, zero, zero, zero])

            let result = try await fixture.runtime.execSync(ExecSyncRequest(containerID: container, cmd: ["echo", "hi"], timeout: 10))
            #expect(result.exitCode == 0)
            let after = try await Self.measurements(fixture, container)
            let rems = try #require(after["rems"] as? [String])
            #expect(rems[0] != zero, "ExecSync extended REM 1")
            #expect(Array(rems[1...]) == [zero, zero, zero], "REMs 2-4 belong to the workload")
            #expect(after["rim"] as? String == before["rim"] as? String)
            let log = try #require(after["log"] as? [[String: Any]])
            let extend = try #require(log.last)
            #expect(extend["op"] as? String == "measurement-extend")
            #expect((extend["what"] as? String)?.contains("\"echo\",\"hi\"") == true, "the log names the command")
            #expect(try await Self.replay(fixture, after).0 == 0)

            // The same token key before and after a restart: the RAK in two tokens is the same.
            let (_, token1, _) = try await Self.attest(fixture, [container, "--challenge", "01"])
            let (_, report1) = try await Self.verify(fixture, token: token1, challenge: "01")
            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()
            let second = try await PodFixture(directory: fixture.directory, importImage: false)
            restarted = second
            let again = try await Self.measurements(second, container)
            #expect(again["rim"] as? String == after["rim"] as? String)
            #expect(again["rems"] as? [String] == rems)
            let (_, token2, _) = try await Self.attest(second, [container, "--challenge", "01"])
            let (verified, report2) = try await Self.verify(second, token: token2, challenge: "01")
            #expect(verified == 0, "\(report2)")
            // The platform challenge is H(RAK): equal challenges, equal keys.
            let rak1 = (report1["platform"] as? [String: Any])?["challenge"] as? String
            let rak2 = (report2["platform"] as? [String: Any])?["challenge"] as? String
            #expect(rak1 != nil && rak1 == rak2, "the realm keeps its attestation key across a restart")
            let platform1 = (report1["platform"] as? [String: Any])?["instance_id"] as? String
            let platform2 = (report2["platform"] as? [String: Any])?["instance_id"] as? String
            #expect(platform1 != nil && platform1 == platform2, "the node keeps its platform key across a restart")
        } catch {
            Issue.record("\(error)\ndaemon log: \((restarted ?? fixture).daemon.stderr.suffix(4000))")
        }
        await (restarted ?? fixture).tearDown()
    }

    @Test("fasco measure computes, without a daemon, the RIMs the live realms get (JSON and YAML configs, store and layout images)")
    func referenceValuesOffline() async throws {
        try requireTools()
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("offline")
            let container = try await fixture.createContainer(pod, fixture.containerConfig("app", script: "sleep 1000"))
            let live = try await Self.measurements(fixture, container)
            let livePod = try await Self.measurements(fixture, pod.id)

            // The same configs as crictl files: the pod as JSON, the container as YAML.
            let podFile = fixture.directory.appendingPathComponent("pod.json")
            try """
            {"metadata": {"name": "other-name", "uid": "another-uid", "namespace": "test", "attempt": 0},
             "hostname": "other-name", "log_directory": "/var/log/elsewhere", "labels": {"app": "x"},
             "linux": {"security_context": {"namespace_options": {"network": 0, "pid": 1, "ipc": 0}}}}
            """.write(to: podFile, atomically: true, encoding: .utf8)
            let containerFile = fixture.directory.appendingPathComponent("container.yaml")
            try """
            metadata:
              name: app
            image:
              image: \(PodFixture.image)
            command: ["/bin/sh", "-c", "sleep 1000"]
            log_path: app_0.log
            """.write(to: containerFile, atomically: true, encoding: .utf8)
            let common = ["--root", fixture.directory.appendingPathComponent("root").path,
                          "--state", fixture.directory.appendingPathComponent("state").path,
                          "--config", fixture.directory.appendingPathComponent("fasco.toml").path]
            for image in [PodFixture.image, "oci:" + PodFixture.layout + ":latest"] {
                let (status, output, errors) = try await runCommandAsync(
                    DaemonProcess.binary.path, ["measure", "--pod", podFile.path, "--container", containerFile.path, "--image", image] + common)
                try #require(status == 0, "fasco measure failed: \(errors)")
                let offline = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
                #expect(offline["rim"] as? String == live["rim"] as? String, "the reference RIM of the container (image \(image))")
                #expect(try await Self.replay(fixture, offline).0 == 0)
            }
            let (status, output, errors) = try await runCommandAsync(DaemonProcess.binary.path, ["measure", "--pod", podFile.path] + common)
            try #require(status == 0, "fasco measure --pod failed: \(errors)")
            let offlinePod = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            #expect(offlinePod["rim"] as? String == livePod["rim"] as? String, "the reference RIM of the System Realm")

            // Another command measures differently; a bad file is refused with a reason.
            try String(try String(contentsOf: containerFile, encoding: .utf8).replacingOccurrences(of: "sleep 1000", with: "sleep 999"))
                .write(to: containerFile, atomically: true, encoding: .utf8)
            let (_, changed, _) = try await runCommandAsync(
                DaemonProcess.binary.path, ["measure", "--pod", podFile.path, "--container", containerFile.path, "--image", PodFixture.image] + common)
            let other = try JSONSerialization.jsonObject(with: Data(changed.utf8)) as? [String: Any]
            #expect(other?["rim"] as? String != nil && other?["rim"] as? String != live["rim"] as? String)
            try "{\"metadata\": 7}".write(to: podFile, atomically: true, encoding: .utf8)
            let (bad, _, badErrors) = try await runCommandAsync(DaemonProcess.binary.path, ["measure", "--pod", podFile.path] + common)
            #expect(bad != 0 && badErrors.contains("pod.metadata"), "\(badErrors)")
        }
    }

    @Test("a pod annotation picks SHA-512 for all its realms; a bad one is INVALID_ARGUMENT and leaves nothing")
    func hashAlgorithmAnnotation() async throws {
        try requireTools()
        try await PodFixture.with { fixture in
            var config = fixture.podConfig("sha512")
            config.annotations = ["io.fasco.realm.hash-algorithm": "sha-512"]
            let pod = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let container = try await fixture.createContainer((pod.podSandboxID, config), fixture.containerConfig("app", script: "sleep 1000"))
            for realm in [pod.podSandboxID, container] {
                let measured = try await Self.measurements(fixture, realm)
                #expect(measured["hash_algorithm"] as? String == "sha-512")
                #expect((measured["rim"] as? String)?.count == 128)
                #expect(try await Self.replay(fixture, measured).0 == 0)
            }
            var bad = fixture.podConfig("md5")
            bad.annotations = ["io.fasco.realm.hash-algorithm": "md5"]
            await #expect {
                _ = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: bad), timeout: .seconds(60))
            } throws: { error in
                (error as? GRPCStatus)?.code == .invalidArgument
            }
            let names = try await fixture.runtime.listPodSandbox().items.compactMap { $0.metadata?.name }
            #expect(!names.contains("md5"))
        }
    }

    @Test("a streaming Exec extends REM 1 with its command and stdin flag before it runs; the log replays")
    func streamingExec() async throws {
        try requireTools()
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("streams")
            let container = try await fixture.runContainer(pod, "app", script: "sleep 1000")
            let before = try await Self.measurements(fixture, container)
            let exec = try await fixture.runtime.exec(ExecRequest(containerID: container, cmd: ["cat"], stdin: true, stdout: true))
            // The URL alone changes nothing: the session does.
            let untouched = try await Self.measurements(fixture, container)
            #expect(untouched["rems"] as? [String] == before["rems"] as? [String])
            let echoed = try await StreamingTests.run(exec.url, roles: ["error", "stdin", "stdout"], input: "measured")
            #expect(echoed["stdout"] == "measured")
            let after = try await Self.measurements(fixture, container)
            #expect((after["rems"] as? [String])?.first != (before["rems"] as? [String])?.first)
            let last = try #require((after["log"] as? [[String: Any]])?.last)
            #expect(last["what"] as? String == #"{"command":["cat"],"kind":"exec","stdin":true,"tty":false}"#)
            #expect(last["index"] as? Int == 1)
            #expect(try await Self.replay(fixture, after).0 == 0)
        }
    }
}
