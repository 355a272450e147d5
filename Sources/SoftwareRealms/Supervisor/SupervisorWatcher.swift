import FascoCore
import RealmCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Learns of every supervisor's death the moment it happens: one thread polls a pidfd per
/// watched supervisor (readable once the process exited, whether it is this daemon's child or
/// one a previous daemon launched) and a wake-up pipe. A supervisor that is the daemon's child
/// is reaped there (no zombie is left) and its wait status kept; one that is not is reaped by
/// its new parent (init or a subreaper). Its end is kept by realm directory until `forget`, so
/// that whoever asks after the death learns the same.
///
/// Whether the OOM killer killed it is read from the `oom_kill` count of the memory cgroup it
/// was in (memory.oom_control on cgroup v1, memory.events on v2), noted when watching began:
/// the kernel counts a kill in the victim's own cgroup, where only the supervisor (and its
/// pause child) live.
final class SupervisorWatcher: Sendable {
    private struct Watch {
        var pid: pid_t
        var pidfd: Int32
        var oomCounter: String?
        var oomBaseline: Int64?
    }

    private struct State {
        var watches: [String: Watch] = [:]
        var ended: [String: SystemRealmEnd] = [:]
        var waiters: [String: [Int: CheckedContinuation<SystemRealmEnd?, Never>]] = [:]
        var cancelled: Set<Int> = []
        var nextToken = 0
        var wakeRead: Int32 = -1
        var wakeWrite: Int32 = -1
        var threadFailed = false
    }

    private let state = Mutex(State())

    init() {}

