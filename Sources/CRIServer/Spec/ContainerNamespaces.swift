import OCISpec

/// The namespaces a container spec lists, and which host namespaces it shares: the input to the
/// checks that depend on them (sysctls, /dev/shm, sysfs, hostname).
struct ContainerNamespaces: Sendable, Equatable {
    var namespaces: [RuntimeSpec.Linux.Namespace]
    var uidMappings: [RuntimeSpec.IDMapping]?
    var gidMappings: [RuntimeSpec.IDMapping]?

    var hostNetwork: Bool { !contains(.network) }
    var hostIPC: Bool { !contains(.ipc) }
    var hostPID: Bool { !contains(.pid) }
    var ownUTS: Bool { contains(.uts) }
    var userNamespace: Bool { contains(.user) }

    func contains(_ kind: RuntimeSpec.Linux.Namespace.Kind) -> Bool {
        namespaces.contains { $0.type == kind }
    }
}
