#!/usr/bin/env python3
"""A small key broker speaking Trustee's RCAR protocol 0.4.0 for tee "cca", written for Fasco's
tests from the protocol (trustee kbs/src/attestation/backend.rs, kbs/src/jwe; kbs-types), sharing
no code with Fasco. It verifies the CCA evidence with cca_verify.py (an independent verifier) and a
Trustee-style trust-anchor file, checks the report-data binding (SHA-384 over the RFC 8785 JSON of
{"additional-evidence", "nonce", "tee-pubkey"}, zero-padded to 64 bytes), and releases a resource
only to realms whose RIM is in its policy, as a flattened JWE (ECDH-ES+A256KW, A256GCM).

    kbs.py --port P --resources DIR --policy FILE --trust-anchors FILE [--log FILE]

DIR/<repo>/<type>/<tag> are the resources; FILE (re-read on every request) is
{"rims": ["<hex>", ...]}. Errors are RFC 7807 JSON.
"""
import argparse, base64, hashlib, hmac, http.server, json, os, secrets, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cca_verify  # noqa: E402
from sealing import b64u, load_signing_key, seal, unb64u  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_wrap  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

ERR = "https://github.com/confidential-containers/kbs/errors/"
SESSION_LIFE = 300


def canonical(v):
    # RFC 8785 for strings, integers, objects and arrays (what RCAR binds).
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def concat_kdf(z, alg, bits, apu=b"", apv=b""):
    info = (len(alg).to_bytes(4, "big") + alg.encode() + len(apu).to_bytes(4, "big") + apu
            + len(apv).to_bytes(4, "big") + apv + bits.to_bytes(4, "big"))
    return hashlib.sha256((1).to_bytes(4, "big") + z + info).digest()[: bits // 8]


def jwe_to(jwk, plaintext):
    if jwk.get("kty") == "RSA":
        return rsa_jwe_to(jwk, plaintext)
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("only EC P-256 and RSA TEE keys")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + unb64u(jwk["x"]) + unb64u(jwk["y"]))
    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), peer)
    n = eph.public_key().public_numbers()
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
              "epk": {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}}
    protected = b64u(json.dumps(header).encode())
    kek = concat_kdf(z, "ECDH-ES+A256KW", 256)
    cek = secrets.token_bytes(32)
    iv = secrets.token_bytes(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return {"protected": protected, "encrypted_key": b64u(aes_key_wrap(kek, cek)), "iv": b64u(iv),
            "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}


def rsa_jwe_to(jwk, plaintext):
    """A flattened JWE to an RSA TEE key: alg RSA-OAEP-256 (OAEP, SHA-256, MGF1 SHA-256), enc A256GCM."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    public = rsa.RSAPublicNumbers(int.from_bytes(unb64u(jwk["e"]), "big"), int.from_bytes(unb64u(jwk["n"]), "big")).public_key()
    protected = b64u(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM"}).encode())
    cek = secrets.token_bytes(32)
    iv = secrets.token_bytes(12)
    wrapped = public.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return {"protected": protected, "encrypted_key": b64u(wrapped), "iv": b64u(iv),
            "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}


class Broker:
    def __init__(self, args):
        self.args = args
        self.sessions = {}
        self.secret = secrets.token_bytes(32)
        with open(args.trust_anchors) as f:
            self.anchors = json.load(f)

    def log(self, text):
        if self.args.log:
            with open(self.args.log, "a") as f:
                f.write(text + "\n")

    def policy_rims(self):
        with open(self.args.policy) as f:
            return set(r.lower() for r in json.load(f).get("rims", []))

    def token(self, claims):
        head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64u(json.dumps(claims).encode())
        sig = hmac.new(self.secret, (head + "." + body).encode(), hashlib.sha256).digest()
        return head + "." + body + "." + b64u(sig)

    def claims(self, token):
        try:
            head, body, sig = token.split(".")
            want = hmac.new(self.secret, (head + "." + body).encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(want, unb64u(sig)):
                return None
            c = json.loads(unb64u(body))
            return c if c.get("exp", 0) > time.time() else None
        except Exception:
            return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each answer waits for the
    # client's delayed ACK (about 40 ms), which would be the broker's cost, not the client's.
    disable_nagle_algorithm = True
    broker = None

    def log_message(self, *a):
        pass

    def send(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json" if status >= 400 else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def problem(self, status, kind, detail):
        self.broker.log("%s %s -> %d %s: %s" % (self.command, self.path, status, kind, detail))
        self.send(status, {"type": ERR + kind, "detail": detail})

    def session(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "kbs-session-id" and v in self.broker.sessions:
                s = self.broker.sessions[v]
                if s["expires"] > time.time():
                    return s
        return None

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def do_POST(self):
        b = self.broker
        try:
            req = self.body()
        except Exception:
            return self.problem(400, "InvalidRequest", "the body is not JSON")
        if self.path == "/kbs/v0/auth":
            if not isinstance(req, dict) or req.get("version") != "0.4.0":
                return self.problem(400, "ProtocolVersion", "expected version 0.4.0, got %r" % (req or {}).get("version"))
            if req.get("tee") != "cca":
                return self.problem(400, "UnsupportedTee", "tee %r" % req.get("tee"))
            sid = secrets.token_hex(16)
            nonce = base64.b64encode(secrets.token_bytes(32)).decode()
            b.sessions[sid] = {"nonce": nonce, "expires": time.time() + SESSION_LIFE, "attested": None}
            b.log("auth %s" % sid)
            return self.send(200, {"nonce": nonce, "extra-params": ""},
                             [("Set-Cookie", "kbs-session-id=%s; Max-Age=%d; Path=/kbs/v0" % (sid, SESSION_LIFE))])
        if self.path == "/kbs/v0/attest":
            s = self.session()
            if s is None:
                return self.problem(401, "UnAuthenticatedCookie", "no session: POST /kbs/v0/auth first")
            try:
                rd, te = req["runtime-data"], req["tee-evidence"]
                nonce, pub = rd["nonce"], rd["tee-pubkey"]
                additional = te.get("additional_evidence", "")
                primary = te["primary_evidence"]
                if isinstance(primary, str):
                    primary = json.loads(primary)
                raw = bytes(primary["token"])
            except Exception as e:
                return self.problem(400, "InvalidRequest", "malformed attestation request: %r" % e)
            if nonce != s["nonce"]:
                return self.problem(401, "AttestationFailed", "the nonce is not this session's")
            report = hashlib.sha384(canonical({"additional-evidence": additional, "nonce": nonce, "tee-pubkey": pub}).encode()).digest()
            try:
                res = cca_verify.verify(raw, challenge=report, trust_anchors=b.anchors)
            except Exception as e:
                return self.problem(401, "AttestationFailed", "undecodable evidence: %s" % e)
            if res["format"] != "legacy":
                # rust-ccatoken, which Trustee's CCA verifier uses, reads only the tag-399 collection.
                return self.problem(401, "AttestationFailed", "the evidence is a %s collection, not the legacy tag 399" % res["format"])
            if not res["ok"]:
                return self.problem(401, "AttestationFailed", "; ".join(res["errors"]))
            init = req.get("init-data")
            if init is not None:
                # Trustee binds initdata to the realm personalization value: H(the TOML text) with its
                # algorithm, compared with the 64 bytes (zero-padded here, as the realm pads it).
                import tomllib
                try:
                    algo = tomllib.loads(init["body"])["algorithm"]
                    digest = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}[algo](init["body"].encode()).digest()
                except Exception as e:
                    return self.problem(400, "InvalidRequest", "bad init-data: %r" % e)
                if (digest + bytes(64 - len(digest))).hex() != res["realm"]["personalization_value"]:
                    return self.problem(401, "AttestationFailed", "init-data does not match the realm personalization value")
                b.log("init-data ok")
            rim = res["realm"]["rim"]
            s["attested"] = {"rim": rim, "tee-pubkey": pub}
            exp = int(time.time()) + SESSION_LIFE
            b.log("attest ok rim=%s tee-key=%s" % (rim, pub.get("kty")))
            return self.send(200, {"token": b.token({"exp": exp, "rim": rim, "tee-pubkey": pub})})
        return self.problem(404, "NotFound", self.path)

    def do_GET(self):
        b = self.broker
        prefix = "/kbs/v0/resource/"
        if not self.path.startswith(prefix):
            return self.problem(404, "NotFound", self.path)
        parts = self.path[len(prefix):].split("/")
        if len(parts) != 3 or any(p in ("", ".", "..") for p in parts):
            return self.problem(400, "InvalidRequest", "resource path must be repo/type/tag")
        who = None
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            who = b.claims(auth[7:])
        if who is None:
            s = self.session()
            who = s and s["attested"]
        if who is None:
            return self.problem(401, "TokenNotFound", "no valid token or attested session")
        if who["rim"].lower() not in b.policy_rims():
            return self.problem(403, "PolicyDeny", "the realm's RIM %s is not allowed this resource" % who["rim"])
        path = os.path.join(b.args.resources, *parts)
        if not os.path.isfile(path):
            return self.problem(404, "ResourceNotFound", "no resource %s" % "/".join(parts))
        with open(path, "rb") as f:
            data = f.read()
        b.log("release %s to rim=%s" % ("/".join(parts), who["rim"]))
        return self.send(200, jwe_to(who["tee-pubkey"], data))


def tool(argv):
    """keygen PRIVATE.pem PUBLIC.jwk | seal PRIVATE.pem KID NAME: CoCo's sealed secrets
    (SEALED_SECRET.md: "sealed." + compact JWS, ES256, a vault payload)."""
    from cryptography.hazmat.primitives import serialization
    if argv[0] == "keygen":
        key = ec.generate_private_key(ec.SECP256R1())
        with open(argv[1], "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        n = key.public_key().public_numbers()
        with open(argv[2], "w") as f:
            json.dump({"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}, f)
        return 0
    if argv[0] == "seal":
        print(seal(load_signing_key(argv[1]), argv[2], {"version": "0.1.0", "type": "vault", "name": argv[3], "provider": "kbs",
                                                        "provider_settings": {}, "annotations": {}}))
        return 0
    raise SystemExit("unknown tool " + argv[0])


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("keygen", "seal"):
        sys.exit(tool(sys.argv[1:]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--resources", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--trust-anchors", required=True)
    ap.add_argument("--log")
    ap.add_argument("--ready", help="a file written once the port is bound")
    args = ap.parse_args()
    Handler.broker = Broker(args)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(str(args.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
