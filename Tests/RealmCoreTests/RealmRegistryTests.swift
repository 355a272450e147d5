import FascoCore
import Foundation
@testable import RealmCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

func makeRealmRoot() throws -> String {
    var template = Array("/var/tmp/fasco-realms-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
        return String(cString: result)
    }
    guard let made else { throw FascoError.internal("mkdtemp failed") }
    return made
}

func pod(_ name: String, attempt: UInt32 = 0, at time: Int64 = 1) -> SystemRealm {
    SystemRealm(metadata: SystemRealmMetadata(name: name, uid: "uid-\(name)", namespace: "default", attempt: attempt),
                createdAt: time, labels: ["app": name], annotations: ["note": "x"], requestConfig: [1, 2, 3])
}

func container(_ name: String, in pod: RealmID, attempt: UInt32 = 0, at time: Int64 = 2, image: String = "busybox") -> ContainerRealm {
    ContainerRealm(systemRealm: pod, metadata: ContainerRealmMetadata(name: name, attempt: attempt),
                   image: image, imageID: "sha256:" + String(repeating: "a", count: 64), createdAt: time)
}

@Suite("realm IDs")
struct RealmIDTests {
    @Test("generated IDs are 64 hex characters and distinct")
    func generated() throws {
        let ids = (0..<200).map { _ in RealmID.generate() }
        #expect(Set(ids).count == 200)
        for id in ids { #expect(try RealmID(parsing: id.value) == id) }
        #expect(ids[0].short.count == 12)
    }

    @Test("invalid IDs are INVALID_ARGUMENT", arguments: ["", "xyz", String(repeating: "A", count: 64), String(repeating: "a", count: 63)])
    func invalid(text: String) {
        #expect { try RealmID(parsing: text) } throws: { ($0 as? FascoError)?.code == .invalidArgument }
    }

    @Test("unique prefixes resolve, ambiguous ones are refused, unknown ones are nil")
    func prefixes() throws {
        var index = IDIndex()
        let a = try RealmID(parsing: "abc" + String(repeating: "0", count: 61))
        let b = try RealmID(parsing: "abd" + String(repeating: "0", count: 61))
        index.insert(a)
        index.insert(b)
        #expect(try index.resolve("abc") == a)
        #expect(try index.resolve(a.value) == a)
        #expect(try index.resolve("fff") == nil)
        #expect(try index.resolve("not hex") == nil)
        #expect { try index.resolve("ab") } throws: { ($0 as? FascoError)?.message.contains("ambiguous") == true }
    }
}

@Suite("state machines")
struct StateMachineTests {
    @Test("System Realm: ready -> notReady -> removed only")
    func systemRealm() {
        typealias S = SystemRealm.State
        #expect(S.ready.canMove(to: .notReady))
        #expect(S.notReady.canMove(to: .removed))
        #expect(S.ready.canMove(to: .removed))
        #expect(!S.notReady.canMove(to: .ready))
        #expect(!S.removed.canMove(to: .ready))
        #expect(S.ready.canCreateContainer && !S.notReady.canCreateContainer)
    }

    @Test("Container Realm: created -> running -> exited -> removed, never back")
    func containerRealm() {
        typealias S = ContainerRealm.State
        #expect(S.created.canStart && !S.running.canStart && !S.exited.canStart)
        #expect(S.created.canMove(to: .running))
        #expect(S.running.canMove(to: .exited))
        #expect(S.exited.canMove(to: .removed))
        #expect(!S.exited.canMove(to: .running))
        #expect(!S.running.canMove(to: .created))
        #expect(!S.removed.canMove(to: .running))
    }

    @Test("exit reasons: Completed, Error, OOMKilled")
    func exitReasons() {
        var realm = container("c", in: .generate())
        realm.recordExit(code: 0, at: 5, oomKilled: false)
        #expect(realm.reason == "Completed" && realm.state == .exited && realm.finishedAt == 5)
        realm.recordExit(code: 2, at: 6, oomKilled: false)
        #expect(realm.reason == "Error" && realm.exitCode == 2)
        realm.recordExit(code: 137, at: 7, oomKilled: true)
        #expect(realm.reason == "OOMKilled")
    }
}

@Suite("realm registry")
struct RealmRegistryTests {
    @Test("names are reserved among live realms; a new attempt or a removed holder frees them")
    func nameReservation() async throws {
        let root = try makeRealmRoot()
        defer { _ = try? FileSystem.removeTree(root) }
        let registry = try RealmRegistry(root: root)
        let first = pod("web")
        try await registry.add(first)
        await #expect { try await registry.add(pod("web")) } throws: { ($0 as? FascoError)?.code == .alreadyExists }
        try await registry.add(pod("web", attempt: 1))
        try await registry.transition(first.id, to: .notReady)
        try await registry.transition(first.id, to: .removed)
        try await registry.add(pod("web"))
        #expect(await registry.allSystemRealms.count == 2)
    }

