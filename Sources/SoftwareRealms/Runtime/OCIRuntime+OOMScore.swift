import FascoCore

extension OCIRuntime {
    /// The `process.oomScoreAdj` this daemon can actually give a container.
    ///
    /// Lowering oom_score_adj below the value a process inherited needs CAP_SYS_RESOURCE; the
    /// runtime's container process inherits the daemon's. Without that capability (some hosts
    /// withhold it even from root) a lower request fails the whole create, and runc only says
    /// "can't get final child's PID from pipe: EOF". So: the request, bounded to -1000...1000,
    /// and raised to the daemon's own `/proc/self/oom_score_adj` when the daemon lacks
    /// CAP_SYS_RESOURCE.
    public static func clampedOOMScoreAdj(_ requested: Int) -> Int {
        let bounded = min(max(requested, -1000), 1000)
        if hasEffectiveCapability(capSysResource) { return bounded }
        guard let bytes = try? FileSystem.read("/proc/self/oom_score_adj", limit: 64),
              let own = Int(String(decoding: bytes, as: UTF8.self).trimmed)
        else { return max(bounded, 0) }
        return max(bounded, own)
    }

    /// linux/capability.h: CAP_SYS_RESOURCE.
    static let capSysResource = 24

    /// Whether this process has capability `number` in its effective set (`CapEff` in /proc/self/status).
    static func hasEffectiveCapability(_ number: Int) -> Bool {
        guard number >= 0, number < 64,
              let bytes = try? FileSystem.read("/proc/self/status", limit: 1 << 16)
        else { return false }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            guard let mask = UInt64(line.dropFirst("CapEff:".count).trimmingPrefixSpaces(), radix: 16) else { return false }
            return mask & (UInt64(1) << UInt64(number)) != 0
        }
        return false
    }
}

extension Substring {
    fileprivate func trimmingPrefixSpaces() -> Substring {
        drop { $0 == " " || $0 == "\t" }
    }
}
