import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// glibc calls Swift's Glibc module hides behind _GNU_SOURCE, through CLinux's typed C
/// wrappers (compiled with _GNU_SOURCE). Optional so that call sites keep their fallbacks
/// for a libc without them; this build's libc (glibc 2.36) has them all.
enum LibcExtras {
    typealias AddCloseFrom = @Sendable (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias AddChdir = @Sendable (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    typealias PidfdOpen = @Sendable (pid_t, UInt32) -> Int32
    typealias Pipe2 = @Sendable (UnsafeMutablePointer<Int32>?, Int32) -> Int32

    static let addCloseFrom: AddCloseFrom? = { fasco_spawn_add_closefrom($0, $1) }
    static let addChdir: AddChdir? = { fasco_spawn_add_chdir($0, $1) }
    static let pidfdOpen: PidfdOpen? = { fasco_pidfd_open($0, $1) }
    static let pipe2: Pipe2? = { fds, flags in flags == O_CLOEXEC ? fasco_pipe_cloexec(fds) : Glibc.pipe(fds) }

    static let spawnSetSID = Int32(fasco_spawn_setsid_flag())
}
