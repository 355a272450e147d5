#!/usr/bin/env python3
"""Cosign-style image signatures for Fasco's tests, made independently of Fasco's code
(Python `cryptography` for ECDSA P-256, the registry's HTTP API for storage).

  cosign.py keygen --out PREFIX
      writes PREFIX.key (PKCS#8 PEM private key) and PREFIX.pub (PEM public key, as cosign.pub).
  cosign.py copy --registry HOST:PORT --source REPO:TAG --target REPO:TAG
      copies an image manifest (not an index) and its blobs to another repository,
      byte for byte (the same manifest digest); prints the manifest digest.
  cosign.py sign --registry HOST:PORT --repository REPO --digest sha256:... --key PREFIX.key
                 [--identity REF] [--signed-digest sha256:...]
      signs as `cosign sign` does and stores the signature where cosign does: the
      simple-signing payload {"critical": {"identity": {"docker-reference": REF},
      "image": {"docker-manifest-digest": DIGEST}, "type": "cosign container image
      signature"}, "optional": null} as a blob of media type
      application/vnd.dev.cosign.simplesigning.v1+json, its ECDSA-P256/SHA-256 DER
      signature, base64, in the layer annotation dev.cosignproject.cosign/signature,
      in an OCI manifest tagged sha256-<hex of DIGEST>.sig in REPO. REF defaults to
      HOST:PORT/REPO (cosign signs the repository, without tag); --signed-digest puts
      another digest in the payload (a signature that names another image).
"""
import argparse
import base64
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import get_manifest, push_blob, put_manifest  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

def cmd_keygen(a):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(a.out + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(a.out + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def cmd_copy(a):
    base = "http://" + a.registry
    source_repo, source_tag = a.source.rsplit(":", 1)
    target_repo, target_tag = a.target.rsplit(":", 1)
    body, media_type = get_manifest(base, source_repo, source_tag)
    manifest = json.loads(body)
    for descriptor in [manifest["config"]] + manifest["layers"]:
        with urllib.request.urlopen(f"{base}/v2/{source_repo}/blobs/{descriptor['digest']}") as response:
            push_blob(base, target_repo, response.read())
    print(put_manifest(base, target_repo, target_tag, body, media_type))


def cmd_sign(a):
    base = "http://" + a.registry
    with open(a.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    payload = json.dumps({
        "critical": {
            "identity": {"docker-reference": a.identity or f"{a.registry}/{a.repository}"},
            "image": {"docker-manifest-digest": a.signed_digest or a.digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }, separators=(",", ":")).encode()
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    payload_digest = push_blob(base, a.repository, payload)
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [payload_digest]}}, separators=(",", ":")).encode()
    config_digest = push_blob(base, a.repository, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest, "size": len(payload),
            "annotations": {"dev.cosignproject.cosign/signature": signature},
        }],
    }, separators=(",", ":")).encode()
    algorithm, hex_digest = a.digest.split(":", 1)
    put_manifest(base, a.repository, f"{algorithm}-{hex_digest}.sig", manifest, "application/vnd.oci.image.manifest.v1+json")
    print(payload_digest)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("keygen")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_keygen)
    s = sub.add_parser("copy")
    s.add_argument("--registry", default="127.0.0.1:5000")
    s.add_argument("--source", required=True)
    s.add_argument("--target", required=True)
    s.set_defaults(func=cmd_copy)
    s = sub.add_parser("sign")
    s.add_argument("--registry", default="127.0.0.1:5000")
    s.add_argument("--repository", required=True)
    s.add_argument("--digest", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--identity")
    s.add_argument("--signed-digest")
    s.set_defaults(func=cmd_sign)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    sys.exit(main())
