"""CoCo's sealed secrets, for the test suite's tools (kbs.py, awskms.py, aliyunkms.py), written
from guest-components confidential-data-hub/docs/SEALED_SECRET.md and sharing no code with Fasco:
"sealed." + a compact JWS, protected header {"alg": "ES256", "kid": ...}, the payload's JSON,
base64url without padding, signed with a P-256 key (the raw 64-byte r || s)."""
import base64, json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def compact(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_signing_key(path):
    """The P-256 private key (PEM, PKCS#8) a sealed secret is signed with."""
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SystemExit("the signing key must be a P-256 private key")
    return key


def seal(signing_key, kid, payload):
    """The sealed form of `payload` (a dict), signed by `signing_key`, whose key `kid` names."""
    head = b64u(compact({"alg": "ES256", "kid": kid}).encode())
    body = b64u(compact(payload).encode())
    r, s = decode_dss_signature(signing_key.sign((head + "." + body).encode(), ec.ECDSA(hashes.SHA256())))
    return "sealed." + head + "." + body + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def opened(sealed, public_key):
    """The payload of a sealed secret whose signature verifies with `public_key`, else None."""
    head, body, sig = sealed[len("sealed."):].split(".")
    raw = unb64u(sig)
    try:
        public_key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                          (head + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return None
    return json.loads(unb64u(body))
