import FascoCore
import Logging
import Foundation
import OCISpec
import RealmAttestation
@testable import RealmCore
import Synchronization
import Testing
import LogCapture

/// RealmManager against FakeRealmBackend: its rollbacks, stop escalation, recovery and
/// idempotence, in seconds and without root.
struct ManagerHarness {
    let root: String
    let backend: FakeRealmBackend
    let manager: RealmManager

    init(killGrace: Duration = .seconds(5), updateDelay: Duration = .zero, logger: Logger = Logger(label: "test"),
         monitor: (any RealmMonitor)? = nil) throws {
        root = try makeRealmRoot()
        backend = FakeRealmBackend(root: root + "/fake", updateDelay: updateDelay)
        manager = RealmManager(registry: try RealmRegistry(root: root + "/records"), backend: backend, storage: backend,
                               killGrace: killGrace, monitor: monitor, logger: logger)
    }

    /// A second manager on the same records and backend: the daemon after a restart.
    func restarted() throws -> RealmManager {
        manager.detach()
        return RealmManager(registry: try RealmRegistry(root: root + "/records"), backend: backend, storage: backend,
                            killGrace: .seconds(5), monitor: nil)
    }

    func remove() {
        manager.detach()
        try? FileManager.default.removeItem(atPath: root)
    }

    static let request = SystemRealmRequest(hostname: "h", owner: .init(name: "p", namespace: "default", uid: "u"))
    static let image = MeasuredImage(manifest: "sha256:" + String(repeating: "1", count: 64),
                                     config: "sha256:" + String(repeating: "2", count: 64), layers: [])

    func runPod(_ name: String) async throws -> SystemRealm {
        try await manager.runSystemRealm(pod(name), request: Self.request)
    }

    func create(_ name: String, in pod: SystemRealm,
                makeSpec: @escaping @Sendable () throws(FascoError) -> RuntimeSpec = { RuntimeSpec(ociVersion: "1.0.2") })
        async throws(FascoError) -> ContainerRealm {
        try await manager.createContainer(container(name, in: pod.id), image: Self.image) { _, _ throws(FascoError) in try makeSpec() }
    }

    func run(_ name: String, in pod: SystemRealm) async throws -> ContainerRealm {
        let created = try await create(name, in: pod)
        try await manager.startContainer(created.id.value)
        return created
    }

    func recordExists(container id: RealmID) -> Bool {
        FileManager.default.fileExists(atPath: root + "/records/containers/\(id).json")
    }

    func recordExists(system id: RealmID) -> Bool {
        FileManager.default.fileExists(atPath: root + "/records/system/\(id).json")
    }
}

/// Polls `probe` every 10 ms for up to 5 s.
func eventually(_ probe: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if try await probe() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return false
}