    /// Waits until the supervisor of `directory` (pid `pid`) has ended and returns how; nil when
    /// the task is cancelled first or no thread can watch. A supervisor that is gone already
    /// (or no longer fasco-realm at that pid) has ended.
    func wait(directory: String, pid: pid_t, cgroups: HostCgroups) async -> SystemRealmEnd? {
        if let known = state.withLock({ $0.ended[directory] }) { return known }
        guard ensureThread() else { return nil }
        startWatching(directory: directory, pid: pid, cgroups: cgroups)
        let token = state.withLock { state -> Int in
            state.nextToken += 1
            return state.nextToken
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<SystemRealmEnd?, Never>) in
                let immediate: SystemRealmEnd?? = state.withLock { state in
                    if state.cancelled.remove(token) != nil { return .some(nil) }
                    if let end = state.ended[directory] { return .some(end) }
                    state.waiters[directory, default: [:]][token] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<SystemRealmEnd?, Never>? in
                if let continuation = state.waiters[directory]?.removeValue(forKey: token) { return continuation }
                state.cancelled.insert(token)
                return nil
            }
            waiting?.resume(returning: nil)
        }
    }

    /// How the supervisor of `directory` ended, when it was seen to end.
    func end(of directory: String) -> SystemRealmEnd? {
        state.withLock { $0.ended[directory] }
    }

    /// Drops what is known of `directory` (its realm is gone) and stops watching it.
    func forget(directory: String) {
        let pidfd = state.withLock { state -> Int32? in
            state.ended.removeValue(forKey: directory)
            return state.watches.removeValue(forKey: directory)?.pidfd
        }
        if let pidfd { close(pidfd) }
        wake()
    }

    // MARK: The watching thread

    private func startWatching(directory: String, pid: pid_t, cgroups: HostCgroups) {
        let already = state.withLock { $0.watches[directory] != nil || $0.ended[directory] != nil }
        if already { return }
        let counter = Self.oomCounter(of: pid, cgroups: cgroups)
        let baseline = counter.flatMap(Self.readOOMCount)
        let pidfd = LibcExtras.pidfdOpen.map { $0(pid, 0) } ?? -1
        // Opened after the check that `pid` is the supervisor: if it is not (any more), the
        // supervisor has died meanwhile, whatever process the pidfd now names.
        guard pidfd >= 0, SupervisorProcess.serves(directory: directory, pid: pid) || Self.isZombie(pid) else {
            if pidfd >= 0 { close(pidfd) }
            finish(directory: directory, watch: Watch(pid: pid, pidfd: -1, oomCounter: counter, oomBaseline: baseline))
            return
        }
        let duplicate = state.withLock { state -> Bool in
            if state.watches[directory] != nil || state.ended[directory] != nil { return true }
            state.watches[directory] = Watch(pid: pid, pidfd: pidfd, oomCounter: counter, oomBaseline: baseline)
            return false
        }
        if duplicate { close(pidfd) } else { wake() }
    }

    /// Records the end of the watched supervisor (reaping it when it is this process's child)
    /// and answers its waiters.
    private func finish(directory: String, watch: Watch) {
        // Through the pidfd when there is one: by pid, a supervisor reaped meanwhile (by
        // `waitForExit`) could have its pid reused by another child, whose exit this would steal.
        var info = siginfo_t()
        var result: Int32 = -1
        repeat {
            result = watch.pidfd >= 0
                ? waitid(idtype_t(rawValue: 3) /* P_PIDFD */, id_t(watch.pidfd), &info, WEXITED | WNOHANG)
                : waitid(P_PID, id_t(watch.pid), &info, WEXITED | WNOHANG)
        } while result < 0 && errno == EINTR
        let reaped: pid_t = result == 0 && info.si_signo == SIGCHLD ? watch.pid : -1
        // si_status: the exit status (CLD_EXITED) or the signal (CLD_KILLED, CLD_DUMPED).
        let code = info._sifields._sigchld.si_status
        let exited = info.si_code == 1 /* CLD_EXITED */
        let status: Int32 = exited ? (code & 0xFF) << 8 : code & 0x7F
        var oomKilled = false
        if let counter = watch.oomCounter, let before = watch.oomBaseline, let after = Self.readOOMCount(counter) {
            oomKilled = after > before
        }
        let signal = status & 0x7F
        let end = SystemRealmEnd(
            exitStatus: reaped == watch.pid && signal == 0 ? (status >> 8) & 0xFF : nil,
            signal: reaped == watch.pid && signal != 0 ? signal : nil,
            oomKilled: oomKilled)
        let waiters = state.withLock { state -> [CheckedContinuation<SystemRealmEnd?, Never>] in
            if let current = state.watches[directory], current.pid == watch.pid { state.watches.removeValue(forKey: directory) }
            state.ended[directory] = end
            return Array((state.waiters.removeValue(forKey: directory) ?? [:]).values)
        }
        if watch.pidfd >= 0 { close(watch.pidfd) }
        for waiter in waiters { waiter.resume(returning: end) }
    }

    private func ensureThread() -> Bool {
        let start = state.withLock { state -> Bool? in
            if state.threadFailed { return false }
            if state.wakeRead >= 0 { return nil }
            var fds: [Int32] = [-1, -1]
            guard let pipe2 = LibcExtras.pipe2, pipe2(&fds, O_CLOEXEC) == 0 else {
                state.threadFailed = true
                return false
            }
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            state.wakeRead = fds[0]
            state.wakeWrite = fds[1]
            return true
        }
        guard let start else { return true }
        guard start else { return false }
        if !DetachedThread.start(stackSize: 256 << 10, { [self] in run() }) {
            state.withLock { $0.threadFailed = true }
            return false
        }
        return true
    }

    private func wake() {
        let fd = state.withLock { $0.wakeWrite }
        guard fd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    /// The thread's loop: poll the wake-up pipe and every pidfd, finish the supervisors that ended.
    private func run() {
        while true {
            let (wakeRead, watches) = state.withLock { ($0.wakeRead, $0.watches) }
            var entries = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let order = Array(watches.keys)
            for key in order { entries.append(pollfd(fd: watches[key]?.pidfd ?? -1, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&entries, nfds_t(entries.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                usleep(10_000)
                continue
            }
            if entries[0].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                while read(wakeRead, &buffer, buffer.count) > 0 {}
            }
            for (index, key) in order.enumerated() where entries[index + 1].revents != 0 {
                // Still watched with this pidfd (not forgotten meanwhile)?
                let watch = state.withLock { state -> Watch? in
                    guard let current = state.watches[key], current.pidfd == entries[index + 1].fd else { return nil }
                    return current
                }
                if let watch { finish(directory: key, watch: watch) }
            }
        }
    }

    // MARK: OOM counter

    /// memory.oom_control (v1) or memory.events (v2) of the memory cgroup `pid` is in; nil
    /// when /proc cannot tell (the process is gone): its end then just is not known as an OOM kill.
    static func oomCounter(of pid: pid_t, cgroups: HostCgroups) -> String? {
        guard let text = ProcFS.read("cgroup", of: String(pid)) else { return nil }
        let lines = ProcFS.cgroups(text)
        if let memory = cgroups.v1Hierarchies.first(where: { $0.controllers.contains("memory") }), !memory.mountPoint.isEmpty {
            guard let line = lines.first(where: { $0.has("memory") }) else { return nil }
            return memory.mountPoint + (line.path == "/" ? "" : String(line.path)) + "/memory.oom_control"
        }
        guard let mount = cgroups.v2MountPoint, let line = lines.first(where: \.isUnified) else { return nil }
        return mount + (line.path == "/" ? "" : String(line.path)) + "/memory.events"
    }

    /// The `oom_kill N` count in `file`; nil when it is gone or unreadable (no count to compare).
    static func readOOMCount(_ file: String) -> Int64? {
        guard let bytes = try? FileSystem.read(file, limit: 65536) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int64(line.dropFirst(9).trimmingPrefix(" "))
        }
        return nil
    }

    /// Whether `pid` is a zombie; a process whose stat cannot be read (gone) is not.
    static func isZombie(_ pid: pid_t) -> Bool {
        ProcFS.state(of: pid) == "Z"
    }
}
