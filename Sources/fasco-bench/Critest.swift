// Runs `critest -benchmark` (kubernetes-sigs/cri-tools) against one CRI endpoint and reads
// what it writes: pod_benchmark_data.json and container_benchmark_data.json in the
// --benchmarking-output-dir (LifecycleBenchmarksResultsSet: operationsNames plus one
// datapoint per sample with operationsDurationsNs in the same order), and the ginkgo JSON
// report, whose report entries carry the gmeasure experiment "start-container-benchmark"
// (one pod + container created, started and torn down from scratch).
import Foundation

/// critest: $CRITEST when set (and nothing else then), else /work/tools/bin/critest, else `critest` on PATH.
func findCritest() -> String? {
    if let path = ProcessInfo.processInfo.environment["CRITEST"], !path.isEmpty {
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
    var candidates = ["/work/tools/bin/critest"]
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        candidates.append(directory + "/critest")
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The parameters file both runtimes get (critest's BenchmarkingParamsType, YAML).
struct CritestParams {
    var pods: Int
    var containers: Int
    var parallel: Int

    var yaml: String {
        """
        podsNumber: \(pods)
        podsNumberParallel: \(parallel)
        containersNumber: \(containers)
        containersNumberParallel: \(parallel)
        imagesNumber: 0

        """
    }
}

/// Per-operation samples in milliseconds, in critest's order of operations.
struct CritestResult {
    var operations: [(name: String, samples: [Double])] = []
    var failure: String?

    func samples(_ name: String) -> [Double] { operations.first { $0.name == name }?.samples ?? [] }
}

/// Runs a program to its end without holding a cooperative thread; stdout and stderr go to `log`.
func runToEnd(_ executable: String, _ arguments: [String], log: URL) async throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let handle = logHandle(log)
    process.standardOutput = handle
    process.standardError = handle
    return try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

func runCritest(_ critest: String, endpoint: String, paramsFile: URL, outputDirectory: URL) async -> CritestResult {
    var result = CritestResult()
    try? FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
    let log = outputDirectory.appendingPathComponent("critest.log")
    let report = outputDirectory.appendingPathComponent("ginkgo-report.json")
    let arguments = [
        "-benchmark", "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
        "--benchmarking-params-file", paramsFile.path, "--benchmarking-output-dir", outputDirectory.path,
        "--ginkgo.no-color", "--ginkgo.timeout", "30m", "--ginkgo.json-report", report.path,
    ]
    let status: Int32
    do {
        status = try await runToEnd(critest, arguments, log: log)
    } catch {
        result.failure = "could not run \(critest): \(error)"
        return result
    }
    for file in ["pod_benchmark_data.json", "container_benchmark_data.json"] {
        result.operations += lifecycleSamples(outputDirectory.appendingPathComponent(file))
    }
    if let scratch = experimentSamples(report, experiment: "start-container-benchmark"), !scratch.isEmpty {
        result.operations.append((name: "Pod+container from scratch", samples: scratch))
    }
    if status != 0 {
        result.failure = "critest exited with status \(status): \(failureSummary(log)) (log: \(log.path))"
    }
    return result
}

/// A LifecycleBenchmarksResultsSet file as (operation, samples in ms); empty when absent.
func lifecycleSamples(_ file: URL) -> [(name: String, samples: [Double])] {
    guard let data = try? Data(contentsOf: file),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let names = object["operationsNames"] as? [String] else { return [] }
    let datapoints = object["datapoints"] as? [[String: Any]] ?? []
    return names.enumerated().map { index, name in
        let samples = datapoints.compactMap { point -> Double? in
            guard let durations = point["operationsDurationsNs"] as? [NSNumber], index < durations.count else { return nil }
            return durations[index].doubleValue / 1e6
        }
        return (name: name, samples: samples)
    }
}

/// The durations (ms) of a gmeasure experiment recorded as a ginkgo report entry.
func experimentSamples(_ report: URL, experiment: String) -> [Double]? {
    guard let data = try? Data(contentsOf: report),
          let suites = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
    var samples: [Double] = []
    for suite in suites {
        for spec in suite["SpecReports"] as? [[String: Any]] ?? [] {
            for entry in spec["ReportEntries"] as? [[String: Any]] ?? [] where entry["Name"] as? String == experiment {
                guard let value = entry["Value"] as? [String: Any], let json = value["AsJSON"] as? String,
                      let measured = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                else { continue }
                for measurement in measured["Measurements"] as? [[String: Any]] ?? [] {
                    for duration in measurement["Durations"] as? [NSNumber] ?? [] {
                        samples.append(duration.doubleValue / 1e6)
                    }
                }
            }
        }
    }
    return samples
}

/// The distinct failures ginkgo reported ("[FAILED] message" lines), on one line.
func failureSummary(_ log: URL) -> String {
    guard let text = try? String(contentsOf: log, encoding: .utf8) else { return "no log" }
    let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    var messages: [String] = []
    for line in lines where line.hasPrefix("[FAILED] ") && !line.hasPrefix("[FAILED] in [") && !line.hasPrefix("[FAILED] [") {
        let message = String(line.dropFirst("[FAILED] ".count))
        if !messages.contains(message) { messages.append(message) }
    }
    if !messages.isEmpty { return messages.joined(separator: "; ") }
    return lines.suffix(3).joined(separator: " ")
}
