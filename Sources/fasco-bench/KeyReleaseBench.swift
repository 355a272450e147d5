import CRIAPI
import FascoCore
import Foundation
import GRPCTransport

/// What the confidential data path costs, each beside its baseline measured in the same run:
/// an attested resource fetch from a fresh pod's container through the guest API (the first,
/// which attests, and the next, on the kept session) against a no-op exec in the same container;
/// the start of a container with a sealed environment value (a broker-held vault secret, and
/// envelopes whose data key AWS KMS or an Alibaba Cloud KMS instance unwraps with broker-released
/// credentials) against the same container without;
/// and the creation of a container from an encrypted image (its layer decrypted and unpacked for
/// it) against one from the same image in plain. The key broker is the test suite's
/// (Tests/attestation/kbs.py, RCAR 0.4.0) and the KMSes are the test suite's peers
/// (Tests/attestation/awskms.py, aliyunkms.py over HTTPS), all on loopback, so the network is not
/// what is measured.
func keyReleaseBenchmark() async throws {
    let repository = FileManager.default.currentDirectoryPath
    let python = repository + "/.build-py/bin/python"
    guard FileManager.default.isExecutableFile(atPath: python) else {
        print("keys: skipped (no \(python): make py-deps)")
        return
    }
    let port = Int.random(in: 30000...39999)
    let kmsPort = port + 10000
    let aliyunPort = port + 20000
    let brokerDirectory = try makeDirectory("kbs")
    defer { try? FileManager.default.removeItem(at: brokerDirectory) }
    let fasco = try startFasco(config: "[kbs]\nurl = \"http://127.0.0.1:\(port)\"\n[kms.aws]\nkms_endpoint = \"http://127.0.0.1:\(kmsPort)\"\n"
        + "credential_uri = \"kbs:///default/aws/credential\"\n[kms.aliyun]\nendpoint = \"https://127.0.0.1:\(aliyunPort)\"\n")
    defer { stop(fasco) }
    try await waitUntilAnswering(fasco)
    let channel = GRPCChannel(target: fasco.endpoint)
    defer { channel.close() }
    let runtime = RuntimeServiceClient(channel: channel)
    let images = ImageServiceClient(channel: channel)
    _ = try await channel.unary("/fasco.v1.Admin/ImportImages", request: Array(
        #"{"path": "/var/tmp/fasco-images/busybox", "name": "fasco.local/busybox"}"#.utf8))

    // The broker: a resource, a sealed secret's signing key and secret, an image key; its trust
    // anchor is this daemon's platform key; its policy the RIMs read from the first instances.
    let resources = brokerDirectory.appendingPathComponent("resources")
    func resource(_ path: String, _ data: Data) throws {
        let file = resources.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }
    try resource("default/key/one", Data("plaintext-one".utf8))
    try resource("default/sealed/db", Data("s3cr3t".utf8))
    let kbs = repository + "/Tests/attestation/kbs.py"
    let signer = brokerDirectory.appendingPathComponent("signer.pem").path
    try resource("default/signing/key", Data())
    _ = try runTool(python, [kbs, "keygen", signer, resources.appendingPathComponent("default/signing/key").path])
    let sealed = try runTool(python, [kbs, "seal", signer, "kbs:///default/signing/key", "kbs:///default/sealed/db"])
        .trimmingCharacters(in: .whitespacesAndNewlines)
    // The KMS peer: one key the broker-released credential may use; an envelope sealed to it.
    let awskms = repository + "/Tests/attestation/awskms.py"
    let kmsState = brokerDirectory.appendingPathComponent("kms-state.json")
    try JSONSerialization.data(withJSONObject: [
        "region": "eu-west-1", "credentials": ["AKIDBENCH": ["secret": "bench-secret", "session_token": NSNull()]],
        "keys": ["bench-key": ["material": String(repeating: "ab", count: 32), "allowed": ["AKIDBENCH"], "enabled": true]],
        "secrets": [String: Any](),
    ]).write(to: kmsState)
    try resource("default/aws/credential", Data(try runTool(python, [awskms, "credential", "--access-key", "AKIDBENCH", "--secret", "bench-secret"]).utf8))
    let envelope = try runTool(python, [awskms, "seal-envelope", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                        "--state", kmsState.path, "--key-id", "bench-key", "--region", "eu-west-1", "--plaintext", "s3cr3t"])
        .trimmingCharacters(in: .whitespacesAndNewlines)
    let kmsReady = brokerDirectory.appendingPathComponent("kms-ready")
    let kms = try await startPeer(python, [awskms, "serve", "--port", "\(kmsPort)", "--state", kmsState.path, "--ready", kmsReady.path],
                                  ready: kmsReady)
    defer { stopPeer(kms) }
    // The Alibaba Cloud KMS-instance peer (HTTPS under its own CA): a client key, a key it may
    // use, an envelope sealed to it; the client key, its password and the CA as broker resources.
    let aliyunkms = repository + "/Tests/attestation/aliyunkms.py"
    let aliyunState = brokerDirectory.appendingPathComponent("aliyun-state.json")
    try JSONSerialization.data(withJSONObject: [
        "client_keys": [String: Any](), "secrets": [String: Any](),
        "keys": ["bench-key": ["material": String(repeating: "cd", count: 32), "allowed": ["KAAP.bench"], "enabled": true]],
    ]).write(to: aliyunState)
    let aliyunCredentials = brokerDirectory.appendingPathComponent("aliyun")
    try FileManager.default.createDirectory(at: aliyunCredentials, withIntermediateDirectories: true)
    _ = try runTool(python, [aliyunkms, "client-key", "--id", "KAAP.bench", "--state", aliyunState.path, "--out-dir", aliyunCredentials.path])
    let aliyunEnvelope = try runTool(python, [aliyunkms, "seal-envelope", "--signing-key", signer, "--kid", "kbs:///default/signing/key",
                                              "--state", aliyunState.path, "--key-id", "bench-key", "--client-key-id", "KAAP.bench",
                                              "--kms-instance-id", "kst-bench", "--plaintext", "s3cr3t"])
        .trimmingCharacters(in: .whitespacesAndNewlines)
    let aliyunReady = brokerDirectory.appendingPathComponent("aliyun-ready")
    let aliyunTLS = brokerDirectory.appendingPathComponent("aliyun-tls")
    let aliyun = try await startPeer(python, [aliyunkms, "serve", "--port", "\(aliyunPort)", "--state", aliyunState.path,
                                              "--tls-dir", aliyunTLS.path, "--ready", aliyunReady.path], ready: aliyunReady)
    defer { stopPeer(aliyun) }
    try resource("default/aliyun/client-key", try Data(contentsOf: aliyunCredentials.appendingPathComponent("clientKey_KAAP.bench.json")))
    try resource("default/aliyun/password", try Data(contentsOf: aliyunCredentials.appendingPathComponent("password_KAAP.bench.json")))
    try resource("default/aliyun/ca", try Data(contentsOf: aliyunTLS.appendingPathComponent("ca.pem")))
    let kek = brokerDirectory.appendingPathComponent("kek").path
    let encrypt = repository + "/Tests/images/encrypt.py"
    _ = try runTool(python, [encrypt, "kek", kek])
    try resource("default/image-key/1", try Data(contentsOf: URL(fileURLWithPath: kek)))
    let encryptedRepository = "fasco/bench-encrypted-\(UInt32.random(in: 0...UInt32.max))"
    _ = try runTool(python, [encrypt, "copy", "--registry", "127.0.0.1:5000", "--source", "fasco/busybox:latest",
                             "--target", encryptedRepository + ":1", "--kek", kek, "--kid", "kbs:///default/image-key/1", "--label", "bench=1"])
    let encryptedImage = "127.0.0.1:5000/\(encryptedRepository):1"
    let plainImage = "127.0.0.1:5000/fasco/busybox:latest"
    for image in [encryptedImage, plainImage] {
        _ = try await images.pullImage(PullImageRequest(image: ImageSpec(image: image)), timeout: .seconds(120))
    }
    let anchor = try JSONSerialization.jsonObject(with: Data(try await channel.unary("/fasco.v1.Admin/PlatformKey", request: Array("{}".utf8))))
    try JSONSerialization.data(withJSONObject: [(anchor as? [String: Any])?["trust_anchor"] ?? [:]])
        .write(to: brokerDirectory.appendingPathComponent("anchors.json"))
    let policy = brokerDirectory.appendingPathComponent("policy.json")
    var rims = Set<String>()
    func allow(_ container: String) async throws {
        let request = Array(#"{"realm": "\#(container)"}"#.utf8)
        let document = try JSONSerialization.jsonObject(with: Data(try await channel.unary("/fasco.v1.Admin/Measurements", request: request)))
        guard let rim = ((document as? [String: Any])?["measurement"] as? [String: Any])?["rim"] as? String else { return }
        rims.insert(rim)
        try JSONSerialization.data(withJSONObject: ["rims": Array(rims)]).write(to: policy)
    }
    try JSONSerialization.data(withJSONObject: ["rims": [String]()]).write(to: policy)
    let ready = brokerDirectory.appendingPathComponent("ready")
    let broker = try await startPeer(python, [kbs, "--port", "\(port)", "--resources", resources.path, "--policy", policy.path,
                                              "--trust-anchors", brokerDirectory.appendingPathComponent("anchors.json").path,
                                              "--ready", ready.path], ready: ready)
    defer { stopPeer(broker) }

    let rounds = 11
    var pods: [String] = []
    func pod(_ name: String, annotations: [String: String] = [:]) async throws -> (String, PodSandboxConfig) {
        var config = PodSandboxConfig(metadata: PodSandboxMetadata(name: name, uid: name + "-uid", namespace: "bench"), hostname: name,
                                      logDirectory: fasco.directory.appendingPathComponent("logs").path)
        config.annotations = annotations
        let id = try await runtime.runPodSandbox(RunPodSandboxRequest(config: config), timeout: .seconds(60)).podSandboxID
        pods.append(id)
        return (id, config)
    }
    func create(_ pod: (String, PodSandboxConfig), _ name: String, image: String, env: [KeyValue] = []) async throws -> String {
        var config = ContainerConfig(metadata: ContainerMetadata(name: name), image: ImageSpec(image: image),
                                     command: ["/bin/sh", "-c", "sleep 100000"], logPath: name + ".log")
        config.envs = env
        return try await runtime.createContainer(CreateContainerRequest(podSandboxID: pod.0, config: config, sandboxConfig: pod.1),
                                                 timeout: .seconds(120)).containerID
    }
    func exec(_ container: String, _ command: [String]) async throws -> Duration {
        let began = ContinuousClock.now
        let response = try await runtime.execSync(ExecSyncRequest(containerID: container, cmd: command, timeout: 30), timeout: .seconds(60))
        let took = ContinuousClock.now - began
        guard response.exitCode == 0 else { throw BenchError("\(command.joined(separator: " ")) exited \(response.exitCode): \(String(decoding: response.stderr, as: UTF8.self))") }
        return took
    }

    // 1. Resource fetches from fresh pods' containers.
    var firstFetches: [Duration] = []
    var nextFetches: [Duration] = []
    var noOps: [Duration] = []
    let wget = ["wget", "-qO-", "http://127.0.0.1:8006/cdh/resource/default/key/one"]
    for round in 0..<rounds {
        let fresh = try await pod("keys-\(round)")
        let container = try await create(fresh, "app", image: plainImage)
        if round == 0 { try await allow(container) }
        _ = try await runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60))
        noOps.append(try await exec(container, ["true"]))
        firstFetches.append(try await exec(container, wget))
        nextFetches.append(try await exec(container, wget))
    }

    // 2. StartContainer with a sealed environment value (vault, aws and aliyun envelopes), and
    //    without. The pod's initdata names the same broker and, as CoCo's cdh.toml would, where
    //    the aliyun driver's credentials are.
    let credentialDirectory = "/run/confidential-containers/cdh/kbs/kms-credential/aliyun"
    let initData = """
        algorithm = "sha384"
        version = "0.1.0"

        [data]
        "cdh.toml" = '''
        [kbc]
        name = "cc_kbc"
        url = "http://127.0.0.1:\(port)"
        [[credentials]]
        path = "\(credentialDirectory)/clientKey_KAAP.bench.json"
        resource_uri = "kbs:///default/aliyun/client-key"
        [[credentials]]
        path = "\(credentialDirectory)/password_KAAP.bench.json"
        resource_uri = "kbs:///default/aliyun/password"
        [[credentials]]
        path = "\(credentialDirectory)/PrivateKmsCA_kst-bench.pem"
        resource_uri = "kbs:///default/aliyun/ca"
        '''

        """
    let startPod = try await pod("sealed", annotations: ["io.katacontainers.config.hypervisor.cc_init_data": Data(initData.utf8).base64EncodedString()])
    var starts: [String: [Duration]] = [:]
    for round in 0..<rounds {
        for (kind, value) in [("vault", sealed), ("envelope", envelope), ("aliyun", aliyunEnvelope), ("plain", nil)] {
            let container = try await create(startPod, "\(kind)-\(round)", image: plainImage,
                                             env: value.map { [KeyValue(key: "DB_PASSWORD", value: $0)] } ?? [])
            if round == 0 && value != nil { try await allow(container) }
            let began = ContinuousClock.now
            _ = try await runtime.startContainer(StartContainerRequest(containerID: container), timeout: .seconds(60))
            starts[kind, default: []].append(ContinuousClock.now - began)
            _ = try await runtime.stopContainer(StopContainerRequest(containerID: container, timeout: 0), timeout: .seconds(60))
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: container), timeout: .seconds(60))
        }
    }
    let plainStart = median(starts["plain"] ?? [])

    // 3. CreateContainer from the encrypted image, and from the same image in plain. The policy
    //    names the encrypted image's realms by the RIM `fasco measure` computes for them offline
    //    (no such realm may exist before its key is released).
    let imagePod = try await pod("encrypted")
    let podFile = brokerDirectory.appendingPathComponent("pod.json")
    try JSONSerialization.data(withJSONObject: [
        "metadata": ["name": "encrypted", "uid": "encrypted-uid", "namespace": "bench"], "hostname": "encrypted",
        "log_directory": fasco.directory.appendingPathComponent("logs").path,
    ]).write(to: podFile)
    let containerFile = brokerDirectory.appendingPathComponent("container.json")
    try JSONSerialization.data(withJSONObject: [
        "metadata": ["name": "enc"], "image": ["image": encryptedImage], "command": ["/bin/sh", "-c", "sleep 100000"], "log_path": "enc.log",
    ]).write(to: containerFile)
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fasco").path
    let measured = try runTool(binary, ["measure", "--pod", podFile.path, "--container", containerFile.path, "--image", encryptedImage,
                                        "--root", fasco.directory.appendingPathComponent("root").path,
                                        "--state", fasco.directory.appendingPathComponent("state").path,
                                        "--config", fasco.directory.appendingPathComponent("empty.toml").path])
    guard let rim = (try JSONSerialization.jsonObject(with: Data(measured.utf8)) as? [String: Any])?["rim"] as? String else {
        throw BenchError("fasco measure gave no rim: \(measured)")
    }
    rims.insert(rim)
    try JSONSerialization.data(withJSONObject: ["rims": Array(rims)]).write(to: policy)
    var encryptedCreates: [Duration] = []
    var plainCreates: [Duration] = []
    for round in 0..<rounds {
        for encrypted in [true, false] {
            let began = ContinuousClock.now
            let container = try await create(imagePod, "\(encrypted ? "enc" : "plain")-\(round)", image: encrypted ? encryptedImage : plainImage)
            (encrypted ? { encryptedCreates.append(ContinuousClock.now - began) } : { plainCreates.append(ContinuousClock.now - began) })()
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: container), timeout: .seconds(60))
        }
    }
    for id in pods { _ = try? await runtime.removePodSandbox(RemovePodSandboxRequest(podSandboxID: id), timeout: .seconds(60)) }

    print("key release (loopback Python broker), medians of \(rounds)       this run    baseline    extra")
    print("  resource fetch, fresh pod's first (attests)  \(ms(median(firstFetches)))  \(ms(median(noOps)))  \(ms(median(firstFetches) - median(noOps)))   (baseline: a no-op exec)")
    print("  resource fetch, next (kept session)          \(ms(median(nextFetches)))  \(ms(median(noOps)))  \(ms(median(nextFetches) - median(noOps)))")
    for (kind, label) in [("vault", "StartContainer, sealed env value (vault)      "), ("envelope", "StartContainer, sealed env value (aws env.)   "),
                          ("aliyun", "StartContainer, sealed env value (aliyun env.)")] {
        let value = median(starts[kind] ?? [])
        print("  \(label)\(ms(value))  \(ms(plainStart))  \(ms(value - plainStart))   \(ratio(value, plainStart))")
    }
    print("  CreateContainer from an encrypted image      \(ms(median(encryptedCreates)))  \(ms(median(plainCreates)))  \(ms(median(encryptedCreates) - median(plainCreates)))   \(ratio(median(encryptedCreates), median(plainCreates)))")
}

private func ms(_ duration: Duration) -> String { String(format: "%8.2f ms", seconds(duration) * 1000) }

private func ratio(_ value: Duration, _ baseline: Duration) -> String { String(format: "%.2fx", seconds(value) / seconds(baseline)) }

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A Python peer of the test suite (kbs.py, awskms.py, aliyunkms.py), its output discarded,
/// once it wrote its `--ready` file (or 10 s went by).
func startPeer(_ python: String, _ arguments: [String], ready: URL) async throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready.path) { try await Task.sleep(for: .milliseconds(100)) }
    return process
}

/// Ends a peer `startPeer` started (SIGKILL: it holds nothing to save).
func stopPeer(_ process: Process) {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

/// Runs `tool` with `arguments` to its end; its standard output, or BenchError with its errors.
func runTool(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(tool) \(arguments.first ?? "") failed: \(String(decoding: errorData, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
}
