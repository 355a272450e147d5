#!/usr/bin/env python3
"""Encrypted images for Fasco's tests, made from the published scheme independently of Fasco's
code: containers/ocicrypt's AES_256_CTR_HMAC_SHA256 layer cipher with CoCo's attestation-agent key
provider (guest-components: AnnotationPacket, A256GCM) and/or ocicrypt's JWE key wrapper
(A256GCM; ECDH-ES+A256KW for an EC P-256 public key, RSA-OAEP for an RSA one), using Python
`cryptography`.

  encrypt.py copy --registry HOST:PORT --source REPO:TAG --target REPO:TAG
                  [--kek FILE --kid kbs:///repo/type/tag] [--jwe-key PUBLIC.pem]
                  [--layers all|top] [--tamper ciphertext|hmac] [--label KEY=VALUE]
      reads the image manifest (not an index) from the plain registry, encrypts the chosen
      layers (each with a fresh 32-byte key and 16-byte nonce) and pushes the image under TARGET
      with OCI media types: layer type + "+encrypted", the annotations
      org.opencontainers.image.enc.pubopts (base64 of {"cipher", "hmac", "cipheroptions"}) and
      org.opencontainers.image.enc.keys.provider.attestation-agent (base64 of {"kid",
      "wrapped_data", "iv", "wrap_type": "A256GCM"}: the private options {"symkey", "digest",
      "cipheroptions": {"nonce"}} under AES-256-GCM with the 32-byte key in FILE) and/or
      org.opencontainers.image.enc.keys.jwe (base64 of a JWE JSON serialization for the PEM
      public key, EC P-256 or RSA).
      --tamper flips one ciphertext byte after the HMAC was computed, or the HMAC itself.
      --label adds a config label, giving the image an ID of its own (ocicrypt keeps the config).
      Prints the manifest digest and the encrypted layers' digests, one per line.
  encrypt.py kek FILE
      writes a random 32-byte key-encryption key.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import get_manifest, push_blob, put_manifest  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_wrap  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
PLAIN_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar": "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def b64(data):
    return base64.b64encode(data).decode()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def concat_kdf(z, alg, bits):
    """RFC 7518 section 4.6.2: one SHA-256 round of the Concat KDF, empty apu and apv."""
    info = len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big") + (0).to_bytes(4, "big") + bits.to_bytes(4, "big")
    return hashlib.sha256((1).to_bytes(4, "big") + z + info).digest()[: bits // 8]


def jwe_for(public_key, plaintext):
    """A JWE in the general JSON serialization, as go-jose's multi-recipient encrypter writes it:
    "enc" in the protected header, "alg" (ECDH-ES+A256KW with the ephemeral key for EC P-256,
    RSA-OAEP, i.e. SHA-1, for RSA: what ocicrypt picks) in the recipient's header."""
    cek = os.urandom(32)
    if isinstance(public_key, rsa.RSAPublicKey):
        header = {"alg": "RSA-OAEP"}
        encrypted_key = public_key.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    else:
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        z = ephemeral.exchange(ec.ECDH(), public_key)
        kek = concat_kdf(z, b"ECDH-ES+A256KW", 256)
        numbers = ephemeral.public_key().public_numbers()
        header = {"alg": "ECDH-ES+A256KW", "epk": {"kty": "EC", "crv": "P-256", "x": b64u(numbers.x.to_bytes(32, "big")),
                                                   "y": b64u(numbers.y.to_bytes(32, "big"))}}
        encrypted_key = aes_key_wrap(kek, cek)
    protected = b64u(json.dumps({"enc": "A256GCM"}).encode())
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return json.dumps({
        "protected": protected,
        "recipients": [{"header": header, "encrypted_key": b64u(encrypted_key)}],
        "iv": b64u(iv), "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:]),
    }).encode()


