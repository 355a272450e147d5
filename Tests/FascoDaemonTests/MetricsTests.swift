import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The Prometheus endpoint of a real daemon (`[metrics] address`): what it records for RPCs,
/// CNI, the OCI runtime, pulls, OOM kills, supervisor deaths and realms by state; its HTTP
/// answers; its configuration errors; and that it is off unless configured.
@Suite("Prometheus metrics", .serialized)
struct MetricsTests {
    static func config(port: UInt16) -> String { "[metrics]\naddress = \"127.0.0.1:\(port)\"\n" }

    /// One HTTP/1.1 exchange on 127.0.0.1:`port`: the status, the headers (lower-cased names)
    /// and the body. The daemon closes the connection after its answer.
    static func http(port: UInt16, _ request: String) throws -> (status: Int, headers: [String: String], body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw DaemonError("cannot connect to 127.0.0.1:\(port): errno \(errno)") }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw DaemonError("send failed") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw DaemonError("no HTTP head in \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, String(text[split.upperBound...]))
    }

    /// GET /metrics, parsed.
    static func scrape(port: UInt16) throws -> Scrape {
        let (status, headers, body) = try http(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        try #require(status == 200, "GET /metrics: \(status) \(body)")
        #expect(headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true, "\(headers)")
        return Scrape(text: body)
    }

    @Test("RPCs by method and code, CNI ADD and DEL, the OCI runtime's create, start and delete, realms by state")
    func podLifecycle() async throws {
        let port = try freeLoopbackPort()
        let network = TestBridgeNetwork(name: "fasco-metrics", bridgePrefix: "fmet", thirdOctet: 13)
        try await PodFixture.with(cniConfig: network.conflist, extraConfig: Self.config(port: port)) { fixture in
            let pod = try await fixture.runPod("metered")
            let container = try await fixture.runContainer(pod, "sleeper", script: "exec sleep 1000")
            // A failed RPC: NOT_FOUND.
            await #expect(throws: GRPCStatus.self) {
                _ = try await fixture.runtime.containerStatus(ContainerStatusRequest(containerID: "0123456789abcdef"))
            }
            var scrape = try Self.scrape(port: port)
            for method in ["RunPodSandbox", "CreateContainer", "StartContainer"] {
                #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": method, "code": "OK"]) == 1, "\(method)")
                #expect(scrape.value("fasco_rpc_duration_seconds_sum", ["method": method, "code": "OK"]).map { $0 > 0 } == true)
            }
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "ContainerStatus", "code": "NOT_FOUND"]) == 1)
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "ContainerStatus", "code": "OK"]) == nil)
            // Histogram buckets are cumulative and end at +Inf with the count.
            #expect(scrape.value("fasco_rpc_duration_seconds_bucket", ["method": "RunPodSandbox", "code": "OK", "le": "+Inf"]) == 1)
            for operation in ["create", "start"] {
                #expect(scrape.value("fasco_oci_runtime_duration_seconds_count", ["runtime": "crun", "operation": operation]) == 1, "\(operation)")
            }
            #expect(scrape.value("fasco_cni_plugin_duration_seconds_count", ["command": "ADD", "plugin": "bridge"]) == 1)
            #expect(scrape.value("fasco_cni_plugin_duration_seconds_sum", ["command": "ADD", "plugin": "bridge"]).map { $0 > 0 } == true)
            #expect(scrape.value("fasco_oci_runtime_duration_seconds_sum", ["runtime": "crun", "operation": "start"]).map { $0 > 0 } == true)
            #expect(scrape.value("fasco_cni_plugin_duration_seconds_count", ["command": "DEL", "plugin": "bridge"]) == nil)
            #expect(scrape.realms == ["system/ready": 1, "system/notReady": 0, "container/created": 0, "container/running": 1,
                                      "container/exited": 0, "container/unknown": 0])

            _ = try await fixture.runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            scrape = try Self.scrape(port: port)
            #expect(scrape.realms == ["system/ready": 0, "system/notReady": 1, "container/created": 0, "container/running": 0,
                                      "container/exited": 1, "container/unknown": 0])
            #expect(scrape.value("fasco_cni_plugin_duration_seconds_count", ["command": "DEL", "plugin": "bridge"]) == 1)
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "StopPodSandbox", "code": "OK"]) == 1)
            // The runtime's kill, and its delete once the container exited (by the exit watcher or RemoveContainer).
            #expect(scrape.value("fasco_oci_runtime_duration_seconds_count", ["runtime": "crun", "operation": "kill"]).map { $0 >= 1 } == true)
            _ = try await fixture.runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: pod.id))
            scrape = try Self.scrape(port: port)
            #expect(scrape.realms.values.allSatisfy { $0 == 0 }, "\(scrape.realms)")
            #expect(scrape.value("fasco_oci_runtime_duration_seconds_count", ["runtime": "crun", "operation": "delete"]).map { $0 >= 1 } == true)
            _ = container
        }
    }

    @Test("image pulls by result and pulled bytes")
    func pulls() async throws {
        let port = try freeLoopbackPort()
        try await PodFixture.with(extraConfig: Self.config(port: port)) { fixture in
            let images = ImageServiceClient(channel: fixture.channel)
            // Not the imported busybox, whose blobs the store holds already (nothing would be downloaded).
            _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/fasco/layered:latest")), timeout: .seconds(120))
            await #expect(throws: GRPCStatus.self) {
                _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: "127.0.0.1:5000/fasco/no-such-image:latest")),
                                               timeout: .seconds(60))
            }
            let scrape = try Self.scrape(port: port)
            #expect(scrape.value("fasco_image_pull_duration_seconds_count", ["result": "ok"]) == 1)
            #expect(scrape.value("fasco_image_pull_duration_seconds_count", ["result": "error"]) == 1)
            let bytes = try #require(scrape.value("fasco_image_pulled_bytes_total", [:]))
            #expect(bytes > 1000, "\(bytes)")
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "PullImage", "code": "OK"]) == 1)
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "PullImage", "code": "NOT_FOUND"]) == 1)
        }
    }

    @Test("an OOM kill and a supervisor death are counted")
    func oomAndSupervisorDeath() async throws {
        let port = try freeLoopbackPort()
        try await PodFixture.with(extraConfig: Self.config(port: port)) { fixture in
            let before = try Self.scrape(port: port)
            #expect((before.value("fasco_oom_kills_total", [:]) ?? 0) == 0)
            #expect((before.value("fasco_supervisor_deaths_total", [:]) ?? 0) == 0)

            let pod = try await fixture.runPod("oom")
            var config = fixture.containerConfig("hog", script: "x=aaaaaaaa; while true; do x=$x$x; done")
            config.linux = LinuxContainerConfig(resources: LinuxContainerResources(memoryLimitInBytes: 16 << 20))
            let hog = try await fixture.createContainer(pod, config)
            _ = try await fixture.runtime.startContainer(StartContainerRequest(containerID: hog))
            let status = try await fixture.waitFor(hog, state: .exited)
            try #require(status.reason == "OOMKilled")
            let afterOOM = try Self.scrape(port: port)
            #expect(afterOOM.value("fasco_oom_kills_total", [:]) == 1)
            #expect((afterOOM.value("fasco_supervisor_deaths_total", [:]) ?? 0) == 0)

            let victim = try await fixture.runPod("victim")
            _ = try await fixture.runContainer(victim, "sleeper", script: "exec sleep 1000")
            let supervisor = try await SupervisorDeathTests.supervisorPID(fixture, pod: victim.id)
            #expect(kill(supervisor, SIGKILL) == 0)
            _ = try await SupervisorDeathTests.waitNotReady(fixture, victim.id)
            try #require(try await SupervisorDeathTests.podState(fixture, victim.id) == .notready)
            let afterDeath = try Self.scrape(port: port)
            #expect(afterDeath.value("fasco_supervisor_deaths_total", [:]) == 1)
            #expect(afterDeath.value("fasco_oom_kills_total", [:]) == 1, "the sleeper was killed, not OOM-killed")
            // A stop is no death.
            _ = try await fixture.runtime.stopPodSandbox(StopPodSandboxRequest(podSandboxID: pod.id))
            #expect(try Self.scrape(port: port).value("fasco_supervisor_deaths_total", [:]) == 1)
        }
    }

    @Test("the endpoint: GET /metrics only; 404 for other paths, 405 for other methods, 400 for garbage, 431 for a huge head")
    func endpoint() async throws {
        let port = try freeLoopbackPort()
        try await PodFixture.with(extraConfig: Self.config(port: port)) { fixture in
            _ = try await fixture.runtime.version()
            let scrape = try Self.scrape(port: port)
            #expect(scrape.value("fasco_rpc_duration_seconds_count", ["method": "Version", "code": "OK"]).map { $0 >= 1 } == true)
            #expect(scrape.text.contains("# TYPE fasco_rpc_duration_seconds histogram"))
            #expect(try Self.http(port: port, "GET /metrics?x=1 HTTP/1.1\r\n\r\n").status == 200)
            #expect(try Self.http(port: port, "GET / HTTP/1.1\r\n\r\n").status == 404)
            #expect(try Self.http(port: port, "GET /metricsx HTTP/1.1\r\n\r\n").status == 404)
            let post = try Self.http(port: port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET")
            #expect(try Self.http(port: port, "DELETE /other HTTP/1.1\r\n\r\n").status == 405)
            #expect(try Self.http(port: port, "hello\r\n\r\n").status == 400)
            #expect(try Self.http(port: port, "GET /metrics HTTP/1.1\r\nX: \(String(repeating: "a", count: 10000))\r\n\r\n").status == 431)
            // A client that never finishes its head does not hold the endpoint.
            let idle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(idle) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(idle, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            _ = send(idle, "GET /met", 8, Int32(MSG_NOSIGNAL))
            #expect(try Self.http(port: port, "GET /metrics HTTP/1.1\r\n\r\n").status == 200)
            #expect(fixture.daemon.stderr.contains("http://127.0.0.1:\(port)/metrics"))
        }
    }

    @Test("off unless configured: no listener, and the start-up line says so")
    func offByDefault() async throws {
        try await PodFixture.with { fixture in
            _ = try await fixture.runtime.version()
            #expect(fixture.daemon.stderr.contains("metrics=off"), "\(fixture.daemon.stderr.suffix(2000))")
            // The daemon listens on no TCP port but the streaming server's.
            let pid = fixture.daemon.process.processIdentifier
            let sockets = Self.listeningTCPPorts(pid: pid)
            #expect(sockets.count == 1, "\(sockets)")
        }
    }

    @Test("a bad metrics.address, or one that cannot be bound, stops the start naming the key")
    func badAddress() async throws {
        let taken = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(taken) }
        let port = try freeLoopbackPort()
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(taken, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        try #require(bound && listen(taken, 1) == 0)
        for value in ["localhost:9464", "127.0.0.1", "127.0.0.1:\(port)"] {
            let directory = try DaemonProcess.makeDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let config = directory.appendingPathComponent("fasco.toml")
            try "[metrics]\naddress = \"\(value)\"\n".write(to: config, atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(extraArguments: ["--config", config.path], directory: directory)
            let status = await daemon.waitForExit()
            #expect(status != nil && status != 0, "\(value): the daemon started")
            #expect(daemon.stderr.contains("metrics.address"), "\(value): \(daemon.stderr.suffix(1000))")
            if status == nil { await daemon.stop() }
        }
    }

    /// The TCP ports `pid` listens on (its sockets' inodes matched against /proc/net/tcp{,6}).
    static func listeningTCPPorts(pid: Int32) -> [UInt16] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let inodes = Set(fds.compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        var ports: [UInt16] = []
        for table in ["/proc/\(pid)/net/tcp", "/proc/\(pid)/net/tcp6"] {
            let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // local_address state(0A = LISTEN) ... inode (the 10th field)
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])),
                      let port = fields[1].split(separator: ":").last.flatMap({ UInt16($0, radix: 16) }) else { continue }
                ports.append(port)
            }
        }
        return ports
    }
}

/// A Prometheus text exposition, read as samples.
struct Scrape: CustomStringConvertible {
    let text: String
    let samples: [(name: String, labels: [String: String], value: Double)]

    init(text: String) {
        self.text = text
        var samples: [(String, [String: String], Double)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let open = series.firstIndex(of: "{") else {
                samples.append((String(series), [:], value))
                continue
            }
            var labels: [String: String] = [:]
            // name="value" pairs; values here hold no escaped quotes.
            for pair in series[series.index(after: open)...].dropLast().split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            samples.append((String(series[..<open]), labels, value))
        }
        self.samples = samples
    }

    var description: String { "a scrape of \(samples.count) samples" }

    /// The value of the sample `name` whose labels are exactly `labels`; nil when there is none.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// fasco_realms as "kind/state": count.
    var realms: [String: Double] {
        var realms: [String: Double] = [:]
        for sample in samples where sample.name == "fasco_realms" {
            realms["\(sample.labels["kind"] ?? "")/\(sample.labels["state"] ?? "")"] = sample.value
        }
        return realms
    }
}
