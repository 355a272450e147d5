#!/usr/bin/env python3
"""Independent verifier for Arm CCA attestation tokens (platform + realm).

Written from public sources only; it shares no code with Fasco.  What was
checked, and where (read 2026):

  * Collection.  TF-RMM app/attestation/el0_app/src/attestation_token.c and
    attestation_defs_priv.h: the current shape is tag 907 (TAG_CCA_TOKEN) on a
    map {44234: [263, bstr], 44241: [263, bstr]} -- a CMW collection whose
    entries are CMW arrays [type, value] with type 263 (COAP_EAT_CWT_TYPE,
    the CoAP content-format of application/eat+cwt) and value the raw
    COSE_Sign1 bytes.  Built with -DDOWNREV_CCA_TOKEN_TOP_FORMAT it emits the
    legacy tag 399 map {44234: bstr, 44241: bstr}.  veraison/ccatoken
    evidence.go decodes both (907 and 399); veraison/rust-ccatoken
    src/token/evidence.rs decodes only 399.
  * COSE_Sign1.  t_cose as used by TF-RMM writes tag 18, protected header
    {1: -35} (ES384) only, unprotected header {} (t_cose_sign_sign.c,
    t_cose_signature_sign_restart.c).  Tags 18 on the inner bstr are optional
    here.  Signature = raw r||s over Sig_structure
    ["Signature1", protected, h'', payload] (RFC 9052).
  * RAK.  TF-RMM attestation_key.c + configs/t_cose/0001-Add-t_cose_key_encode
    -API.patch: COSE_Key {1: 2 (EC2), -1: crv, -2: x, -3: y}, no alg (3);
    the platform challenge is SHA-256 over exactly those bytes, and 44240 is
    "sha-256".  Without the realm profile claim the RAK is a raw 97-byte
    SEC1 point (veraison ccatoken realm/claims.go, rust-ccatoken realm.rs).
  * Claims: CONFIDENTIAL.md section 2 plus the decoders above (types and
    sizes: rust-ccatoken src/token/{realm,platform,common}.rs, veraison
    ccatoken + psatoken claims_common.go).

Usage:
  cca_verify.py TOKENFILE|- [--challenge HEX] [--platform-jwk JWKFILE]
                [--trust-anchors JSONFILE]
  cca_verify.py selftest
Exit: 0 ok, 1 verification failed, 2 undecodable input.
"""
import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Mapping

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

REALM_PROFILE = "tag:arm.com,2023:realm#1.0.0"
REALM_PROFILE_TFRMM_2 = "tag:arm.com,2024:realm#2.0.0"   # current TF-RMM main
PLATFORM_PROFILES = ("tag:arm.com,2023:cca_platform#1.0.0", "http://arm.com/CCA-SSD/1.0.0")
HASH_SIZES = {"sha-256": 32, "sha-384": 48, "sha-512": 64}
BINDING_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
# COSE alg -> (curve, hash, coordinate size)
COSE_ALGS = {-7: (ec.SECP256R1, hashes.SHA256, 32), -35: (ec.SECP384R1, hashes.SHA384, 48),
             -36: (ec.SECP521R1, hashes.SHA512, 66)}
COSE_CRV = {1: ec.SECP256R1, 2: ec.SECP384R1, 3: ec.SECP521R1}
JWK_CRV = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
LIFECYCLE = [(0x0000, "unknown"), (0x1000, "assembly-and-test"),
             (0x2000, "cca-platform-rot-provisioning"), (0x3000, "secured"),
             (0x4000, "non-cca-platform-rot-debug"),
             (0x5000, "recoverable-cca-platform-rot-debug"), (0x6000, "decommissioned")]


class Undecodable(Exception):
    pass


def lifecycle_state(v):
    for base, name in LIFECYCLE:
        if base <= v <= base + 0xff:
            return name
    return None


# ---- decoding ---------------------------------------------------------------

