import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("fasco serve, as a user runs it", .serialized)
struct DaemonTests {
    @Test("serves Version, Status and RuntimeConfig on its socket with mode 0660")
    func servesRuntimeInfo() async throws {
        let daemon = try DaemonProcess()
        try await withCleanUp({ await daemon.stop() }) {
            try await daemon.waitUntilServing()
            var info = stat()
            #expect(stat(daemon.socketPath, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)

            let channel = GRPCChannel(target: daemon.endpoint)
            defer { channel.close() }
            let client = RuntimeServiceClient(channel: channel)
            let version = try await client.version(VersionRequest(version: "v1"), timeout: .seconds(10))
            #expect(version.runtimeName == "fasco")
            #expect(version.runtimeAPIVersion == "v1")
            #expect(!version.runtimeVersion.isEmpty)

            let status = try await client.status(StatusRequest(verbose: true), timeout: .seconds(10))
            let types = status.status?.conditions.map(\.type)
            #expect(types == ["RuntimeReady", "NetworkReady"])
            let config = try #require(status.info["config"])
            let parsed = try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any]
            #expect((parsed?["grpc"] as? [String: Any])?["listen"] as? String == daemon.endpoint)
            #expect(status.info["runtime"]?.contains(#""confidential":false"#) == true)

            let runtimeConfig = try await client.runtimeConfig(timeout: .seconds(10))
            #expect(runtimeConfig.linux != nil)

            let unimplemented = await statusOf { _ = try await client.checkpointContainer(timeout: .seconds(10)) }
            #expect(unimplemented?.code == .unimplemented)
            let invalid = await statusOf { _ = try await client.runPodSandbox(timeout: .seconds(10)) }
            #expect(invalid?.code == .invalidArgument, "a pod without a config")
            #expect(daemon.stderr.contains("rpc=Version"), "one log line per RPC: \(daemon.stderr)")
        }
    }

    @Test("SIGTERM stops it cleanly and removes the socket")
    func sigterm() async throws {
        let daemon = try DaemonProcess()
        try await withCleanUp({ await daemon.stop() }) {
            try await daemon.waitUntilServing()
            daemon.signal(SIGTERM)
            let status = await daemon.waitForExit()
            #expect(status == 0, "stderr: \(daemon.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
            #expect(daemon.stderr.contains("stopped"))
        }
    }

    @Test("a second daemon on a live socket is refused and the first keeps serving")
    func secondDaemonRefused() async throws {
        let first = try DaemonProcess()
        try await withCleanUp({ await first.stop() }) {
            try await first.waitUntilServing()
            let second = try DaemonProcess(directory: first.directory)
            let status = await second.waitForExit()
            #expect(status != nil && status != 0)
            #expect(second.stderr.contains("already listening"), "\(second.stderr)")
            let channel = GRPCChannel(target: first.endpoint)
            defer { channel.close() }
            let version = try await RuntimeServiceClient(channel: channel).version(timeout: .seconds(10))
            #expect(version.runtimeName == "fasco")
        }
    }

    @Test("a stale socket from a killed daemon is replaced")
    func staleSocketReplaced() async throws {
        let first = try DaemonProcess()
        try await first.waitUntilServing()
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        #expect(FileManager.default.fileExists(atPath: first.socketPath), "kill -9 leaves the socket behind")
        let second = try DaemonProcess(directory: first.directory)
        try await withCleanUp({ await second.stop() }) {
            try await second.waitUntilServing()
            let channel = GRPCChannel(target: second.endpoint)
            defer { channel.close() }
            let version = try await RuntimeServiceClient(channel: channel).version(timeout: .seconds(10))
            #expect(version.runtimeName == "fasco")
        }
    }

    @Test("an unknown config key stops start-up with a message naming it and its line")
    func unknownConfigKey() async throws {
        let directory = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fasco.toml")
        try "log_level = \"info\"\n[grpc]\nlisten_address = \"unix:///tmp/x.sock\"\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try runCommand(DaemonProcess.binary.path, ["serve", "--config", file.path])
        #expect(status != 0)
        #expect(stderr.contains("grpc.listen_address"), "\(stderr)")
        #expect(stderr.contains(":3"), "line number: \(stderr)")
    }

    @Test("a bad config value stops start-up naming the key")
    func badConfigValue() async throws {
        let directory = try DaemonProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fasco.toml")
        try "[runtime]\noci_runtime = \"kata\"\n".write(to: file, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try runCommand(DaemonProcess.binary.path, ["serve", "--config", file.path])
        #expect(status != 0)
        #expect(stderr.contains("runtime.oci_runtime"), "\(stderr)")
        #expect(stderr.contains("kata"))
    }

    @Test("flags override the config file")
    func flagsOverrideFile() async throws {
        let directory = try DaemonProcess.makeDirectory()
        let file = directory.appendingPathComponent("fasco.toml")
        try """
        log_level = "warning"
        [grpc]
        listen = "unix://\(directory.path)/from-file.sock"
        """.write(to: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraArguments: ["--config", file.path], directory: directory)
        try await withCleanUp({ await daemon.stop() }) {
            try await daemon.waitUntilServing()
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/from-file.sock"))
            // The file says log_level = "warning"; the flag --log-level debug wins, so RPCs are logged.
            #expect(daemon.stderr.contains("rpc=Version"), "\(daemon.stderr)")
        }
    }

    @Test("an independent client (Python grpcio, stubs from proto/) calls Version and Status",
          .enabled(if: Prerequisites.runsPython, Prerequisites.noPython))
    func pythonClient() async throws {
        try #require(Prerequisites.hasPython, "CI must provide \(Prerequisites.python) (make py-deps)")
        let python = Prerequisites.python
        let daemon = try DaemonProcess()
        try await withCleanUp({ await daemon.stop() }) {
            try await daemon.waitUntilServing()
            let script = repositoryRoot.appendingPathComponent("Tests/FascoDaemonTests/python_client.py").path
            let (status, stdout, stderr) = try runCommand(
                python, [script, repositoryRoot.appendingPathComponent("proto").path, "unix:" + daemon.socketPath])
            #expect(status == 0, "\(stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
            #expect(answer?["runtime_name"] as? String == "fasco")
            #expect(answer?["runtime_api_version"] as? String == "v1")
            #expect((answer?["conditions"] as? [String: Bool])?.keys.sorted() == ["NetworkReady", "RuntimeReady"])
            #expect(answer?["info_keys"] as? [String] == ["attestation", "config", "runtime"])
            #expect(answer?["list_containers"] is NSNull, "ListContainers answers: \(String(describing: answer?["list_containers"]))")
        }
    }
}

