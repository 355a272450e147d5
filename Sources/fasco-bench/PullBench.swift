// Pull + unpack of a multi-layer image (the kit's fasco/big, >= 50 MiB) from the local
// registry, cold each time (a fresh runtime root), Fasco against containerd.
import CRIAPI
import Foundation
import GRPCTransport

func registryAnswers(_ host: String) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-sf", "-o", "/dev/null", "http://\(host)/v2/"]
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

func timedPull(_ runtime: Runtime, image: String) async throws -> Double {
    try await waitUntilAnswering(runtime)
    let channel = GRPCChannel(target: runtime.endpoint)
    defer { channel.close() }
    let client = ImageServiceClient(channel: channel)
    let start = ContinuousClock.now
    _ = try await client.pullImage(PullImageRequest(image: ImageSpec(image: image)), timeout: .seconds(600))
    return micros(ContinuousClock.now - start) / 1000
}

func pullBenchmark() async throws {
    let image = ProcessInfo.processInfo.environment["BENCH_PULL_IMAGE"] ?? "127.0.0.1:5000/fasco/big:latest"
    let host = String(image.split(separator: "/").first ?? "")
    let rounds = Int(ProcessInfo.processInfo.environment["BENCH_PULL_ROUNDS"] ?? "") ?? 3
    guard registryAnswers(host) else {
        print("pull benchmark skipped: no registry at \(host) (run Tests/images/kit.sh all)")
        return
    }
    let containerdMirror = """
        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."\(host)"]
          endpoint = ["http://\(host)"]
        """
    var results: [String: [Double]] = [:]
    for round in 0..<rounds {
        for name in ["fasco", "containerd"] {
            let runtime = name == "fasco" ? try startFasco() : try startContainerd(extraConfig: containerdMirror)
            guard let runtime else { continue }
            do {
                results[name, default: []].append(try await timedPull(runtime, image: image))
            } catch {
                print("\(name) round \(round): \(error)")
            }
            stop(runtime)
        }
    }
    func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return values.sorted()[values.count / 2]
    }
    let mine = median(results["fasco"] ?? [])
    let theirs = median(results["containerd"] ?? [])
    print("Cold pull + unpack of \(image), median of \(rounds) (fresh root each time)")
    print("")
    print("| metric                 |      fasco | containerd | fasco/containerd | target  |")
    print("|------------------------|-----------:|-----------:|-----------------:|---------|")
    let ratio = (mine != nil && theirs != nil && theirs! > 0) ? String(format: "%.2fx", mine! / theirs!) : "-"
    let mineText = mine.map { String(format: "%.0f", $0) } ?? "-"
    let theirsText = theirs.map { String(format: "%.0f", $0) } ?? "-"
    print("| pull + unpack (ms)     | \(mineText.leftPadded(10)) | \(theirsText.leftPadded(10)) | \(ratio.leftPadded(16)) | <= 0.7x |")
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
