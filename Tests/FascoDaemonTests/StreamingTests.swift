import CRIAPI
@testable import CRIStreaming
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// Runs blocking client code on a thread of its own (never on a cooperative thread).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
    }
}

@Suite("CRI streaming against the real daemon", .serialized)
struct StreamingTests {
    static let remoteCommand = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]

    /// Runs an Exec URL: opens the streams `roles` names, sends `input` on stdin (then FIN),
    /// and returns what came back by role once the server closes.
    static func run(_ url: String, roles: [String], input: String? = nil, before: (@Sendable (StreamingClient, [String: UInt32]) throws -> Void)? = nil)
        async throws -> [String: String] {
        try await onThread {
            let client = try StreamingClient(url: url, protocols: remoteCommand)
            var streams: [String: UInt32] = [:]
            for role in roles { streams[role] = try client.open([("streamType", role)]) }
            try before?(client, streams)
            if let input, let stdin = streams["stdin"] { try client.send(input, on: stdin, finished: true) }
            let received = try client.receive(timeout: .seconds(60))
            var result: [String: String] = [:]
            for (role, id) in streams { result[role] = received.text(id) }
            result["closed"] = received.closed ? "yes" : "no"
            return result
        }
    }

    @Test("Exec streams stdout, stderr and stdin, reports the exit code, and gives a terminal with its size", arguments: ["crun", "runc"])
    func exec(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let pod = try await fixture.runPod("exec")
            let id = try await fixture.runContainer(pod, "app", script: "while true; do sleep 1; done")
            _ = try await fixture.waitFor(id, state: .running)

            let failing = try await fixture.runtime.exec(ExecRequest(
                containerID: id, cmd: ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], stdout: true, stderr: true))
            let outputs = try await Self.run(failing.url, roles: ["error", "stdout", "stderr"])
            #expect(outputs["stdout"] == "out\n")
            #expect(outputs["stderr"] == "err\n")
            #expect(outputs["error"]?.contains(#""reason":"NonZeroExitCode""#) == true, "\(outputs)")
            #expect(outputs["error"]?.contains(#"{"message":"3","reason":"ExitCode"}"#) == true, "\(outputs)")
            #expect(outputs["closed"] == "yes")

            let cat = try await fixture.runtime.exec(ExecRequest(containerID: id, cmd: ["cat"], stdin: true, stdout: true))
            let echoed = try await Self.run(cat.url, roles: ["error", "stdin", "stdout"], input: "hello\nworld")
            #expect(echoed["stdout"] == "hello\nworld")
            #expect(echoed["error"] == #"{"metadata":{},"status":"Success"}"#)

            // A terminal: sized by the client, echoing input, one stream for all output.
            let tty = try await fixture.runtime.exec(ExecRequest(
                containerID: id, cmd: ["/bin/sh", "-c", "read line; stty size; echo \"got $line\"; exit 4"], tty: true, stdin: true, stdout: true))
            let terminal = try await Self.run(tty.url, roles: ["error", "stdin", "stdout", "resize"]) { client, streams in
                guard let resize = streams["resize"], let stdin = streams["stdin"] else { return }
                try client.send(#"{"Width":123,"Height":45}"# + "\n", on: resize)
                try client.receive(timeout: .seconds(30)) { $0.replied.count == 4 }
                Thread.sleep(forTimeInterval: 1)
                try client.send(#"{"Width":123,"Height":45}"# + "\n", on: resize)
                try client.send("hi\r", on: stdin)
            }
            #expect(terminal["stdout"]?.contains("45 123") == true, "\(terminal)")
            #expect(terminal["stdout"]?.contains("got hi") == true, "\(terminal)")
            #expect(terminal["error"]?.contains(#"{"message":"4","reason":"ExitCode"}"#) == true, "\(terminal)")

            // The command runs as the container's process does (its environment, its namespaces).
            let env = try await fixture.runtime.exec(ExecRequest(containerID: id, cmd: ["/bin/sh", "-c", "hostname; echo $PATH"], stdout: true))
            let seen = try await Self.run(env.url, roles: ["error", "stdout"])
            #expect(seen["stdout"]?.hasPrefix("exec\n") == true, "\(seen)")
        }
    }

    @Test("Attach gives a container's own stdin and output; stdin_once ends its input with the first client's", arguments: ["crun", "runc"])
    func attach(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let pod = try await fixture.runPod("attach")
            func shell(_ name: String, once: Bool) async throws -> String {
                var config = fixture.containerConfig(name, script: "")
                config.command = ["/bin/sh"]
                config.stdin = true
                config.stdinOnce = once
                let id = try await fixture.createContainer(pod, config)
                _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id))
                _ = try await fixture.waitFor(id, state: .running)
                return id
            }
            // Kept open: each client's input reaches the same shell; leaving does not end it.
            let open = try await shell("open", once: false)
            for word in ["one", "two"] {
                let url = try await fixture.runtime.attach(AttachRequest(containerID: open, stdin: true, stdout: true, stderr: true)).url
                let seen = try await onThread { () -> String in
                    let client = try StreamingClient(url: url, protocols: Self.remoteCommand)
                    try client.open([("streamType", "error")])
                    let stdin = try client.open([("streamType", "stdin")])
                    let stdout = try client.open([("streamType", "stdout")])
                    try client.open([("streamType", "stderr")])
                    try client.send("echo \(word)\n", on: stdin)
                    return try client.receive(timeout: .seconds(30)) { $0.text(stdout) == "\(word)\n" }.text(stdout)
                }
                #expect(seen == "\(word)\n")
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await fixture.status(open).status?.state == .running)
            // The log still gets everything.
            let lines = try await fixture.waitForLog(fixture.logDirectory + "/attach/open_0.log") { $0.count >= 2 }
            #expect(lines == ["stdout one", "stdout two"])

            // Once: the first client's end of input is the shell's; the attach ends with it, successfully.
            let once = try await shell("once", once: true)
            let url = try await fixture.runtime.attach(AttachRequest(containerID: once, stdin: true, stdout: true, stderr: true)).url
            let outputs = try await Self.run(url, roles: ["error", "stdin", "stdout", "stderr"], input: "echo hello; echo oops >&2\n")
            #expect(outputs["stdout"] == "hello\n")
            #expect(outputs["stderr"] == "oops\n")
            #expect(outputs["error"] == #"{"metadata":{},"status":"Success"}"#, "\(outputs)")
            let exited = try await fixture.waitFor(once, state: .exited)
            #expect(exited.exitCode == 0)
            let late = await statusOf { _ = try await fixture.runtime.attach(AttachRequest(containerID: once, stdout: true)) }
            #expect(late?.code == .failedPrecondition)
        }
    }

    @Test("A container with a terminal: its output is logged as stdout; Attach gives its terminal (input, output, size)",
          arguments: ["crun", "runc"])
    func attachTerminal(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let pod = try await fixture.runPod("tty")
            var config = fixture.containerConfig("term", script: "tty; read line; stty size; echo \"got $line\"; exit 5")
            config.tty = true
            config.stdin = true
            config.stdinOnce = true
            let id = try await fixture.createContainer(pod, config)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: id))
            let log = fixture.logDirectory + "/tty/term_0.log"
            // Its first line, before anyone attached, is in the log; a terminal ends lines with \r\n.
            let before = try await fixture.waitForLog(log) { !$0.isEmpty }
            #expect(before.first?.hasPrefix("stdout /dev/pts/") == true, "\(before)")
            #expect(before.first?.hasSuffix("\r") == true, "\(before)")

            let url = try await fixture.runtime.attach(AttachRequest(containerID: id, stdin: true, tty: true, stdout: true)).url
            let outputs = try await Self.run(url, roles: ["error", "stdin", "stdout", "resize"]) { client, streams in
                guard let resize = streams["resize"], let stdin = streams["stdin"] else { return }
                try client.send(#"{"Width":123,"Height":45}"# + "\n", on: resize)
                Thread.sleep(forTimeInterval: 1)
                try client.send("hi\r", on: stdin)
            }
            #expect(outputs["stdout"]?.contains("45 123") == true, "\(outputs)")
            #expect(outputs["stdout"]?.contains("got hi") == true, "\(outputs)")
            #expect(outputs["error"] == #"{"metadata":{},"status":"Success"}"#, "\(outputs)")
            let exited = try await fixture.waitFor(id, state: .exited)
            #expect(exited.exitCode == 5)
            let lines = fixture.logLines(log)
            #expect(lines.allSatisfy { $0.hasPrefix("stdout ") }, "\(lines)")
            #expect(lines.contains("stdout got hi\r"), "\(lines)")

            // A container without a terminal has no size to set: the attach still works.
            let plain = try await fixture.runContainer(pod, "plain", script: "sleep 2; echo done")
            let plainURL = try await fixture.runtime.attach(AttachRequest(containerID: plain, tty: true, stdout: true)).url
            let plainOutputs = try await Self.run(plainURL, roles: ["error", "stdout", "resize"]) { client, streams in
                if let resize = streams["resize"] { try client.send(#"{"Width":80,"Height":24}"# + "\n", on: resize) }
            }
            #expect(plainOutputs["stdout"] == "done\n", "\(plainOutputs)")
        }
    }

    @Test("Exec validates its request; URLs are one-time")
    func execValidation() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("valid")
            let id = try await fixture.runContainer(pod, "app", script: "while true; do sleep 1; done")
            _ = try await fixture.waitFor(id, state: .running)
            let runtime = fixture.runtime
            let both = await statusOf { _ = try await runtime.exec(ExecRequest(containerID: id, cmd: ["sh"], tty: true, stdout: true, stderr: true)) }
            #expect(both?.code == .invalidArgument)
            let none = await statusOf { _ = try await runtime.exec(ExecRequest(containerID: id, cmd: ["sh"])) }
            #expect(none?.code == .invalidArgument)
            let empty = await statusOf { _ = try await runtime.exec(ExecRequest(containerID: id, cmd: [], stdout: true)) }
            #expect(empty?.code == .invalidArgument)
            let unknown = await statusOf { _ = try await runtime.exec(ExecRequest(containerID: "nope", cmd: ["sh"], stdout: true)) }
            #expect(unknown?.code == .notFound)
            let noPod = await statusOf { _ = try await runtime.portForward(PortForwardRequest(podSandboxID: "nope")) }
            #expect(noPod?.code == .notFound)
            let badPort = await statusOf { _ = try await runtime.portForward(PortForwardRequest(podSandboxID: pod.id, port: [70000])) }
            #expect(badPort?.code == .invalidArgument)

            let url = try await runtime.exec(ExecRequest(containerID: id, cmd: ["true"], stdout: true)).url
            _ = try await Self.run(url, roles: ["error", "stdout"])
            let again = try await onThread { () -> String in
                do {
                    _ = try StreamingClient(url: url, protocols: Self.remoteCommand)
                    return "upgraded"
                } catch {
                    return String(describing: error).components(separatedBy: "\r\n").first ?? ""
                }
            }
            #expect(again == "HTTP/1.1 404 Not Found")

            _ = try await runtime.stopContainer(StopContainerRequest(containerID: id, timeout: 0))
            let stopped = await statusOf { _ = try await runtime.exec(ExecRequest(containerID: id, cmd: ["sh"], stdout: true)) }
            #expect(stopped?.code == .failedPrecondition)
        }
    }

    /// Forwards one connection to `port`: sends `text`, half-closes, returns (data, error) once both streams end.
    static func forward(_ url: String, port: Int, text: String) async throws -> (data: String, error: String) {
        try await onThread {
            let client = try StreamingClient(url: url, protocols: ["portforward.k8s.io"])
            let error = try client.open([("streamType", "error"), ("port", "\(port)"), ("requestID", "0")], finished: true)
            let data = try client.open([("streamType", "data"), ("port", "\(port)"), ("requestID", "0")])
            try client.send(text, on: data, finished: true)
            let received = try client.receive(timeout: .seconds(30)) { $0.finished.isSuperset(of: [error, data]) }
            return (received.text(data), received.text(error))
        }
    }

    @Test("PortForward reaches the pod's own loopback, and the host's for a host-network pod")
    func portForward() async throws {
        try await PodFixture.with { fixture in
            // A pod-network echo server on 8080: only reachable inside the pod's namespace.
            let pod = try await fixture.runPod("forward")
            _ = try await fixture.runContainer(pod, "echo", script: "exec nc -ll -p 8080 -e cat")
            var forwarded = ("", "")
            for _ in 0..<50 {
                let url = try await fixture.runtime.portForward(PortForwardRequest(podSandboxID: pod.id, port: [8080])).url
                forwarded = try await Self.forward(url, port: 8080, text: "ping\n")
                if forwarded.0 == "ping\n" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(forwarded.0 == "ping\n", "\(forwarded)")
            #expect(forwarded.1 == "")

            // A closed port: the error stream says so.
            let closedURL = try await fixture.runtime.portForward(PortForwardRequest(podSandboxID: pod.id)).url
            let closed = try await Self.forward(closedURL, port: 8081, text: "x")
            #expect(closed.1.contains("error forwarding port 8081"), "\(closed)")
            // A port the request did not name.
            let narrowURL = try await fixture.runtime.portForward(PortForwardRequest(podSandboxID: pod.id, port: [8080])).url
            let narrow = try await Self.forward(narrowURL, port: 22, text: "x")
            #expect(narrow.1.contains("was not requested"), "\(narrow)")

            // A host-network pod: its server listens on the host's loopback.
            let port = Int(try freeLoopbackPort())
            let host = try await fixture.runPod("hostnet", hostNetwork: true)
            _ = try await fixture.runContainer(host, "echo", script: "exec nc -ll -p \(port) -e cat")
            var hostForwarded = ("", "")
            for _ in 0..<50 {
                let url = try await fixture.runtime.portForward(PortForwardRequest(podSandboxID: host.id)).url
                hostForwarded = try await Self.forward(url, port: port, text: "pong\n")
                if hostForwarded.0 == "pong\n" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(hostForwarded.0 == "pong\n", "\(hostForwarded)")
        }
    }

    @Test("garbage, slow clients, huge heads and broken frames on the streaming port never hurt the daemon")
    func hostileInput() async throws {
        try await PodFixture.with { fixture in
            let pod = try await fixture.runPod("hostile")
            let id = try await fixture.runContainer(pod, "app", script: "while true; do sleep 1; done")
            _ = try await fixture.waitFor(id, state: .running)
            let url = try await fixture.runtime.exec(ExecRequest(containerID: id, cmd: ["true"], stdout: true)).url
            let base = String(url.prefix { $0 != "/" } + "//") + url.dropFirst("http://".count).prefix { $0 != "/" }
            let hostPort = base.dropFirst("http://".count)
            let port = try #require(UInt16(hostPort.split(separator: ":").last ?? ""))
            try await onThread {
                var idle: [Int32] = []
                // A slow client holding a half-sent head open while the others come and go.
                let slow = try StreamingClient.connect(host: "127.0.0.1", port: port)
                _ = SocketIO.writeAll(slow, Array("POST /exec/".utf8), deadline: ContinuousClock.now + .seconds(1))
                idle.append(slow)
                for bytes in [
                    Array(repeating: UInt8(0xfe), count: 100_000),
                    Array("GET /exec/\(String(repeating: "x", count: 100_000)) HTTP/1.1\r\n\r\n".utf8),
                    Array("POST /portforward/abc HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n".utf8),
                    [0x80, 3, 0, 1, 0, 0xff, 0xff, 0xff] + Array(repeating: 0, count: 1000),
                ] {
                    let fd = try StreamingClient.connect(host: "127.0.0.1", port: port)
                    _ = SocketIO.writeAll(fd, bytes, deadline: ContinuousClock.now + .seconds(5))
                    close(fd)
                }
                for fd in idle { close(fd) }
            }
            // Broken frames after a real upgrade, then a hang-up mid-frame.
            for wire in [[0, 0, 0, 1, 0, 0xff, 0xff, 0xff], [0x80, 3, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9], [0x80, 3, 0, 1, 0, 0, 0, 40, 0]] as [[UInt8]] {
                let brokenURL = try await fixture.runtime.exec(ExecRequest(containerID: id, cmd: ["sleep", "100"], stdout: true)).url
                try await onThread {
                    let client = try StreamingClient(url: brokenURL, protocols: Self.remoteCommand)
                    try client.open([("streamType", "error")])
                    try client.open([("streamType", "stdout")])
                    try client.writeRaw(wire)
                    if wire.count > 9 { try client.receive(timeout: .seconds(10)) }
                }
            }
            // Still serving, and the abandoned `sleep 100`s were killed with their sessions.
            let after = try await fixture.runtime.exec(ExecRequest(containerID: id, cmd: ["/bin/sh", "-c", "sleep 1; ps -o comm,args"], stdout: true)).url
            let seen = try await Self.run(after, roles: ["error", "stdout"])
            #expect(seen["error"] == #"{"metadata":{},"status":"Success"}"#, "\(seen)")
            #expect(seen["stdout"]?.contains("sleep 100") == false, "\(seen)")
            #expect(fixture.daemon.process.isRunning)
        }
    }
}