def split_collection(raw):
    """Returns (format, platform COSE bytes, realm COSE bytes)."""
    try:
        top = cbor2.loads(raw)
    except Exception as e:
        raise Undecodable("not CBOR: %s" % e)
    if not isinstance(top, cbor2.CBORTag) or top.tag not in (907, 399) or not isinstance(top.value, Mapping):
        raise Undecodable("expected tag 907 (CMW collection) or 399 (legacy) wrapping a map")
    m = top.value
    if set(m) != {44234, 44241}:
        raise Undecodable("collection keys must be exactly 44234 and 44241, got %s" % sorted(map(str, m)))
    out = []
    for k in (44234, 44241):
        v = m[k]
        if top.tag == 907:
            if not (isinstance(v, (list, tuple)) and len(v) == 2 and v[0] == 263 and isinstance(v[1], bytes)):
                raise Undecodable("CMW entry %d must be [263, bstr]" % k)
            v = v[1]
        elif not isinstance(v, bytes):
            raise Undecodable("legacy entry %d must be a bstr" % k)
        out.append(v)
    return ("cmw" if top.tag == 907 else "legacy"), out[0], out[1]


def decode_sign1(raw, what):
    """Returns (protected bstr, protected map, payload bytes, signature, claims)."""
    try:
        msg = cbor2.loads(raw)
    except Exception as e:
        raise Undecodable("%s token is not CBOR: %s" % (what, e))
    if isinstance(msg, cbor2.CBORTag):
        if msg.tag != 18:
            raise Undecodable("%s token: tag %d is not COSE_Sign1 (18)" % (what, msg.tag))
        msg = msg.value
    if not (isinstance(msg, (list, tuple)) and len(msg) == 4 and isinstance(msg[0], bytes)
            and isinstance(msg[1], Mapping) and isinstance(msg[2], bytes) and isinstance(msg[3], bytes)):
        raise Undecodable("%s token is not a COSE_Sign1 [bstr, map, bstr, bstr]" % what)
    try:
        prot = cbor2.loads(msg[0]) if msg[0] else {}
        claims = cbor2.loads(msg[2])
    except Exception as e:
        raise Undecodable("%s token: bad protected header or payload: %s" % (what, e))
    if not isinstance(prot, Mapping) or not isinstance(claims, Mapping):
        raise Undecodable("%s token: protected header and payload must be maps" % what)
    return msg[0], prot, msg[2], msg[3], claims


def verify_sign1(protected, prot_map, payload, sig, key):
    """Raises ValueError on any failure."""
    alg = prot_map.get(1)
    if alg not in COSE_ALGS:
        raise ValueError("unsupported or missing alg %r in protected header" % (alg,))
    curve, h, n = COSE_ALGS[alg]
    if not isinstance(key.curve, curve):
        raise ValueError("alg %d does not match key curve %s" % (alg, key.curve.name))
    if len(sig) != 2 * n:
        raise ValueError("signature is %d bytes, expected %d" % (len(sig), 2 * n))
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
    try:
        key.verify(der, tbs, ec.ECDSA(h()))
    except InvalidSignature:
        raise ValueError("bad signature")


def key_from_cose(raw):
    k = cbor2.loads(raw)
    if not isinstance(k, Mapping) or k.get(1) != 2:
        raise ValueError("RAK COSE_Key is not EC2 (kty 2)")
    crv = COSE_CRV.get(k.get(-1))
    x, y = k.get(-2), k.get(-3)
    if crv is None or not isinstance(x, bytes) or not isinstance(y, bytes):
        raise ValueError("RAK COSE_Key needs crv 1/2/3 and bstr x, y (compressed y unsupported)")
    return ec.EllipticCurvePublicKey.from_encoded_point(crv(), b"\x04" + x + y)


def key_from_jwk(j):
    if j.get("kty") != "EC" or j.get("crv") not in JWK_CRV:
        raise ValueError("JWK must be kty EC with crv P-256/P-384/P-521")
    d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    return ec.EllipticCurvePublicKey.from_encoded_point(JWK_CRV[j["crv"]](), b"\x04" + d(j["x"]) + d(j["y"]))


# ---- claim checks -------------------------------------------------------------

