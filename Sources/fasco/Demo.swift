import ArgumentParser
import CRIAPI
import FascoCore
import GRPCTransport
#if canImport(Glibc)
import Glibc
#endif

/// `fasco demo`: one pod with one container on a running Fasco, through CRI like kubelet:
/// run the pod, create and start a container that prints a greeting, wait for it, show its
/// log and status, then stop and remove everything.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pod with one container that prints a line, show its log and status, and tear it down.")

    @Option(help: "CRI endpoint of the Fasco daemon.")
    var endpoint = "unix:///run/fasco/fasco.sock"

    @Option(help: "Image of the container (it must be pulled or imported already).")
    var image = "fasco.local/busybox:latest"

    @Option(help: "Directory for the pod's container logs.")
    var logDirectory = "/var/log/fasco-demo"

    func run() async throws {
        let channel = GRPCChannel(target: endpoint)
        defer { channel.close() }
        let runtime = RuntimeServiceClient(channel: channel)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let podConfig = PodSandboxConfig(
            metadata: PodSandboxMetadata(name: "demo-\(suffix)", uid: "demo-\(suffix)", namespace: "default"),
            hostname: "demo", logDirectory: logDirectory + "/demo-\(suffix)", labels: ["app": "fasco-demo"],
            linux: LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(
                namespaceOptions: NamespaceOption(network: .pod, pid: .container, ipc: .pod))))
        let pod = try await runtime.runPodSandbox(RunPodSandboxRequest(config: podConfig), timeout: .seconds(60)).podSandboxID
        print("pod        \(pod)  (a System Realm)")
        do {
            let config = ContainerConfig(
                metadata: ContainerMetadata(name: "hello"), image: ImageSpec(image: image),
                command: ["/bin/sh", "-c", "echo \"hello from a Container Realm: $(hostname), uid $(id -u), pid $$\""],
                logPath: "hello.log")
            let container = try await runtime.createContainer(
                CreateContainerRequest(podSandboxID: pod, config: config, sandboxConfig: podConfig), timeout: .seconds(60)).containerID
            print("container  \(container)  (a Container Realm)")
            _ = try await runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60))
            var status = ContainerStatus()
            for _ in 0..<600 {
                status = try await runtime.containerStatus(ContainerStatusRequest(containerID: container)).status ?? ContainerStatus()
                if status.state == .exited { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            print("state      \(status.state) exit code \(status.exitCode) reason \(status.reason)")
            print("log        \(status.logPath)")
            if let bytes = try? FileSystem.read(status.logPath, limit: 1 << 20) { print(String(decoding: bytes, as: UTF8.self), terminator: "") }
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: container))
        } catch {
            _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod))
            throw error
        }
        _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod))
        _ = try await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod))
        print("removed    pod and container")
    }
}
