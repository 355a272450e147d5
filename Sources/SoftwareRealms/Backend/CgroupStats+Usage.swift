import RealmCore

extension CgroupStats {
    /// The usage as RealmCore reports it.
    var usage: RealmUsage {
        RealmUsage(
            timestamp: timestamp, cpuUsageNanos: cpuUsageNanos, memoryUsageBytes: memoryUsageBytes, workingSetBytes: workingSetBytes,
            rssBytes: rssBytes, availableBytes: availableBytes, pageFaults: pageFaults, majorPageFaults: majorPageFaults, processes: pids)
    }
}
