import FascoCore

extension PodCgroup {
    /// The value of a container's `linux.cgroupsPath` (OCI runtime spec, config-linux.md
    /// "Cgroups Path") whose parent is `parent`, in the form the cgroup driver expects:
    ///
    /// - cgroupfs: a path relative to every hierarchy's root, "<parent>/<containerID>"
    ///   ("/fasco/pod1/c1"); the runtime creates the directories.
    /// - systemd: "slice:prefix:name" ("pod1.slice:fasco:c1"), which runc and crun turn into a
    ///   transient scope unit "<prefix>-<name>.scope" (here "fasco-c1.scope") placed in the
    ///   slice unit `parent` ("kubepods-besteffort-pod1.slice"). `parent` must be a slice name;
    ///   its cgroup directory is what `systemdSlicePath` gives.
    ///
    /// The container ID must be a single path component; for systemd neither it, the slice nor
    /// the prefix may contain ':' (the field separator).
    public static func containerCgroupsPath(
        parent: String, containerID: String, driver: OCIRuntime.CgroupDriver, systemdPrefix: String = "fasco"
    ) throws(FascoError) -> String {
        guard !containerID.isEmpty, containerID != ".", containerID != "..",
            !containerID.contains("/"), !containerID.utf8.contains(0)
        else { throw .invalidArgument("a container ID must be one path component: \(containerID.debugDescription)") }
        switch driver {
        case .cgroupfs:
            let base = try CgroupPath.normalized(parent, allowRoot: true)
            return CgroupPath.child(of: base, containerID)
        case .systemd:
            _ = try systemdSlicePath(parent)
            guard !parent.contains(":"), !containerID.contains(":"), !systemdPrefix.isEmpty, !systemdPrefix.contains(":"),
                  !systemdPrefix.contains("/")
            else {
                throw .invalidArgument("systemd cgroupsPath fields must not contain ':' or '/': \(parent):\(systemdPrefix):\(containerID)")
            }
            return "\(parent):\(systemdPrefix):\(containerID)"
        }
    }

    /// The cgroup directory (relative to every hierarchy's root) of the systemd slice `slice`:
    /// each '-' in the name opens a parent slice, so "kubepods-besteffort-pod1.slice" lives at
    /// "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice"; "-.slice" is
    /// the root. The rules of systemd's slice names: the ".slice" suffix, no '/', no leading,
    /// trailing or doubled '-'.
    public static func systemdSlicePath(_ slice: String) throws(FascoError) -> String {
        let suffix = ".slice"
        guard slice.hasSuffix(suffix), !slice.contains("/"), !slice.utf8.contains(0) else {
            throw .invalidArgument("not a systemd slice name: \(slice.debugDescription)")
        }
        if slice == "-.slice" { return "/" }
        let name = slice.dropLast(suffix.count)
        guard !name.isEmpty, !name.hasPrefix("-"), !name.hasSuffix("-"), !name.contains("--") else {
            throw .invalidArgument("not a systemd slice name: \(slice.debugDescription)")
        }
        var path = ""
        var prefix = ""
        for part in name.split(separator: "-") {
            prefix += prefix.isEmpty ? String(part) : "-" + part
            path += "/" + prefix + suffix
        }
        return path
    }

    /// The cgroup directory (relative to every hierarchy's root) a runtime makes for the
    /// `linux.cgroupsPath` value `cgroupsPath`: the path itself for cgroupfs,
    /// "<slice path>/<prefix>-<name>.scope" for systemd's "slice:prefix:name".
    public static func hostPath(forCgroupsPath cgroupsPath: String, driver: OCIRuntime.CgroupDriver) throws(FascoError) -> String {
        switch driver {
        case .cgroupfs:
            return try CgroupPath.normalized(cgroupsPath, allowRoot: true)
        case .systemd:
            let fields = cgroupsPath.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[1].isEmpty, !fields[2].isEmpty else {
                throw .invalidArgument("a systemd cgroupsPath has the form slice:prefix:name: \(cgroupsPath.debugDescription)")
            }
            let slice = try systemdSlicePath(String(fields[0]))
            return CgroupPath.child(of: slice, "\(fields[1])-\(fields[2]).scope")
        }
    }
}
