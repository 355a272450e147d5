// fasco-bench: Fasco's benchmarks, each against a baseline measured in the same run.
//   fasco-bench              everything
//   fasco-bench transport    CRI Version latency, throughput and idle memory vs containerd
//   fasco-bench pull         pull + unpack of a multi-layer image from the local registry vs containerd
import Foundation

let which = CommandLine.arguments.dropFirst().first ?? "all"
if which == "all" || which == "transport" {
    try await transportBenchmark()
    print("")
}
if which == "all" || which == "pull" {
    try await pullBenchmark()
}
