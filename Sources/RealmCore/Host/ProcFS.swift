import FascoCore

/// The small files of /proc a process is known by, read with a bound and parsed in one place:
/// `stat` (its state), `status` (`PPid:`, `CapEff:`), `cgroup` (its cgroup in each hierarchy)
/// and one-number files such as `oom_score_adj` (proc(5)).
public enum ProcFS {
    /// What one of these files may hold: far more than the kernel writes into any of them.
    public static let limit = 64 << 10

    /// `/proc/<process>/<file>` (`process` a pid or `self`), at most `limit` bytes; nil when it
    /// cannot be read (the process is gone, or the file is larger).
    public static func read(_ file: String, of process: String = "self") -> String? {
        guard let bytes = try? FileSystem.read("/proc/\(process)/\(file)", limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The state letter (`R`, `S`, `Z`, ...) of `pid`, from its `stat`; nil when it cannot be read.
    public static func state(of pid: Int32) -> Character? {
        read("stat", of: String(pid)).flatMap(state(stat:))
    }

    /// The state letter of a `stat` text: it follows the last `)`, since the command name before
    /// it may hold spaces and parentheses. Nil when the text does not have that shape.
    public static func state(stat: String) -> Character? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...]
        guard rest.first == " ", let state = rest.dropFirst().first else { return nil }
        return state
    }

    /// The value of the `name:` line of a `status` text, without the blanks around it
    /// (`PPid:\t1` gives `1`); nil when there is no such line.
    public static func field(_ name: String, status: String) -> Substring? {
        let prefix = name + ":"
        for line in status.split(separator: "\n") where line.hasPrefix(prefix) {
            return line.dropFirst(prefix.count).trimmingBlanks
        }
        return nil
    }

    /// One line of a `cgroup` file: `hierarchy-ID:controller-list:cgroup-path`.
    public struct CgroupLine: Sendable, Equatable {
        /// `0` for the unified (v2) hierarchy.
        public var hierarchyID: Substring
        /// The hierarchy's controllers (`cpu,cpuacct`), `name=systemd`, or empty for v2.
        public var controllers: Substring
        public var path: Substring

        /// Whether the hierarchy holds `controller` (`memory`, `name=systemd`).
        public func has(_ controller: String) -> Bool {
            controllers.split(separator: ",").contains { $0 == controller }
        }

        /// Whether this is the unified (cgroup v2) hierarchy's line, `0::<path>`.
        public var isUnified: Bool { hierarchyID == "0" && controllers.isEmpty }
    }

    /// The lines of a `cgroup` text that have its shape.
    public static func cgroups(_ text: String) -> [CgroupLine] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return CgroupLine(hierarchyID: fields[0], controllers: fields[1], path: fields[2])
        }
    }

    /// The number a one-number file (`oom_score_adj`) holds; nil for anything else.
    public static func number(_ text: String) -> Int? {
        Int(text.split(separator: "\n", omittingEmptySubsequences: false).first?.trimmingBlanks ?? "")
    }
}