@Suite("RealmManager: creation rollback")
struct RealmManagerRollbackTests {
    @Test("a System Realm whose start fails keeps nothing: no record, its name free, what was made removed")
    func systemRealmRollback() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        h.backend.fail("startSystemRealm")
        let failing = pod("web")
        await #expect { try await h.manager.runSystemRealm(failing, request: ManagerHarness.request) } throws: {
            ($0 as? FascoError)?.code == .internal
        }
        #expect(try await h.manager.systemRealm(failing.id.value) == nil)
        #expect(!h.recordExists(system: failing.id))
        #expect(h.backend.calls("removeSystemRealm") == ["removeSystemRealm \(failing.id)"], "the backend's leftovers are removed")
        #expect(await h.manager.registry.allSystemRealms.isEmpty)

        h.backend.succeed("startSystemRealm")
        let again = try await h.runPod("web")
        #expect(try await h.manager.systemRealm(again.id.value)?.state == .ready, "the name is free again")
    }

    @Test("a clean-up that fails during a rollback is logged once, naming the realm and the step; the original error is what the caller gets")
    func failedCleanUpIsLogged() async throws {
        let captured = CapturedLogs()
        let h = try ManagerHarness(logger: Logger(label: "test") { _ in CapturingLogHandler(captured) })
        defer { h.remove() }
        h.backend.fail("startSystemRealm", with: .unavailable("supervisor did not start"))
        h.backend.fail("removeSystemRealm", with: .internal("cgroup busy"))
        let failing = pod("web")
        await #expect { try await h.manager.runSystemRealm(failing, request: ManagerHarness.request) } throws: {
            ($0 as? FascoError)?.code == .unavailable
        }
        let warnings = captured.entries.filter { $0.level == .warning }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.metadata["realm"] == "\(failing.id)")
        #expect(warnings.first?.metadata["step"] == "remove the realm after a failed start")
        #expect(warnings.first?.metadata["error"]?.contains("cgroup busy") == true)

        // A container whose create fails and whose bundle cannot be released: logged with its pod.
        h.backend.succeed("startSystemRealm")
        h.backend.succeed("removeSystemRealm")
        let web = try await h.runPod("web2")
        h.backend.fail("createContainer")
        h.backend.fail("release", with: .internal("busy mount"))
        _ = try? await h.create("app", in: web)
        let released = captured.entries.filter { $0.metadata["step"] == "release the root filesystem after a failed create" }
        #expect(released.count == 1)
        #expect(released.first?.metadata["podSandboxID"] == "\(web.id)")
    }

    @Test("a Container Realm whose creation fails at any step keeps nothing: no record, its name free, bundle and runtime state removed",
          arguments: ["prepare", "makeSpec", "createContainer"])
    func containerRealmRollback(step: String) async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        if step != "makeSpec" { h.backend.fail(step) }
        let failing = container("app", in: pod.id)
        await #expect {
            try await h.manager.createContainer(failing, image: ManagerHarness.image) { _, _ throws(FascoError) -> RuntimeSpec in
                if step == "makeSpec" { throw .invalidArgument("bad spec") }
                return RuntimeSpec(ociVersion: "1.0.2")
            }
        } throws: { ($0 as? FascoError)?.code == (step == "makeSpec" ? .invalidArgument : .internal) }
        #expect(try await h.manager.container(failing.id.value) == nil)
        #expect(!h.recordExists(container: failing.id))
        #expect(await h.manager.registry.containers(of: pod.id).isEmpty)
        #expect(h.backend.bundles.isEmpty, "the prepared bundle is released")
        #expect(h.backend.process(failing.id) == nil, "nothing of it is left in the runtime")
        if step != "prepare" {
            #expect(h.backend.calls("removeContainer") == ["removeContainer \(failing.id)"])
            #expect(h.backend.calls("release") == ["release \(failing.id)"])
        }

        h.backend.succeed(step)
        let again = try await h.create("app", in: pod)
        #expect(try await h.manager.container(again.id.value)?.state == .created, "the name is free again")
    }

    @Test("a container cannot be created in a System Realm that is gone or not ready")
    func notReady() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        try await h.manager.stopSystemRealm(pod.id.value)
        await #expect { try await h.create("app", in: pod) } throws: { ($0 as? FascoError)?.code == .failedPrecondition }
        try await h.manager.removeSystemRealm(pod.id.value)
        await #expect { try await h.create("app", in: pod) } throws: { ($0 as? FascoError)?.code == .notFound }
        #expect(h.backend.bundles.isEmpty)
    }
}

