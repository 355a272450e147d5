import CLinux
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// A pod's network namespace bound at a file of its realm directory, as `ip netns add` binds
/// one under /run/netns: it lives while the binding does, whatever happens to the processes
/// in it.
///
/// So the pod's network can be set up (CNI ADD) before its supervisor runs, and torn down
/// (CNI DEL, which needs the namespace to find the pod's interface and addresses) while the
/// supervisor shuts down, or after it died.
enum NetworkNamespacePin {
    /// The file in a realm directory that binds its network namespace.
    static func path(in directory: String) -> String { directory + "/netns" }

    /// Makes a new network namespace and binds it at `path` (a new file). The namespace is made
    /// on a thread of its own, which ends afterwards: no other thread of the daemon changes
    /// namespace.
    static func create(at path: String) async throws(FascoError) {
        try makeMountPoint(path)
        let result: Result<Void, FascoError> = await withCheckedContinuation { continuation in
            let started = DetachedThread.start {
                guard fasco_unshare(fasco_clone_newnet()) == 0 else {
                    continuation.resume(returning: .failure(.internal("cannot make a network namespace: \(FileSystem.errnoText)")))
                    return
                }
                // The thread's own namespace, through the thread's /proc entry.
                let source = "/proc/self/task/\(fasco_gettid())/ns/net"
                guard mount(source, path, nil, UInt(MS_BIND), nil) == 0 else {
                    continuation.resume(returning: .failure(.internal("cannot bind the network namespace at \(path): \(FileSystem.errnoText)")))
                    return
                }
                continuation.resume(returning: .success(()))
            }
            if !started { continuation.resume(returning: .failure(.resourceExhausted("cannot start a thread to make a network namespace"))) }
        }
        do {
            try result.get()
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Binds the network namespace `source` names (such as /proc/PID/ns/net) at `path` (a new file).
    static func bind(_ source: String, at path: String) throws(FascoError) {
        try makeMountPoint(path)
        guard mount(source, path, nil, UInt(MS_BIND), nil) == 0 else {
            let text = FileSystem.errnoText
            unlink(path)
            throw .internal("cannot bind the network namespace \(source) at \(path): \(text)")
        }
    }

    /// Unbinds and deletes `path`; the namespace goes once nothing else holds it (the kernel
    /// deletes its interfaces then, asynchronously). Nothing to do when it is not there.
    static func release(_ path: String) throws(FascoError) {
        if umount2(path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw .internal("cannot unbind the network namespace at \(path): \(FileSystem.errnoText)")
        }
        if unlink(path) != 0 && errno != ENOENT {
            throw .internal("cannot delete \(path): \(FileSystem.errnoText)")
        }
    }

    /// `release`, with the namespace itself handed to `reaper`, which lets it go a moment
    /// later together with others (see `NamespaceReaper`).
    static func release(_ path: String, holdingWith reaper: NamespaceReaper) throws(FascoError) {
        if isBound(path) {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor >= 0 { reaper.hold(descriptor) }
        }
        try release(path)
    }

    /// Whether `path` binds a network namespace now.
    static func isBound(_ path: String) -> Bool {
        fasco_is_namespace_file(path) == 1
    }

    private static func makeMountPoint(_ path: String) throws(FascoError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw .internal("cannot create \(path): \(FileSystem.errnoText)") }
        close(fd)
    }
}
