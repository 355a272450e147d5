import Logging
import Synchronization

/// Log entries captured by `CapturingLogHandler`, for the test targets that check what a
/// component reports (RealmCore, SoftwareRealms and ImageStore tests).
public final class CapturedLogs: Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let stored = Mutex<[Entry]>([])
    public init() {}
    public var entries: [Entry] { stored.withLock { $0 } }
    public func append(_ entry: Entry) { stored.withLock { $0.append(entry) } }

    /// The warnings about failed clean-ups.
    public var cleanUpWarnings: [Entry] { entries.filter { $0.level == .warning && $0.message.hasPrefix("clean-up failed") } }
    /// The failed clean-ups that a later step retries.
    public var retriedCleanUps: [Entry] { entries.filter { $0.level == .debug && $0.message.hasPrefix("clean-up failed") } }
}

/// A swift-log handler that keeps what is logged.
public struct CapturingLogHandler: LogHandler {
    public let captured: CapturedLogs
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(_ captured: CapturedLogs) { self.captured = captured }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        captured.append(.init(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
    }
}

/// A logger whose entries `captured` keeps.
public func capturingLogger(_ captured: CapturedLogs) -> Logger {
    Logger(label: "test") { _ in CapturingLogHandler(captured) }
}
