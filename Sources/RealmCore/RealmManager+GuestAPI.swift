import FascoCore
import RealmAttestation

/// What the guest API (CoCo's api-server-rest, `GuestAPI`) asks of the realms. The caller of a
/// request is always a container found from the kernel's facts (a process ID), never from
/// anything the caller says.
extension RealmManager {
    /// Registers a service run beside every ready System Realm, and tells it of those already
    /// running (after a daemon restart).
    public func register(_ service: any SystemRealmService) async {
        services.withLock { $0.append(service) }
        for pod in await registry.allSystemRealms where pod.state == .ready {
            try? await locks.withLock(pod.id) { () throws(FascoError) in
                guard let current = try await registry.systemRealm(pod.id.value), current.state == .ready,
                      await backend.isRunning(current), let runtime = await backend.runningSystemRealm(current.id) else { return }
                await service.systemRealmStarted(current, running: runtime)
            }
        }
    }

    /// The live container of System Realm `pod` that all of `processes` (host PIDs) belong
    /// to; nil when there are none, when one of them belongs to no running container of the pod
    /// (the pause process, the supervisor, another pod, the host), or when they belong to several.
    /// The backend matches processes only against containers whose process exists.
    public func guestCaller(processes: [Int32], inSystemRealm pod: RealmID) async -> ContainerRealm? {
        guard !processes.isEmpty else { return nil }
        // Created ones too: a container's process runs its command as soon as the runtime starts
        // it, a moment before its record says running; a created container that has not started
        // has no process running anything, so none of its processes can call.
        let running = await registry.containers(of: pod).filter { $0.state.isLive }
        guard !running.isEmpty else { return nil }
        var found: RealmID?
        for pid in processes {
            guard pid > 0, let id = await backend.container(ofProcess: pid, among: running) else { return nil }
            if let found, found != id { return nil }
            found = id
        }
        return running.first { $0.id == found }
    }

    /// A CCA token (`format`) for a live container's realm, with `challenge` (at most 64 bytes).
    public func guestEvidence(_ container: ContainerRealm, challenge: [UInt8], format: CCAToken.Format) async throws(FascoError) -> [UInt8] {
        guard let monitor else { throw .failedPrecondition("this node does not attest realms") }
        guard let current = try await registry.containerRealm(container.id.value), current.state.isLive else {
            throw .failedPrecondition("container \(container.id) is not running")
        }
        guard let record = current.attestation else {
            throw .failedPrecondition("container \(container.id) was created before Fasco measured realms: it has no measurements")
        }
        return try monitor.token(for: record, challenge: challenge, format: format)
    }

    /// Extends a live container's REM `GuestAPIPolicy.eventLogIndex` with H(`text`) (an
    /// AAEL event), the text in its log; on disk before it returns.
    public func recordGuestEvent(_ container: ContainerRealm, text: String) async throws(FascoError) -> RealmMeasurement {
        try await locks.withLock(container.id) { () throws(FascoError) -> RealmMeasurement in
            guard let current = try await registry.containerRealm(container.id.value), current.state.isLive else {
                throw .failedPrecondition("container \(container.id) is not running")
            }
            guard let measurement = try await registry.extendMeasurement(of: current.id, index: GuestAPIPolicy.eventLogIndex, text: text) else {
                throw .failedPrecondition("container \(container.id) was created before Fasco measured realms: it has no measurements")
            }
            return measurement
        }
    }
}
