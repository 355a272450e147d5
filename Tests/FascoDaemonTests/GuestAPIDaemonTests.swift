import CRIAPI
import Foundation
import GRPCTransport
import Testing

/// The guest API (CoCo's api-server-rest) in real pods on a real daemon: called from inside
/// containers with busybox's wget (TCP 127.0.0.1:8006 in the pod's network namespace) and with a
/// small static client (Tests/attestation/guest_client.c, for the unix socket and raw requests),
/// its tokens checked by the independent verifier and its event log by the independent model.
@Suite(.serialized) struct GuestAPIDaemonTests {
    static let source = repositoryRoot.appendingPathComponent("Tests/attestation/guest_client.c").path

    /// Builds the static client into the fixture's directory; containers mount that directory at /guest-client.
    static func buildClient(_ fixture: PodFixture) async throws -> String {
        let directory = fixture.directory.appendingPathComponent("guest-client")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (status, output, errors) = try await runCommandAsync(
            "/usr/bin/gcc", ["-static", "-O2", "-o", directory.appendingPathComponent("guest_client").path, source])
        try #require(status == 0, "cannot build the guest client: \(output)\(errors)")
        return directory.path
    }

    /// A running container `name` of `pod` whose command is `script`, with the client mounted.
    static func container(_ fixture: PodFixture, _ pod: (id: String, config: PodSandboxConfig), _ name: String,
                          script: String = "sleep 1000", client: String) async throws -> String {
        var config = fixture.containerConfig(name, script: script)
        config.mounts = [Mount(containerPath: "/guest-client", hostPath: client, readonly: true)]
        let id = try await fixture.createContainer(pod, config)
        _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id), timeout: .seconds(60))
        return id
    }

    static func exec(_ fixture: PodFixture, _ container: String, _ command: [String]) async throws -> (Int32, String, [UInt8]) {
        let result = try await fixture.runtime.execSync(ExecSyncRequest(containerID: container, cmd: command, timeout: 20), timeout: .seconds(30))
        return (result.exitCode, String(decoding: result.stderr, as: UTF8.self), result.stdout)
    }

    /// A raw request from inside `container` with the static client: (status code, body).
    static func request(_ fixture: PodFixture, _ container: String, _ address: String, _ method: String, _ target: String,
                        body: String? = nil) async throws -> (Int, String) {
        let (code, errors, output) = try await exec(
            fixture, container, ["/guest-client/guest_client", address, method, target] + (body.map { [$0] } ?? []))
        try #require(code == 0, "guest_client failed (\(code)): \(errors)")
        let text = String(decoding: output, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let bodyText = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, bodyText)
    }

    /// The CBOR token in an evidence document `{"token": [bytes]}`.
    static func token(_ json: String) throws -> Data {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "not JSON: \(json.prefix(300))")
        let bytes = try #require(object["token"] as? [Int], "no token array in \(json.prefix(300))")
        return Data(bytes.map { UInt8($0) })
    }

    static func hex(_ text: String) -> String { Array(text.utf8).map { String(format: "%02x", $0) }.joined() }

    /// Verifies an evidence document for `runtimeData` and checks its RIM is `container`'s.
    static func expectEvidence(_ fixture: PodFixture, _ json: String, runtimeData: String, of container: String,
                               sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let token = try token(json)
        let (verified, report) = try await AttestationTests.verify(fixture, token: token, challenge: hex(runtimeData))
        #expect(verified == 0, "the token verifies with the runtime data as its challenge: \(report)", sourceLocation: sourceLocation)
        #expect(report["format"] as? String == "legacy", sourceLocation: sourceLocation)
        let measured = try await AttestationTests.measurements(fixture, container)
        let realm = report["realm"] as? [String: Any]
        #expect(realm?["rim"] as? String == measured["rim"] as? String, "the token is the calling container's realm's",
                sourceLocation: sourceLocation)
    }

    /// The pod's guest API socket on the host.
    static func socketPath(_ fixture: PodFixture, pod: String) -> String {
        fixture.directory.appendingPathComponent("state/realms/\(pod.prefix(24))/guest/api.sock").path
    }

    @Test("wget in two containers of a pod gets each its own realm's evidence over 127.0.0.1:8006, which verifies")
    func evidenceOverTCP() async throws {
        try AttestationTests().requireTools()
        try await PodFixture.with { fixture in
            let client = try await Self.buildClient(fixture)
            let pod = try await fixture.runPod("guest-tcp")
            // The workload's own process asks, as a CoCo workload does at start.
            let a = try await Self.container(
                fixture, pod, "a", script: "wget -qO /tmp/evidence 'http://127.0.0.1:8006/aa/evidence?runtime_data=from-a'; echo fetched $?; sleep 1000",
                client: client)
            let b = try await Self.container(fixture, pod, "b", script: "sleep 1001", client: client)
            let log = fixture.logDirectory + "/guest-tcp/a_0.log"
            let lines = try await fixture.waitForLog(log) { $0.contains { $0.contains("fetched") } }
            #expect(lines.contains("stdout fetched 0"), "\(lines)")
            let (_, _, fromA) = try await Self.exec(fixture, a, ["cat", "/tmp/evidence"])
            try await Self.expectEvidence(fixture, String(decoding: fromA, as: UTF8.self), runtimeData: "from-a", of: a)

            // Container b, through ExecSync (a process in b's realm), gets b's realm.
            let (code, errors, fromB) = try await Self.exec(
                fixture, b, ["wget", "-qO-", "http://127.0.0.1:8006/aa/evidence?runtime_data=from-b"])
            try #require(code == 0, "wget failed: \(errors)")
            try await Self.expectEvidence(fixture, String(decoding: fromB, as: UTF8.self), runtimeData: "from-b", of: b)
            let rimA = try await AttestationTests.measurements(fixture, a)["rim"] as? String
            let rimB = try await AttestationTests.measurements(fixture, b)["rim"] as? String
            #expect(rimA != rimB)

            // base64 runtime data (URL-safe, unpadded): 64 bytes is the most.
            let bytes = (0..<64).map { UInt8($0 * 3 % 256) }
            let encoded = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let (status, body) = try await Self.request(fixture, b, "tcp:8006", "GET", "/aa/evidence?runtime_data=\(encoded)&encoding=base64")
            #expect(status == 200)
            let (verified, report) = try await AttestationTests.verify(
                fixture, token: try Self.token(body), challenge: bytes.map { String(format: "%02x", $0) }.joined())
            #expect(verified == 0, "\(report)")

            // Bad requests are 400 with a reason; the daemon keeps serving.
            for target in ["/aa/evidence?runtime_data=x&encoding=hex", "/aa/evidence?runtime_data=" + String(repeating: "y", count: 65),
                           "/aa/evidence", "/aa/evidence?runtime_data=A&encoding=base64"] {
                let (status, body) = try await Self.request(fixture, b, "tcp:8006", "GET", target)
                #expect(status == 400 && body.contains("BAD REQUEST"), "\(target): \(status) \(body)")
            }
            let (info, infoBody) = try await Self.request(fixture, a, "tcp:8006", "GET", "/info")
            #expect(info == 200 && infoBody.contains("\"tee\":\"cca\"") && infoBody.contains("not hardware-backed"), "\(infoBody)")
            #expect(try await Self.request(fixture, a, "tcp:8006", "GET", "/aa/token?token_type=kbs") == (404, "Attestation Feature Not Enabled"))
            #expect(try await Self.request(fixture, a, "tcp:8006", "GET", "/cdh/resource/default/key/1") == (404, "Resource Feature Not Enabled"))
            #expect(try await Self.request(fixture, a, "tcp:8006", "GET", "/nope") == (404, "URL NOT FOUND"))
            #expect(try await Self.request(fixture, a, "tcp:8006", "DELETE", "/info").0 == 405)

            // A process in the pod's network namespace that is no container of the pod (the host's
            // client entered it with nsenter) is refused: the caller is who holds the socket.
            let netns = fixture.directory.appendingPathComponent("state/realms/\(pod.id.prefix(24))/netns").path
            let (entered, output, enteredErrors) = try await runCommandAsync(
                "/usr/bin/nsenter", ["--net=" + netns, client + "/guest_client", "tcp:8006", "GET", "/info"])
            #expect(entered == 0 && output.hasPrefix("HTTP/1.1 403"), "\(output)\(enteredErrors)")
        }
    }

    @Test("the unix socket in a host-network pod: evidence, AAEL events on REM 2 that replay, 400s, a host caller refused, a restart keeps it serving")
    func unixSocketEventsAndRestart() async throws {
        try AttestationTests().requireTools()
        let fixture = try await PodFixture()
        var restarted: PodFixture?
        do {
            let client = try await Self.buildClient(fixture)
            let pod = try await fixture.runPod("guest-unix", hostNetwork: true)
            let app = try await Self.container(fixture, pod, "app", client: client)
            let socket = "unix:/run/fasco/guest/api.sock"
            // And a pod with its own network namespace, whose TCP listener must come back too.
            let networked = try await fixture.runPod("guest-net")
            let other = try await Self.container(fixture, networked, "other", client: client)

            let (status, body) = try await Self.request(fixture, app, socket, "GET", "/aa/evidence?runtime_data=over-unix")
            #expect(status == 200)
            try await Self.expectEvidence(fixture, body, runtimeData: "over-unix", of: app)

            // An AAEL event extends REM 2 with H(its text), named in the log, which still replays.
            let before = try await AttestationTests.measurements(fixture, app)
            let event = #"{"domain":"github.com/fasco","operation":"load-model","content":"model sha256:abc def"}"#
            #expect(try await Self.request(fixture, app, socket, "POST", "/aa/aael", body: event) == (200, #"{"success":"true"}"#))
            let after = try await AttestationTests.measurements(fixture, app)
            let remsBefore = try #require(before["rems"] as? [String])
            let rems = try #require(after["rems"] as? [String])
            #expect(rems[1] != remsBefore[1], "REM 2 changed")
            // (REM 1 grows with the ExecSync that ran the client; REMs 3 and 4 stay.)
            #expect(rems[2] == remsBefore[2] && rems[3] == remsBefore[3], "REMs 3 and 4 are untouched")
            let last = try #require((after["log"] as? [[String: Any]])?.last)
            #expect(last["what"] as? String == "github.com/fasco load-model model sha256:abc def")
            #expect(try await AttestationTests.replay(fixture, after).0 == 0, "the log replays")
            // Bad events: 400 with a reason, nothing measured.
            for bad in ["{", #"{"domain":"a b","operation":"o","content":"c"}"#, #"{"domain":"d","operation":"o"}"#,
                        #"{"domain":"d","operation":"o","content":"1\n2"}"#] {
                let (code, text) = try await Self.request(fixture, app, socket, "POST", "/aa/aael", body: bad)
                #expect(code == 400 && text.contains("BAD REQUEST"), "\(bad): \(code) \(text)")
            }
            #expect((try await AttestationTests.measurements(fixture, app)["rems"] as? [String])?[1] == rems[1], "bad events measure nothing")
            #expect(try await Self.request(fixture, app, socket, "GET", "/aa/aael").0 == 405)

            // The host (the test process, not a container of the pod) is refused.
            let host = Self.socketPath(fixture, pod: pod.id)
            #expect(FileManager.default.fileExists(atPath: host))
            let (hostStatus, hostOutput, _) = try await runCommandAsync(
                "/bin/sh", ["-c", "exec \"$0\" unix:\"$1\" GET /info", client + "/guest_client", host])
            #expect(hostStatus == 0 && hostOutput.hasPrefix("HTTP/1.1 403"), "\(hostOutput)")

            // Requests are bounded before anything else: a huge head, a huge body, a chunked body, a
            // client that sends nothing (closed with 408 after the 5 s request timeout), a 17th
            // connection while 16 are open (503).
            let probe = """
                import socket, sys, time
                def ask(data, wait=False):
                    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(15)
                    start = time.time()
                    # A server that turns the connection away (503) may close it before the
                    # request is written: its answer is still there to read.
                    try:
                        if data: s.sendall(data)
                    except (BrokenPipeError, ConnectionResetError): pass
                    out = b""
                    while True:
                        try: chunk = s.recv(65536)
                        except (ConnectionResetError, BrokenPipeError): break
                        if not chunk: break
                        out += chunk
                    return out.split(b"\\r\\n")[0].decode(), round(time.time() - start)
                print(ask(b"GET /info HTTP/1.1\\r\\nX-Big: " + b"a" * 20000 + b"\\r\\n\\r\\n")[0])
                print(ask(b"POST /aa/aael HTTP/1.1\\r\\nContent-Length: 10000000\\r\\n\\r\\n")[0])
                print(ask(b"POST /aa/aael HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")[0])
                print(ask(b"\\x00\\xff garbage\\r\\n\\r\\n")[0])
                print("%s %d" % ask(b""))
                idle = []
                for _ in range(16):
                    c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); idle.append(c)
                time.sleep(0.3)
                print(ask(b"GET /info HTTP/1.1\\r\\n\\r\\n")[0])
                for c in idle: c.close()
                """
            let (probed, probeOutput, probeErrors) = try await runCommandAsync("/usr/bin/python3", ["-c", probe, host])
            #expect(probed == 0, "\(probeErrors)")
            let answers = probeOutput.split(separator: "\n").map(String.init)
            #expect(answers.count == 6 && answers[5].hasPrefix("HTTP/1.1 503"), "at most 16 connections per pod: \(answers)")
            #expect(answers.count >= 5 && answers[0].hasPrefix("HTTP/1.1 431") && answers[1].hasPrefix("HTTP/1.1 413")
                    && answers[2].hasPrefix("HTTP/1.1 400") && answers[3].hasPrefix("HTTP/1.1 400")
                    && answers[4].hasPrefix("HTTP/1.1 408"), "\(answers) \(probeErrors)")
            #expect(try await Self.request(fixture, app, socket, "GET", "/info").0 == 200, "still serving")

            let beforeRestart = try #require(try await AttestationTests.measurements(fixture, app)["rems"] as? [String])
            // A restart: the socket is made again in the same directory, the event log kept.
            fixture.daemon.signal(SIGKILL)
            _ = await fixture.daemon.waitForExit()
            fixture.channel.close()
            let second = try await PodFixture(directory: fixture.directory, importImage: false)
            restarted = second
            #expect(try await AttestationTests.measurements(second, app)["rems"] as? [String] == beforeRestart, "nothing measured is lost")
            let (again, againBody) = try await Self.request(second, app, socket, "GET", "/aa/evidence?runtime_data=again")
            #expect(again == 200)
            try await Self.expectEvidence(second, againBody, runtimeData: "again", of: app)
            let (fetched, fetchErrors, overTCP) = try await Self.exec(
                second, other, ["wget", "-qO-", "http://127.0.0.1:8006/aa/evidence?runtime_data=tcp-again"])
            #expect(fetched == 0, "\(fetchErrors)")
            try await Self.expectEvidence(second, String(decoding: overTCP, as: UTF8.self), runtimeData: "tcp-again", of: other)

            // Stopping the pod takes its guest API down.
            _ = try await second.runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            #expect(!FileManager.default.fileExists(atPath: host), "the socket goes with the pod")
        } catch {
            Issue.record("\(error)\ndaemon log: \((restarted ?? fixture).daemon.stderr.suffix(4000))")
        }
        await (restarted ?? fixture).tearDown()
    }

    @Test("a pod with its own user namespace: both listeners, the caller still identified")
    func userNamespacePod() async throws {
        try AttestationTests().requireTools()
        try await PodFixture.with { fixture in
            let client = try await Self.buildClient(fixture)
            let config = UserNamespaceTests.userNamespacePod(fixture, "guest-userns")
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (id: response.podSandboxID, config: config)
            var container = fixture.containerConfig("app", script: "sleep 1000")
            container.linux = LinuxContainerConfig(securityContext: LinuxContainerSecurityContext(
                namespaceOptions: config.linux?.securityContext?.namespaceOptions))
            container.mounts = [Mount(containerPath: "/guest-client", hostPath: client, readonly: true)]
            let app = try await fixture.createContainer(pod, container)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: app), timeout: .seconds(60))
            let (code, errors, overTCP) = try await Self.exec(
                fixture, app, ["wget", "-qO-", "http://127.0.0.1:8006/aa/evidence?runtime_data=userns"])
            #expect(code == 0, "\(errors)")
            try await Self.expectEvidence(fixture, String(decoding: overTCP, as: UTF8.self), runtimeData: "userns", of: app)
            let (status, body) = try await Self.request(fixture, app, "unix:/run/fasco/guest/api.sock", "GET", "/aa/evidence?runtime_data=userns2")
            #expect(status == 200)
            try await Self.expectEvidence(fixture, body, runtimeData: "userns2", of: app)
        }
    }

    @Test("the io.fasco.guest-api: off annotation: no mount, no listener")
    func annotationTurnsItOff() async throws {
        try await PodFixture.with { fixture in
            var config = fixture.podConfig("guest-off")
            config.annotations = ["io.fasco.guest-api": "off"]
            let response = try await fixture.runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60))
            let pod = (response.podSandboxID, config)
            let id = try await fixture.runContainer(pod, "app", script: "sleep 1000")
            let (listed, _, _) = try await Self.exec(fixture, id, ["ls", "/run/fasco/guest"])
            #expect(listed != 0, "no guest directory in the container")
            let (fetched, errors, _) = try await Self.exec(fixture, id, ["wget", "-qO-", "http://127.0.0.1:8006/info"])
            #expect(fetched != 0, "nothing listens on 8006: \(errors)")
            #expect(!FileManager.default.fileExists(atPath: Self.socketPath(fixture, pod: pod.0)))

            // The same pod without the annotation has both.
            let on = try await fixture.runPod("guest-on")
            let other = try await fixture.runContainer(on, "app", script: "sleep 1000")
            let (seen, _, listing) = try await Self.exec(fixture, other, ["ls", "/run/fasco/guest"])
            #expect(seen == 0 && String(decoding: listing, as: UTF8.self).contains("api.sock"))
            let (ok, _, info) = try await Self.exec(fixture, other, ["wget", "-qO-", "http://127.0.0.1:8006/info"])
            #expect(ok == 0 && String(decoding: info, as: UTF8.self).contains("cca"))
        }
    }
}
