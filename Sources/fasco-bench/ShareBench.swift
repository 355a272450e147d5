import CRIAPI
import Foundation
import GRPCTransport

/// Fasco's own share of CreatePod (RunPodSandbox on the embedded default CNI network, with a
/// bridge and subnet of this run), CreateContainer, StartContainer and StopPod: the RPC's time
/// minus the CNI plugins' and the OCI runtime's, from the daemon's /metrics histograms scraped
/// before and after each phase. SHARE_PODS pods (20), one RPC at a time, each phase over all
/// pods before the next. Client times are medians and means; the split is means (histogram
/// sums over counts), since histograms keep no single samples.
func shareBenchmark() async throws {
    let pods = environmentInt("SHARE_PODS", 20)
    let port = try freeLoopbackPort()
    let run = Int(getpid())
    let scratch = try makeDirectory("share-net")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let bridge = "fshare\(run % 100_000)"
    let config = """
        [cni]
        conf_dir = "\(scratch.path)"
        default_bridge = "\(bridge)"
        default_subnet = "10.232.\(run % 250).0/24"
        [metrics]
        address = "127.0.0.1:\(port)"

        """
    let fasco = try startFasco(config: config)
    defer {
        stop(fasco)
        deleteLink(bridge)
    }
    try await waitUntilAnswering(fasco)
    let channel = GRPCChannel(target: fasco.endpoint)
    defer { channel.close() }
    let runtime = RuntimeServiceClient(channel: channel)
    _ = try await channel.unary("/fasco.v1.Admin/ImportImages", request: Array(
        #"{"path": "/var/tmp/fasco-images/busybox", "name": "fasco.local/busybox"}"#.utf8))

    struct Phase {
        let label: String
        let method: String
        var client: [Double] = []
        var split: MetricsDelta?
    }
    var phases = [Phase(label: "CreatePod (RunPodSandbox)", method: "RunPodSandbox"),
                  Phase(label: "CreateContainer", method: "CreateContainer"),
                  Phase(label: "StartContainer", method: "StartContainer"),
                  Phase(label: "StopPod (StopPodSandbox)", method: "StopPodSandbox")]
    var podIDs: [String] = []
    var configs: [PodSandboxConfig] = []
    var containers: [String] = []
    for index in phases.indices {
        let before = try scrapeMetrics(port: port)
        for pod in 0..<pods {
            let began = ContinuousClock.now
            switch index {
            case 0:
                let podConfig = PodSandboxConfig(
                    metadata: PodSandboxMetadata(name: "share-\(pod)", uid: "share-\(pod)-uid", namespace: "bench"),
                    hostname: "share-\(pod)", logDirectory: fasco.directory.appendingPathComponent("logs/\(pod)").path)
                configs.append(podConfig)
                podIDs.append(try await runtime.runPodSandbox(RunPodSandboxRequest(config: podConfig), timeout: .seconds(60)).podSandboxID)
            case 1:
                let containerConfig = ContainerConfig(
                    metadata: ContainerMetadata(name: "app"), image: ImageSpec(image: "fasco.local/busybox:latest"),
                    command: ["/bin/sh", "-c", "sleep 100000"], logPath: "app.log")
                containers.append(try await runtime.createContainer(
                    CreateContainerRequest(podSandboxID: podIDs[pod], config: containerConfig, sandboxConfig: configs[pod]),
                    timeout: .seconds(60)).containerID)
            case 2:
                _ = try await runtime.startContainer(StartContainerRequest(containerID: containers[pod]), timeout: .seconds(60))
            default:
                _ = try await runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: podIDs[pod]), timeout: .seconds(60))
            }
            phases[index].client.append((ContinuousClock.now - began).seconds)
        }
        let after = try scrapeMetrics(port: port)
        phases[index].split = MetricsDelta(before: before, after: after, method: phases[index].method)
    }
    for pod in podIDs { _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod), timeout: .seconds(60)) }

    print("Fasco's own share, \(pods) pods, one RPC at a time (ms; crun, the embedded default CNI network: bridge, portmap, firewall)")
    print("  client: the RPC as the client saw it (median, mean); daemon: means per call from /metrics histograms")
    print("  (sum over the phase / RPC count); own = daemon RPC - CNI plugins - OCI runtime, the part Fasco controls")
    var rows: [[String]] = []
    for phase in phases {
        guard let split = phase.split, split.calls > 0 else { continue }
        let own = split.rpc - split.cni - split.oci
        rows.append([phase.label, numberText(median(phase.client).map { $0 * 1000 }, 2),
                     numberText(phase.client.reduce(0, +) / Double(max(phase.client.count, 1)) * 1000, 2),
                     numberText(split.rpc / split.calls * 1000, 2), numberText(split.cni / split.calls * 1000, 2),
                     numberText(split.oci / split.calls * 1000, 2), numberText(own / split.calls * 1000, 2),
                     String(format: "%.0f%%", split.rpc > 0 ? own / split.rpc * 100 : 0), split.runtimeOperations])
    }
    printTable(["operation", "client median", "client mean", "daemon RPC mean", "CNI mean", "OCI mean", "own mean", "own %", "OCI runs in the phase"],
               rows)
    print("  CNI and OCI are what ran during the phase's window: StopPod's includes the runtime's delete of each")
    print("  exited container by its exit watcher, which runs beside the RPCs, so its own share is a lower bound.")
}

