/// Annotation keys `ContainerSpecBuilder` adds to every container spec, besides the CRI
/// annotations (which it copies). They use containerd's names, so tools that read containerd's
/// specs (NRI plugins, `crictl inspect` users, OCI hooks) find the same facts; a CRI annotation
/// with one of these keys is overwritten.
public enum SpecAnnotation {
    /// Always `container` (a pod's own supervisor has no OCI spec).
    public static let containerType = "io.kubernetes.cri.container-type"
    public static let containerTypeContainer = "container"
    /// The container's CRI metadata name.
    public static let containerName = "io.kubernetes.cri.container-name"
    /// The pod sandbox ID.
    public static let sandboxID = "io.kubernetes.cri.sandbox-id"
    /// The pod's metadata name, namespace and UID.
    public static let sandboxName = "io.kubernetes.cri.sandbox-name"
    public static let sandboxNamespace = "io.kubernetes.cri.sandbox-namespace"
    public static let sandboxUID = "io.kubernetes.cri.sandbox-uid"
    /// The image as the user named it (`user_specified_image`, else `image`).
    public static let imageName = "io.kubernetes.cri.image-name"
}
