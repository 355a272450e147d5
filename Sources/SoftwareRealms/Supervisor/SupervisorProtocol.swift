import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// The datagram protocol of `fasco-realm`'s control socket (documented in
/// Sources/fasco-realm/main.c): one datagram per command and per reply, fields separated by
/// NUL bytes; errors are `error\0KIND: MESSAGE`, a failed create `error\0STATUS\0OUTPUT`.
enum SupervisorProtocol {
    static let maxCommandBytes = 64 * 1024
    static let maxArguments = 256
    static let maxIDBytes = 128

    /// The supervisor's rule: 1-128 bytes of [A-Za-z0-9_.-], starting alphanumeric.
    static func isValidID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty, bytes.count <= maxIDBytes else { return false }
        for (index, byte) in bytes.enumerated() {
            let alphanumeric = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            if !alphanumeric && (index == 0 || (byte != 0x2D && byte != 0x5F && byte != 0x2E)) { return false }
        }
        return true
    }

    static func validate(id: String) throws(FascoError) {
        guard isValidID(id) else {
            throw .invalidArgument("container ID \(id.debugDescription) is not 1-128 bytes of [A-Za-z0-9_.-] starting alphanumeric")
        }
    }

    /// Joins `fields` with NUL separators.
    static func encode(_ fields: [String]) throws(FascoError) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if field.utf8.contains(0) { throw .invalidArgument("a supervisor command field contains a NUL byte: \(field.debugDescription)") }
            if index > 0 { bytes.append(0) }
            bytes.append(contentsOf: field.utf8)
        }
        guard bytes.count <= maxCommandBytes else {
            throw .invalidArgument("the command is \(bytes.count) bytes; the realm supervisor takes at most \(maxCommandBytes)")
        }
        return bytes
    }

    /// Splits a reply at NUL bytes, into at most `limit` fields (the last keeps any further NULs).
    static func fields(_ reply: [UInt8], limit: Int = .max) -> [String] {
        reply.split(separator: 0, maxSplits: max(limit - 1, 0), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The error a reply carries, or nil when it is not an error reply.
    static func error(in reply: [UInt8], command: String) -> FascoError? {
        let parts = fields(reply, limit: 2)
        guard parts.first == "error" else { return nil }
        let text = parts.count > 1 ? parts[1] : "no message"
        let kinds: [(String, FascoError.Code)] = [
            ("invalid argument: ", .invalidArgument), ("not found: ", .notFound), ("already exists: ", .alreadyExists),
            ("failed precondition: ", .failedPrecondition), ("resource exhausted: ", .resourceExhausted), ("internal: ", .internal),
        ]
        for (prefix, code) in kinds where text.hasPrefix(prefix) {
            return FascoError(code, "realm supervisor \(command): \(text.dropFirst(prefix.count))")
        }
        return .internal("realm supervisor \(command): \(text)")
    }

    static func unexpected(_ reply: [UInt8], command: String) -> FascoError {
        let shown = String(decoding: reply.prefix(200), as: UTF8.self).debugDescription
        return .internal("realm supervisor \(command): unexpected reply \(shown)")
    }

    /// `ok\0PID`, or `error\0STATUS\0OUTPUT` when the runtime failed.
    static func parseCreate(_ reply: [UInt8], id: String) throws(FascoError) -> pid_t {
        let parts = fields(reply, limit: 3)
        if parts.count == 2, parts[0] == "ok", let pid = pid_t(parts[1]), pid > 0 { return pid }
        if parts.count == 3, parts[0] == "error", let status = Int32(parts[1]) {
            let failure = SupervisorCreateFailure(status: status, output: parts[2])
            let what = status == 0 ? "left no container process" : "exited with status \(status)"
            let output = parts[2].trimmingTrailingNewlines
            throw FascoError(.internal, "creating container \(id): the runtime \(what)\(output.isEmpty ? "" : ": \(output)")", cause: failure)
        }
        throw error(in: reply, command: "create \(id)") ?? unexpected(reply, command: "create \(id)")
    }

    /// `exited\0CODE\0FINISHED_NS\0OOM`.
    static func parseExit(_ reply: [UInt8], command: String) throws(FascoError) -> SupervisorExit {
        let parts = fields(reply)
        if parts.count == 4, parts[0] == "exited", let code = Int32(parts[1]), let finished = Int64(parts[2]), parts[3] == "0" || parts[3] == "1" {
            return SupervisorExit(code: code, finishedAt: finished, oom: parts[3] == "1")
        }
        throw error(in: reply, command: command) ?? unexpected(reply, command: command)
    }

    /// `ok` followed by `\nID\0PID\0STATE\0CODE\0FINISHED_NS\0OOM` per container.
    static func parseList(_ reply: [UInt8]) throws(FascoError) -> [SupervisorContainer] {
        let records = reply.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard let head = records.first, Array(head) == Array("ok".utf8) else {
            throw error(in: reply, command: "list") ?? unexpected(reply, command: "list")
        }
        var containers: [SupervisorContainer] = []
        for record in records.dropFirst() {
            let parts = fields(Array(record))
            guard parts.count == 6, let pid = pid_t(parts[1]), let state = SupervisorContainer.State(rawValue: parts[2]),
                let code = Int32(parts[3]), let finished = Int64(parts[4])
            else { throw unexpected(Array(record), command: "list") }
            let exit = state == .exited ? SupervisorExit(code: code, finishedAt: finished, oom: parts[5] == "1") : nil
            containers.append(SupervisorContainer(id: parts[0], pid: pid, state: state, exit: exit))
        }
        return containers
    }

    static func expectOK(_ reply: [UInt8], command: String) throws(FascoError) {
        guard reply != Array("ok".utf8) else { return }
        throw error(in: reply, command: command) ?? unexpected(reply, command: command)
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        return String(text)
    }
}
