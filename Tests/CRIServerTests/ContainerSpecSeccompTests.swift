import CRIAPI
import CRIServer
import FascoCore
import OCISpec
import RealmCore
import Testing

@Suite("ContainerSpecBuilder: seccomp")
struct ContainerSpecSeccompTests {
    private func seccomp(_ fixture: SpecFixture, _ configure: (inout LinuxContainerSecurityContext) -> Void) throws -> RuntimeSpec.Linux.Seccomp? {
        try ContainerSpecBuilder.build(fixture.input { configure(&$0.security) }).linux?.seccomp
    }

    private func allows(_ profile: RuntimeSpec.Linux.Seccomp?, _ name: String) -> Bool {
        profile?.syscalls?.contains { $0.action == .allow && $0.names.contains(name) && $0.args == nil } == true
    }

    @Test("no profile at all is unconfined (critest: nil profile)")
    func noProfile() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        #expect(try seccomp(fixture) { _ in } == nil)
        #expect(try seccomp(fixture) { $0.seccomp = SecurityProfile(profileType: .unconfined) } == nil)
        #expect(try seccomp(fixture) { $0.seccompProfilePath = "unconfined" } == nil)
    }

    @Test("RuntimeDefault: EPERM by default, the normal set allowed, capability-gated calls only with the capability")
    func runtimeDefault() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let profile = try seccomp(fixture) { $0.seccomp = SecurityProfile() }
        #expect(profile?.defaultAction == .errno)
        #expect(profile?.defaultErrnoRet == 1)
        #if arch(x86_64)
        #expect(profile?.architectures == [.x86_64, .x86, .x32])
        #endif
        for name in ["read", "write", "execve", "openat", "futex", "socket", "chroot", "exit_group", "rt_sigreturn"] {
            #expect(allows(profile, name), "\(name)")
        }
        for name in ["mount", "unshare", "setns", "sethostname", "ptrace", "reboot", "init_module", "bpf", "clone3", "kexec_load"] {
            #expect(!allows(profile, name), "\(name)")
        }
        let clone = profile?.syscalls?.first { $0.names == ["clone"] }
        #expect(clone?.args == [.init(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)])
        #expect(profile?.syscalls?.contains { $0.names == ["clone3"] && $0.action == .errno && $0.errnoRet == 38 } == true)

        let admin = try seccomp(fixture) {
            $0.seccomp = SecurityProfile(profileType: .runtimeDefault)
            $0.capabilities = Capability(addCapabilities: ["SYS_ADMIN", "SYS_PTRACE", "SYSLOG"])
        }
        for name in ["mount", "unshare", "setns", "sethostname", "clone", "clone3", "ptrace", "syslog"] {
            #expect(allows(admin, name), "\(name)")
        }
        #expect(!allows(admin, "reboot"))
        let names = admin?.syscalls?.filter { $0.args == nil }.flatMap(\.names) ?? []
        #expect(names.count == Set(names).count, "one rule per system call")

        let dropped = try seccomp(fixture) {
            $0.seccomp = SecurityProfile()
            $0.capabilities = Capability(dropCapabilities: ["SYS_CHROOT"])
        }
        #expect(!allows(dropped, "chroot"))
    }

    @Test("the deprecated seccomp_profile_path strings")
    func deprecatedPaths() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        for path in ["runtime/default", "docker/default"] {
            #expect(try seccomp(fixture) { $0.seccompProfilePath = path }?.defaultAction == .errno)
        }
        let file = fixture.directory + "/profile.json"
        try fixture.write(#"{"defaultAction": "SCMP_ACT_LOG"}"#, to: file)
        #expect(try seccomp(fixture) { $0.seccompProfilePath = "localhost/" + file }?.defaultAction == .log)
        #expect(specError { _ = try seccomp(fixture) { $0.seccompProfilePath = "bogus" } }?.code == .invalidArgument)
        #expect(specError { _ = try seccomp(fixture) { $0.seccompProfilePath = "localhost/relative.json" } }?.code == .invalidArgument)
    }

    @Test("Localhost loads critest's block-chmod profile")
    func localhost() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let file = fixture.directory + "/block-chmod.json"
        try fixture.write("""
            {
                 "defaultAction": "SCMP_ACT_ALLOW",
                 "syscalls": [
                     {
                         "names": ["chmod", "fchmodat"],
                         "action": "SCMP_ACT_ERRNO"
                     }
                 ]
            }
            """, to: file)
        let profile = try seccomp(fixture) { $0.seccomp = SecurityProfile(profileType: .localhost, localhostRef: file) }
        #expect(profile == .init(defaultAction: .allow, syscalls: [.init(names: ["chmod", "fchmodat"], action: .errno)]))
    }

    @Test("Docker's format: archMap, name, includes and excludes by capability, architecture and kernel")
    func dockerFormat() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let file = fixture.directory + "/docker.json"
        try fixture.write("""
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 1,
              "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
              ],
              "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "always"},
                {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["old_call"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
                {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
                {"names": ["far_future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "999.0"}},
                {"names": ["not_here"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["mips64"]}},
                {"names": ["not_chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_CHROOT"]}}
              ]
            }
            """, to: file)
        let profile = try seccomp(fixture) { $0.seccomp = SecurityProfile(profileType: .localhost, localhostRef: file) }
        #if arch(x86_64)
        #expect(profile?.architectures == [.x86_64, .x86, .x32])
        #endif
        let names = profile?.syscalls?.map(\.names) ?? []
        #expect(names == [["read", "write"], ["personality"], ["new_call"]])
        #expect(profile?.syscalls?[1].args == [.init(index: 0, value: 8, op: .equalTo)])

        let admin = try seccomp(fixture) {
            $0.seccomp = SecurityProfile(profileType: .localhost, localhostRef: file)
            $0.capabilities = Capability(addCapabilities: ["SYS_ADMIN"], dropCapabilities: ["SYS_CHROOT"])
        }
        #expect(admin?.syscalls?.map(\.names) == [["read", "write"], ["mount"], ["personality"], ["new_call"], ["not_chroot"]])
        #expect(admin?.syscalls?.last?.errnoRet == 38)
    }

    @Test("minKernel is held against the host's kernel release, as HostFacts gives it")
    func kernelRelease() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let file = fixture.directory + "/kernel.json"
        try fixture.write("""
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "syscalls": [
                {"names": ["old_call"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
                {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}
              ]
            }
            """, to: file)
        func names(_ release: String) throws -> [[String]] {
            var input = fixture.input { $0.security.seccomp = SecurityProfile(profileType: .localhost, localhostRef: file) }
            input.host.kernelRelease = release
            return try ContainerSpecBuilder.build(input).linux?.seccomp?.syscalls?.map(\.names) ?? []
        }
        #expect(try names("6.1.0-18-amd64") == [["new_call"]])
        #expect(try names("4.8.0") == [["new_call"]])
        #expect(try names("4.7.10") == [["old_call"]])
        #expect(try names("") == [["old_call"]], "an unreadable release meets no minimum")
    }

    @Test("a missing, relative or invalid Localhost profile is refused")
    func badLocalhost() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        func code(_ ref: String) -> FascoError.Code? {
            specError { _ = try seccomp(fixture) { $0.seccomp = SecurityProfile(profileType: .localhost, localhostRef: ref) } }?.code
        }
        #expect(code(fixture.directory + "/missing.json") == .failedPrecondition)
        #expect(code("relative.json") == .invalidArgument)
        #expect(code("") == .invalidArgument)
        let cases = [
            "not json",
            #"{"syscalls": []}"#,
            #"{"defaultAction": "SCMP_ACT_EXPLODE"}"#,
            #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
            #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}"#,
            #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}"#,
        ]
        for (index, text) in cases.enumerated() {
            let file = fixture.directory + "/bad\(index).json"
            try fixture.write(text, to: file)
            #expect(code(file) == .invalidArgument, "\(text)")
        }
        #expect(specError { _ = try seccomp(fixture) { $0.seccomp = SecurityProfile(profileType: .unrecognized(5)) } }?.code == .invalidArgument)
    }

    @Test("privileged containers run without seccomp whatever the profile")
    func privilegedIgnoresProfile() throws {
        let fixture = try SpecFixture()
        defer { fixture.remove() }
        let file = fixture.directory + "/block.json"
        try fixture.write(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}"#, to: file)
        var input = fixture.input {
            $0.security.privileged = true
            $0.security.seccomp = SecurityProfile(profileType: .localhost, localhostRef: file)
        }
        input.pod.config.linux = LinuxPodSandboxConfig(securityContext: LinuxSandboxSecurityContext(privileged: true))
        #expect(try ContainerSpecBuilder.build(input).linux?.seccomp == nil)
    }
}
