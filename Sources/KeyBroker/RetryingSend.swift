import FascoCore
import ImageStore

/// One request to a remote service (a key broker, a KMS) with attempts: the request is made
/// anew for each (a signature carries the time), sent with `http`, and tried again after a
/// growing delay when the service cannot be reached or `problem` calls its answer retryable.
/// Stops at cancellation and at transport errors no retry mends. Throws the last failure, each
/// prefixed with `what` (the service, its address and the step).
struct RetryingSend {
    var http: HTTPClient
    var attempts: Int
    var retryDelay: Duration
    var maxBodySize = 1 << 20

    func send(_ what: String, make: () throws(FascoError) -> HTTPRequest,
              problem: (HTTPResponse) -> (FascoError, retryable: Bool)) async throws(FascoError) -> HTTPResponse {
        var last: FascoError?
        for attempt in 1...max(1, attempts) {
            if attempt > 1 {
                try? await Task.sleep(for: retryDelay * (1 << (attempt - 2)))
                if Task.isCancelled { break }
            }
            let request = try make()
            let response: HTTPResponse
            do throws(FascoError) {
                response = try await http.send(request, maxBodySize: maxBodySize)
            } catch {
                last = FascoError(.unavailable, "\(what): \(error.message)", cause: error)
                if error.isCancellation { break }
                if let transport = error.transportError, !transport.isRetryable { break }
                continue
            }
            if response.isSuccess { return response }
            let (failure, retryable) = problem(response)
            last = failure
            guard retryable else { break }
        }
        throw last ?? .unavailable("\(what): no answer")
    }
}
