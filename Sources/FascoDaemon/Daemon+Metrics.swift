import Metrics
import Prometheus
import Synchronization

extension Daemon {
    /// The process's Prometheus registry, made and bootstrapped into swift-metrics on first use:
    /// `MetricsSystem.bootstrap` may run once per process. Until then (and when no endpoint is
    /// configured) the libraries' metrics go to swift-metrics' no-op handlers.
    private static let prometheus = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-metrics with swift-prometheus's factory (once) and starts the
    /// endpoint, when `[metrics] address` is set. Must run before the layers make their metrics
    /// (RealmRegistry's gauges are made with it).
    static func startMetrics(config: FascoConfig) throws(ConfigError) -> MetricsServer? {
        guard !config.metrics.address.isEmpty else { return nil }
        guard let address = MetricsAddress(config.metrics.address) else {
            throw ConfigError("metrics.address must be host:port, got \(config.metrics.address)")
        }
        let registry = prometheus.withLock { current -> PrometheusCollectorRegistry in
            if let current { return current }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // From a Version call (tens of µs) to a pull or a stop with a grace period.
            factory.defaultDurationHistogramBuckets = [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
            ]
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
        return try MetricsServer(address: address) { registry.emitToBuffer() }
    }
}
