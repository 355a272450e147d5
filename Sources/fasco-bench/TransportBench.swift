// Transport: CRI Version over the gRPC C-core client, sequential latency (p50, p99)
// and throughput with 1 and 32 calls in flight, plus the daemon's idle RSS;
// Fasco against a private containerd (Debian's package) started by this bench.
import CRIAPI
import Foundation
import GRPCTransport

func rssKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

struct Measurement {
    var p50Micros = 0.0
    var p99Micros = 0.0
    var sequentialPerSecond = 0.0
    var concurrentPerSecond = 0.0
    var blockingP50Micros = 0.0
    var blockingP99Micros = 0.0
    var blockingConcurrentPerSecond = 0.0
    var idleRSSMiB = 0.0
    var idlePSSMiB = 0.0
    var idlePrivateMiB = 0.0
}

/// Pss and Private_Dirty + Private_Clean from smaps_rollup, in KiB.
func memoryKiB(_ pid: Int32) -> (pss: Int, privateBytes: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return (-1, -1) }
    var pss = 0
    var privateBytes = 0
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, let value = Int(parts[1]) else { continue }
        switch parts[0] {
        case "Pss:": pss = value
        case "Private_Clean:", "Private_Dirty:": privateBytes += value
        default: break
        }
    }
    return (pss, privateBytes)
}

func percentiles(_ values: [Double]) -> (p50: Double, p99: Double) {
    let sorted = values.sorted()
    return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
}

/// Runs `body` on `count` threads of their own (the blocking client must not hold cooperative threads).
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) async -> [T] {
    await withTaskGroup(of: T.self) { group in
        for index in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    Thread { continuation.resume(returning: body(index)) }.start()
                }
            }
        }
        var results: [T] = []
        for await result in group { results.append(result) }
        return results
    }
}

func micros(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func measure(_ runtime: Runtime, sequentialCalls: Int, concurrentSeconds: Double) async throws -> Measurement {
    var result = Measurement()
    let channel = GRPCChannel(target: runtime.endpoint)
    defer { channel.close() }
    let client = RuntimeServiceClient(channel: channel)
    let request = VersionRequest(version: "v1")
    for _ in 0..<500 { _ = try await client.version(request) }  // warm-up

    var latencies: [Double] = []
    latencies.reserveCapacity(sequentialCalls)
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<sequentialCalls {
        let before = clock.now
        _ = try await client.version(request)
        latencies.append(micros(clock.now - before))
    }
    let total = micros(clock.now - start)
    latencies.sort()
    result.p50Micros = latencies[latencies.count / 2]
    result.p99Micros = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
    result.sequentialPerSecond = Double(sequentialCalls) / (total / 1e6)

    let deadline = clock.now + .milliseconds(Int64(concurrentSeconds * 1000))
    let concurrentStart = clock.now
    let completed = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<32 {
            group.addTask {
                var count = 0
                while clock.now < deadline {
                    _ = try await client.version(request)
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    result.concurrentPerSecond = Double(completed) / (micros(clock.now - concurrentStart) / 1e6)

    // The blocking C-core client: each call is plucked on the calling thread, no task hops.
    let method = "/runtime.v1.RuntimeService/Version"
    let bytes = request.encode()
    let blocking = await onThreads(1) { _ in
        (0..<sequentialCalls).map { _ -> Double in
            let before = ContinuousClock.now
            _ = try? channel.unaryBlocking(method, request: bytes)
            return micros(ContinuousClock.now - before)
        }
    }[0]
    (result.blockingP50Micros, result.blockingP99Micros) = percentiles(blocking)
    let threadsStart = clock.now
    let threadDeadline = clock.now + .milliseconds(Int64(concurrentSeconds * 1000))
    let counts = await onThreads(32) { _ in
        var count = 0
        while ContinuousClock.now < threadDeadline {
            if (try? channel.unaryBlocking(method, request: bytes)) != nil { count += 1 }
        }
        return count
    }
    result.blockingConcurrentPerSecond = Double(counts.reduce(0, +)) / (micros(clock.now - threadsStart) / 1e6)

    try await Task.sleep(for: .seconds(2))
    let pid = runtime.process.processIdentifier
    result.idleRSSMiB = Double(rssKiB(pid)) / 1024
    let memory = memoryKiB(pid)
    result.idlePSSMiB = Double(memory.pss) / 1024
    result.idlePrivateMiB = Double(memory.privateBytes) / 1024
    return result
}


func cell(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

func transportBenchmark() async throws {
    let sequentialCalls = Int(ProcessInfo.processInfo.environment["BENCH_CALLS"] ?? "") ?? 5000
    let concurrentSeconds = Double(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 3

    var measurements: [(String, Measurement)] = []
    for name in ["fasco", "containerd"] {
        guard let runtime = name == "fasco" ? try startFasco() : try startContainerd() else {
            print("(containerd not installed: no baseline; apt-get install containerd)")
            continue
        }
        do {
            try await waitUntilAnswering(runtime)
            measurements.append((runtime.name, try await measure(runtime, sequentialCalls: sequentialCalls,
                                                                  concurrentSeconds: concurrentSeconds)))
        } catch {
            print("\(runtime.name): \(error)")
        }
        stop(runtime)
    }

    guard let fasco = measurements.first(where: { $0.0 == "fasco" })?.1 else {
        print("fasco could not be measured")
        return
    }
    let baseline = measurements.first(where: { $0.0 == "containerd" })?.1

    print("CRI Version over Fasco's gRPC C-core client: async API (Swift tasks) and blocking API (calling thread)")
    print("(\(sequentialCalls) sequential calls each; \(Int(concurrentSeconds)) s at 32 in flight: 32 tasks, or 32 threads)")
    print("")
    print("| metric                         |      fasco | containerd | fasco/containerd | target        |")
    print("|--------------------------------|-----------:|-----------:|-----------------:|---------------|")
    let rows: [(String, KeyPath<Measurement, Double>, String, Bool)] = [
        ("async p50 (µs)", \.p50Micros, "", false),
        ("async p99 (µs)", \.p99Micros, "", false),
        ("async calls/s, 1 in flight", \.sequentialPerSecond, "", true),
        ("async calls/s, 32 in flight", \.concurrentPerSecond, ">= 20000", true),
        ("blocking p50 (µs)", \.blockingP50Micros, "<= 100", false),
        ("blocking p99 (µs)", \.blockingP99Micros, "", false),
        ("blocking calls/s, 32 threads", \.blockingConcurrentPerSecond, ">= 20000", true),
        ("idle RSS (MiB)", \.idleRSSMiB, "<= 20", false),
        ("idle PSS (MiB)", \.idlePSSMiB, "", false),
        ("idle private memory (MiB)", \.idlePrivateMiB, "", false),
    ]
    for (name, key, target, _) in rows {
        let mine = fasco[keyPath: key]
        let theirs = baseline.map { $0[keyPath: key] }
        let ratio = theirs.map { $0 > 0 ? cell(mine / $0, 2) + "x" : "-" } ?? "-"
        let padded = name.padding(toLength: 30, withPad: " ", startingAt: 0)
        let theirsText = theirs.map { cell($0) } ?? "-"
        print("| \(padded) | \(String(repeating: " ", count: max(0, 10 - cell(mine).count)))\(cell(mine)) | \(String(repeating: " ", count: max(0, 10 - theirsText.count)))\(theirsText) | \(String(repeating: " ", count: max(0, 16 - ratio.count)))\(ratio) | \(target.padding(toLength: 13, withPad: " ", startingAt: 0)) |")
    }
}
