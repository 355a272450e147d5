import FascoCore
import Logging

extension RealmManager {
    /// Runs one step of a clean-up (a rollback, a removal) whose failure must not hide the
    /// error being reported, and reports that failure once: what was left, for which realm.
    func cleanUp(_ step: String, realm: RealmID, pod: RealmID, _ body: () async throws(FascoError) -> Void) async {
        do throws(FascoError) {
            try await body()
        } catch {
            var metadata: Logger.Metadata = ["realm": "\(realm)", "step": "\(step)", "error": "\(error)"]
            metadata[realm == pod ? "podSandboxID" : "containerID"] = "\(realm)"
            if realm != pod { metadata["podSandboxID"] = "\(pod)" }
            logger.warning("clean-up failed; what it would have removed is left", metadata: metadata)
        }
    }
}
