// Pods: critest's own benchmark mode (`critest -benchmark`, one parameters file for both)
// against a private Fasco and a private containerd + runc, each operation's median and the
// Fasco/containerd ratio; then memory per pod (PodMemory.swift).
//
// Both runtimes get the same network: a private CNI configuration directory holding one
// bridge network (a bridge of this run's own, host-local addresses, no masquerading), and
// the same images: the critest image set served by the kit's registry on 127.0.0.1:5000,
// mirrored for registry.k8s.io, gcr.io, public.ecr.aws and docker.io.
//
// Environment: CRITEST (critest binary), BENCH_PODS (critest samples, 20), BENCH_PARALLEL (1),
// BENCH_MEMORY_PODS (10), BENCH_SUPERVISOR (Fasco's runtime.supervisor_path),
// BENCH_OCI_RUNTIME (Fasco's runtime.oci_runtime; crun by default), BENCH_KEEP=1 (keep the
// work directory with logs and critest output).
import Foundation
import GRPCTransport

struct PodBenchOptions {
    var operations = true
    var memory = true
}

/// The hosts critest names, all served by the kit's plain registry.
let mirroredHosts = ["registry.k8s.io", "gcr.io", "public.ecr.aws", "docker.io"]
let localRegistry = "127.0.0.1:5000"
/// The image critest's container benchmark runs, and the memory benchmark's sleep.
let busyboxImage = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

/// What one runtime yielded.
struct PodRuntimeResult {
    var name: String
    var operations = CritestResult()
    var memory: PodMemory?
    var failure: String?
}

func environmentInt(_ name: String, _ fallback: Int) -> Int {
    Int(ProcessInfo.processInfo.environment[name] ?? "") ?? fallback
}

func podBenchmark(_ options: PodBenchOptions = PodBenchOptions()) async throws {
    guard registryAnswers(localRegistry) else {
        print("pod benchmark skipped: no registry at \(localRegistry) (run Tests/images/kit.sh all, or make images)")
        return
    }
    let environment = ProcessInfo.processInfo.environment
    var options = options
    let critest = findCritest()
    if options.operations && critest == nil {
        let given = environment["CRITEST"].map { $0.isEmpty ? "" : " (CRITEST=\($0) is not executable)" } ?? ""
        print("pod benchmark (critest -benchmark) skipped: critest not found\(given). Set CRITEST=/path/to/critest;")
        print("  build it from kubernetes-sigs/cri-tools v1.34.0: go test -c -o critest ./cmd/critest")
        print("")
        options.operations = false
    }
    guard options.operations || options.memory else { return }
    let params = CritestParams(pods: environmentInt("BENCH_PODS", 20), containers: environmentInt("BENCH_PODS", 20),
                               parallel: environmentInt("BENCH_PARALLEL", 1))
    let memoryPods = environmentInt("BENCH_MEMORY_PODS", 10)

    let work = try makeDirectory("pod")
    let paramsFile = work.appendingPathComponent("benchmark-params.yaml")
    try params.yaml.write(to: paramsFile, atomically: true, encoding: .utf8)
    let network = try BenchNetwork(directory: work.appendingPathComponent("cni"))

    var results: [PodRuntimeResult] = []
    for name in ["fasco", "containerd"] {
        var result = PodRuntimeResult(name: name)
        let log = work.appendingPathComponent("\(name).log")
        let started: Runtime?
        do {
            started = name == "fasco"
                ? try startFasco(config: fascoConfig(network), log: log)
                : try startContainerd(extraConfig: containerdConfig(network), log: log)
        } catch {
            result.failure = "could not start: \(error)"
            results.append(result)
            continue
        }
        guard let runtime = started else {
            result.failure = "containerd not installed (apt-get install containerd)"
            results.append(result)
            continue
        }
        let supervisorCommand = name == "fasco" ? "fasco-realm" : "containerd-shim"
        do {
            try await waitUntilAnswering(runtime)
            if options.operations, let critest {
                print("\(name): critest -benchmark (\(params.pods) pods, \(params.containers) containers, parallelism \(params.parallel)) ...")
                result.operations = await runCritest(critest, endpoint: runtime.endpoint, paramsFile: paramsFile,
                                                     outputDirectory: work.appendingPathComponent("critest-\(name)"))
                await removeAllPods(runtime)
            }
            if options.memory {
                print("\(name): \(memoryPods) pods with one sleep container each ...")
                result.memory = await measurePodMemory(runtime, plan: PodMemoryPlan(
                    pods: memoryPods, image: busyboxImage, supervisorCommand: supervisorCommand,
                    logDirectory: work.appendingPathComponent("logs-\(name)")))
            }
        } catch {
            result.failure = "\(error) (log: \(log.path))"
        }
        await stopAndClean(runtime, supervisorCommand: supervisorCommand)
        results.append(result)
    }

    var floor: (memory: [ProcessMemory], failure: String?) = ([], nil)
    if options.memory {
        if let rootfs = await unpackFloorRootfs(into: work) {
            floor = await measureFloor(rootfs: rootfs, count: memoryPods)
        } else {
            floor.failure = "no rootfs for the floor (needs Tests/images/kit.sh and the kit's e2e-busybox layout)"
        }
    }
    network.remove()

    print("")
    var failed = false
    for result in results {
        let problems = [result.failure, result.operations.failure, result.memory?.failure].compactMap { $0 }
        for problem in problems { print("\(result.name): \(problem)") }
        failed = failed || !problems.isEmpty
    }
    if let problem = floor.failure { print("floor: \(problem)") }
    if failed { print("") }
    let fasco = results.first { $0.name == "fasco" }
    let containerd = results.first { $0.name == "containerd" }
    if options.operations {
        printOperations(fasco?.operations, containerd?.operations, params: params)
    }
    if options.memory {
        if options.operations { print("") }
        printMemory(fasco?.memory, containerd?.memory, floor: floor.memory, pods: memoryPods)
    }
    if failed || environment["BENCH_KEEP"] == "1" {
        print("")
        print("logs and critest output kept in \(work.path)")
    } else {
        try? FileManager.default.removeItem(at: work)
    }
}

