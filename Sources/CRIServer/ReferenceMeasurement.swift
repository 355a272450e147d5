import CRIAPI
import FascoCore
import ImageStore
import OCISpec
import RealmAttestation
import RealmCore

/// Reference values offline (`fasco measure`): the measurements the realms of a pod config
/// (and a container config with its image) would get, computed without a daemon by the code
/// the daemon measures with: the same rendering of the pod config, the same spec builder,
/// the same documents and the same software RMM.
public struct ReferenceMeasurement: Sendable {
    /// Fasco's root and state directories on the node the configs are for (left out of measurements).
    public var root: String
    public var state: String
    /// The supervisor binary the node runs (measured into System Realms).
    public var supervisor: [UInt8]
    /// What a System Realm started from a request looks like to its containers (the backend's layout).
    public var plannedRuntime: @Sendable (SystemRealmRequest, String) -> RunningSystemRealm

    public init(root: String, state: String, supervisor: [UInt8],
                plannedRuntime: @escaping @Sendable (SystemRealmRequest, String) -> RunningSystemRealm) {
        self.root = root
        self.state = state
        self.supervisor = supervisor
        self.plannedRuntime = plannedRuntime
    }

    /// The System Realm's measurement for `pod` served by `runtimeHandler`.
    public func systemRealm(_ pod: PodSandboxConfig, runtimeHandler: String = "") throws(FascoError) -> RealmMeasurement {
        let request = try CRIService.systemRealmRequest(pod)
        return try SoftwareRMM.measureSystemRealm(request.measuredDocument(runtimeHandler: runtimeHandler),
                                                  options: try RealmOptions(annotations: pod.annotations), supervisor: supervisor).measurement
    }

    /// The Container Realm's measurement for `container` of `image` in a pod made from `pod`.
    /// `scratch` is a private directory whose `rootfs/etc` holds the image's passwd and group;
    /// the pod's files are written below it, as a realm's directory holds them.
    public func containerRealm(_ container: ContainerConfig, image: ImageRecord, scratch: String,
                               pod: PodSandboxConfig) throws(FascoError) -> RealmMeasurement {
        let request = try CRIService.systemRealmRequest(pod)
        let metadata = pod.metadata ?? PodSandboxMetadata()
        let realm = SystemRealm(
            metadata: SystemRealmMetadata(name: metadata.name, uid: metadata.uid, namespace: metadata.namespace, attempt: metadata.attempt),
            createdAt: 0, labels: pod.labels, annotations: pod.annotations)
        let containerID = RealmID.generate().value
        let directory = scratch + "/realm"
        try FileSystem.makeDirectories(directory + "/shm", mode: 0o700)
        let runtime = plannedRuntime(request, directory)
        // A node serves the guest API to every pod that does not turn it off: its directory is mounted.
        if GuestAPIPolicy.isEnabled(annotations: pod.annotations) {
            try FileSystem.makeDirectories(GuestAPIPolicy.directory(ofRealmDirectory: directory), mode: 0o755)
        }
        for (name, path) in runtime.files {
            try FileSystem.writeAtomically(Array((request.files[name] ?? "").utf8), to: path, mode: 0o644, durable: false)
        }
        let spec = try ContainerSpecBuilder.build(ContainerSpecInput(
            containerID: containerID, config: container,
            pod: CRIService.podContext(pod: realm, config: pod, running: runtime),
            image: image.config, rootfs: scratch + "/rootfs", host: .current(), accountFilesLocked: image.isEncrypted))
        let instance = RealmInstance(root: root, state: state, realmDirectory: runtime.directory, podID: realm.id.value,
                                     podUID: metadata.uid, containerID: containerID)
        let options = try RealmOptions(annotations: pod.annotations)
        return try SoftwareRMM.measureContainerRealm(ContainerRealmDocument(spec: spec, image: image.measured, instance: instance),
                                                     options: options).measurement
    }
}
