import CImageLibs
import FascoCore
import Glibc
import OCISpec

extension RootfsFile {
    /// In a user namespace the container's root (an unprivileged host ID) cannot create mount
    /// points in the image's root filesystem, which belongs to the host's root: the daemon makes
    /// the missing ones of `spec` in `root` first (an empty file for a bind mount of a file, else a
    /// directory). Mount points below another mount are the runtime's business (inside its tmpfs,
    /// sysfs, or volume). Nothing for a container without a user namespace.
    public static func makeMountPoints(for spec: RuntimeSpec, inRoot root: String) throws(FascoError) {
        guard spec.linux?.namespaces?.contains(where: { $0.type == .user }) == true else { return }
        let mounts = spec.mounts ?? []
        let destinations = mounts.map { $0.destination.split(separator: "/").map(String.init) }
        for (index, mount) in mounts.enumerated() {
            let components = destinations[index]
            let nested = destinations.contains { other in
                other.count < components.count && !other.isEmpty && Array(components.prefix(other.count)) == other
            }
            guard !nested, !components.isEmpty else { continue }
            var file = false
            if mount.type == "bind" || (mount.options ?? []).contains(where: { $0 == "bind" || $0 == "rbind" }), let source = mount.source {
                file = FileSystem.exists(source) && !FileSystem.isDirectory(source)
            }
            try makeMountPoint(mount.destination, inRoot: root, file: file)
        }
    }

    /// Makes `path` (absolute, resolved inside `root` as the container would see it) exist: a
    /// directory (0755), or with `file` an empty regular file (0644), with any missing parent
    /// directories, all owned by the caller. Something already there, of any kind, is left as it is.
    ///
    /// For containers in a user namespace: their root (an unprivileged host ID) cannot create
    /// mount points in a root filesystem owned by the host's root, so the daemon makes them first.
    /// Every lookup is an openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` from `root`,
    /// and every creation is relative to a directory so opened with a single name that is never
    /// followed (mkdirat, O_CREAT|O_EXCL|O_NOFOLLOW): a hostile image's symlinks cannot make it
    /// create anything outside `root`.
    public static func makeMountPoint(_ path: String, inRoot root: String, file: Bool) throws(FascoError) {
        guard !path.utf8.contains(0), !root.utf8.contains(0) else {
            throw .invalidArgument("path \(path) in \(root) contains a NUL byte")
        }
        let components = path.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !components.isEmpty else { return }
        guard !components.contains("..") else { throw .invalidArgument("mount point \(path) contains ..") }
        let rootFD = UnpackSys.openat(AT_FDCWD, Array(root.utf8), flags: O_RDONLY | O_DIRECTORY)
        guard rootFD.fd >= 0 else {
            throw .failedPrecondition("cannot open root filesystem \(root): \(String(cString: strerror(rootFD.errno)))")
        }
        defer { close(rootFD.fd) }
        let resolve = UnpackSys.resolveInRoot | UnpackSys.resolveNoMagicLinks
        var parentFD = UnpackSys.openat2(rootFD.fd, Array(".".utf8), flags: UnpackSys.pathOnly | O_DIRECTORY, resolve: resolve)
        guard parentFD.fd >= 0 else { throw .internal("cannot open \(root): \(String(cString: strerror(parentFD.errno)))") }
        defer { close(parentFD.fd) }
        for (index, name) in components.enumerated() {
            let last = index == components.count - 1
            let prefix = components[...index].joined(separator: "/")
            var existing = UnpackSys.openat2(rootFD.fd, Array(prefix.utf8), flags: UnpackSys.pathOnly, resolve: resolve)
            if existing.fd < 0 {
                guard existing.errno == ENOENT else {
                    throw .failedPrecondition("cannot look up \(prefix) in \(root): \(String(cString: strerror(existing.errno)))")
                }
                let leaf = Array(name.utf8)
                if last && file {
                    let created = UnpackSys.openat(parentFD.fd, leaf, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644)
                    if created.fd >= 0 { close(created.fd) } else if created.errno != EEXIST {
                        throw .internal("cannot create \(prefix) in \(root): \(String(cString: strerror(created.errno)))")
                    }
                    return
                }
                if UnpackSys.mkdirat(parentFD.fd, leaf, mode: 0o755) != 0 && errno != EEXIST {
                    throw .internal("cannot create \(prefix) in \(root): \(FileSystem.errnoText)")
                }
                if last { return }
                existing = UnpackSys.openat2(rootFD.fd, Array(prefix.utf8), flags: UnpackSys.pathOnly | O_DIRECTORY, resolve: resolve)
                guard existing.fd >= 0 else {
                    throw .internal("cannot open \(prefix) in \(root): \(String(cString: strerror(existing.errno)))")
                }
            }
            if last {
                close(existing.fd)
                return
            }
            close(parentFD.fd)
            parentFD = existing
        }
    }
}
