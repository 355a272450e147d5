import CRIAPI
import Foundation
import GRPCTransport

struct Runtime {
    let name: String
    let process: Process
    let endpoint: String
    let directory: URL
}

func makeDirectory(_ name: String) throws -> URL {
    let url = URL(fileURLWithPath: "/tmp/fasco-bench-\(name)-\(getpid())")
    try? FileManager.default.removeItem(at: url)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A file for a runtime's stderr, or /dev/null.
func logHandle(_ log: URL?) -> FileHandle {
    guard let log, FileManager.default.createFile(atPath: log.path, contents: nil),
          let handle = try? FileHandle(forWritingTo: log) else { return FileHandle.nullDevice }
    return handle
}

func startFasco(config: String = "", log: URL? = nil) throws -> Runtime {
    let directory = try makeDirectory("fasco")
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fasco")
    let process = Process()
    process.executableURL = binary
    let socket = directory.appendingPathComponent("fasco.sock").path
    try config.write(to: directory.appendingPathComponent("empty.toml"), atomically: true, encoding: .utf8)
    process.arguments = ["serve", "--listen", "unix://" + socket, "--root", directory.appendingPathComponent("root").path,
                         "--state", directory.appendingPathComponent("state").path,
                         "--config", directory.appendingPathComponent("empty.toml").path, "--log-level", "warning"]
    process.standardError = logHandle(log)
    try process.run()
    return Runtime(name: "fasco", process: process, endpoint: "unix://" + socket, directory: directory)
}

func startContainerd(extraConfig: String = "", log: URL? = nil) throws -> Runtime? {
    guard let binary = ["/usr/bin/containerd", "/usr/local/bin/containerd"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
    }) else { return nil }
    let directory = try makeDirectory("containerd")
    let socket = directory.appendingPathComponent("containerd.sock").path
    let config = """
        version = 2
        root = "\(directory.path)/root"
        state = "\(directory.path)/state"
        [grpc]
          address = "\(socket)"
        [plugins."io.containerd.grpc.v1.cri"]
          restrict_oom_score_adj = true
        \(extraConfig)
        """
    let configURL = directory.appendingPathComponent("config.toml")
    try config.write(to: configURL, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["--config", configURL.path, "--log-level", "warn"]
    process.standardError = logHandle(log)
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return Runtime(name: "containerd", process: process, endpoint: "unix://" + socket, directory: directory)
}

func waitUntilAnswering(_ runtime: Runtime) async throws {
    let channel = GRPCChannel(target: runtime.endpoint)
    defer { channel.close() }
    let client = RuntimeServiceClient(channel: channel)
    for _ in 0..<300 {
        if (try? await client.version(timeout: .milliseconds(200))) != nil { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw GRPCStatus(.unavailable, "\(runtime.name) did not answer on \(runtime.endpoint)")
}

func stop(_ runtime: Runtime) {
    runtime.process.terminate()
    runtime.process.waitUntilExit()
    try? FileManager.default.removeItem(at: runtime.directory)
}

/// A Fasco with the kit's busybox imported, one pod and one `sleep` container in it (started
/// when `start`): what the attestation and fuzz benchmarks run against.
struct BenchPod {
    let channel: GRPCChannel
    let runtime: RuntimeServiceClient
    let podConfig: PodSandboxConfig
    let containerConfig: ContainerConfig
    let pod: String
    let container: String

    init(_ fasco: Runtime, name: String, start: Bool) async throws {
        channel = GRPCChannel(target: fasco.endpoint)
        runtime = RuntimeServiceClient(channel: channel)
        _ = try await channel.unary("/fasco.v1.Admin/ImportImages", request: Array(
            #"{"path": "/var/tmp/fasco-images/busybox", "name": "fasco.local/busybox"}"#.utf8))
        podConfig = PodSandboxConfig(
            metadata: PodSandboxMetadata(name: name, uid: name + "-uid", namespace: "bench"),
            hostname: name, logDirectory: fasco.directory.appendingPathComponent("logs").path)
        pod = try await runtime.runPodSandbox(RunPodSandboxRequest(config: podConfig), timeout: .seconds(60)).podSandboxID
        containerConfig = ContainerConfig(
            metadata: ContainerMetadata(name: "app"), image: ImageSpec(image: "fasco.local/busybox:latest"),
            command: ["/bin/sh", "-c", "sleep 100000"], logPath: "app.log")
        container = try await runtime.createContainer(
            CreateContainerRequest(podSandboxID: pod, config: containerConfig, sandboxConfig: podConfig), timeout: .seconds(60)).containerID
        if start { _ = try await runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60)) }
    }

    func remove() async {
        _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod), timeout: .seconds(60))
        channel.close()
    }
}
