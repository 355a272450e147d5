import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Locating the real `fasco-realm` binary and running realms of it for tests.
enum SupervisorFixture {
    /// `fasco-realm` beside the test bundle (SwiftPM builds every product into one directory),
    /// or `FASCO_REALM_BINARY`.
    static let binary: String? = {
        var directories: [String] = []
        if let argument = CommandLine.arguments.first { directories.append(parentDirectory(argument)) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            directories.append(parentDirectory(String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        var candidates: [String] = []
        if let variable = getenv("FASCO_REALM_BINARY") { candidates.append(String(cString: variable)) }
        for directory in directories {
            // The bundle may be a directory (…/X.xctest/…) with the products a level or two up.
            candidates += ["\(directory)/fasco-realm", "\(directory)/../fasco-realm", "\(directory)/../../fasco-realm"]
        }
        return candidates.first { access($0, X_OK) == 0 && !FileSystem.isDirectory($0) }.map(absolutePath)
    }()

    /// The supervisor makes namespaces (CAP_SYS_ADMIN) and needs its binary.
    static var available: Bool { getuid() == 0 && binary != nil }

    private static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func absolutePath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A supervisor launched in a fresh directory under /var/tmp.
struct RealmUnderTest {
    let directory: String
    let process: SupervisorProcess
    var client: SupervisorClient { process.client }
    var pid: pid_t { process.pid }

    static func makeDirectory() throws -> String {
        var template = Array("/var/tmp/fasco-realm-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let made else { throw FascoError.internal("mkdtemp failed: \(FileSystem.errnoText)") }
        return made
    }

    static func launch(hostname: String? = "realm-test", namespaces: SupervisorProcess.Namespaces = .init()) async throws -> RealmUnderTest {
        guard let binary = SupervisorFixture.binary else { throw FascoError.notFound("fasco-realm binary not found") }
        let directory = try makeDirectory()
        do {
            let process = try await SupervisorProcess.launch(binary: binary, directory: directory, hostname: hostname, namespaces: namespaces)
            return RealmUnderTest(directory: directory, process: process)
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
    }

    /// Shuts the supervisor down (if it still runs), waits for it and removes the directory.
    func finish() async {
        try? await client.shutdown()
        _ = try? await process.waitForExit(timeout: .seconds(10))
        try? FileSystem.removeTree(directory)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Creates a container the way `crun create` leaves one: the "runtime" (`/bin/sh -c`)
    /// starts `sh SCRIPT` in the background, writes its pid to the pid file and exits 0.
    /// The script first waits until the runtime is gone, as a real container process waits
    /// for `start`: dash reaps background children that exit while it still runs.
    func createContainer(_ id: String, script: String, runtimePrefix: String = "") async throws -> pid_t {
        // The runtime's pid comes as $1: $PPID would be the supervisor's if the runtime
        // exited before the script started.
        let waitForRuntime = "while kill -0 $1 2>/dev/null; do sleep 0.005; done\n"
        try FileSystem.writeAtomically(Array((waitForRuntime + script).utf8), to: path("\(id).sh"), mode: 0o644)
        let command = "\(runtimePrefix)sh \(path("\(id).sh")) $$ & echo $! > \(path("\(id).pid"))"
        return try await client.create(id: id, pidFile: path("\(id).pid"), logPath: path("\(id).log"), argv: ["/bin/sh", "-c", command])
    }

    func log(_ id: String, file: String? = nil) throws -> [CRILogEntry] {
        let text = try FileSystem.read(file ?? path("\(id).log")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return try CRILogEntry.parse(text)
    }

    /// VmRSS of the supervisor in KiB.
    func residentKiB() throws -> Int {
        let status = try FileSystem.read("/proc/\(pid)/status").map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            if let value = line.split(separator: " ").dropFirst().first, let kib = Int(value) { return kib }
        }
        throw FascoError.internal("no VmRSS in /proc/\(pid)/status")
    }

    /// Processes whose parent is the supervisor, with their state letter.
    func children() -> [(pid: pid_t, state: Character)] {
        var found: [(pid: pid_t, state: Character)] = []
        for name in (try? FileSystem.list("/proc")) ?? [] {
            guard let candidate = pid_t(name), let bytes = try? FileSystem.read("/proc/\(name)/stat", limit: 4096) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let parent = pid_t(fields[1]), parent == pid, let state = fields[0].first else { continue }
            found.append((candidate, state))
        }
        return found
    }
}

/// One line of a CRI log file: `TIMESTAMP STREAM TAG CONTENT`.
struct CRILogEntry: Equatable {
    var timestamp: String
    var stream: String
    var tag: String
    var content: String

    static func parse(_ text: String) throws -> [CRILogEntry] {
        guard !text.isEmpty else { return [] }
        guard text.hasSuffix("\n") else { throw FascoError.internal("log does not end with a newline") }
        return try text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4 else { throw FascoError.internal("malformed log line \(String(line.prefix(80)).debugDescription)") }
            return CRILogEntry(timestamp: String(parts[0]), stream: String(parts[1]), tag: String(parts[2]), content: String(parts[3]))
        }
    }

    /// RFC 3339 with nanoseconds in UTC: 2026-11-22T05:18:03.123456789Z.
    var hasCRITimestamp: Bool {
        let bytes = Array(timestamp.utf8)
        guard bytes.count == 30 else { return false }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] + Array(20...28)
        return digits.allSatisfy { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
            && bytes[4] == 0x2D && bytes[7] == 0x2D && bytes[10] == 0x54 && bytes[13] == 0x3A && bytes[16] == 0x3A
            && bytes[19] == 0x2E && bytes[29] == 0x5A
    }
}

/// Runs a shell command (popen: glibc spawns it with posix_spawn) on a thread of its own and
/// returns its exit status and standard output.
func realmShell(_ command: String) async throws -> (status: Int32, output: String) {
    try await BlockingWork.run { () throws(FascoError) -> (status: Int32, output: String) in
        guard let stream = popen(command, "r") else { throw .internal("popen \(command): \(FileSystem.errnoText)") }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
            if count == 0 { break }
            output.append(contentsOf: chunk[..<count])
        }
        let status = pclose(stream)
        return ((status >> 8) & 0xFF, String(decoding: output, as: UTF8.self))
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
func realmEventually(timeout: Duration = .seconds(5), _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
}

func namespaceLink(_ pid: String, _ name: String) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink("/proc/\(pid)/ns/\(name)", &buffer, buffer.count - 1)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func processExists(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

/// CLOCK_REALTIME in nanoseconds.
func realmNowNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Launches a realm, runs `body` with it and always shuts it down and removes its directory.
func withRealm(
    hostname: String? = "realm-test", namespaces: SupervisorProcess.Namespaces = .init(),
    _ body: (RealmUnderTest) async throws -> Void
) async throws {
    let realm = try await RealmUnderTest.launch(hostname: hostname, namespaces: namespaces)
    do {
        try await body(realm)
    } catch {
        await realm.finish()
        throw error
    }
    await realm.finish()
}

/// The value of one "Name:\tvalue" line of /proc/PID/status, nil when it cannot be read.
func procStatus(_ pid: pid_t, _ name: String) -> String? {
    guard let bytes = try? FileSystem.read("/proc/\(pid)/status", limit: 16384) else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("\(name):") {
        return String(line.dropFirst(name.count + 1)).split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ")
    }
    return nil
}

/// /proc/PID/comm without its newline ("" when it cannot be read).
func processName(_ pid: pid_t) -> String {
    let text = (try? FileSystem.read("/proc/\(pid)/comm", limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return text.hasSuffix("\n") ? String(text.dropLast()) : text
}

/// Every process (zombies included) whose PID namespace is `link` ("pid:[INODE]").
func processes(inPIDNamespace link: String) -> [pid_t] {
    ((try? FileSystem.list("/proc")) ?? []).compactMap { pid_t($0) }.filter { namespaceLink(String($0), "pid") == link }
}
