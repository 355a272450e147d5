// Memory per pod: N pods with one `sleep` container each, started through CRI, then the
// RSS / PSS / private memory of each pod's per-pod process (Fasco's System Realm supervisor
// fasco-realm, containerd's containerd-shim-runc-v2), of containerd's pause containers, and
// of the sleep processes themselves; and the floor: the same sleep from the same image in
// fresh namespaces by bare `unshare` + chroot, with nothing supervising it.
import CRIAPI
import Foundation
import GRPCTransport

/// Memory of one process, KiB.
struct ProcessMemory {
    var rss: Int
    var pss: Int
    var privateBytes: Int

    init(pid: Int32) {
        rss = rssKiB(pid)
        (pss, privateBytes) = memoryKiB(pid)
    }
}

/// One line of /proc: parent, command name (comm, at most 15 bytes) and command line.
struct ProcessEntry {
    var pid: Int32
    var parent: Int32
    var command: String
    var commandLine: String
}

/// Every process now, from /proc/PID/stat and /proc/PID/cmdline.
func processTable() -> [ProcessEntry] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> ProcessEntry? in
        guard let pid = Int32(name),
              let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let command = String(stat[stat.index(after: open)..<close])
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let parent = Int32(fields[1]) else { return nil }
        let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(name)/cmdline"))) ?? Data()
        let commandLine = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        return ProcessEntry(pid: pid, parent: parent, command: command, commandLine: commandLine)
    }
}

struct PodMemory {
    var pods = 0
    /// fasco-realm or containerd-shim-runc-v2, one per pod.
    var supervisors: [ProcessMemory] = []
    /// containerd's pause containers (Fasco has none).
    var pauses: [ProcessMemory] = []
    /// The sleep containers.
    var containers: [ProcessMemory] = []
    var failure: String?
}

/// What a pod-memory run needs of a runtime.
struct PodMemoryPlan {
    var pods: Int
    var image: String
    /// The per-pod process's comm prefix: "fasco-realm" or "containerd-shim" (comm is cut at 15 bytes).
    var supervisorCommand: String
    var logDirectory: URL
}

func podConfig(_ index: Int, logDirectory: URL) -> PodSandboxConfig {
    PodSandboxConfig(
        metadata: PodSandboxMetadata(name: "bench-memory-\(index)", uid: UUID().uuidString.lowercased(),
                                     namespace: "fasco-bench", attempt: 0),
        hostname: "bench-memory-\(index)",
        logDirectory: logDirectory.appendingPathComponent("pod-\(index)").path,
        labels: ["io.fasco.bench": "memory"],
        linux: LinuxPodSandboxConfig())
}

func measurePodMemory(_ runtime: Runtime, plan: PodMemoryPlan) async -> PodMemory {
    var result = PodMemory()
    let channel = GRPCChannel(target: runtime.endpoint)
    defer { channel.close() }
    let client = RuntimeServiceClient(channel: channel)
    let images = ImageServiceClient(channel: channel)
    do {
        _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: plan.image)), timeout: .seconds(300))
        for index in 0..<plan.pods {
            let config = podConfig(index, logDirectory: plan.logDirectory)
            let pod = try await client.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(120))
            let container = ContainerConfig(
                metadata: ContainerMetadata(name: "sleep", attempt: 0), image: ImageSpec(image: plan.image),
                command: ["sleep", "3600"], logPath: "sleep.log", linux: LinuxContainerConfig())
            let created = try await client.createContainer(
                CreateContainerRequest(podSandboxID: pod.podSandboxID, config: container, sandboxConfig: config),
                timeout: .seconds(120))
            _ = try await client.startContainer(StartContainerRequest(containerID: created.containerID), timeout: .seconds(120))
            result.pods += 1
        }
    } catch {
        result.failure = "after \(result.pods) of \(plan.pods) pods: \(error)"
    }
    // Let lazily touched pages settle (Go's shim starts goroutines after the first RPCs).
    try? await Task.sleep(for: .seconds(2))
    let table = processTable()
    let supervisors = table.filter {
        $0.command.hasPrefix(plan.supervisorCommand) && $0.commandLine.contains(runtime.directory.path)
    }
    let supervisorIDs = Set(supervisors.map(\.pid))
    result.supervisors = supervisors.map { ProcessMemory(pid: $0.pid) }
    for child in table where supervisorIDs.contains(child.parent) {
        if child.command == "pause" {
            result.pauses.append(ProcessMemory(pid: child.pid))
        } else if child.command == "sleep" {
            result.containers.append(ProcessMemory(pid: child.pid))
        }
    }
    await removeAllPods(runtime)
    return result
}

/// Stops and removes every pod of the runtime (what a failed critest leaves too).
func removeAllPods(_ runtime: Runtime) async {
    let channel = GRPCChannel(target: runtime.endpoint)
    defer { channel.close() }
    let client = RuntimeServiceClient(channel: channel)
    guard let pods = try? await client.listPodSandbox(timeout: .seconds(30)) else { return }
    for pod in pods.items {
        _ = try? await client.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(120))
        _ = try? await client.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id), timeout: .seconds(120))
    }
}

/// The floor: `count` copies of `unshare --fork --pid --mount --net --ipc --uts chroot ROOTFS sleep`,
/// measured once all run; then killed.
func measureFloor(rootfs: URL, count: Int) async -> (memory: [ProcessMemory], failure: String?) {
    var launchers: [Process] = []
    var failure: String?
    for _ in 0..<count {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--fork", "--pid", "--mount", "--net", "--ipc", "--uts", "chroot", rootfs.path, "sleep", "3600"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            failure = "unshare: \(error)"
            break
        }
        launchers.append(process)
    }
    let parents = Set(launchers.map(\.processIdentifier))
    var sleeps: [ProcessEntry] = []
    for _ in 0..<100 {
        sleeps = processTable().filter { parents.contains($0.parent) && $0.command == "sleep" }
        if sleeps.count == launchers.count { break }
        try? await Task.sleep(for: .milliseconds(50))
    }
    try? await Task.sleep(for: .seconds(2))
    let memory = sleeps.map { ProcessMemory(pid: $0.pid) }
    if failure == nil && sleeps.count < count { failure = "only \(sleeps.count) of \(count) sleeps started" }
    for sleep in sleeps { kill(sleep.pid, SIGKILL) }
    for launcher in launchers {
        if sleeps.isEmpty { launcher.terminate() }
        launcher.waitUntilExit()
    }
    return (memory, failure)
}

/// Unpacks the kit's critest busybox (the image the pods run) for the floor.
func unpackFloorRootfs(into directory: URL) async -> URL? {
    let kit = ProcessInfo.processInfo.environment["BENCH_KIT"] ?? "Tests/images/kit.sh"
    let layouts = ProcessInfo.processInfo.environment["FASCO_IMAGES_OUT"] ?? "/var/tmp/fasco-images"
    guard FileManager.default.isExecutableFile(atPath: kit) else { return nil }
    let rootfs = directory.appendingPathComponent("floor-rootfs")
    let status = try? await runToEnd(kit, ["unpack", layouts, "e2e-busybox", "1.29-2", rootfs.path],
                                     log: directory.appendingPathComponent("floor-unpack.log"))
    guard status == 0 else { return nil }
    return rootfs
}
