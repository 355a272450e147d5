import CRIAPI
import FascoCore
import OCISpec
import RealmCore

extension ContainerSpecBuilder {
    /// The container's mounts, in the order a runtime performs them:
    ///
    /// 1. the defaults: /proc, a /dev tmpfs, /dev/pts, /dev/mqueue, /sys (read-only unless
    ///    privileged) and /sys/fs/cgroup (likewise), less those a CRI mount replaces (a CRI /dev
    ///    replaces everything under /dev);
    /// 2. the pod's /etc/hostname, /etc/hosts, /etc/resolv.conf (read-only with a read-only
    ///    rootfs) and /dev/shm (the host's with host IPC), unless a CRI mount targets them, and the
    ///    pod's guest API directory at /run/fasco/guest (read-only; `GuestAPIPolicy`), and the
///    CRI mounts: stably sorted by depth, so a parent is mounted before its children.
    ///
    /// A CRI mount is an `rbind` of its host path (`HostFiles.bindSource`: symlinks resolved; a
    /// missing path is created as a directory, as containerd does) with `rprivate`, `rslave`
    /// (HOST_TO_CONTAINER, which needs a shared or slave host mount) or `rshared` (BIDIRECTIONAL,
    /// which needs a shared host mount and makes the rootfs `rshared`), the host's mount table
    /// read once and only for them, `ro` or `rw`, and `rro` for `recursive_read_only` (which
    /// needs `readonly` and private propagation). `selinux_relabel` is ignored (no SELinux).
    static func mounts(_ input: ContainerSpecInput, security: LinuxContainerSecurityContext,
                       namespaces: ContainerNamespaces) throws(FascoError) -> (mounts: [RuntimeSpec.Mount], rootfsPropagation: String?) {
        let files = input.host.files
        var hostMounts: [MountInfo]?
        /// The host mount `source` lives on.
        func hostMount(of source: String) throws(FascoError) -> MountInfo? {
            if hostMounts == nil { hostMounts = try files.mounts() }
            return MountInfo.mount(containing: source, in: hostMounts ?? [])
        }

        var extra: [RuntimeSpec.Mount] = []
        var rootfsPropagation: String?
        for mount in input.config.mounts {
            if let image = mount.image, !image.image.isEmpty {
                throw .unimplemented("image volume mounts are not supported (\(mount.containerPath))")
            }
            guard !mount.containerPath.isEmpty else { throw .invalidArgument("a mount has no container path") }
            try requireAbsolute(mount.containerPath, "mount container path")
            guard !mount.hostPath.isEmpty else { throw .invalidArgument("mount \(mount.containerPath) has no host path") }
            try requireAbsolute(mount.hostPath, "mount host path")
            let destination = cleanPath(mount.containerPath)
            guard !extra.contains(where: { $0.destination == destination }) else {
                throw .invalidArgument("two mounts target \(destination)")
            }
            if mount.recursiveReadOnly {
                guard mount.readonly else {
                    throw .invalidArgument("mount \(destination): recursive_read_only needs readonly")
                }
                guard mount.propagation == .private else {
                    throw .invalidArgument("mount \(destination): recursive_read_only needs private propagation, not \(mount.propagation.protoName)")
                }
            }
            guard mount.uidMappings.isEmpty == mount.gidMappings.isEmpty else {
                throw .invalidArgument("mount \(destination): an idmapped mount needs both UID and GID mappings")
            }
            if case .unrecognized(let value) = mount.propagation {
                throw .invalidArgument("mount \(destination): unknown propagation \(value)")
            }
            // Validated first: resolving the source may create a directory.
            let source = try files.bindSource(mount.hostPath)

            var options = ["rbind"]
            switch mount.propagation {
            case .private:
                options.append("rprivate")
            case .hostToContainer:
                guard let host = try hostMount(of: source), host.isShared || host.isSlave else {
                    throw .failedPrecondition("mount \(destination): host path \(source) is not on a shared or slave mount, so HOST_TO_CONTAINER cannot propagate")
                }
                options.append("rslave")
                if rootfsPropagation != "rshared" { rootfsPropagation = "rslave" }
            case .bidirectional:
                guard let host = try hostMount(of: source), host.isShared else {
                    throw .failedPrecondition("mount \(destination): host path \(source) is not on a shared mount, so BIDIRECTIONAL cannot propagate")
                }
                options.append("rshared")
                rootfsPropagation = "rshared"
            case .unrecognized(let value):
                throw .invalidArgument("mount \(destination): unknown propagation \(value)")
            }
            options.append(mount.readonly ? "ro" : "rw")
            if mount.recursiveReadOnly { options.append("rro") }
            extra.append(RuntimeSpec.Mount(
                destination: destination, type: "bind", source: source, options: options,
                uidMappings: mount.uidMappings.isEmpty ? nil : mount.uidMappings.map(ociMapping),
                gidMappings: mount.gidMappings.isEmpty ? nil : mount.gidMappings.map(ociMapping)))
        }

        let pod = input.pod
        let podFiles: [(destination: String, source: String, readonly: Bool)] = [
            ("/etc/hostname", pod.hostnamePath, security.readonlyRootfs),
            ("/etc/hosts", pod.hostsPath, security.readonlyRootfs),
            ("/etc/resolv.conf", pod.resolvConfPath, security.readonlyRootfs),
            ("/dev/shm", namespaces.hostIPC ? "/dev/shm" : pod.shmPath, false),
        ]
        var podMounts: [RuntimeSpec.Mount] = []
        for file in podFiles where !extra.contains(where: { $0.destination == file.destination }) {
            try requireAbsolute(file.source, "pod file for \(file.destination)")
            guard files.exists(file.source) else {
                throw .failedPrecondition("pod file \(file.source) for \(file.destination) does not exist")
            }
            podMounts.append(RuntimeSpec.Mount(destination: file.destination, type: "bind", source: file.source,
                                               options: ["rbind", "rprivate", file.readonly ? "ro" : "rw"]))
        }

        // The guest API's directory (its socket is re-created there after a daemon restart).
        if let guest = pod.guestAPIDirectory, !extra.contains(where: { $0.destination == GuestAPIPolicy.mountPath }) {
            try requireAbsolute(guest, "guest API directory")
            guard files.isDirectory(guest) else {
                throw .failedPrecondition("the pod's guest API directory \(guest) does not exist")
            }
            podMounts.append(RuntimeSpec.Mount(destination: GuestAPIPolicy.mountPath, type: "bind", source: guest,
                                               options: ["rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"]))
        }

        let replaced = Set(extra.map(\.destination))
        let defaults = defaultMounts(privileged: security.privileged, namespaces: namespaces).filter { mount in
            !replaced.contains(mount.destination) && !(replaced.contains("/dev") && mount.destination.hasPrefix("/dev/"))
        }
        let ordered = (podMounts + extra).enumerated().sorted { left, right in
            let leftDepth = depth(left.element.destination), rightDepth = depth(right.element.destination)
            return leftDepth != rightDepth ? leftDepth < rightDepth : left.offset < right.offset
        }.map(\.element)
        return (defaults + ordered, rootfsPropagation)
    }

    /// The mounts every container gets (containerd's defaults without /run, plus the cgroup
    /// filesystem). With a user namespace on the host network, sysfs cannot be mounted and is
    /// bind-mounted from the host instead.
    static func defaultMounts(privileged: Bool, namespaces: ContainerNamespaces) -> [RuntimeSpec.Mount] {
        let access = privileged ? "rw" : "ro"
        let sysfs = namespaces.userNamespace && namespaces.hostNetwork
            ? RuntimeSpec.Mount(destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", access])
            : RuntimeSpec.Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", access])
        return [
            RuntimeSpec.Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            RuntimeSpec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                              options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            RuntimeSpec.Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            RuntimeSpec.Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            sysfs,
            RuntimeSpec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                              options: ["nosuid", "noexec", "nodev", "relatime", access]),
        ]
    }

    static func ociMapping(_ mapping: IDMapping) -> RuntimeSpec.IDMapping {
        RuntimeSpec.IDMapping(containerID: mapping.containerID, hostID: mapping.hostID, size: mapping.length)
    }

    static func depth(_ path: String) -> Int {
        path.split(separator: "/").count
    }
}
