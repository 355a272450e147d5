import Foundation
import CRIAPI
import GRPCTransport
import Testing

/// The real `fasco` binary serving on a temporary socket, as a user starts it.
///
/// With a `launcher` (e.g. `SystemdLab.launcher`: `lab.sh exec NAME --`), `process` is the
/// launcher, which runs `fasco serve ...` elsewhere; `signal` and `stop` then reach the fasco
/// process itself, and the directory defaults to one under /var/tmp (the lab's /tmp is private).
final class DaemonProcess: @unchecked Sendable {
    let directory: URL
    let launcher: [String]
    let process = Process()
    let stderrFile: URL
    var socketPath: String { directory.appendingPathComponent("run/fasco.sock").path }
    var endpoint: String { "unix://" + socketPath }

    /// The built fasco executable: $FASCO_BIN, or beside the test bundle.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["FASCO_BIN"] { return URL(fileURLWithPath: path) }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("fasco")
    }

    /// A fresh directory for a daemon, under `parent`.
    static func makeDirectory(in parent: String = "/tmp") throws -> URL {
        let directory = URL(fileURLWithPath: "\(parent)/fasco-daemon-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The directory a daemon gets when none is given: /var/tmp with a launcher, else /tmp.
    static func makeDirectory(launcher: [String]) throws -> URL {
        try makeDirectory(in: launcher.isEmpty ? "/tmp" : "/var/tmp")
    }

    init(extraArguments: [String] = [], directory: URL? = nil, launcher: [String] = []) throws {
        self.directory = try directory ?? Self.makeDirectory(launcher: launcher)
        self.launcher = launcher
        stderrFile = self.directory.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = launcher.first.map { URL(fileURLWithPath: $0) } ?? Self.binary
        process.arguments = launcher.dropFirst() + (launcher.isEmpty ? [] : [Self.binary.path]) + ["serve",
                             "--listen", "unix://" + self.directory.appendingPathComponent("run/fasco.sock").path,
                             "--root", self.directory.appendingPathComponent("root").path,
                             "--state", self.directory.appendingPathComponent("state").path,
                             "--config", self.directory.appendingPathComponent("none.toml").path,
                             "--log-level", "debug"] + extraArguments
        if !extraArguments.contains("--config") {
            try "".write(to: self.directory.appendingPathComponent("none.toml"), atomically: true, encoding: .utf8)
        }
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until the socket answers (or the process dies).
    func waitUntilServing(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw DaemonError("fasco exited early: \(stderr)") }
            // The socket file alone proves nothing (a killed daemon leaves one): wait for an answer.
            if FileManager.default.fileExists(atPath: socketPath) {
                let channel = GRPCChannel(target: endpoint)
                defer { channel.close() }
                if (try? await RuntimeServiceClient(channel: channel).version(timeout: .milliseconds(500))) != nil { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw DaemonError("fasco did not create \(socketPath) in time: \(stderr)")
    }

    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Signals the fasco process (with a launcher: the launched fasco, so that SIGKILL kills it).
    func signal(_ number: Int32) { kill(servingProcessIdentifier ?? process.processIdentifier, number) }

    /// The (host) PID of the fasco process: `process` itself, or with a launcher the first
    /// descendant of the launcher that runs the fasco binary; nil once it has gone.
    var servingProcessIdentifier: pid_t? {
        guard !launcher.isEmpty else { return process.isRunning ? process.processIdentifier : nil }
        var binaryInfo = stat()
        guard stat(Self.binary.path, &binaryInfo) == 0 else { return nil }
        var parents: [pid_t: [pid_t]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let text = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            // pid (comm) state ppid ...: comm may hold spaces and parentheses, hence the last ')'.
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { parents[parent, default: []].append(pid) }
        }
        var queue = [process.processIdentifier]
        while !queue.isEmpty {
            let pid = queue.removeFirst()
            var info = stat()
            if pid != process.processIdentifier, stat("/proc/\(pid)/exe", &info) == 0,
               info.st_dev == binaryInfo.st_dev, info.st_ino == binaryInfo.st_ino { return pid }
            queue += parents[pid] ?? []
        }
        return nil
    }

    /// Waits for the process to exit; returns its status, or nil on timeout.
    func waitForExit(timeout: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() async {
        if process.isRunning {
            signal(SIGKILL)
            _ = await waitForExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

struct DaemonError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command to completion; returns (status, stdout, stderr).
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The repository root, from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `runCommand` on a thread of its own, so that waiting for the command never holds one of
/// the few threads Swift's concurrency runs every test on.
func runCommandAsync(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (Int32, String, String) {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try runCommand(executable, arguments, environment: environment) })
        }
        thread.start()
    }
}

/// Polls `probe` until it returns a value (a hang guard only: fails after `timeout`).
func poll<T>(timeout: Duration = .seconds(30), _ probe: () -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = probe() { return value }
        guard ContinuousClock.now < deadline else { throw DaemonError("timed out") }
        try await Task.sleep(for: .milliseconds(20))
    }
}


/// What `make test` installs before it runs the tests. A bare `swift test` may lack it: the
/// tests that need it are then skipped, with the reason. In CI (CI=true) they run anyway and
/// fail on its absence, since make test must have provided it.
enum Prerequisites {
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    /// The Python grpcio venv (make py-deps): the independent CRI client.
    static let python = repositoryRoot.appendingPathComponent(".build-py/bin/python").path
    static var hasPython: Bool { FileManager.default.isExecutableFile(atPath: python) }
    /// Whether a test needing the Python venv runs (it then requires it).
    static var runsPython: Bool { hasPython || inCI }
    static let noPython: Comment = "no Python venv at .build-py (make py-deps; make test installs it)"
}