/// Fasco: the registry mirrors of Tests/conformance/fasco-critest.toml and the bench network.
func fascoConfig(_ network: BenchNetwork) -> String {
    let environment = ProcessInfo.processInfo.environment
    var text = "[runtime]\n"
    if let runtime = environment["BENCH_OCI_RUNTIME"], !runtime.isEmpty { text += "oci_runtime = \"\(runtime)\"\n" }
    if let supervisor = environment["BENCH_SUPERVISOR"], !supervisor.isEmpty { text += "supervisor_path = \"\(supervisor)\"\n" }
    text += "\n[cni]\nconf_dir = \"\(network.configDirectory.path)\"\nbin_dirs = [\"\(BenchNetwork.pluginDirectory)\"]\n"
    for host in mirroredHosts {
        text += "\n[registry.hosts.\"\(host)\"]\nmirrors = [\"http://\(localRegistry)\"]\n"
    }
    return text
}

/// containerd 1.6 (config version 2): runc through the v2 shim, the same mirrors and network.
func containerdConfig(_ network: BenchNetwork) -> String {
    let cri = "plugins.\"io.containerd.grpc.v1.cri\""
    var text = """
          sandbox_image = "registry.k8s.io/pause:3.6"
        [\(cri).containerd]
          snapshotter = "overlayfs"
          default_runtime_name = "runc"
        [\(cri).containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
        [\(cri).cni]
          bin_dir = "\(BenchNetwork.pluginDirectory)"
          conf_dir = "\(network.configDirectory.path)"

        """
    for host in mirroredHosts {
        text += "[\(cri).registry.mirrors.\"\(host)\"]\n  endpoint = [\"http://\(localRegistry)\"]\n"
    }
    return text
}

