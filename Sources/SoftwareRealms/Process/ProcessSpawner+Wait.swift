import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

extension ProcessSpawner {
    /// Reaps a child of this process, waiting on a thread of its own (never a cooperative one).
    public static func wait(_ pid: pid_t) async throws(FascoError) -> ProcessExit {
        try await BlockingWork.run { () throws(FascoError) -> ProcessExit in
            guard let exit = try reap(pid, deadline: nil) else { throw .internal("waitpid \(pid) returned without an exit") }
            return exit
        }
    }

    /// Reaps a child of this process, or returns nil (leaving it running and unreaped) when it
    /// has not ended within `timeout`.
    public static func wait(_ pid: pid_t, timeout: Duration) async throws(FascoError) -> ProcessExit? {
        let deadline = ContinuousClock.now + timeout
        return try await BlockingWork.run { () throws(FascoError) -> ProcessExit? in try reap(pid, deadline: deadline) }
    }

    /// Waits for any process, child or not, to end (it cannot be reaped here, so there is no
    /// status): true once it is gone or a zombie, false when `timeout` passes first.
    ///
    /// Uses a pidfd (Linux 5.3), which polls readable when the process exits; without one it
    /// checks `/proc/<pid>/stat` every few milliseconds.
    public static func waitForExit(ofProcess pid: pid_t, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        // No thread to wait on: not seen to end, as at a timeout.
        let result = try? await BlockingWork.run { () throws(FascoError) -> Bool in
            if let pidfdOpen = LibcExtras.pidfdOpen {
                let pidfd = pidfdOpen(pid, 0)
                if pidfd < 0 { return errno == ESRCH }
                defer { close(pidfd) }
                return poll(pidfd, until: deadline)
            }
            while ContinuousClock.now < deadline {
                if !isAlive(pid) { return true }
                usleep(2_000)
            }
            return !isAlive(pid)
        }
        return result ?? false
    }

    /// True while `pid` exists and is not a zombie (a stat that cannot be read: it is gone).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = ProcFS.read("stat", of: String(pid)) else { return false }
        guard let state = ProcFS.state(stat: stat) else { return true }
        return state != "Z" && state != "X"
    }

    /// Blocking: reaps `pid`, or returns nil when `deadline` passes first.
    static func reap(_ pid: pid_t, deadline: ContinuousClock.Instant?) throws(FascoError) -> ProcessExit? {
        if let deadline {
            guard try waitUntilExited(pid, deadline: deadline) else { return nil }
        }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid, let exit = ProcessExit(waitStatus: status) { return exit }
            if result < 0 && errno != EINTR { throw .internal("waitpid \(pid): \(FileSystem.errnoText)") }
        }
    }

    /// Blocking: true once the child `pid` has exited (not yet reaped), false at `deadline`.
    static func waitUntilExited(_ pid: pid_t, deadline: ContinuousClock.Instant) throws(FascoError) -> Bool {
        if let pidfdOpen = LibcExtras.pidfdOpen {
            let pidfd = pidfdOpen(pid, 0)
            if pidfd >= 0 {
                defer { close(pidfd) }
                return poll(pidfd, until: deadline)
            }
        }
        // No pidfd: look without reaping (WNOWAIT) every couple of milliseconds.
        var info = siginfo_t()
        while true {
            info.si_signo = 0
            let result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if result < 0 && errno != EINTR { throw .internal("waitid \(pid): \(FileSystem.errnoText)") }
            if result == 0 && info.si_signo == SIGCHLD { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
    }

    /// Blocking: true when `fd` polls readable before `deadline`.
    static func poll(_ fd: Int32, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = milliseconds(until: deadline)
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let result = Glibc.poll(&entry, 1, remaining)
            if result > 0 { return true }
            if result == 0 && remaining == 0 { return false }
            if result < 0 && errno != EINTR { return false }
        }
    }

    /// Whole milliseconds left until `deadline` (rounded up, at least 0, at most Int32.max).
    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: total)
    }
}
