import FascoCore
import RealmAttestation

/// A session into a running container (an Exec, ExecSync or Attach), as REM 1 measures it:
/// REM1 = H(REM1 ‖ H(text)), where text is this record's canonical JSON, kept in the log's
/// `what` so that a verifier recomputes the value from it.
struct SessionRecord: Sendable, Equatable, Codable {
    enum Kind: String, Sendable, Codable {
        case exec
        case execSync = "exec-sync"
        case attach
    }

    static let measurementIndex = 1

    var kind: Kind
    var command: [String]
    var stdin: Bool
    var tty: Bool

    func canonicalText() throws(FascoError) -> String {
        String(decoding: try CanonicalJSON.encode(self), as: UTF8.self)
    }
}
