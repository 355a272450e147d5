/// Why a realm supervisor's `create` failed after running the runtime: the `cause` of the
/// `FascoError` that `SupervisorClient.create` throws, for callers that interpret runtime errors.
public struct SupervisorCreateFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The runtime's exit status (128 + N for signal N, 127 when it could not be executed);
    /// 0 when it succeeded but left no usable pid.
    public var status: Int32
    /// The first 4 KiB of what the runtime wrote to stdout and stderr, and the supervisor's
    /// own explanation when the status is 0 or 127.
    public var output: String

    public init(status: Int32, output: String) {
        self.status = status
        self.output = output
    }

    public var description: String { "status \(status): \(output)" }
}