def check_realm(c, errors, warnings):
    out = {}

    def get(key, typ, name):
        v = c.get(key)
        if v is None:
            errors.append("realm: missing %s (%d)" % (name, key))
        elif not isinstance(v, typ) or isinstance(v, bool):
            errors.append("realm: %s (%d) has the wrong CBOR type" % (name, key))
            v = None
        return v

    prof = c.get(265)
    if prof is not None:
        if prof == REALM_PROFILE_TFRMM_2:
            warnings.append("realm profile %r: emitted by current TF-RMM, rejected by "
                            "rust-ccatoken and veraison ccatoken (they want %r)" % (prof, REALM_PROFILE))
        elif prof != REALM_PROFILE:
            errors.append("realm: unknown profile %r" % (prof,))
    out["profile"] = prof
    ch = get(10, bytes, "challenge")
    if ch is not None and len(ch) != 64:
        errors.append("realm: challenge is %d bytes, must be 64" % len(ch))
    out["challenge"] = ch.hex() if ch is not None else None
    pv = get(44235, bytes, "personalization value")
    if pv is not None and len(pv) != 64:
        errors.append("realm: personalization value is %d bytes, must be 64" % len(pv))
    out["personalization_value"] = pv.hex() if pv is not None else None
    algo = get(44236, str, "hash-algo-id")
    out["hash_algo_id"] = algo
    size = HASH_SIZES.get(algo)
    if algo is not None and size is None:
        errors.append("realm: unknown hash-algo-id %r" % algo)
    elif algo == "sha-384":
        warnings.append("realm hash-algo-id sha-384: rust-ccatoken accepts only sha-256/sha-512")
    rim = get(44238, bytes, "RIM")
    if rim is not None and len(rim) not in (32, 48, 64):
        errors.append("realm: RIM is %d bytes, must be 32/48/64" % len(rim))
    if rim is not None and size and len(rim) != size:
        errors.append("realm: RIM is %d bytes but hash-algo-id %s needs %d" % (len(rim), algo, size))
    out["rim"] = rim.hex() if rim is not None else None
    rems = get(44239, (list, tuple), "REMs")
    if rems is not None:
        if len(rems) != 4 or not all(isinstance(r, bytes) for r in rems):
            errors.append("realm: REMs must be an array of 4 bstr")
        elif size and any(len(r) != size for r in rems):
            errors.append("realm: REM sizes %s do not match %s" % ([len(r) for r in rems], algo))
        out["rems"] = [r.hex() if isinstance(r, bytes) else None for r in rems]
    else:
        out["rems"] = None
    rak = get(44237, bytes, "RAK")
    rak_alg = get(44240, str, "RAK hash-algo-id")
    if rak_alg is not None and rak_alg not in BINDING_HASHES:
        errors.append("realm: RAK hash-algo-id %r is not sha-256 or sha-512" % rak_alg)
    out["rak_hash_algo_id"] = rak_alg
    extra = sorted(k for k in c if k not in (10, 265, 44235, 44236, 44237, 44238, 44239, 44240))
    if extra:
        out["other_claims"] = [str(k) for k in extra]
    return out, rak, rak_alg


