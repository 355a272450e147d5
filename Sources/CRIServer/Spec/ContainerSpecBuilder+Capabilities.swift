import CRIAPI
import FascoCore
import OCISpec

extension ContainerSpecBuilder {
    /// The capabilities a container starts with (containerd's and Docker's default set).
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]

    /// The capability sets: the default set (every available capability when privileged), then
    /// `add_capabilities` and `drop_capabilities` as containerd applies them: `ALL` in add gives
    /// every available capability and `ALL` in drop removes every one, before the named ones are
    /// added and then dropped. Names may omit the `CAP_` prefix and are case-insensitive; an
    /// unknown name is INVALID_ARGUMENT, a known one the runtime cannot grant (not in
    /// `available`) FAILED_PRECONDITION. Default capabilities that are not available are left out.
    ///
    /// The result goes into the bounding, effective and permitted sets; inheritable stays empty
    /// (CVE-2022-24769) except for `add_ambient_capabilities`, which are raised into the
    /// inheritable and ambient sets (and added to the others, since an ambient capability must
    /// also be permitted).
    static func capabilities(_ security: LinuxContainerSecurityContext, privileged: Bool,
                             available: [String]) throws(FascoError) -> RuntimeSpec.Process.Capabilities {
        let all = RuntimeSpec.Process.Capabilities.allKnownNames.filter { available.contains($0) }
        var set = privileged ? all : defaultCapabilities.filter { available.contains($0) }
        let requested = security.capabilities ?? Capability()
        func grantable(_ name: String) throws(FascoError) -> String {
            let capability = try normalizedCapability(name)
            guard available.contains(capability) else {
                throw .failedPrecondition("capability \(capability) is not available to the runtime on this host")
            }
            return capability
        }
        if !privileged {
            if requested.addCapabilities.contains(where: isAll) { set = all }
            if requested.dropCapabilities.contains(where: isAll) { set = [] }
            for name in requested.addCapabilities where !isAll(name) {
                let capability = try grantable(name)
                if !set.contains(capability) { set.append(capability) }
            }
            for name in requested.dropCapabilities where !isAll(name) {
                let capability = try normalizedCapability(name)
                set.removeAll { $0 == capability }
            }
        }
        var ambient: [String] = []
        for name in requested.addAmbientCapabilities {
            let capability = try grantable(name)
            if !ambient.contains(capability) { ambient.append(capability) }
            if !set.contains(capability) { set.append(capability) }
        }
        return RuntimeSpec.Process.Capabilities(
            bounding: set, effective: set, inheritable: ambient.isEmpty ? nil : ambient, permitted: set,
            ambient: ambient.isEmpty ? nil : ambient)
    }

    static func isAll(_ name: String) -> Bool { name.uppercased() == "ALL" }

    /// `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN` → `CAP_NET_ADMIN`, if Linux knows it.
    static func normalizedCapability(_ name: String) throws(FascoError) -> String {
        let upper = name.uppercased()
        let full = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        guard RuntimeSpec.Process.Capabilities.allKnownNames.contains(full) else {
            throw .invalidArgument("unknown capability \(name.debugDescription)")
        }
        return full
    }
}
