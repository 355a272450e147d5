import CRIAPI
import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

extension ContainerSpecBuilder {
    /// The seccomp filter, from the `seccomp` SecurityProfile, else the deprecated
    /// `seccomp_profile_path`:
    ///
    /// - RuntimeDefault, `runtime/default`, `docker/default`: `DefaultSeccompProfile`;
    /// - Unconfined, `unconfined`, and no profile at all (as containerd and critest expect): none;
    /// - Localhost with an absolute `localhost_ref`, `localhost/<absolute path>`: that JSON file
    ///   (Docker or OCI format; missing is FAILED_PRECONDITION);
    /// - privileged containers: none, whatever was asked.
    static func seccomp(_ security: LinuxContainerSecurityContext, privileged: Bool,
                        capabilities: [String]) throws(FascoError) -> RuntimeSpec.Linux.Seccomp? {
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
            return try SeccompProfileFile.load(path, capabilities: capabilities, kernel: kernelVersion())
        }
    }

    /// The running kernel's major and minor version (uname(2)); (0, 0) if unreadable.
    static func kernelVersion() -> (major: Int, minor: Int) {
        var names = utsname()
        guard uname(&names) == 0 else { return (0, 0) }
        let release = withUnsafeBytes(of: names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return SeccompProfileFile.kernelVersion(release) ?? (0, 0)
    }
}