@Suite("RealmManager: stop")
struct RealmManagerStopTests {
    @Test("a container that honours the stop signal exits of it, without SIGKILL")
    func graceful() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        try await h.manager.stopContainer(app.id.value, timeout: .seconds(5), signal: 15)
        #expect(h.backend.calls("signalContainer") == ["signalContainer \(app.id) 15"])
        let stopped = try await h.manager.container(app.id.value)
        #expect(stopped?.state == .exited)
        #expect(stopped?.exitCode == 143)
    }

    @Test("a container that ignores the stop signal is killed once the timeout passed")
    func escalation() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        h.backend.ignore([15], in: app.id)
        let clock = ContinuousClock()
        let started = clock.now
        try await h.manager.stopContainer(app.id.value, timeout: .milliseconds(300), signal: 15)
        #expect(clock.now - started >= .milliseconds(300), "SIGKILL only after the timeout")
        #expect(h.backend.calls("signalContainer") == ["signalContainer \(app.id) 15", "signalContainer \(app.id) 9"])
        let stopped = try await h.manager.container(app.id.value)
        #expect(stopped?.state == .exited)
        #expect(stopped?.exitCode == 137)
        #expect(stopped?.reason == "Error")
    }

    @Test("timeout 0 kills at once")
    func immediateKill() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        try await h.manager.stopContainer(app.id.value, timeout: .zero, signal: 15)
        #expect(h.backend.calls("signalContainer") == ["signalContainer \(app.id) 9"])
        #expect(try await h.manager.container(app.id.value)?.exitCode == 137)
    }

    @Test("a container that survives SIGKILL for the kill grace is DEADLINE_EXCEEDED and still running")
    func neverDies() async throws {
        let h = try ManagerHarness(killGrace: .milliseconds(200))
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        h.backend.ignore([15, 9], in: app.id)
        await #expect { try await h.manager.stopContainer(app.id.value, timeout: .milliseconds(100), signal: 15) } throws: {
            ($0 as? FascoError)?.code == .deadlineExceeded
        }
        #expect(h.backend.calls("signalContainer") == ["signalContainer \(app.id) 15", "signalContainer \(app.id) 9"])
        #expect(try await h.manager.container(app.id.value)?.state == .running)
    }

    @Test("Stop and Remove of unknown IDs succeed and touch nothing; a second Remove succeeds too")
    func unknownIDs() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let unknown = String(repeating: "f", count: 64)
        try await h.manager.stopContainer(unknown, timeout: .seconds(1), signal: 15)
        try await h.manager.removeContainer(unknown)
        try await h.manager.stopSystemRealm(unknown)
        try await h.manager.removeSystemRealm(unknown)
        try await h.manager.stopContainer("not an id", timeout: .zero, signal: 9)
        try await h.manager.removeContainer("not an id")
        #expect(h.backend.calls.isEmpty, "\(h.backend.calls)")

        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        try await h.manager.removeContainer(app.id.value)
        try await h.manager.removeContainer(app.id.value)
        try await h.manager.stopContainer(app.id.value, timeout: .zero, signal: 9)
        #expect(h.backend.calls("removeContainer").count == 1)
        try await h.manager.removeSystemRealm(pod.id.value)
        try await h.manager.removeSystemRealm(pod.id.value)
        try await h.manager.stopSystemRealm(pod.id.value)
        #expect(h.backend.calls("removeSystemRealm").count == 1)
        #expect(!h.recordExists(container: app.id) && !h.recordExists(system: pod.id))
    }

    @Test("stopping a created container changes nothing; a started one is watched and its exit recorded")
    func createdAndWatched() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let created = try await h.create("idle", in: pod)
        try await h.manager.stopContainer(created.id.value, timeout: .seconds(1), signal: 15)
        #expect(try await h.manager.container(created.id.value)?.state == .created)
        #expect(h.backend.calls("signalContainer").isEmpty)

        let app = try await h.run("app", in: pod)
        h.backend.exit(app.id, code: 3)
        #expect(try await eventually { try await h.manager.container(app.id.value)?.state == .exited })
        #expect(try await h.manager.container(app.id.value)?.exitCode == 3)
        #expect(try await eventually { h.backend.calls.contains("unmount \(app.id)") }, "an exited container's root filesystem is unmounted")
    }
}

@Suite("RealmManager: recovery")
struct RealmManagerRecoveryTests {
    @Test("after a restart: running containers are watched again, exits while away recorded, a pod whose supervisor was lost NOTREADY with its containers exited, created containers of live pods left created, unknown bundles swept")
    func reconcile() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let alive = try await h.runPod("alive")
        let runner = try await h.run("runner", in: alive)
        let leaver = try await h.run("leaver", in: alive)
        let idle = try await h.create("idle", in: alive)
        let lost = try await h.runPod("lost")
        let orphan = try await h.run("orphan", in: lost)
        let unstarted = try await h.create("unstarted", in: lost)
        // A bundle whose record never made it to disk (a crash mid-create).
        _ = try await h.backend.prepare(container("ghost", in: alive.id), pod: try #require(await h.backend.runningSystemRealm(alive.id)))

        // The daemon goes away; meanwhile one container exits and one pod's supervisor dies.
        let manager = try h.restarted()
        h.backend.exit(leaver.id, code: 3, at: 1234)
        h.backend.loseSupervisor(of: lost.id, containers: [orphan.id, unstarted.id])

        let report = try await manager.recover()
        #expect(report.registry.systemRealms == 2 && report.registry.containerRealms == 5)
        #expect(report.lostSystemRealms == [lost.id])
        #expect(report.reattached == [runner.id])
        #expect(report.exitedWhileAway == [leaver.id], "the lost pod's containers end with the pod, not as exits seen while away")
        #expect(report.sweptBundles.count == 1)

        #expect(try await manager.systemRealm(alive.id.value)?.state == .ready)
        #expect(try await manager.systemRealm(lost.id.value)?.state == .notReady)
        #expect(try await manager.container(runner.id.value)?.state == .running)
        let left = try await manager.container(leaver.id.value)
        #expect(left?.state == .exited && left?.exitCode == 3 && left?.finishedAt == 1234, "the exit as it happened")
        let orphaned = try await manager.container(orphan.id.value)
        #expect(orphaned?.state == .exited && orphaned?.exitCode == 137)
        #expect(orphaned?.message.contains("pod sandbox") == true && orphaned?.message.contains("ended") == true, "\(orphaned?.message ?? "")")
        #expect(try await manager.container(idle.id.value)?.state == .created)
        // A created container of a pod that ended can never start: it ends with its pod.
        #expect(try await manager.container(unstarted.id.value)?.state == .exited)

        // The reattached container is watched: its exit is recorded by the new manager.
        h.backend.exit(runner.id, code: 9)
        #expect(try await eventually { try await manager.container(runner.id.value)?.state == .exited })
        #expect(try await manager.container(runner.id.value)?.exitCode == 9)
        // And the created one still starts.
        try await manager.startContainer(idle.id.value)
        #expect(try await manager.container(idle.id.value)?.state == .running)
        manager.detach()
    }
}

