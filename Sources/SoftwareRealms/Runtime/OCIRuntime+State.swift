extension OCIRuntime {
    /// OCI runtime-spec runtime.md "State": what `<runtime> state <id>` prints, as the backend uses it
    /// (a closed status enum with an escape, the pid as a pid_t). `OCISpec.RuntimeState` is the full
    /// Codable spec type.
    ///
    /// Decoding is lenient: an unknown status is kept, unknown members are ignored.
    public struct State: Sendable, Equatable, Decodable {
        /// runtime.md "status", an open set: runtimes add `paused`, and may add more.
        public enum Status: Sendable, Equatable, CustomStringConvertible {
            case creating
            case created
            case running
            case stopped
            case paused
            case other(String)

            public init(_ text: String) {
                switch text {
                case "creating": self = .creating
                case "created": self = .created
                case "running": self = .running
                case "stopped": self = .stopped
                case "paused": self = .paused
                default: self = .other(text)
                }
            }

            public var description: String {
                switch self {
                case .creating: "creating"
                case .created: "created"
                case .running: "running"
                case .stopped: "stopped"
                case .paused: "paused"
                case .other(let text): text
                }
            }
        }

        public var ociVersion: String?
        public var id: String
        public var status: Status
        /// The container process on the host (0 when the runtime reports none, e.g. stopped with runc).
        public var pid: Int32
        /// The absolute path of the bundle.
        public var bundle: String
        public var annotations: [String: String]

        public init(ociVersion: String? = nil, id: String, status: Status, pid: Int32, bundle: String, annotations: [String: String] = [:]) {
            self.ociVersion = ociVersion
            self.id = id
            self.status = status
            self.pid = pid
            self.bundle = bundle
            self.annotations = annotations
        }

        private enum CodingKeys: String, CodingKey {
            case ociVersion, id, status, pid, bundle, annotations
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            ociVersion = try container.decodeIfPresent(String.self, forKey: .ociVersion)
            id = try container.decode(String.self, forKey: .id)
            status = Status(try container.decode(String.self, forKey: .status))
            let pid = try container.decodeIfPresent(Int64.self, forKey: .pid) ?? 0
            guard let narrow = Int32(exactly: pid), narrow >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .pid, in: container, debugDescription: "pid \(pid) is out of range")
            }
            self.pid = narrow
            bundle = try container.decodeIfPresent(String.self, forKey: .bundle) ?? ""
            annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        }
    }
}
