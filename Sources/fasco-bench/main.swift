// fasco-bench: Fasco's benchmarks, each against a baseline measured in the same run.
//   fasco-bench              everything
//   fasco-bench transport    CRI Version latency, throughput and idle memory vs containerd
//   fasco-bench pull         pull + unpack of a multi-layer image from the local registry vs containerd
//   fasco-bench pod          critest -benchmark (pod and container lifecycles) and memory per pod
//                            vs containerd + runc, with bare unshare + chroot as the memory floor
//   fasco-bench pod-ops      only the critest -benchmark part of `pod`
//   fasco-bench pod-memory   only the memory part of `pod`
//   fasco-bench fuzz         the wire-level fuzzer for FUZZ_MINUTES (10): daemon RSS over the run
//                            and after a quiet minute, and calls answered INTERNAL
//   fasco-bench attestation  what measurement adds to CreateContainer and what a token costs
//   fasco-bench share        Fasco's own share of CreatePod, CreateContainer, StartContainer and
//                            StopPod: the RPC's time minus the CNI plugins' and the OCI runtime's
//                            (from the daemon's /metrics), SHARE_PODS pods (20)
//   fasco-bench keys         the confidential data path: an attested resource fetch from a fresh pod's
//                            container, the start of a container with a sealed secret and the
//                            creation of one from an encrypted image, each against the same without
//   fasco-bench runtime      crun and runc start-up (create + start + exit of echo) and the cost
//                            of the wrapper that hides a hybrid host's cgroup v2 mount from crun
import Foundation

let which = CommandLine.arguments.dropFirst().first ?? "all"
let known = ["all", "transport", "pull", "pod", "pod-ops", "pod-memory", "runtime", "attestation", "keys", "fuzz", "share"]
guard known.contains(which) else {
    print("usage: fasco-bench [\(known.joined(separator: "|"))]")
    exit(2)
}
if which == "all" || which == "transport" {
    try await transportBenchmark()
    print("")
}
if which == "all" || which == "pull" {
    try await pullBenchmark()
    print("")
}
if which == "all" || which.hasPrefix("pod") {
    try await podBenchmark(PodBenchOptions(operations: which != "pod-memory", memory: which != "pod-ops"))
}
if which == "all" || which == "runtime" {
    if which == "all" { print("") }
    try await runtimeBenchmark()
}
if which == "all" || which == "attestation" {
    if which == "all" { print("") }
    try await attestationBenchmark()
}
if which == "all" || which == "keys" {
    if which == "all" { print("") }
    try await keyReleaseBenchmark()
}
if which == "all" || which == "share" {
    if which == "all" { print("") }
    try await shareBenchmark()
}
if which == "all" || which == "fuzz" {
    if which == "all" { print("") }
    try await fuzzBenchmark()
}
