import FascoCore
import RealmCore
@testable import SoftwareRealms
import Testing

@Suite("software backend: realms after a daemon restart", .enabled(if: SupervisorFixture.available, "needs root and fasco-realm"))
struct SoftwareBackendRecoveryTests {
    @Test("a realm whose start was cut short counts as not running, even with its supervisor alive")
    func incompleteStart() async throws {
        let root = try makeTemporaryDirectory("fasco-backend")
        defer { try? FileSystem.removeTree(root) }
        let binary = try #require(SupervisorFixture.binary)
        let backend = try makeTestBackend(root: root)
        let realm = SystemRealm(metadata: SystemRealmMetadata(name: "cut", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
        let directory = backend.directory(of: realm.id)
        try FileSystem.makeDirectories(directory, mode: 0o700)
        let supervisor = try await SupervisorProcess.launch(binary: binary, directory: directory, hostname: "cut")
        do {
            var record = RunningSystemRealm(
                supervisorPID: supervisor.pid, directory: directory, networkNamespace: supervisor.namespacePath("net"),
                ipcNamespace: nil, utsNamespace: nil, pidNamespace: nil, files: [:], shmPath: "/dev/shm", cgroupParent: "/fasco-test-cut",
                addresses: [])
            record.complete = false
            try backend.saveRuntime(record, for: realm.id)
            #expect(await backend.isRunning(realm) == false, "a start that never finished is not a running realm")
            record.complete = true
            try backend.saveRuntime(record, for: realm.id)
            #expect(await backend.isRunning(realm) == true)
            record.complete = nil
            try backend.saveRuntime(record, for: realm.id)
            #expect(await backend.isRunning(realm) == true, "records from before the flag count as complete")
        } catch {
            try? await supervisor.client.shutdown()
            throw error
        }
        try await supervisor.client.shutdown()
        _ = try await supervisor.waitForExit()
        #expect(await backend.isRunning(realm) == false, "no supervisor, not running")
    }
}
