/// Fasco's version, reported as the CRI runtime_version and by `fasco version`.
public enum FascoVersion {
    public static let current = "0.1.0-dev"
}
