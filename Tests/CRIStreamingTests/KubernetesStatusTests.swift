@testable import CRIStreaming
import Testing

@Suite("the error stream's status")
struct KubernetesStatusTests {
    @Test("success, a non-zero exit code and an internal error, as client-go's v4 decoder reads them")
    func shapes() {
        #expect(String(decoding: KubernetesStatus.of(.exited(0)).json, as: UTF8.self) == #"{"metadata":{},"status":"Success"}"#)
        #expect(String(decoding: KubernetesStatus.of(.exited(3)).json, as: UTF8.self)
            == #"{"details":{"causes":[{"message":"3","reason":"ExitCode"}]},"message":"command terminated with non-zero exit code: exit status 3","metadata":{},"reason":"NonZeroExitCode","status":"Failure"}"#)
        #expect(String(decoding: KubernetesStatus.of(.failed("boom")).json, as: UTF8.self)
            == #"{"code":500,"message":"boom","metadata":{},"reason":"InternalError","status":"Failure"}"#)
        // The client parses the code as a uint8.
        #expect(KubernetesStatus.of(.exited(300)).details?.causes.first?.message == "255")
    }
}