@Suite("RealmManager: resource updates")
struct RealmManagerUpdateTests {
    static let resources = RuntimeSpec.Linux.Resources(memory: .init(limit: 64 << 20))

    @Test("the attachment is written with the update; a failed write is the caller's error and changes nothing")
    func writeFailure() async throws {
        let h = try ManagerHarness()
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let app = try await h.run("app", in: pod)
        try await h.manager.updateResources(app.id.value, resources: Self.resources) { _ in [7] }
        #expect(try await h.manager.container(app.id.value)?.requestConfig == [7])
        // Reloaded from disk too.
        let reloaded = try RealmRegistry(root: h.root + "/records")
        _ = try await reloaded.load()
        #expect(try await reloaded.containerRealm(app.id.value)?.requestConfig == [7])

        // The record becomes a directory: renaming the new record over it fails.
        let record = h.root + "/records/containers/\(app.id).json"
        try FileManager.default.removeItem(atPath: record)
        try FileManager.default.createDirectory(atPath: record + "/blocker", withIntermediateDirectories: true)
        await #expect { try await h.manager.updateResources(app.id.value, resources: Self.resources) { _ in [8] } } throws: {
            ($0 as? FascoError) != nil
        }
        #expect(try await h.manager.container(app.id.value)?.requestConfig == [7])
        try FileManager.default.removeItem(atPath: record)

        // The backend's failure is the caller's too.
        h.backend.fail("updateResources")
        await #expect { try await h.manager.updateResources(app.id.value, resources: Self.resources) { _ in [9] } } throws: {
            ($0 as? FascoError)?.code == .internal
        }
        #expect(try await h.manager.container(app.id.value)?.requestConfig == [7], "nothing recorded for a failed update")
    }

    @Test("concurrent updates and a stop do not interleave: each update and its record are one transition")
    func serialized() async throws {
        let h = try ManagerHarness(updateDelay: .milliseconds(1))
        defer { h.remove() }
        let pod = try await h.runPod("web")
        let backend = h.backend
        let manager = h.manager
        // Rounds, because a race lost once in a while is still a race.
        for round in 0..<40 {
            let app = try await h.run("app\(round)", in: pod)
            let refused = await withTaskGroup(of: FascoError.Code?.self) { group -> [FascoError.Code] in
                for index in 0..<20 {
                    group.addTask {
                        do throws(FascoError) {
                            try await manager.updateResources(app.id.value, resources: Self.resources) { _ in
                                backend.state.withLock { $0.calls.append("record \(app.id) \(index)") }
                                return [UInt8(index)]
                            }
                            return nil
                        } catch {
                            return error.code
                        }
                    }
                    if index == 10 {
                        group.addTask {
                            try? await manager.stopContainer(app.id.value, timeout: .zero, signal: 9)
                            return nil
                        }
                    }
                }
                var codes: [FascoError.Code] = []
                for await code in group { if let code { codes.append(code) } }
                return codes
            }
            // Each update's begin, end and record are adjacent: nothing of another update or of the stop between.
            let log = backend.calls.filter {
                ($0.hasPrefix("updateResources") || $0.hasPrefix("record") || $0.hasPrefix("signalContainer")) && $0.contains(app.id.value)
            }
            var index = 0
            var updates = 0
            var interleaved = false
            while index < log.count {
                if log[index].hasPrefix("updateResources") {
                    guard log[index].hasSuffix("begin"), log.indices.contains(index + 2), log[index + 1].hasSuffix("end"),
                          log[index + 2].hasPrefix("record") else {
                        interleaved = true
                        break
                    }
                    index += 3
                    updates += 1
                } else {
                    guard log[index].hasPrefix("signalContainer") else {
                        interleaved = true
                        break
                    }
                    index += 1
                }
            }
            #expect(!interleaved, "round \(round): an update interleaved at \(index): \(log)")
            guard !interleaved else { return }
            #expect(updates + refused.count == 20)
            #expect(refused.allSatisfy { $0 == .failedPrecondition }, "updates after the stop are refused: \(refused)")
            #expect(try await h.manager.container(app.id.value)?.state == .exited)
        }
    }
}

