#if canImport(Glibc)
import Glibc
#endif

/// glibc entry points that Swift's Glibc module does not import (they sit behind `_GNU_SOURCE`
/// or were added after the module map was written), looked up once with `dlsym`.
///
/// Each is optional: callers have a fallback for a libc that lacks it.
enum LibcExtras {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

    /// glibc 2.34: a file action closing every descriptor from a lower bound up.
    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)
    /// glibc 2.29: a file action changing the working directory.
    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
    /// glibc 2.36 (Linux 5.3): a descriptor that polls readable when a process exits.
    static let pidfdOpen: PidfdOpen? = symbol("pidfd_open", as: PidfdOpen.self)
    static let pipe2: Pipe2? = symbol("pipe2", as: Pipe2.self)

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, glibc 2.26): the child calls setsid(2).
    static let spawnSetSID: Int32 = 0x80

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        // RTLD_DEFAULT is the null handle in glibc.
        guard let address = dlsym(nil, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }
}
