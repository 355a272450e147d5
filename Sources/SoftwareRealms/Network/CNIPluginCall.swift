import FascoCore
import FoundationEssentials
import Metrics
#if canImport(Glibc)
import Glibc
#endif

/// One execution of a CNI plugin (SPEC.md section 2): the request configuration on stdin, the
/// parameters in CNI_* environment variables, a result or an error object on stdout.
///
/// The plugin runs through `ProcessSpawner` in a session of its own, with a deadline (its whole
/// process group is killed at the deadline) and a bound on what it may print.
struct CNIPluginCall: Sendable {
    /// How long each plugin execution takes, by command (ADD, DEL, CHECK, VERSION) and plugin type:
    /// the CNI plugins' own time, which Fasco does not control.
    static let durationMetric = "fasco_cni_plugin_duration_seconds"

    enum Command: String, Sendable {
        case add = "ADD"
        case delete = "DEL"
        case check = "CHECK"
        case version = "VERSION"
    }

    var command: Command
    /// The plugin's type, for messages.
    var type: String
    /// The executable.
    var path: String
    var containerID = ""
    /// CNI_NETNS; may be empty for DEL.
    var networkNamespace = ""
    var interfaceName = ""
    var cniArgs = ""
    /// CNI_PATH: the plugin directories joined with ':'.
    var cniPath: String
    var timeout: Duration
    var outputLimit: Int
    /// A directory of Fasco's own where the request is staged for the plugin's stdin.
    var scratchDirectory: String

    /// Runs the plugin with `request` on stdin. Returns what it printed on success, parsed as
    /// JSON (nil when it printed nothing); throws its error object's message otherwise.
    func run(_ request: JSONValue) async throws(FascoError) -> JSONValue? {
        let input = try stdinFile(request.encoded())
        defer { close(input) }
        let output: ProcessSpawner.Output
        let start = ContinuousClock.now
        defer {
            Metrics.Timer(label: Self.durationMetric, dimensions: [("command", command.rawValue), ("plugin", type)])
                .record(duration: ContinuousClock.now - start)
        }
        do throws(FascoError) {
            output = try await ProcessSpawner.run(
                ProcessSpawner.Command(path, environment: environment, stdin: .fd(input), stdout: .pipe, stderr: .pipe, newSession: true),
                timeout: timeout, outputLimit: outputLimit)
        } catch {
            throw FascoError(error.code, "\(what): \(error.message)")
        }
        if output.truncated {
            throw .internal("\(what) printed more than \(outputLimit) bytes")
        }
        guard output.exit.succeeded else { throw failure(output) }
        guard !output.stdoutText.trimmed.isEmpty else { return nil }
        do throws(FascoError) {
            return try JSONValue.parse(output.stdout, what: "the output")
        } catch {
            throw .internal("\(what) succeeded but printed something that is not JSON: \(excerpt(output.stdoutText))")
        }
    }

    private var what: String {
        command == .version ? "CNI plugin \(type) VERSION" : "CNI plugin \(type) \(command.rawValue) for \(containerID)"
    }

    /// The caller's environment without CNI_* variables (as libcni passes it: plugins run
    /// iptables and friends through PATH), then the CNI parameters.
    private var environment: [String] {
        var entries = ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("CNI_") }
            .map { "\($0.key)=\($0.value)" }
            .filter { !$0.utf8.contains(0) }
            .sorted()
        if !entries.contains(where: { $0.hasPrefix("PATH=") }) { entries.append("PATH=\(ProcessSpawner.defaultSearchPath)") }
        entries.append("CNI_COMMAND=\(command.rawValue)")
        entries.append("CNI_PATH=\(cniPath)")
        if command != .version {
            entries += [
                "CNI_CONTAINERID=\(containerID)", "CNI_NETNS=\(networkNamespace)", "CNI_IFNAME=\(interfaceName)", "CNI_ARGS=\(cniArgs)",
            ]
        }
        return entries
    }

    /// An unlinked file holding `bytes`, positioned at its start, for the plugin's stdin (a
    /// pipe would need a writer running beside the plugin once the request outgrows its buffer).
    private func stdinFile(_ bytes: [UInt8]) throws(FascoError) -> Int32 {
        let path = "\(scratchDirectory)/.stdin-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internal("cannot create \(path): \(FileSystem.errnoText)") }
        unlink(path)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let error = FascoError.internal("cannot write the request for \(what): \(FileSystem.errnoText)")
                close(fd)
                throw error
            }
            offset += written
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            let error = FascoError.internal("cannot rewind the request for \(what): \(FileSystem.errnoText)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The plugin's error object ({"code", "msg", "details"} on stdout, SPEC.md section 5)
    /// as a `FascoError`, or what it wrote when it printed no such object.
    private func failure(_ output: ProcessSpawner.Output) -> FascoError {
        let stderr = output.stderrText.trimmed
        // Output that is not JSON is no error object: it is reported as it was printed, below.
        if let error = try? JSONValue.parse(output.stdout, what: "the output"), let message = error["msg"]?.stringValue {
            let code = error["code"]?.integerValue
            var text = message
            if let details = error["details"]?.stringValue, !details.isEmpty, details != message { text += ": \(details)" }
            if let code { text += " (CNI error code \(code))" }
            if !stderr.isEmpty { text += "; stderr: \(excerpt(stderr))" }
            return FascoError(Self.code(for: code), "\(what) failed: \(text)")
        }
        let said = [stderr, output.stdoutText.trimmed].filter { !$0.isEmpty }.map(excerpt).joined(separator: "; ")
        return .internal("\(what) failed with \(output.exit)" + (said.isEmpty ? "" : ": \(said)"))
    }

    /// The well-known CNI error codes (SPEC.md section 5, "Error") as Fasco codes.
    static func code(for cniCode: Int64?) -> FascoError.Code {
        switch cniCode {
        case 1, 2, 6, 7: .failedPrecondition  // incompatible version, unsupported field, undecodable or invalid config
        case 3: .notFound  // container unknown
        case 4: .invalidArgument  // invalid environment parameters
        case 11, 50, 51: .unavailable  // try again later, plugin not available
        default: .internal
        }
    }

    private func excerpt(_ text: String) -> String {
        let trimmed = text.trimmed
        guard trimmed.utf8.count > 2000 else { return trimmed }
        return String(decoding: trimmed.utf8.prefix(2000), as: UTF8.self) + "…"
    }
}
