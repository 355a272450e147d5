import FascoCore

/// NIST SP 800-38A, F.5.5 and F.5.6, CTR-AES256: the known answer for AES-256-CTR with a full
/// 16-byte initial counter block (ocicrypt's layer cipher, CoCo's A256CTR envelopes).
public enum NISTCTRAES256 {
    public static let key = Hex.decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")!
    public static let counter = Hex.decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")!
    public static let plaintext = Hex.decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        + "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")!
    public static let ciphertext = Hex.decode("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        + "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6")!
}
