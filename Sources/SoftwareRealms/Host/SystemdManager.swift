import CSystemdBus
import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// systemd's manager, as the systemd cgroup driver uses it: transient scope units for the
/// realm supervisors, in the pods' slices. Over D-Bus (sd-bus); each call on a thread of the
/// blocking pool, with a connection of its own.
public struct SystemdManager: Sendable {
    public init() {}

    /// Starts the transient scope `name` in `slice` holding `pids`, with Delegate=yes, and waits
    /// until systemd has moved the processes into it (systemd starts the unit after answering).
    public func startScope(_ name: String, slice: String, pids: [pid_t], description: String,
                           timeout: Duration = .seconds(10)) async throws(FascoError) {
        try Self.validateUnitName(name, suffix: ".scope")
        let expected = CgroupPath.child(of: try PodCgroup.systemdSlicePath(slice), name)
        guard !pids.isEmpty, pids.allSatisfy({ $0 > 0 }) else { throw .invalidArgument("a scope needs processes: \(pids)") }
        let members = pids.map { UInt32($0) }
        try await BlockingWork.run { () throws(FascoError) in
            try Self.call("cannot start the scope \(name) in \(slice)") { error, size in
                fasco_systemd_start_scope(name, slice, description, members, members.count, error, size)
            }
        }
        let deadline = ContinuousClock.now + timeout
        for pid in pids {
            while true {
                guard let current = Self.systemdCgroup(of: pid) else { throw .notFound("process \(pid) ended before systemd placed it in \(name)") }
                if current == expected { break }
                guard ContinuousClock.now < deadline else {
                    throw FascoError(.deadlineExceeded, "systemd did not place process \(pid) in \(expected) within \(timeout)")
                }
                do {
                    try await Task.sleep(for: .milliseconds(1))
                } catch {
                    // Cancelled: the sleep would end at once on every turn, spinning to the deadline.
                    throw FascoError(.deadlineExceeded, "cancelled while waiting for systemd to place process \(pid) in \(expected)")
                }
            }
        }
    }

    /// Stops the unit `name`; nothing to do when none is loaded.
    public func stopUnit(_ name: String) async throws(FascoError) {
        try await BlockingWork.run { () throws(FascoError) in
            try Self.call("cannot stop \(name)") { error, size in fasco_systemd_stop_unit(name, error, size) }
        }
    }

    /// The manager's version; throws when no systemd answers.
    public func version() async throws(FascoError) -> String {
        try await BlockingWork.run { () throws(FascoError) -> String in
            var version = [CChar](repeating: 0, count: 128)
            try Self.call("systemd does not answer") { error, size in fasco_systemd_version(&version, version.count, error, size) }
            return Self.text(version)
        }
    }

    /// The path of `pid` in the `name=systemd` hierarchy (cgroup v1) or the unified one (v2):
    /// the one systemd manages. Nil when the process is gone (its cgroup file cannot be read).
    static func systemdCgroup(of pid: pid_t) -> String? {
        guard let text = ProcFS.read("cgroup", of: String(pid)) else { return nil }
        var unified: String?
        for line in ProcFS.cgroups(text) {
            if line.controllers == "name=systemd" { return String(line.path) }
            if line.isUnified { unified = String(line.path) }
        }
        return unified
    }

    /// A unit name systemd accepts: 1 to 255 bytes of [A-Za-z0-9:_.\-@] ending in `suffix`.
    static func validateUnitName(_ name: String, suffix: String) throws(FascoError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || [UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "@")].contains(byte)
        }
        guard allowed, name.hasSuffix(suffix), name.utf8.count > suffix.utf8.count, name.utf8.count <= 255 else {
            throw .invalidArgument("not a systemd \(suffix) unit name: \(name.debugDescription)")
        }
    }

    /// A NUL-terminated C string held in `buffer`.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func call(_ what: String, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(FascoError) {
        var message = [CChar](repeating: 0, count: 1024)
        let result = message.withUnsafeMutableBufferPointer { buffer in body(buffer.baseAddress!, buffer.count) }
        guard result < 0 else { return }
        let text = Self.text(message)
        let code: FascoError.Code = switch -result {
        case ENOENT, ECONNREFUSED: .unavailable
        case EEXIST: .alreadyExists
        default: .internal
        }
        throw FascoError(code, "\(what): \(text)")
    }
}