def check_platform(c, errors, warnings):
    out = {}

    def get(key, typ, name, mandatory=True):
        v = c.get(key)
        if v is None:
            if mandatory:
                errors.append("platform: missing %s (%d)" % (name, key))
        elif not isinstance(v, typ) or isinstance(v, bool):
            errors.append("platform: %s (%d) has the wrong CBOR type" % (name, key))
            v = None
        return v

    hx = lambda b: b.hex() if isinstance(b, bytes) else None
    prof = get(265, str, "profile")
    if prof is not None and prof not in PLATFORM_PROFILES:
        errors.append("platform: unknown profile %r" % prof)
    out["profile"] = prof
    ch = get(10, bytes, "challenge")
    if ch is not None and len(ch) not in (32, 48, 64):
        errors.append("platform: challenge is %d bytes, must be 32/48/64" % len(ch))
    out["challenge"] = hx(ch)
    impl = get(2396, bytes, "implementation-id")
    if impl is not None and len(impl) != 32:
        errors.append("platform: implementation-id is %d bytes, must be 32" % len(impl))
    out["implementation_id"] = hx(impl)
    inst = get(256, bytes, "instance-id")
    if inst is not None and (len(inst) != 33 or inst[0] != 0x01):
        errors.append("platform: instance-id must be 33 bytes starting 0x01")
    out["instance_id"] = hx(inst)
    lc = get(2395, int, "lifecycle")
    if lc is not None and lifecycle_state(lc) is None:
        errors.append("platform: lifecycle 0x%x is not in a defined range" % lc)
    out["lifecycle"] = lc
    out["lifecycle_state"] = lifecycle_state(lc) if lc is not None else None
    out["config"] = hx(get(2401, bytes, "config"))
    algo = get(2402, str, "hash-algo-id")
    if algo is not None and algo not in ("sha-256", "sha-512"):
        (warnings if algo in HASH_SIZES else errors).append(
            "platform: hash-algo-id %r (rust-ccatoken accepts only sha-256/sha-512)" % algo)
    out["hash_algo_id"] = algo
    vsi = get(2400, str, "verification-service", mandatory=False)
    if vsi == "":
        errors.append("platform: verification-service is empty")
    out["verification_service"] = vsi
    comps = get(2399, (list, tuple), "sw-components")
    out["sw_components"] = []
    if comps is not None and not comps:
        errors.append("platform: sw-components must not be empty")
    for i, sc in enumerate(comps or []):
        if not isinstance(sc, Mapping):
            errors.append("platform: sw-components[%d] is not a map" % i)
            continue
        bad = [k for k in sc if k not in (1, 2, 4, 5, 6)]
        if bad:
            errors.append("platform: sw-components[%d] has unknown keys %s" % (i, bad))
        for k, typ in ((1, str), (2, bytes), (4, str), (5, bytes), (6, str)):
            if k in sc and not isinstance(sc[k], typ):
                errors.append("platform: sw-components[%d] key %d has the wrong type" % (i, k))
        for k, n in ((2, "measurement-value"), (5, "signer-id")):
            if not isinstance(sc.get(k), bytes) or len(sc[k]) not in (32, 48, 64):
                errors.append("platform: sw-components[%d] %s must be a 32/48/64-byte bstr" % (i, n))
        if isinstance(sc.get(6), str) and sc[6] not in ("sha-256", "sha-512"):
            warnings.append("platform: sw-components[%d] key 6 %r is not sha-256/sha-512 "
                            "(rust-ccatoken reads key 6 as the hash algorithm)" % (i, sc[6]))
        out["sw_components"].append({"type": sc.get(1), "measurement_value": hx(sc.get(2)),
                                     "version": sc.get(4), "signer_id": hx(sc.get(5)),
                                     "description": sc.get(6)})
    return out


# ---- main verification --------------------------------------------------------

def verify(raw, challenge=None, platform_key=None, trust_anchors=None):
    """Returns the result dict; raises Undecodable for undecodable input."""
    errors, warnings = [], []
    fmt, praw, rraw = split_collection(raw)
    pprot, pprot_map, ppayload, psig, pclaims = decode_sign1(praw, "platform")
    rprot, rprot_map, rpayload, rsig, rclaims = decode_sign1(rraw, "realm")
    realm, rak, rak_alg = check_realm(rclaims, errors, warnings)
    platform = check_platform(pclaims, errors, warnings)
    res = {"ok": False, "errors": errors, "warnings": warnings, "format": fmt,
           "realm": realm, "platform": platform}
    for name, pm in (("platform", pprot_map), ("realm", rprot_map)):
        if pm.get(1) != -35:
            warnings.append("%s protected header alg is %r, TF-RMM/RSE use -35 (ES384)" % (name, pm.get(1)))

    # realm signature with the RAK
    res["realm_signature"] = "failed"
    if rak is not None:
        try:
            if realm["profile"] is not None:
                key = key_from_cose(rak)
            else:
                if len(rak) != 97:
                    raise ValueError("raw RAK is %d bytes, must be 97" % len(rak))
                key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), rak)
            if not isinstance(key.curve, ec.SECP384R1):
                warnings.append("RAK curve is %s; published RAKs are P-384" % key.curve.name)
            verify_sign1(rprot, rprot_map, rpayload, rsig, key)
            res["realm_signature"] = "verified"
        except Exception as e:
            errors.append("realm signature: %s" % e)

    # binding
    res["binding"] = "failed"
    if rak is not None and rak_alg in BINDING_HASHES:
        if platform["challenge"] == BINDING_HASHES[rak_alg](rak).hexdigest():
            res["binding"] = "verified"
        else:
            errors.append("binding: platform challenge != %s(RAK bytes)" % rak_alg)

    # platform signature
    if trust_anchors is not None and platform_key is None:
        match = [ta for ta in trust_anchors
                 if ta.get("instance-id", "").lower() == (platform["instance_id"] or "")
                 and ta.get("implementation-id", "").lower() == (platform["implementation_id"] or "")]
        if not match:
            errors.append("platform: no trust anchor for this implementation-id/instance-id")
        else:
            try:
                platform_key = key_from_jwk(match[0]["pkey"])
            except Exception as e:
                errors.append("platform: bad trust-anchor key: %s" % e)
    if platform_key is None:
        res["platform_signature"] = "unchecked" if trust_anchors is None else "failed"
    else:
        try:
            verify_sign1(pprot, pprot_map, ppayload, psig, platform_key)
            res["platform_signature"] = "verified"
        except Exception as e:
            res["platform_signature"] = "failed"
            errors.append("platform signature: %s" % e)

    # realm challenge
    if challenge is not None:
        want = challenge + bytes(64 - len(challenge))
        if realm["challenge"] == want.hex():
            res["challenge"] = "matched"
        else:
            res["challenge"] = "mismatch"
            errors.append("realm challenge does not match the expected challenge (zero-padded to 64)")
    else:
        res["challenge"] = "unchecked"
    res["ok"] = not errors
    return res


