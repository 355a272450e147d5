import FoundationEssentials

/// The `metav1.Status` object remote command protocol v4 writes on its error stream: how
/// the command ended (k8s.io/apimachinery meta/v1 Status; remotecommand's NonZeroExitCode
/// reason with an ExitCode cause).
struct KubernetesStatus: Encodable, Equatable {
    struct Metadata: Encodable, Equatable {}

    struct Details: Encodable, Equatable {
        var causes: [Cause]
    }

    struct Cause: Encodable, Equatable {
        /// The cause's type (JSON `reason`).
        var reason: String
        var message: String
    }

    var metadata = Metadata()
    var status: String
    var message: String?
    var reason: String?
    var details: Details?
    var code: Int?

    static let success = KubernetesStatus(status: "Success")

    static func exitCode(_ code: Int32) -> KubernetesStatus {
        // The client parses the code as a uint8.
        let clamped = min(max(code, 0), 255)
        return KubernetesStatus(
            status: "Failure", message: "command terminated with non-zero exit code: exit status \(clamped)",
            reason: "NonZeroExitCode", details: Details(causes: [Cause(reason: "ExitCode", message: "\(clamped)")]))
    }

    static func internalError(_ message: String) -> KubernetesStatus {
        KubernetesStatus(status: "Failure", message: message, reason: "InternalError", code: 500)
    }

    static func of(_ exit: StreamingExit) -> KubernetesStatus {
        switch exit {
        case .exited(0): .success
        case .exited(let code): exitCode(code)
        case .failed(let message): internalError(message)
        }
    }

    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array(#"{"metadata":{},"status":"Failure","message":"cannot encode the status"}"#.utf8)
    }
}
