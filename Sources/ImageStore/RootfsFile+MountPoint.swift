import CImageLibs
import FascoCore
import Glibc

extension RootfsFile {
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