# ---- selftest: a minimal token builder with fresh keys -------------------------

def _sign1(claims, key):
    prot = cbor2.dumps({1: -35})
    payload = cbor2.dumps(claims)
    der = key.sign(cbor2.dumps(["Signature1", prot, b"", payload]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    return cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")]))


def _cose_key(pub):
    n = pub.public_numbers()
    return cbor2.dumps({1: 2, -1: 2, -2: n.x.to_bytes(48, "big"), -3: n.y.to_bytes(48, "big")})


def build_token(pkey, rak, challenge, fmt="cmw", profile=True, platform_challenge=None):
    rak_bytes = _cose_key(rak.public_key()) if profile else rak.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    realm = {10: challenge + bytes(64 - len(challenge)), 44235: bytes(range(64)), 44236: "sha-256",
             44237: rak_bytes, 44238: bytes([0xAA]) * 32, 44239: [bytes(32)] * 4, 44240: "sha-256"}
    if profile:
        realm[265] = REALM_PROFILE
    platform = {265: PLATFORM_PROFILES[0],
                10: platform_challenge or hashlib.sha256(rak_bytes).digest(),
                2396: bytes(range(32)), 256: b"\x01" + bytes(range(32)), 2401: b"cfg",
                2395: 0x3000, 2402: "sha-256", 2400: "https://veraison.example",
                2399: [{1: "RMM", 2: bytes([1]) * 32, 4: "1.0", 5: bytes([2]) * 32, 6: "sha-256"}]}
    pt, rt = _sign1(platform, pkey), _sign1(realm, rak)
    if fmt == "cmw":
        return cbor2.dumps(cbor2.CBORTag(907, {44234: [263, pt], 44241: [263, rt]}))
    return cbor2.dumps(cbor2.CBORTag(399, {44234: pt, 44241: rt}))


def selftest():
    fails = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            fails.append(what)

    pkey, rak = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    ppub = pkey.public_key()
    n = ppub.public_numbers()
    b64u = lambda i: base64.urlsafe_b64encode(i.to_bytes(48, "big")).rstrip(b"=").decode()
    jwk = {"kty": "EC", "crv": "P-384", "x": b64u(n.x), "y": b64u(n.y)}
    chal = b"fasco-selftest-nonce"
    tas = [{"pkey": jwk, "implementation-id": bytes(range(32)).hex(),
            "instance-id": (b"\x01" + bytes(range(32))).hex()}]

    for fmt in ("cmw", "legacy"):
        tok = build_token(pkey, rak, chal, fmt)
        r = verify(tok, chal, key_from_jwk(jwk))
        check(r["ok"] and r["format"] == fmt and r["platform_signature"] == "verified",
              "%s token verifies with JWK" % fmt)
    tok = build_token(pkey, rak, chal)
    check(verify(tok, chal, trust_anchors=tas)["ok"], "verifies via trust-anchor store")
    r = verify(tok, chal)
    check(r["ok"] and r["platform_signature"] == "unchecked", "no platform key: realm only, unchecked")
    check(verify(build_token(pkey, rak, chal, profile=False), chal, ppub)["ok"], "raw 97-byte RAK (no profile)")
    check(not verify(tok, b"other", ppub)["ok"], "wrong challenge fails")
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    check(not verify(tok, chal, other)["ok"], "wrong platform key fails")
    bad_ta = [dict(tas[0], **{"instance-id": "01" + "ff" * 32})]
    check(not verify(tok, chal, trust_anchors=bad_ta)["ok"], "unknown instance-id in trust anchors fails")
    check(not verify(build_token(pkey, rak, chal, platform_challenge=bytes(32)), chal, ppub)["ok"],
          "binding mismatch fails")

    # flip one byte in each signature, payload and protected header
    top = cbor2.loads(tok)
    for label, name in ((44234, "platform"), (44241, "realm")):
        msg = cbor2.loads(top.value[label][1]).value
        for part, idx in (("signature", 3), ("payload", 2), ("protected header", 0)):
            m = list(msg)
            b = bytearray(m[idx])
            if part == "payload":          # flip inside a bstr so the CBOR stays decodable
                pos = b.find(bytes([0x01]) * 32) if name == "platform" else b.find(bytes([0xAA]) * 32)
            elif part == "protected header":
                b = bytearray(cbor2.dumps({1: -35, 3: 263}))   # a different but valid header
                pos = None
            else:
                pos = len(b) // 2
            if pos is not None:
                b[pos] ^= 0x01
            m[idx] = bytes(b)
            entries = dict(top.value)
            entries[label] = [263, cbor2.dumps(cbor2.CBORTag(18, m))]
            bad = cbor2.dumps(cbor2.CBORTag(907, entries))
            try:
                r = verify(bad, chal, ppub)
                check(not r["ok"] and r[name + "_signature"] == "failed",
                      "%s %s tampered -> %s signature fails" % (name, part, name))
            except Undecodable as e:
                check(False, "%s %s tampered -> undecodable (%s)" % (name, part, e))
    try:
        verify(b"\xff\x00", chal)
        check(False, "garbage is undecodable")
    except Undecodable:
        check(True, "garbage is undecodable")
    print("selftest: %s" % ("FAILED (%d)" % len(fails) if fails else "passed"))
    return 1 if fails else 0


def main(argv):
    if argv[1:] == ["selftest"]:
        return selftest()
    ap = argparse.ArgumentParser(description="Verify an Arm CCA attestation token.")
    ap.add_argument("token", help="raw CBOR token file, or - for stdin")
    ap.add_argument("--challenge", help="expected realm challenge (hex, <= 64 bytes)")
    ap.add_argument("--platform-jwk", help="platform public key as a JWK file")
    ap.add_argument("--trust-anchors", help="Trustee-style trust anchor JSON array")
    a = ap.parse_args(argv[1:])
    try:
        challenge = bytes.fromhex(a.challenge) if a.challenge is not None else None
        if challenge is not None and len(challenge) > 64:
            raise ValueError("challenge longer than 64 bytes")
        pk = key_from_jwk(json.load(open(a.platform_jwk))) if a.platform_jwk else None
        tas = json.load(open(a.trust_anchors)) if a.trust_anchors else None
        if tas is not None and not isinstance(tas, list):
            raise ValueError("trust anchors must be a JSON array")
        raw = sys.stdin.buffer.read() if a.token == "-" else open(a.token, "rb").read()
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("cca_verify: bad arguments: %s\n" % e)
        return 2
    try:
        res = verify(raw, challenge, pk, tas)
    except Undecodable as e:
        print(json.dumps({"ok": False, "errors": [str(e)]}, indent=2))
        sys.stderr.write("cca_verify: undecodable: %s\n" % e)
        return 2
    print(json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
