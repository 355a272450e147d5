import Foundation

/// A private systemd instance (PID 1 of its own pid, mount, UTS and cgroup namespaces, with a
/// D-Bus system bus) run by Tests/systemd/lab.sh, for testing what talks to systemd on a host
/// whose PID 1 is not systemd. Inside it, /sys/fs/cgroup/<hierarchy>/ is the lab's cgroup
/// (`hostCgroupDirectory`), and /run and /tmp are private: give what runs inside directories
/// under /var/tmp.
///
///     let lab = try await SystemdLab.start()
///     let fixture = try await PodFixture(launcher: lab.launcher)   // fasco serve inside the lab
///     ...
///     try await lab.stop()
final class SystemdLab: Sendable {
    static let script = repositoryRoot.appendingPathComponent("Tests/systemd/lab.sh").path

    /// Why this host cannot run a lab (`lab.sh available`), or nil if it can.
    static let unavailableReason: String? = {
        guard let (status, output, errors) = try? runCommand(script, ["available"]) else { return "cannot run \(script)" }
        return status == 0 ? nil : (output + errors).trimmingCharacters(in: .whitespacesAndNewlines)
    }()
    static var available: Bool { unavailableReason == nil }

    let name: String

    /// The command prefix that runs a command inside the lab: `lab.sh exec NAME --`.
    var launcher: [String] { [Self.script, "exec", name, "--"] }
    /// Where lab.sh keeps the lab's state (its /run is `run` there).
    var stateDirectory: String { "/var/tmp/fasco-systemd-lab/\(name)" }

    private init(name: String) { self.name = name }

    /// Starts a lab and waits until systemd and the system bus are ready.
    static func start(name: String = "t\(UUID().uuidString.prefix(8).lowercased())") async throws -> SystemdLab {
        let (status, output, errors) = try await runCommandAsync(script, ["start", name])
        guard status == 0 else { throw DaemonError("lab.sh start \(name) failed (\(status)): \(output)\(errors)") }
        return SystemdLab(name: name)
    }

    /// Kills everything in the lab and removes its cgroups and state (idempotent).
    func stop() async throws {
        let (status, output, errors) = try await runCommandAsync(Self.script, ["stop", name])
        guard status == 0 else { throw DaemonError("lab.sh stop \(name) failed (\(status)): \(output)\(errors)") }
    }

    /// Runs a command inside the lab to completion: (status, stdout, stderr).
    @discardableResult
    func exec(_ arguments: [String], environment: [String: String]? = nil) async throws -> (Int32, String, String) {
        try await runCommandAsync(Self.script, ["exec", name, "--"] + arguments, environment: environment)
    }

    /// The host directory of the lab's cgroup in `controller`'s hierarchy ("memory", "cpu", ...,
    /// "systemd" for name=systemd, "unified" for v2): a cgroup path seen inside the lab,
    /// e.g. /kubepods.slice, is this directory + that path on the host.
    func hostCgroupDirectory(controller: String) async throws -> String {
        let (status, output, errors) = try await runCommandAsync(Self.script, ["cgroup", name, controller])
        guard status == 0 else { throw DaemonError("lab.sh cgroup \(name) \(controller) failed (\(status)): \(errors)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `body` against a fresh lab and stops it afterwards, also when `body` throws.
    static func with<T>(_ body: (SystemdLab) async throws -> T) async throws -> T {
        let lab = try await start()
        let result: T
        do {
            result = try await body(lab)
        } catch {
            try? await lab.stop()
            throw error
        }
        try await lab.stop()
        return result
    }
}
