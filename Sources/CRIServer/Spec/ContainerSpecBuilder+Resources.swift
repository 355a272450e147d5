import CRIAPI
import FascoCore
import OCISpec

extension ContainerSpecBuilder {
    /// The cgroup limits, with containerd's conventions: zero means unset; a memory limit without
    /// a swap limit sets memory+swap to the same value (no swapping); a swap limit without a
    /// memory limit is dropped (cgroup v1 cannot apply it). `unified` is passed through (runc
    /// refuses it on a cgroup v1 host). Negative or malformed values are INVALID_ARGUMENT.
    static func resources(_ requested: LinuxContainerResources?, deviceRules: [RuntimeSpec.Linux.Resources.DeviceRule])
        throws(FascoError) -> RuntimeSpec.Linux.Resources
    {
        var resources = RuntimeSpec.Linux.Resources(devices: deviceRules)
        guard let requested else { return resources }

        var cpu = RuntimeSpec.Linux.Resources.CPU()
        if requested.cpuShares != 0 {
            guard requested.cpuShares > 0 else { throw .invalidArgument("cpu_shares \(requested.cpuShares) is negative") }
            cpu.shares = UInt64(requested.cpuShares)
        }
        if requested.cpuPeriod != 0 {
            guard requested.cpuPeriod > 0 else { throw .invalidArgument("cpu_period \(requested.cpuPeriod) is negative") }
            cpu.period = UInt64(requested.cpuPeriod)
        }
        if requested.cpuQuota != 0 {
            guard requested.cpuQuota >= -1 else { throw .invalidArgument("cpu_quota \(requested.cpuQuota) is below -1") }
            cpu.quota = requested.cpuQuota
        }
        if !requested.cpusetCpus.isEmpty { cpu.cpus = try cpuList(requested.cpusetCpus, "cpuset_cpus") }
        if !requested.cpusetMems.isEmpty { cpu.mems = try cpuList(requested.cpusetMems, "cpuset_mems") }
        if cpu != RuntimeSpec.Linux.Resources.CPU() { resources.cpu = cpu }

        let limit = requested.memoryLimitInBytes
        let swap = requested.memorySwapLimitInBytes
        guard limit >= -1 else { throw .invalidArgument("memory_limit_in_bytes \(limit) is below -1") }
        guard swap >= -1 else { throw .invalidArgument("memory_swap_limit_in_bytes \(swap) is below -1") }
        if limit != 0 {
            var memory = RuntimeSpec.Linux.Resources.Memory(limit: limit, swap: limit)
            if swap != 0 {
                guard swap == -1 || limit == -1 || swap >= limit else {
                    throw .invalidArgument("memory_swap_limit_in_bytes \(swap) is below memory_limit_in_bytes \(limit)")
                }
                memory.swap = swap
            }
            resources.memory = memory
        }

        if !requested.hugepageLimits.isEmpty {
            var limits: [RuntimeSpec.Linux.Resources.HugepageLimit] = []
            for hugepage in requested.hugepageLimits {
                guard isHugepageSize(hugepage.pageSize) else {
                    throw .invalidArgument("hugepage size \(hugepage.pageSize.debugDescription) is not valid (want e.g. 2MB)")
                }
                limits.append(.init(pageSize: hugepage.pageSize, limit: hugepage.limit))
            }
            resources.hugepageLimits = limits
        }
        if !requested.unified.isEmpty {
            for (key, value) in requested.unified {
                guard !key.isEmpty, !key.contains("/"), !key.hasPrefix("."), !key.utf8.contains(0), !value.utf8.contains(0) else {
                    throw .invalidArgument("unified cgroup key \(key.debugDescription) is not valid")
                }
            }
            resources.unified = requested.unified
        }
        return resources
    }

    /// The process's oom_score_adj as requested (0 when not): -1000...1000, else
    /// INVALID_ARGUMENT. The backend raises it to what the host lets it set.
    static func oomScoreAdj(_ requested: LinuxContainerResources?) throws(FascoError) -> Int {
        let value = requested?.oomScoreAdj ?? 0
        guard (-1000...1000).contains(value) else { throw .invalidArgument("oom_score_adj \(value) is outside -1000...1000") }
        return Int(value)
    }

    /// A cpuset list such as `0-3,7`: numbers and ascending ranges, comma-separated.
    static func cpuList(_ text: String, _ what: String) throws(FascoError) -> String {
        let valid = text.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2 else { return false }
            let numbers = bounds.compactMap { bound -> UInt32? in
                bound.allSatisfy({ $0.isASCII && $0.isNumber }) ? UInt32(bound) : nil
            }
            return numbers.count == bounds.count && (numbers.count == 1 || numbers[0] <= numbers[1])
        }
        guard valid else { throw .invalidArgument("\(what) \(text.debugDescription) is not a CPU list") }
        return text
    }

    /// `<number><KB|MB|GB|TB|PB>`, as the hugetlb controller names page sizes.
    static func isHugepageSize(_ text: String) -> Bool {
        for unit in ["KB", "MB", "GB", "TB", "PB"] where text.hasSuffix(unit) {
            let number = text.dropLast(2)
            return !number.isEmpty && number.allSatisfy { $0.isASCII && $0.isNumber }
        }
        return false
    }
}
