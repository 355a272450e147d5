import CRIAPI
import FascoCore
import OCISpec
import RealmCore

extension ContainerSpecBuilder {
    /// The device cgroup rules every unprivileged container gets: deny everything, allow mknod of
    /// any node, and full access to the devices a runtime creates in /dev (null, zero, full,
    /// random, urandom, tty, console, ptmx) and to the pseudo-terminals (136:*).
    public static let defaultDeviceRules: [RuntimeSpec.Linux.Resources.DeviceRule] = [
        .init(allow: false, access: "rwm"),
        .init(allow: true, type: "c", access: "m"),
        .init(allow: true, type: "b", access: "m"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 1, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),
        .init(allow: true, type: "c", major: 136, access: "rwm"),
    ]

    /// Device nodes and cgroup rules. Each CRI device's host path is looked up in `files`
    /// (symlinks followed) for its type and numbers, and created at its container path with an
    /// allow rule carrying its `permissions` (any of `rwm`; empty means `rwm`); a host directory
    /// contributes every device below it. Privileged containers get every host device and an
    /// allow-all rule.
    static func devices(_ requested: [Device], privileged: Bool, files: any HostFiles) throws(FascoError)
        -> (nodes: [RuntimeSpec.Linux.Device], rules: [RuntimeSpec.Linux.Resources.DeviceRule])
    {
        var nodes: [RuntimeSpec.Linux.Device] = []
        var rules = privileged ? [RuntimeSpec.Linux.Resources.DeviceRule(allow: true, access: "rwm")] : defaultDeviceRules
        if privileged {
            for (relative, device) in try files.devices(under: "/dev") {
                nodes.append(device.spec(path: "/dev/" + relative))
            }
        }
        for device in requested {
            try requireAbsolute(device.hostPath, "device host path")
            try requireAbsolute(device.containerPath, "device container path")
            let permissions = device.permissions.isEmpty ? "rwm" : device.permissions
            guard permissions.allSatisfy({ "rwm".contains($0) }) else {
                throw .invalidArgument("device \(device.hostPath): permissions \(device.permissions.debugDescription) are not a subset of rwm")
            }
            let containerPath = cleanPath(device.containerPath)
            var found: [(path: String, device: HostDevice)] = []
            if let single = try files.device(at: device.hostPath) {
                found = [(containerPath, single)]
            } else if files.isDirectory(device.hostPath) {
                found = try files.devices(under: device.hostPath).map { (containerPath + "/" + $0.relative, $0.device) }
            } else {
                throw .invalidArgument("device \(device.hostPath) is not a device node")
            }
            for (path, hostDevice) in found {
                nodes.removeAll { $0.path == path }
                nodes.append(hostDevice.spec(path: path))
                if !privileged {
                    rules.append(.init(allow: true, type: hostDevice.type, major: hostDevice.major, minor: hostDevice.minor,
                                       access: permissions))
                }
            }
        }
        return (nodes, rules)
    }
}
