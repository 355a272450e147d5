/// Something the node runs beside each ready System Realm (the guest API): told when a realm is
/// up, before RunPodSandbox answers, and before it stops. Registered with
/// `RealmManager.register(_:)`, which also tells it of the realms already running (recovery).
public protocol SystemRealmService: Sendable {
    /// The realm is up (or was found running after a restart). Failures are the service's to report.
    func systemRealmStarted(_ realm: SystemRealm, running runtime: RunningSystemRealm) async
    /// The realm is about to stop (or be removed); idempotent.
    func systemRealmStopping(_ realm: RealmID) async
}