/// A key broker that releases `kbs:///...` resources to any realm and remembers who asked.
final class FakeKeyRelease: KeyRelease, Sendable {
    let asked = Mutex<[(uri: String, realm: RealmID, evidence: Int)]>([])
    let refuse: Bool

    init(refuse: Bool = false) { self.refuse = refuse }

    func isConfigured(for pod: SystemRealm) -> Bool { true }

    func resource(_ uri: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8] {
        let token = try await evidence(Array(repeating: 7, count: 64))
        asked.withLock { $0.append((uri, realm, token.count)) }
        if refuse { throw .permissionDenied("key broker fake: PolicyDeny") }
        return Array(repeating: 1, count: 32)
    }

    func token(realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> (token: String, privateKeyPEM: String) {
        throw .unimplemented("not in this fake")
    }

    func unseal(_ sealed: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8] {
        throw .unimplemented("not in this fake")
    }

    func forget(realm: RealmID) {}
}

@Suite("RealmManager: containers of encrypted images")
struct RealmManagerLockedBundleTests {
    static func monitor() -> SoftwareRMM {
        SoftwareRMM(supervisor: [], platformKey: P384Key.make(), components: [], version: "test")
    }

    @Test("a locked bundle is unlocked after the realm is measured and before the runtime creates it, with resources released to that realm with its own evidence")
    func unlockAfterMeasurement() async throws {
        let h = try ManagerHarness(monitor: Self.monitor())
        defer { h.remove() }
        let broker = FakeKeyRelease()
        h.manager.useKeyRelease(broker)
        let pod = try await h.runPod("web")
        let created = try await h.manager.createContainer(
            container("app", in: pod.id, image: FakeRealmBackend.encryptedImagePrefix + "busybox"), image: ManagerHarness.image
        ) { _, _ throws(FascoError) in RuntimeSpec(ociVersion: "1.0.2") }
        let calls = h.backend.calls.filter { $0.hasPrefix("prepare") || $0.hasPrefix("unlock") || $0.hasPrefix("createContainer") }
        #expect(calls == ["prepare \(created.id)", "unlock \(created.id)", "createContainer \(created.id)"])
        let asked = broker.asked.withLock { $0 }
        #expect(asked.count == 1 && asked.first?.realm == created.id && asked.first?.uri == "kbs:///fake/key/encrypted/busybox")
        #expect((asked.first?.evidence ?? 0) > 0, "the realm attested with a token of its own")
        #expect(try await h.manager.container(created.id.value)?.attestation != nil)
    }

    @Test("a refused key or a failed unlock keeps nothing; without measured realms an encrypted image is FAILED_PRECONDITION", arguments: ["refused", "unlock", "unmeasured"])
    func unlockFailures(_ situation: String) async throws {
        let h = try ManagerHarness(monitor: situation == "unmeasured" ? nil : Self.monitor())
        defer { h.remove() }
        h.manager.useKeyRelease(FakeKeyRelease(refuse: situation == "refused"))
        if situation == "unlock" { h.backend.fail("unlock") }
        let pod = try await h.runPod("web")
        let failing = container("app", in: pod.id, image: FakeRealmBackend.encryptedImagePrefix + "busybox")
        let expected: FascoError.Code = ["refused": .permissionDenied, "unlock": .internal, "unmeasured": .failedPrecondition][situation]!
        await #expect {
            try await h.manager.createContainer(failing, image: ManagerHarness.image) { _, _ throws(FascoError) in RuntimeSpec(ociVersion: "1.0.2") }
        } throws: { ($0 as? FascoError)?.code == expected }
        #expect(try await h.manager.container(failing.id.value) == nil)
        #expect(!h.recordExists(container: failing.id))
        #expect(h.backend.bundles.isEmpty, "the bundle is released")
        #expect(h.backend.calls("createContainer").isEmpty, "the runtime never saw it")
        if situation == "unmeasured" { #expect(h.backend.calls("unlock").isEmpty) }
    }
}
