import FascoCore
import SoftwareRealms
import Testing

/// crun 1.8.1's and runc 1.1.5's own words, as measured on this host (`--log-format json` msg).
@Suite("RuntimeRefusal recognises crun's and runc's words")
struct RuntimeRefusalTests {
    @Test("what each runtime says, and what it is answered with", arguments: [
        (#"exec failed: unable to start container process: exec: "nosuch": executable file not found in $PATH"#, RuntimeRefusal.executableNotFound),
        (#"exec failed: unable to start container process: exec: "/no/such/path": stat /no/such/path: no such file or directory"#, .executableNotFound),
        (#"exec failed: unable to start container process: exec: "/notexec": permission denied"#, .notExecutable),
        (#"runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH"#, .executableNotFound),
        ("executable file `nosuch` not found in $PATH: No such file or directory", .executableNotFound),
        ("executable file `/no/such/path` not found in $PATH: No such file or directory", .executableNotFound),
        ("open executable: Permission denied", .notExecutable),
        ("open executable: Operation not permitted", .notExecutable),
        ("invalid configuration: cannot use unified on cgroup v1", .unifiedOnCgroupV1),
        ("runc create failed: invalid configuration: cannot use unified on cgroup v1", .unifiedOnCgroupV1),
    ])
    func recognised(text: String, refusal: RuntimeRefusal) {
        #expect(RuntimeRefusal.recognise(text) == refusal)
        #expect(refusal.code == .failedPrecondition)
        #expect(refusal.shellStatus == [.executableNotFound: 127, .notExecutable: 126][refusal])
        let error = refusal.error("crun create abc", runtime: "crun", said: text)
        #expect(error.code == .failedPrecondition && error.message.hasSuffix("(crun: \(text))"))
    }

    @Test("Fasco's and the host's own failures are not the user's")
    func notRecognised() {
        for text in ["runc create failed: unable to start container process: error during container init: error mounting \"proc\": no such file or directory",
                     "can't get final child's PID from pipe: EOF", "chdir to cwd (\"/nope\") set in config.json failed: no such file or directory",
                     "cannot allocate memory", ""] {
            #expect(RuntimeRefusal.recognise(text) == nil, "\(text)")
        }
    }
}
