import CRIAPI
import FascoCore
import OCISpec
import RealmCore

extension ContainerSpecBuilder {
    /// The seccomp filter, from the `seccomp` SecurityProfile, else the deprecated
    /// `seccomp_profile_path`:
    ///
    /// - RuntimeDefault, `runtime/default`, `docker/default`: `DefaultSeccompProfile`;
    /// - Unconfined, `unconfined`, and no profile at all (as containerd and critest expect): none;
    /// - Localhost with an absolute `localhost_ref`, `localhost/<absolute path>`: that JSON file
    ///   of the host (Docker or OCI format; missing is FAILED_PRECONDITION), its minimum kernel
    ///   versions held against the host's kernel release;
    /// - privileged containers: none, whatever was asked.
    static func seccomp(_ security: LinuxContainerSecurityContext, privileged: Bool,
                        capabilities: [String], host: HostFacts) throws(FascoError) -> RuntimeSpec.Linux.Seccomp? {
        if privileged { return nil }
        enum Choice { case unconfined, runtimeDefault, localhost(String) }
        let choice: Choice
        if let profile = security.seccomp {
            switch profile.profileType {
            case .runtimeDefault: choice = .runtimeDefault
            case .unconfined: choice = .unconfined
            case .localhost:
                guard !profile.localhostRef.isEmpty else {
                    throw .invalidArgument("seccomp profile type Localhost needs a localhost_ref")
                }
                choice = .localhost(profile.localhostRef)
            case .unrecognized(let value):
                throw .invalidArgument("unknown seccomp profile type \(value)")
            }
        } else {
            let path = security.seccompProfilePath
            switch path {
            case "", "unconfined": choice = .unconfined
            case "runtime/default", "docker/default": choice = .runtimeDefault
            default:
                guard path.hasPrefix("localhost/") else {
                    throw .invalidArgument("unknown seccomp profile \(path.debugDescription)")
                }
                choice = .localhost(String(path.dropFirst("localhost/".count)))
            }
        }
        switch choice {
        case .unconfined:
            return nil
        case .runtimeDefault:
            return DefaultSeccompProfile.profile(capabilities: capabilities)
        case .localhost(let path):
            // (0, 0) when the release cannot be read: no minimum kernel is met.
            return try SeccompProfileFile.load(path, capabilities: capabilities,
                                               kernel: SeccompProfileFile.kernelVersion(host.kernelRelease) ?? (0, 0),
                                               files: host.files)
        }
    }
}