    @Test("containers: only in ready pods, names unique per pod, transitions guarded")
    func containers() async throws {
        let root = try makeRealmRoot()
        defer { _ = try? FileSystem.removeTree(root) }
        let registry = try RealmRegistry(root: root)
        let p = pod("db")
        try await registry.add(p)
        let c = container("app", in: p.id)
        try await registry.add(c)
        await #expect { try await registry.add(container("app", in: p.id)) } throws: { ($0 as? FascoError)?.code == .alreadyExists }
        await #expect { try await registry.add(container("x", in: .generate())) } throws: { ($0 as? FascoError)?.code == .notFound }
        try await registry.update(c.id) { $0.state = .running }
        await #expect { try await registry.update(c.id) { $0.state = .created } } throws: {
            ($0 as? FascoError)?.code == .failedPrecondition
        }
        await #expect { try await registry.transition(p.id, to: .removed) } throws: {
            ($0 as? FascoError)?.message.contains("still has containers") == true
        }
        try await registry.transition(p.id, to: .notReady)
        await #expect { try await registry.add(container("late", in: p.id)) } throws: {
            ($0 as? FascoError)?.code == .failedPrecondition
        }
        try await registry.update(c.id) { $0.recordExit(code: 0, at: 9, oomKilled: false) }
        try await registry.update(c.id) { $0.state = .removed }
        #expect(try await registry.containerRealm(c.id.value) == nil)
        try await registry.transition(p.id, to: .removed)
        #expect(try await registry.systemRealm(p.id.value) == nil)
    }

    @Test("everything survives a restart; torn and orphaned records are reported and cleaned")
    func recovery() async throws {
        let root = try makeRealmRoot()
        defer { _ = try? FileSystem.removeTree(root) }
        let p = pod("api")
        let c = container("srv", in: p.id)
        do {
            let registry = try RealmRegistry(root: root)
            try await registry.add(p)
            try await registry.add(c)
            try await registry.update(c.id) { $0.state = .running; $0.startedAt = 7 }
        }
        // What a crash can leave: an interrupted temporary file, garbage, a container of a vanished pod.
        try FileSystem.writeAtomically(Array("{".utf8), to: root + "/system/.tmp-1-2-x.json")
        try FileSystem.writeAtomically(Array("garbage".utf8), to: root + "/system/\(RealmID.generate()).json")
        let orphan = container("lost", in: .generate())
        try RealmStore(root: root).save(orphan)

        let reloaded = try RealmRegistry(root: root)
        let recovery = try await reloaded.load()
        #expect(recovery.systemRealms == 1)
        #expect(recovery.containerRealms == 1)
        #expect(recovery.discarded.count == 2)
        let restoredPod = try #require(try await reloaded.systemRealm(p.id.value))
        #expect(restoredPod == p)
        let restored = try #require(try await reloaded.containerRealm(String(c.id.value.prefix(8))))
        #expect(restored.state == .running && restored.startedAt == 7)
        #expect(try FileSystem.list(root + "/system").count == 1, "garbage and temporaries are removed")
        #expect(try FileSystem.list(root + "/containers").count == 1)
        await #expect { try await reloaded.add(pod("api")) } throws: { ($0 as? FascoError)?.code == .alreadyExists }
    }
}

@Suite("realm records on disk")
struct RealmRecordFormatTests {
    @Test("a record written before requestConfig had its name (key attachment) loads, and records keep that key")
    func requestConfigKey() throws {
        let pod = pod("web")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(pod)) as? [String: Any])
        #expect(json["attachment"] != nil && json["requestConfig"] == nil)
        // An older record: the same fields, as the daemon of an earlier release wrote them.
        let older = #"{"id":"\#(pod.id.value)","metadata":{"name":"web","uid":"u","namespace":"default","attempt":0},"state":"ready","createdAt":1,"#
            + #""labels":{},"annotations":{},"runtimeHandler":"","attachment":[1,2,3]}"#
        #expect(try JSONDecoder().decode(SystemRealm.self, from: Data(older.utf8)).requestConfig == [1, 2, 3])
        let app = container("app", in: pod.id)
        let encoded = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(app)) as? [String: Any])
        #expect(encoded["attachment"] != nil && encoded["requestConfig"] == nil)
    }
}
