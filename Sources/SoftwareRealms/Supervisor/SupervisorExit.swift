import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// How a container of a System Realm ended, as its supervisor (`fasco-realm`) recorded it.
public struct SupervisorExit: Sendable, Equatable {
    /// The exit status; 128 + N for a process killed by signal N.
    public var code: Int32
    /// When the supervisor reaped the process: nanoseconds since the Unix epoch (CLOCK_REALTIME).
    public var finishedAt: Int64
    /// Whether the process was killed for running out of memory.
    public var oom: Bool

    public init(code: Int32, finishedAt: Int64, oom: Bool) {
        self.code = code
        self.finishedAt = finishedAt
        self.oom = oom
    }

    /// The exit the supervisor persisted in `directory/exits/id` (written before any waiter
    /// was told), or nil when there is none: how a restarted daemon learns exits it missed.
    public static func persisted(directory: String, id: String) throws(FascoError) -> SupervisorExit? {
        guard SupervisorProtocol.isValidID(id) else { throw .invalidArgument("malformed container ID \(id.debugDescription)") }
        let path = "\(directory)/exits/\(id)"
        guard let bytes = try FileSystem.read(path, limit: 4096) else { return nil }
        return try parse(record: String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Parses `code=N\nfinished=NS\noom=0|1\npid=P\n` (unknown keys are ignored).
    static func parse(record: String, path: String) throws(FascoError) -> SupervisorExit {
        var code: Int32?
        var finished: Int64?
        var oom = false
        for line in record.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let value = line[line.index(after: equals)...]
            switch line[..<equals] {
            case "code": code = Int32(value)
            case "finished": finished = Int64(value)
            case "oom": oom = value == "1"
            default: break
            }
        }
        guard let code, let finished else { throw .internal("\(path) is not an exit record: \(record.debugDescription)") }
        return SupervisorExit(code: code, finishedAt: finished, oom: oom)
    }
}
