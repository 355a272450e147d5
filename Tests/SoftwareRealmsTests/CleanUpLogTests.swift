import FascoCore
import Logging
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A logger whose entries `captured` keeps.
func capturingLogger(_ captured: CapturedLogs) -> Logger {
    Logger(label: "test") { _ in CapturingLogHandler(captured) }
}

extension CapturedLogs {
    /// The warnings about failed clean-ups.
    var cleanUpWarnings: [Entry] { entries.filter { $0.level == .warning && $0.message.hasPrefix("clean-up failed") } }
}

/// Each clean-up step whose failure is not thrown is logged once, with its realm, step, what it
/// leaves and the error. Every test here forces one step to fail without touching the host
/// (temporary directories, scripted plugins and runtimes), and fails when the log line is removed.
@Suite("failed clean-ups are logged")
struct CleanUpLogTests {
    @Test("CNI: an ADD that fails and whose attachment record cannot be removed says which record is left",
          .enabled(if: runningAsRoot && FileSystem.exists("/usr/bin/unshare"), "needs root and unshare"))
    func cniRecordLeft() async throws {
        try await withFakePlugins { plugins, namespace in
            // The plugin fails its ADD after putting a file where the cache directory was: the
            // record in it can then be neither found nor removed (ENOTDIR).
            let cache = plugins.cacheDirectory
            try plugins.install("fake-breaks-cache", body: """
            [ "$CNI_COMMAND" = ADD ] && { mv "\(cache)" "\(cache).away" && touch "\(cache)"; echo '{"code": 999, "msg": "add broke"}'; exit 1; }
            exit 0
            """)
            try plugins.writeConfig(#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "fake-breaks-cache"}]}"#)
            let captured = CapturedLogs()
            var network = plugins.network()
            network.logger = capturingLogger(captured)
            let attachment = CNIAttachment(containerID: "pod-left", networkNamespace: namespace.path)
            await #expect {
                _ = try await network.setUp(attachment)
            } throws: { error in
                (error as? FascoError)?.message.contains("add broke") == true
            }
            unlink(cache)
            #expect(rename(cache + ".away", cache) == 0)
            #expect(FileSystem.exists(network.recordPath("pod-left", "eth0")), "the record is left")
            let warnings = captured.cleanUpWarnings
            #expect(warnings.count == 1, "\(captured.entries)")
            #expect(warnings.first?.metadata["realm"] == "pod-left")
            #expect(warnings.first?.metadata["podSandboxID"] == "pod-left")
            #expect(warnings.first?.metadata["step"] == "remove the attachment record of a failed ADD")
            #expect(warnings.first?.metadata["left"] == network.recordPath("pod-left", "eth0"))
            #expect(warnings.first?.metadata["error"]?.contains("Not a directory") == true)
        }
    }
}
