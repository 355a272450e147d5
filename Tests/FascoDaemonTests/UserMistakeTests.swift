import CRIAPI
import Foundation
import GRPCTransport
import Testing
import TestSupport

/// The user's mistakes are answered as such (a shell's exit status, FAILED_PRECONDITION with
/// the runtime's words), never INTERNAL, with either runtime (`RuntimeRefusal`).
@Suite("user mistakes are not INTERNAL", .serialized)
struct UserMistakeTests {
    @Test("exec of a missing or non-executable command ends 127 or 126; a missing entry point and unified on cgroup v1 are FAILED_PRECONDITION",
          arguments: ["crun", "runc"])
    func mistakes(ociRuntime: String) async throws {
        try await PodFixture.with(ociRuntime: ociRuntime) { fixture in
            let runtime = fixture.runtime
            let pod = try await fixture.runPod("mistakes")
            let id = try await fixture.runContainer(pod, "app", script: "while true; do sleep 1; done")
            _ = try await fixture.waitFor(id, state: .running)

            // ExecSync: as a shell would end (127 not found, 126 cannot execute), the runtime's words on stderr.
            for (command, code) in [("no-such-command", 127), ("/no/such/path", 127), ("/etc/hostname", 126), ("/etc", 126)] {
                let result = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: [command], timeout: 30))
                #expect(result.exitCode == Int32(code), "\(command): \(result)")
                let stderr = String(decoding: result.stderr, as: UTF8.self).lowercased()
                let words = code == 127 ? ["not found", "no such file"] : ["permission denied", "not permitted"]
                #expect(words.contains { stderr.contains($0) }, "\(command): \(stderr)")
            }
            // The container is unharmed and a real command still runs.
            let fine = try await runtime.execSync(ExecSyncRequest(containerID: id, cmd: ["true"], timeout: 30))
            #expect(fine.exitCode == 0)

            // Exec (streaming): the same exit status in the v4 error stream, the message on stderr.
            let exec = try await runtime.exec(ExecRequest(containerID: id, cmd: ["no-such-command"], stdout: true, stderr: true))
            let outputs = try await StreamingTests.run(exec.url, roles: ["error", "stdout", "stderr"])
            #expect(outputs["error"]?.contains(#""reason":"NonZeroExitCode""#) == true, "\(outputs)")
            #expect(outputs["error"]?.contains(#"{"message":"127","reason":"ExitCode"}"#) == true, "\(outputs)")
            #expect(outputs["stderr"]?.contains("not found") == true, "\(outputs)")

            // StartContainer of a command the image lacks: FAILED_PRECONDITION with the runtime's message.
            var config = fixture.containerConfig("missing", script: "")
            config.command = ["/no/such/entrypoint"]
            config.args = []
            let missing = try await fixture.createContainer(pod, config)
            let started = await statusOf { _ = try await runtime.startContainer(StartContainerRequest(containerID: missing), timeout: .seconds(60)) }
            #expect(started?.code == .failedPrecondition, "\(String(describing: started))")
            #expect(started?.message.contains("/no/such/entrypoint") == true, "\(String(describing: started))")
            #expect(started?.message.contains("the executable was not found in the container") == true, "\(String(describing: started))")
            let after = try await fixture.status(missing).status
            // Like containerd's StartError: exited, 128, the reason in the message.
            #expect(after?.state == .exited && after?.exitCode == 128, "\(String(describing: after))")
            #expect(after?.message.contains("/no/such/entrypoint") == true, "\(String(describing: after))")
            _ = try await runtime.removeContainer(RemoveContainerRequest(containerID: missing))

            // unified resources on a cgroup v1 (or hybrid) host.
            if !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
                let update = await statusOf {
                    _ = try await runtime.updateContainerResources(UpdateContainerResourcesRequest(
                        containerID: id, linux: LinuxContainerResources(unified: ["memory.max": "100000000"])))
                }
                #expect(update?.code == .failedPrecondition, "\(String(describing: update))")
                #expect(update?.message.contains("cannot use unified on cgroup v1") == true, "\(String(describing: update))")
            }
        }
    }
}