/// Ends a runtime the bench started, and whatever it left: pods (through CRI), per-pod
/// processes of its own directory with their children, mounts under its directory.
func stopAndClean(_ runtime: Runtime, supervisorCommand: String) async {
    await removeAllPods(runtime)
    runtime.process.terminate()
    runtime.process.waitUntilExit()
    let table = processTable()
    let leftovers = Set(table.filter {
        $0.command.hasPrefix(supervisorCommand) && $0.commandLine.contains(runtime.directory.path)
    }.map(\.pid))
    for entry in table where leftovers.contains(entry.parent) { kill(entry.pid, SIGKILL) }
    for pid in leftovers { kill(pid, SIGKILL) }
    if !leftovers.isEmpty {
        print("\(runtime.name): killed \(leftovers.count) per-pod processes left after removing every pod")
        try? await Task.sleep(for: .milliseconds(500))
    }
    unmountAll(under: runtime.directory.path)
    try? FileManager.default.removeItem(at: runtime.directory)
}

/// Detaches every mount at or below `path`, deepest first.
func unmountAll(under path: String) {
    // Read to the end: String(contentsOfFile:) stops at 4 KiB on proc files.
    guard let data = FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() else { return }
    let text = String(decoding: data, as: UTF8.self)
    let points = text.split(separator: "\n").compactMap { line -> String? in
        let fields = line.split(separator: " ")
        guard fields.count > 4 else { return nil }
        let point = String(fields[4])
        return point == path || point.hasPrefix(path + "/") ? point : nil
    }
    for point in points.sorted(by: { $0.count > $1.count }) {
        _ = umount2(point, Int32(MNT_DETACH))
    }
}

// MARK: - Tables

func median(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.sorted()[values.count / 2]
}

/// A right-aligned table in Markdown form; the first column is left-aligned.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in
        ([header] + rows).map { $0[column].count }.max() ?? 0
    }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { index, cell in
            index == 0 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0) : cell.leftPadded(widths[index])
        }.joined(separator: " | ") + " |"
    }
    print(line(header))
    print("|" + widths.enumerated().map { index, width in
        index == 0 ? String(repeating: "-", count: width + 2) : String(repeating: "-", count: width + 1) + ":"
    }.joined(separator: "|") + "|")
    for row in rows { print(line(row)) }
}

func ratioText(_ mine: Double?, _ theirs: Double?) -> String {
    guard let mine, let theirs, theirs > 0 else { return "-" }
    return String(format: "%.2fx", mine / theirs)
}

func numberText(_ value: Double?, _ digits: Int = 1) -> String {
    value.map { String(format: "%.\(digits)f", $0) } ?? "-"
}

/// The issue's targets (ms) for critest's operations.
let operationTargets = ["CreatePod": "<= 20", "CreateContainer": "<= 10", "StartContainer": "<= 20", "StopPod": "<= 30"]

func printOperations(_ fasco: CritestResult?, _ containerd: CritestResult?, params: CritestParams) {
    var names: [String] = []
    for result in [fasco, containerd].compactMap({ $0 }) {
        for operation in result.operations where !names.contains(operation.name) { names.append(operation.name) }
    }
    print("critest -benchmark, same parameters for both: \(params.pods) pod lifecycles and \(params.containers) container")
    print("lifecycles (each in a pod of its own), parallelism \(params.parallel); median ms (samples)")
    print("Fasco: private `fasco serve` (release build, its OCI runtime); containerd: private instance + runc")
    print("")
    guard !names.isEmpty else {
        print("(no results from either runtime)")
        return
    }
    let rows = names.map { name -> [String] in
        let mine = fasco?.samples(name) ?? []
        let theirs = containerd?.samples(name) ?? []
        func cell(_ samples: [Double]) -> String {
            samples.isEmpty ? "-" : "\(numberText(median(samples))) (\(samples.count))"
        }
        return [name, cell(mine), cell(theirs), ratioText(median(mine), median(theirs)), operationTargets[name] ?? ""]
    }
    printTable(["operation", "fasco", "containerd", "fasco/containerd", "target (ms)"], rows)
}