/// What one phase added to the histograms: the RPC's seconds and count (code OK), and every
/// CNI plugin run's and OCI runtime run's seconds.
struct MetricsDelta {
    var rpc: Double
    var calls: Double
    var cni: Double
    var oci: Double
    /// "create 20, start 20" for the phase.
    var runtimeOperations: String

    init(before: [MetricSample], after: [MetricSample], method: String) {
        func total(_ samples: [MetricSample], _ name: String, _ match: [String: String] = [:]) -> Double {
            samples.filter { sample in sample.name == name && match.allSatisfy { sample.labels[$0.key] == $0.value } }.map(\.value).reduce(0, +)
        }
        func delta(_ name: String, _ match: [String: String] = [:]) -> Double { total(after, name, match) - total(before, name, match) }
        rpc = delta("fasco_rpc_duration_seconds_sum", ["method": method, "code": "OK"])
        calls = delta("fasco_rpc_duration_seconds_count", ["method": method, "code": "OK"])
        cni = delta("fasco_cni_plugin_duration_seconds_sum")
        oci = delta("fasco_oci_runtime_duration_seconds_sum")
        let operations = Set(after.filter { $0.name == "fasco_oci_runtime_duration_seconds_count" }.compactMap { $0.labels["operation"] })
        runtimeOperations = operations.sorted().compactMap { operation in
            let count = Int(delta("fasco_oci_runtime_duration_seconds_count", ["operation": operation]))
            return count > 0 ? "\(operation) \(count)" : nil
        }.joined(separator: ", ")
    }
}

struct MetricSample {
    let name: String
    let labels: [String: String]
    let value: Double
}

/// GET http://127.0.0.1:`port`/metrics, read as samples (label values here hold no quotes or commas).
func scrapeMetrics(port: UInt16) throws -> [MetricSample] {
    let text = try httpGet(port: port, path: "/metrics")
    var samples: [MetricSample] = []
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        let series = line[..<space]
        guard let open = series.firstIndex(of: "{") else {
            samples.append(MetricSample(name: String(series), labels: [:], value: value))
            continue
        }
        var labels: [String: String] = [:]
        for pair in series[series.index(after: open)...].dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
        }
        samples.append(MetricSample(name: String(series[..<open]), labels: labels, value: value))
    }
    return samples
}

/// The body of a GET on 127.0.0.1:`port` (the server closes the connection after it).
func httpGet(port: UInt16, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = loopback(port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw GRPCStatus(.unavailable, "cannot connect to the metrics endpoint on port \(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    _ = send(fd, request, request.count, Int32(MSG_NOSIGNAL))
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { break }
        response += buffer[..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 200"), let split = text.range(of: "\r\n\r\n") else {
        throw GRPCStatus(.internal, "GET \(path): \(text.prefix(200))")
    }
    return String(text[split.upperBound...])
}

func loopback(_ port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
}

/// A loopback port nothing listens on now.
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopback(0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw GRPCStatus(.unavailable, "no free loopback port") }
    return UInt16(bigEndian: address.sin_port)
}

/// `ip link del NAME`, when it exists.
func deleteLink(_ name: String) {
    guard FileManager.default.fileExists(atPath: "/sys/class/net/\(name)") else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["link", "del", name]
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return }
    process.waitUntilExit()
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
