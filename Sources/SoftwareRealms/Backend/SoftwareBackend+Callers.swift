import FascoCore
import RealmCore

extension SoftwareBackend {
    /// A process belongs to the container whose mount namespace it is in: every container gets
    /// one of its own (the runtime makes it), its exec'd commands join it, and neither the
    /// supervisor nor its pause process share it. Compared by nsfs identity (device, inode), so a
    /// PID reused meanwhile can only point at whatever that PID is now.
    public func container(ofProcess pid: Int32, among containers: [ContainerRealm]) async -> RealmID? {
        guard pid > 0, let caller = NamespaceIdentity.of("/proc/\(pid)/ns/mnt") else { return nil }
        var pids: [String: Int32] = [:]
        for pod in Set(containers.map(\.systemRealm)) {
            // A pod whose supervisor does not answer has no process to match the caller's.
            guard let records = try? await client(of: pod).list() else { continue }
            for record in records where record.state != .exited && record.pid > 0 { pids[record.id] = record.pid }
        }
        // The host's own mount namespace is never a container's.
        let host = NamespaceIdentity.of("/proc/1/ns/mnt")
        guard caller != host else { return nil }
        for container in containers {
            guard let main = pids[container.id.value], let namespace = NamespaceIdentity.of("/proc/\(main)/ns/mnt") else { continue }
            if namespace == caller { return container.id }
        }
        return nil
    }
}