func printMemory(_ fasco: PodMemory?, _ containerd: PodMemory?, floor: [ProcessMemory], pods: Int) {
    print("Memory per pod: \(pods) pods, one busybox `sleep` container each (\(busyboxImage));")
    print("per-pod process = Fasco's fasco-realm supervisor, containerd's containerd-shim-runc-v2;")
    print("floor = the same sleep by bare `unshare --fork --pid --mount --net --ipc --uts chroot ROOTFS sleep`")
    print("(no supervisor). MiB; PSS divides shared pages among the processes mapping them.")
    print("")
    func perPod(_ memory: PodMemory?, _ list: KeyPath<PodMemory, [ProcessMemory]>,
                _ field: KeyPath<ProcessMemory, Int>) -> Double? {
        guard let memory, memory.pods > 0, !memory[keyPath: list].isEmpty else { return nil }
        return Double(memory[keyPath: list].map { $0[keyPath: field] }.reduce(0, +)) / Double(memory.pods) / 1024
    }
    func floorValue(_ field: KeyPath<ProcessMemory, Int>) -> Double? {
        median(floor.map { Double($0[keyPath: field]) / 1024 })
    }
    func total(_ memory: PodMemory?, _ field: KeyPath<ProcessMemory, Int>) -> Double? {
        guard let supervisor = perPod(memory, \.supervisors, field), let sleep = perPod(memory, \.containers, field) else {
            return nil
        }
        return supervisor + sleep + (perPod(memory, \.pauses, field) ?? 0)
    }
    var rows: [[String]] = []
    let fields: [(String, KeyPath<ProcessMemory, Int>)] = [("RSS", \.rss), ("PSS", \.pss), ("private", \.privateBytes)]
    for (label, field) in fields {
        let mine = perPod(fasco, \.supervisors, field)
        let theirs = perPod(containerd, \.supervisors, field)
        rows.append(["per-pod process \(label)", numberText(mine, 2), numberText(theirs, 2), "",
                     ratioText(mine, theirs), "", label == "RSS" ? "<= 4" : ""])
    }
    for (label, field) in fields.prefix(2) {
        let theirs = perPod(containerd, \.pauses, field)
        rows.append(["pause container \(label)", "none", numberText(theirs, 2), "", "", "", ""])
    }
    for (label, field) in fields.prefix(2) {
        let mine = perPod(fasco, \.containers, field)
        let theirs = perPod(containerd, \.containers, field)
        let bare = floorValue(field)
        rows.append(["sleep \(label)", numberText(mine, 2), numberText(theirs, 2), numberText(bare, 2),
                     ratioText(mine, theirs), ratioText(mine, bare), ""])
    }
    for (label, field) in fields.prefix(2) {
        let mine = total(fasco, field)
        let theirs = total(containerd, field)
        let bare = floorValue(field)
        rows.append(["pod total \(label)", numberText(mine, 2), numberText(theirs, 2), numberText(bare, 2),
                     ratioText(mine, theirs), ratioText(mine, bare), ""])
    }
    printTable(["per pod (MiB)", "fasco", "containerd", "floor", "fasco/containerd", "fasco/floor", "target"], rows)
    func counts(_ memory: PodMemory?, _ name: String) -> String {
        guard let memory else { return "\(name): not measured" }
        return "\(name): \(memory.pods) pods, \(memory.supervisors.count) per-pod processes, "
            + "\(memory.pauses.count) pause, \(memory.containers.count) sleep"
    }
    print("")
    print("found: \(counts(fasco, "fasco")); \(counts(containerd, "containerd")); floor: \(floor.count) sleep")
    print("pod total = per-pod process + pause (containerd) + sleep. The RSS of file pages depends on what the page")
    print("cache holds of each runtime's own copy of the image (fault-around maps cached neighbours): compare PSS.")
}