def encrypt_layer(blob, descriptor, a, kek, jwe_key):
    symkey, nonce = os.urandom(32), os.urandom(16)
    encryptor = Cipher(algorithms.AES(symkey), modes.CTR(nonce)).encryptor()
    ciphertext = bytearray(encryptor.update(blob) + encryptor.finalize())
    mac = hmac.new(symkey, bytes(ciphertext), hashlib.sha256).digest()
    if a.tamper == "ciphertext":
        ciphertext[len(ciphertext) // 2] ^= 0x01
    elif a.tamper == "hmac":
        mac = bytes([mac[0] ^ 0x01]) + mac[1:]
    private = json.dumps({"symkey": b64(symkey), "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
                          "cipheroptions": {"nonce": b64(nonce)}}).encode()
    annotations = dict(descriptor.get("annotations") or {})
    annotations["org.opencontainers.image.enc.pubopts"] = b64(json.dumps(
        {"cipher": "AES_256_CTR_HMAC_SHA256", "hmac": b64(mac), "cipheroptions": {}}).encode())
    if kek is not None:
        iv = os.urandom(12)
        packet = {"kid": a.kid, "wrapped_data": b64(AESGCM(kek).encrypt(iv, private, None)), "iv": b64(iv), "wrap_type": "A256GCM"}
        annotations["org.opencontainers.image.enc.keys.provider.attestation-agent"] = b64(json.dumps(packet).encode())
    if jwe_key is not None:
        annotations["org.opencontainers.image.enc.keys.jwe"] = b64(jwe_for(jwe_key, private))
    return bytes(ciphertext), {"mediaType": PLAIN_TYPES[descriptor["mediaType"]] + "+encrypted", "size": len(ciphertext),
                               "annotations": annotations}


def cmd_copy(a):
    base = "http://" + a.registry
    source_repo, source_tag = a.source.rsplit(":", 1)
    target_repo, target_tag = a.target.rsplit(":", 1)
    manifest = json.loads(get_manifest(base, source_repo, source_tag)[0])
    kek = None
    if a.kek:
        with open(a.kek, "rb") as f:
            kek = f.read()
    jwe_key = None
    if a.jwe_key:
        with open(a.jwe_key, "rb") as f:
            jwe_key = serialization.load_pem_public_key(f.read())
    if kek is None and jwe_key is None:
        raise SystemExit("give --kek and --kid, or --jwe-key")

    def blob(digest):
        with urllib.request.urlopen(f"{base}/v2/{source_repo}/blobs/{digest}") as response:
            return response.read()

    config = blob(manifest["config"]["digest"])
    if a.label:
        # A config of its own: the same config would make it the same image ID as the plain one.
        document = json.loads(config)
        key, _, value = a.label.partition("=")
        document.setdefault("config", {}).setdefault("Labels", {})[key] = value
        config = json.dumps(document, sort_keys=True).encode()
    config_digest = push_blob(base, target_repo, config)
    chosen = range(len(manifest["layers"])) if a.layers == "all" else [len(manifest["layers"]) - 1]
    layers, encrypted = [], []
    for index, descriptor in enumerate(manifest["layers"]):
        data = blob(descriptor["digest"])
        out = {"mediaType": PLAIN_TYPES[descriptor["mediaType"]], "size": len(data)}
        if index in chosen:
            data, out = encrypt_layer(data, descriptor, a, kek, jwe_key)
        out["digest"] = push_blob(base, target_repo, data)
        if index in chosen:
            encrypted.append(out["digest"])
        layers.append(out)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                       "layers": layers}).encode()
    print(put_manifest(base, target_repo, target_tag, body, OCI_MANIFEST))
    for digest in encrypted:
        print(digest)


def cmd_kek(a):
    with open(a.file, "wb") as f:
        f.write(os.urandom(32))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    copy = sub.add_parser("copy")
    copy.add_argument("--registry", required=True)
    copy.add_argument("--source", required=True)
    copy.add_argument("--target", required=True)
    copy.add_argument("--kek")
    copy.add_argument("--kid", default="kbs:///default/image-key/1")
    copy.add_argument("--jwe-key")
    copy.add_argument("--layers", choices=["all", "top"], default="all")
    copy.add_argument("--tamper", choices=["ciphertext", "hmac"])
    copy.add_argument("--label", help="KEY=VALUE added to the config's labels (a new image ID)")
    copy.set_defaults(run=cmd_copy)
    kek = sub.add_parser("kek")
    kek.add_argument("file")
    kek.set_defaults(run=cmd_kek)
    a = parser.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
