import FascoCore
import FoundationEssentials

extension OCIRuntime {
    /// Turns a failed runtime call into a `FascoError` whose message is the runtime's own.
    ///
    /// Codes: a refusal `RuntimeRefusal` recognises (a missing or non-executable entry point,
    /// `unified` on cgroup v1) gets its code; an unknown container (its state directory is absent) is `notFound`; for `create`,
    /// a missing bundle, config.json or rootfs is `notFound`, a config.json that does not
    /// decode is `invalidArgument`, an ID in use is `alreadyExists`, anything else the runtime
    /// refuses is `failedPrecondition`; `start`/`kill`/`delete` refused for a container that
    /// exists are `failedPrecondition` (wrong state); other failures are `internal`.
    func failure(
        operation: String, id: String, exit: ProcessExit, log: String, output: ProcessSpawner.Output?, bundle: String?
    ) -> FascoError {
        let said = Self.errorMessages(inLog: log)
        var text = said.joined(separator: "; ")
        if text.isEmpty, let output {
            text = output.stderrText.trimmed
            if text.isEmpty { text = output.stdoutText.trimmed }
        }
        if text.isEmpty {
            // Runtimes print some failures only to stderr, which `create` hands to the container.
            text = "no message (\(exit))" + (operation == "create" ? "; anything else it said went to the container's stderr" : "")
        }
        let what = "\(kind.rawValue) \(operation) \(id)"

        if operation == "create" {
            if let bundle, let problem = Self.diagnose(bundle: bundle) {
                return FascoError(problem.code, "\(what): \(problem.message) (\(kind.rawValue): \(text))")
            }
        }
        if let refusal = RuntimeRefusal.recognise(text) {
            return refusal.error(what, runtime: kind.rawValue, said: text)
        }
        if operation == "create" {
            let lowered = text.lowercased()
            if lowered.contains("already exists") || lowered.contains("with id exists") {
                return .alreadyExists("\(what): \(text)")
            }
            return .failedPrecondition("\(what): \(text)")
        }
        if !FileSystem.isDirectory("\(stateRoot)/\(id)") {
            return .notFound("\(what): container \(id) does not exist (\(kind.rawValue): \(text))")
        }
        switch operation {
        case "start", "kill", "delete": return .failedPrecondition("\(what): \(text)")
        default: return .internal("\(what): \(text)")
        }
    }

    /// The `error`/`fatal` messages of a `--log-format json` log, in order. Lines that are not
    /// JSON are kept as they are (runtimes print some before their logger is set up). A log that
    /// cannot be read has nothing to add: the caller reports the exit instead.
    static func errorMessages(inLog path: String) -> [String] {
        guard let bytes = try? FileSystem.read(path, limit: 1 << 20) else { return [] }
        struct Line: Decodable {
            var level: String?
            var msg: String?
        }
        var messages: [String] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            if let decoded = try? JSONDecoder().decode(Line.self, from: Data(line)) {
                guard let message = decoded.msg, ["error", "fatal", "panic"].contains(decoded.level ?? "error") else { continue }
                messages.append(message)
            } else {
                messages.append(String(decoding: line, as: UTF8.self).trimmed)
            }
        }
        return messages
    }

    /// What is wrong with a bundle, looked at only after a runtime refused it (crun says only
    /// "error loading config.json" for a config it cannot parse, and nothing in its log for a
    /// missing bundle); nil when nothing obvious is.
    static func diagnose(bundle: String) -> FascoError? {
        guard FileSystem.isDirectory(bundle) else {
            return .notFound("bundle \(bundle) does not exist or is not a directory")
        }
        let config = bundle + "/config.json"
        let bytes: [UInt8]
        do {
            guard let read = try FileSystem.read(config) else { return .notFound("\(config) does not exist") }
            bytes = read
        } catch {
            return error
        }
        struct Probe: Decodable {
            struct Process: Decodable { var args: [String]? }
            struct Root: Decodable { var path: String }
            var ociVersion: String
            var process: Process?
            var root: Root?
        }
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: Data(bytes))
        } catch {
            return .invalidArgument("\(config) is not a valid runtime configuration: \(describe(error))")
        }
        if let process = probe.process, process.args?.isEmpty ?? true {
            return .invalidArgument("\(config): process.args is missing or empty")
        }
        if let root = probe.root {
            let path = root.path.hasPrefix("/") ? root.path : "\(bundle)/\(root.path)"
            guard FileSystem.isDirectory(path) else { return .notFound("\(config): root.path \(path) does not exist") }
        }
        return nil
    }

    /// A decoding error in one line: what, and where (`process.args[0]`).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the document" : text
        }
        func underlying(_ context: DecodingError.Context) -> String {
            guard let cause = context.underlyingError else { return "" }
            return " (\(cause))"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): missing \(type) value"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)\(underlying(context))"
        @unknown default:
            return "\(error)"
        }
    }
}
