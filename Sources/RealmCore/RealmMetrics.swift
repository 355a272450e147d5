import Metrics

/// What RealmCore records through swift-metrics (whatever backend the composition root
/// bootstrapped; none records nothing): OOM kills, supervisor deaths and realms by state.
public enum RealmMetrics {
    /// Containers whose recorded exit was an OOM kill: a Counter.
    public static let oomKills = "fasco_oom_kills_total"
    /// System Realm supervisors that ended without a stop (killed, crashed, or gone while
    /// Fasco was down): a Counter.
    public static let supervisorDeaths = "fasco_supervisor_deaths_total"
    /// Realms by kind (system, container) and state (ready, notReady; created, running,
    /// exited, unknown): a Gauge per pair, kept current by RealmRegistry.
    public static let realms = "fasco_realms"

    static func countOOMKill() { Counter(label: oomKills).increment() }
    static func countSupervisorDeath() { Counter(label: supervisorDeaths).increment() }
}

/// The `fasco_realms` gauges: one per kind and state, set from the registry's counts after
/// every change (removed realms leave the registry, so they have no gauge).
struct RealmStateGauges: Sendable {
    private let system: [SystemRealm.State: Gauge]
    private let container: [ContainerRealm.State: Gauge]

    init() {
        var system: [SystemRealm.State: Gauge] = [:]
        for state in SystemRealm.State.allCases where state != .removed {
            system[state] = Gauge(label: RealmMetrics.realms, dimensions: [("kind", "system"), ("state", state.rawValue)])
        }
        var container: [ContainerRealm.State: Gauge] = [:]
        for state in ContainerRealm.State.allCases where state != .removed {
            container[state] = Gauge(label: RealmMetrics.realms, dimensions: [("kind", "container"), ("state", state.rawValue)])
        }
        self.system = system
        self.container = container
    }

    func set(system systemStates: some Sequence<SystemRealm.State>, container containerStates: some Sequence<ContainerRealm.State>) {
        var systemCounts: [SystemRealm.State: Int] = [:]
        for state in systemStates { systemCounts[state, default: 0] += 1 }
        for (state, gauge) in system { gauge.record(systemCounts[state] ?? 0) }
        var containerCounts: [ContainerRealm.State: Int] = [:]
        for state in containerStates { containerCounts[state, default: 0] += 1 }
        for (state, gauge) in container { gauge.record(containerCounts[state] ?? 0) }
    }
}
