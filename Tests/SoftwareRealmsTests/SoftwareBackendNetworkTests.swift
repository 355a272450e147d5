import FascoCore
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("software backend: the pod's network namespace", .enabled(if: SupervisorFixture.available, "needs root and fasco-realm"))
struct SoftwareBackendNetworkTests {
    @Test("a bound namespace outlives its thread and the supervisor that joins it; --netns joins it and brings lo up")
    func supervisorJoinsBoundNamespace() async throws {
        let directory = try RealmUnderTest.makeDirectory()
        defer { try? FileSystem.removeTree(directory) }
        let pin = NetworkNamespacePin.path(in: directory)
        defer { try? NetworkNamespacePin.release(pin) }
        try await NetworkNamespacePin.create(at: pin)
        #expect(NetworkNamespacePin.isBound(pin))
        let identity = try #require(NamespaceIdentity.of(pin))
        #expect(identity != NamespaceIdentity.current, "a new namespace, not the daemon's")

        try await withRealm(namespaces: .init(networkPath: pin)) { realm in
            #expect(NamespaceIdentity.of("/proc/\(realm.pid)/ns/net") == identity)
            let loopback = try await realmShell("nsenter --net=\(pin) ip -o link show lo")
            #expect(loopback.output.contains("<LOOPBACK,UP,LOWER_UP>"), "\(loopback.output)")
        }
        #expect(NetworkNamespacePin.isBound(pin), "the supervisor's end is not the namespace's")
        #expect(NamespaceIdentity.of(pin) == identity)

        try NetworkNamespacePin.release(pin)
        #expect(!FileSystem.exists(pin))
        try NetworkNamespacePin.release(pin)  // twice: nothing to do

        // A joined namespace is the host user namespace's: refused together with a new one.
        let user = SupervisorProcess.UserNamespace(uids: [.init(containerID: 0, hostID: 100_000, size: 65536)],
                                                   gids: [.init(containerID: 0, hostID: 100_000, size: 65536)])
        await #expect(throws: FascoError.self) {
            let binary = try #require(SupervisorFixture.binary)
            _ = try await SupervisorProcess.launch(binary: binary, directory: directory, hostname: nil,
                                                   namespaces: .init(user: user, networkPath: pin))
        }
    }

    @Test("a pod's network survives its supervisor: after kill -9, stop still runs DEL in the namespace (masquerade rules, address and interface go)",
          .enabled(if: realCNIAvailable, "needs the CNI plugins, ip and iptables"))
    func teardownAfterSupervisorDied() async throws {
        try await withCNITestBed(namespaces: 0) { bed, _ in
            try bed.writeConfig(bed.conflist([bed.bridgePlugin(ipMasq: true)]))
            let root = try makeTemporaryDirectory("fasco-backend")
            defer { try? FileSystem.removeTree(root) }
            let backend = try makeTestBackend(root: root, network: bed.network())
            let realm = SystemRealm(metadata: SystemRealmMetadata(name: "netns", uid: "u", namespace: "n", attempt: 0), createdAt: 1)
            let request = SystemRealmRequest(hostname: "netns", owner: .init(name: "netns", namespace: "n", uid: "u"))
            let runtime = try await backend.startSystemRealm(realm, request: request)
            do {
                try await checkTeardown(backend, realm, runtime, bed)
            } catch {
                try? await backend.removeSystemRealm(realm)
                throw error
            }
        }
    }

    private func checkTeardown(_ backend: SoftwareBackend, _ realm: SystemRealm, _ runtime: RunningSystemRealm, _ bed: CNITestBed) async throws {
        let directory = backend.directory(of: realm.id)
        let pin = NetworkNamespacePin.path(in: directory)
        #expect(runtime.networkNamespace == pin)
        #expect(NetworkNamespacePin.isBound(pin))
        #expect(NamespaceIdentity.of(pin) == NamespaceIdentity.of("/proc/\(runtime.supervisorPID)/ns/net"))
        let address = try #require(runtime.addresses.first)
        #expect(address.hasPrefix(bed.prefix))
        let eth0 = try await runCommand("nsenter", "--net=\(pin)", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        #expect(eth0.stdoutText.contains(address + "/24"), "\(eth0.stdoutText)")
        #expect(try await runCommand("iptables", "-t", "nat", "-S").stdoutText.contains(realm.id.value))

        // The supervisor dies; its namespace does not.
        let supervisor = try #require(try SupervisorProcess.attach(directory: directory))
        kill(supervisor.pid, SIGKILL)
        #expect(try await supervisor.waitForExit(timeout: .seconds(10)))
        #expect(NetworkNamespacePin.isBound(pin))

        let namespace = try #require(NamespaceIdentity.of(pin))
        try await backend.stopSystemRealm(realm)
        let nat = try await runCommand("iptables", "-t", "nat", "-S").stdoutText
        #expect(!nat.contains(realm.id.value), "DEL found the pod's addresses and removed its masquerade rules")
        #expect(bed.allocatedAddresses().isEmpty)
        #expect(!FileSystem.exists(pin), "the namespace is released at stop")
        // ... and let go a moment later, in a batch: held by a descriptor until then.
        #expect(descriptors(of: namespace) == 1, "held for the batch")
        let deadline = ContinuousClock.now + backend.namespaceReaper.maxHold + .seconds(10)
        while descriptors(of: namespace) > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(descriptors(of: namespace) == 0, "let go")

        try await backend.removeSystemRealm(realm)
        #expect(!FileSystem.exists(directory))
    }
}

/// How many descriptors of this process are open on the namespace `identity` names
/// (/proc/self/fd links read "net:[<inode>]").
private func descriptors(of identity: NamespaceIdentity) -> Int {
    let entries = (try? FileSystem.list("/proc/self/fd")) ?? []
    return entries.filter { NamespaceIdentity.of("/proc/self/fd/\($0)") == identity }.count
}
