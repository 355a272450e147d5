import CRIAPI
import CRIServer
import FascoCore
import GRPCTransport
import Testing
import TestSupport

@Suite("Version, Status and RuntimeConfig")
struct RuntimeInfoTests {
    @Test("Version names the runtime and the CRI API version")
    func version() async throws {
        let server = try TestServer()
        let response = try await server.runtime.version(VersionRequest(version: "v1"))
        await server.stop()
        #expect(response.runtimeName == "fasco")
        #expect(response.runtimeVersion == "9.9.9-test")
        #expect(response.runtimeAPIVersion == "v1")
        #expect(response.version == "0.1.0")
    }

    @Test("Status reports RuntimeReady and NetworkReady from the environment")
    func status() async throws {
        let server = try TestServer()
        let response = try await server.runtime.status(StatusRequest(verbose: false))
        await server.stop()
        let conditions = try #require(response.status?.conditions)
        #expect(conditions.map(\.type) == ["RuntimeReady", "NetworkReady"])
        #expect(conditions[0].status == true)
        #expect(conditions[1].status == false)
        #expect(conditions[1].reason == "NetworkPluginNotReady")
        #expect(conditions[1].message == "no CNI config")
        #expect(response.info.isEmpty, "info is only for verbose requests")
        #expect(response.runtimeHandlers.map(\.name) == ["", "fasco"])
    }

    @Test("a runtime that is not ready says why")
    func runtimeNotReady() async throws {
        var environment = RuntimeEnvironment.testDefault
        environment.runtimeReadiness = { .init(ready: false, reason: "OCIRuntimeMissing", message: "crun was not found") }
        let server = try TestServer(environment: environment)
        let response = try await server.runtime.status(StatusRequest())
        await server.stop()
        let ready = try #require(response.status?.conditions.first { $0.type == "RuntimeReady" })
        #expect(ready.status == false)
        #expect(ready.reason == "OCIRuntimeMissing")
    }

    @Test("verbose Status returns info as JSON")
    func verboseStatus() async throws {
        let server = try TestServer()
        let response = try await server.runtime.status(StatusRequest(verbose: true))
        await server.stop()
        #expect(response.info["runtime"] == #"{"name":"fasco"}"#)
        // A server without a realm backend measures nothing, and says it protects no memory.
        let attestation = try #require(response.info["attestation"])
        #expect(attestation.contains(#""confidential":false"#) && attestation.contains(#""measures":false"#), "\(attestation)")
        #expect(Set(response.info.keys) == ["runtime", "attestation"])
    }

    @Test("RuntimeConfig reports the cgroup driver", arguments: [RuntimeEnvironment.CgroupDriver.systemd, .cgroupfs])
    func runtimeConfig(driver: RuntimeEnvironment.CgroupDriver) async throws {
        var environment = RuntimeEnvironment.testDefault
        environment.cgroupDriver = driver
        let server = try TestServer(environment: environment)
        let response = try await server.runtime.runtimeConfig()
        await server.stop()
        let expected: CgroupDriver = driver == .systemd ? .systemd : .cgroupfs
        #expect(response.linux?.cgroupDriver == expected)
    }
}

@Suite("ImageFsInfo")
struct ImageFsInfoTests {
    @Test("reports the image filesystem usage the environment measures")
    func reportsUsage() async throws {
        let server = try TestServer()
        let response = try await server.imageService.imageFsInfo()
        await server.stop()
        let usage = try #require(response.imageFilesystems.first)
        #expect(response.imageFilesystems.count == 1)
        #expect(usage.fsID?.mountpoint == "/var/lib/fasco/images")
        #expect(usage.usedBytes?.value == 8192)
        #expect(usage.inodesUsed?.value == 3)
        #expect(usage.timestamp == 42)
        #expect(response.containerFilesystems == [usage])
    }

    @Test("a failing measurement is INTERNAL, not a crash")
    func failingMeasurement() async throws {
        var environment = RuntimeEnvironment.testDefault
        environment.imageFilesystemUsage = { throw FascoError.internal("cannot measure /x: No such file or directory") }
        let server = try TestServer(environment: environment)
        let status = await statusOf { _ = try await server.imageService.imageFsInfo() }
        await server.stop()
        #expect(status?.code == .internal)
        #expect(status?.message.contains("cannot measure /x") == true)
    }
}
