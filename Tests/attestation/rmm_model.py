#!/usr/bin/env python3
"""Independent model of Arm RMM realm measurement (RIM and REMs).

Written from the public specification (Arm DEN0137, RMM) and checked against
the layouts in TF-RMM; it shares no code with Fasco.  Facts used and where
they were read (TF-RMM main, 2026):

  * lib/smc/include/smc-rmi.h  struct rmi_realm_params: flags0 u64 @0x00,
    s2sz @0x08, sve_vl @0x10, num_bps @0x18, num_wps @0x20, pmu_num_ctrs @0x28
    (declared as u32 slots; values are < 256 so the bytes equal a u8 write),
    hash algorithm u8 @0x30; struct is 0x1000 bytes.  struct rmi_rec_params:
    flags u64 @0x000, mpidr @0x100 (not measured), pc u64 @0x200,
    gprs[8] u64 @0x300; 0x1000 bytes.  RMI_HASH_SHA_256 = 0, RMI_HASH_SHA_512
    = 1 (and RMI_HASH_SHA_384 = 2 in RMM 2.0; accepted here, named "sha-384").
  * app/attestation/rmm_stub/src/rim.c: RIM init = H(zeroed RmiRealmParams with
    only flags0, s2sz, sve_vl, num_bps, num_wps, pmu_num_ctrs, algorithm
    copied); DATA descriptor content = H(granule) only when flags ==
    RMI_MEASURE_CONTENT (1); REC descriptor content = H(zeroed RmiRecParams
    with flags, pc, gprs copied); the current RIM is copied into the
    descriptor's 64-byte slot for digest-size bytes only; RIM = H(descriptor).
  * app/attestation/rmm_stub/src/measurement_descs.h: descriptor layouts
    (type u8 @0, len u64 @8 = 0x100, rim[64] @0x10, DATA: ipa @0x50,
    flags @0x58, content[64] @0x60; REC: content[64] @0x50).
  * runtime/rmi/rec.c: the REC is measured only when flags & RUNNABLE (bit 0).
  * app/attestation/el0_app/src/attest_measurement.c app_do_extend():
    REM = H(current[0:digest size] || value) (no padding of value).
  * runtime/rsi/realm_attest.c: index 0 (RIM) refused; value <= 64 bytes.
  RMM 2.0 no longer measures RIPAS, so there is no RIPAS op.

Known answers (selftest): veraison/cca-realm-measurements src/realm_config.rs
test_rim -- RmiRealmParams with s2sz 48, raw num_bps 1, raw num_wps 1 (that
test sets 2/2 and its realm.rs stores count-1), everything else 0.
No simpler published DATA/REC vectors were found: veraison's tests/cmdline.rs
vectors are end-to-end VMM layouts that include RMM 1.0 RIPAS descriptors,
and TF-RMM has no unit vectors for rim.c.  The selftest therefore also checks
descriptor layout invariants computed by hand below.

Usage:
  rmm_model.py replay LOGFILE|-     exit 0 match, 1 mismatch, 2 malformed input
  rmm_model.py selftest             exit 0 ok, 1 failure
"""
import base64
import binascii
import hashlib
import json
import struct
import sys

GRANULE = 4096
DESC_LEN = 0x100
HASHES = {0: ("sha-256", hashlib.sha256), 1: ("sha-512", hashlib.sha512),
          2: ("sha-384", hashlib.sha384)}
NAME_TO_ID = {name: i for i, (name, _) in HASHES.items()}


class Malformed(Exception):
    pass


def _u64(buf, off, value):
    struct.pack_into("<Q", buf, off, value)


def _slot(digest):
    """A 64-byte measurement slot: digest first, zero padded."""
    return digest + bytes(64 - len(digest))


class Realm:
    def __init__(self, params):
        algo = params["hash_algo"]
        if algo not in HASHES:
            raise Malformed("unsupported hash_algo %r" % algo)
        self.algo = algo
        self.name, self._h = HASHES[algo]
        self.rim = self.hash(realm_params_bytes(params))
        self.rems = [bytes(self.size) for _ in range(4)]

    @property
    def size(self):
        return self._h().digest_size

    def hash(self, data):
        return self._h(data).digest()

    def _descriptor(self, desc_type):
        d = bytearray(DESC_LEN)
        d[0] = desc_type
        _u64(d, 0x08, DESC_LEN)
        d[0x10:0x50] = _slot(self.rim)
        return d

    def data_create(self, ipa, flags, granule):
        d = self._descriptor(0)
        _u64(d, 0x50, ipa)
        _u64(d, 0x58, flags)
        if flags == 1:
            d[0x60:0xa0] = _slot(self.hash(granule))
        assert len(d) == DESC_LEN
        self.rim = self.hash(bytes(d))

    def rec_create(self, flags, pc, gprs):
        if not flags & 1:           # not runnable: RMM does not measure it
            return
        p = bytearray(GRANULE)
        _u64(p, 0x000, flags)
        _u64(p, 0x200, pc)
        for i, g in enumerate(gprs):
            _u64(p, 0x300 + 8 * i, g)
        d = self._descriptor(1)
        d[0x50:0x90] = _slot(self.hash(bytes(p)))
        assert len(d) == DESC_LEN
        self.rim = self.hash(bytes(d))

    def extend(self, index, value):
        self.rems[index - 1] = self.hash(self.rems[index - 1] + value)


def realm_params_bytes(p):
    b = bytearray(GRANULE)
    _u64(b, 0x00, p["flags"])
    for off, key in ((0x08, "s2sz"), (0x10, "sve_vl"), (0x18, "num_bps"),
                     (0x20, "num_wps"), (0x28, "pmu_num_ctrs"), (0x30, "hash_algo")):
        b[off] = p[key]
    return bytes(b)


# ---- input validation -------------------------------------------------------

def _int(v, what, bits=64):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < (1 << bits):
        raise Malformed("%s must be an integer in [0, 2^%d)" % (what, bits))
    return v


def _b64(v, what):
    if not isinstance(v, str):
        raise Malformed("%s must be base64 text" % what)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Malformed("%s: bad base64 (%s)" % (what, e))


def _hex(v, what):
    if not isinstance(v, str):
        raise Malformed("%s must be hex text" % what)
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise Malformed("%s: bad hex" % what)


def replay(doc):
    """Replay a measurement log; returns (result dict, matches)."""
    if not isinstance(doc, dict):
        raise Malformed("top level must be a JSON object")
    for k in ("hash_algorithm", "rim", "rems", "log"):
        if k not in doc:
            raise Malformed("missing key %r" % k)
    if doc["hash_algorithm"] not in NAME_TO_ID:
        raise Malformed("hash_algorithm must be one of %s" % sorted(NAME_TO_ID))
    rems_in = doc["rems"]
    if not isinstance(rems_in, list) or len(rems_in) != 4:
        raise Malformed("rems must be an array of 4 hex strings")
    reported_rim = _hex(doc["rim"], "rim")
    reported_rems = [_hex(r, "rems[%d]" % i) for i, r in enumerate(rems_in)]
    if "personalization_value" in doc:
        if len(_hex(doc["personalization_value"], "personalization_value")) > 64:
            raise Malformed("personalization_value is longer than 64 bytes")
    log = doc["log"]
    if not isinstance(log, list) or not log:
        raise Malformed("log must be a non-empty array")

    realm = None
    for n, e in enumerate(log):
        where = "log[%d]" % n
        if not isinstance(e, dict) or "op" not in e:
            raise Malformed("%s: entry must be an object with 'op'" % where)
        op = e["op"]
        if n == 0 and op != "realm-create":
            raise Malformed("%s: the first entry must be realm-create" % where)
        if op == "realm-create":
            if realm is not None:
                raise Malformed("%s: realm-create may appear only once" % where)
            p = e.get("params")
            if not isinstance(p, dict):
                raise Malformed("%s: params must be an object" % where)
            params = {"flags": _int(p.get("flags"), where + ".params.flags")}
            for k in ("s2sz", "sve_vl", "num_bps", "num_wps", "pmu_num_ctrs", "hash_algo"):
                params[k] = _int(p.get(k), "%s.params.%s" % (where, k), 8)
            if params["hash_algo"] not in HASHES:
                raise Malformed("%s: params.hash_algo %d is not 0 (sha-256), 1 (sha-512) or 2 (sha-384)"
                                % (where, params["hash_algo"]))
            if NAME_TO_ID[doc["hash_algorithm"]] != params["hash_algo"]:
                raise Malformed("%s: hash_algorithm %r disagrees with params.hash_algo %d"
                                % (where, doc["hash_algorithm"], params["hash_algo"]))
            realm = Realm(params)
        elif op == "data-create":
            ipa = _int(e.get("ipa"), where + ".ipa")
            if ipa % GRANULE:
                raise Malformed("%s: ipa 0x%x is not granule aligned" % (where, ipa))
            flags = e.get("flags")
            if flags not in (0, 1) or isinstance(flags, bool):
                raise Malformed("%s: flags must be 0 or 1" % where)
            content = _b64(e.get("content"), where + ".content")
            if len(content) != GRANULE:
                raise Malformed("%s: content is %d bytes, a granule is exactly 4096"
                                % (where, len(content)))
            realm.data_create(ipa, flags, content)
        elif op == "rec-create":
            flags = _int(e.get("flags"), where + ".flags")
            pc = _int(e.get("pc"), where + ".pc")
            gprs = e.get("gprs")
            if not isinstance(gprs, list) or len(gprs) != 8:
                raise Malformed("%s: gprs must be an array of 8 integers" % where)
            gprs = [_int(g, "%s.gprs[%d]" % (where, i)) for i, g in enumerate(gprs)]
            realm.rec_create(flags, pc, gprs)
        elif op == "measurement-extend":
            index = e.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= 4:
                raise Malformed("%s: index must be 1..4 (0 is the RIM)" % where)
            value = _b64(e.get("value"), where + ".value")
            if len(value) > 64:
                raise Malformed("%s: value is %d bytes, at most 64 allowed" % (where, len(value)))
            realm.extend(index, value)
        else:
            raise Malformed("%s: unknown op %r" % (where, op))

    mismatches = []
    if reported_rim != realm.rim:
        mismatches.append({"what": "rim", "reported": reported_rim.hex(), "computed": realm.rim.hex()})
    for i in range(4):
        if reported_rems[i] != realm.rems[i]:
            mismatches.append({"what": "rems[%d]" % i, "reported": reported_rems[i].hex(),
                               "computed": realm.rems[i].hex()})
    result = {"rim": realm.rim.hex(), "rems": [r.hex() for r in realm.rems],
              "matches": not mismatches, "mismatches": mismatches}
    return result, not mismatches


# ---- selftest ---------------------------------------------------------------

KNOWN_RIM_INIT = {
    # veraison/cca-realm-measurements src/realm_config.rs, test_rim
    0: "6739dfb22b75ee1268d08dfa8369f501bc0b066243553f069f560d1fa1172973",
    1: "799e434048fb57eb9d4f0e2a2b98158720377252deab2bdfcd69b5a8f82237f4"
       "34bd6bb1c75bf160a2d49382f733b3439a3ff769e4ea5dd9a6f72239d44bbbab",
}


def selftest():
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    base = {"flags": 0, "s2sz": 48, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0}
    for algo, want in KNOWN_RIM_INIT.items():
        r = Realm(dict(base, hash_algo=algo))
        check(r.rim.hex() == want, "RIM init known answer, hash_algo %d" % algo)

    # Hand-built descriptor checks (independent of the Realm class).
    granule = bytes(range(256)) * 16
    rim0 = bytes.fromhex(KNOWN_RIM_INIT[0])
    desc = (bytes([0]) + bytes(7) + DESC_LEN.to_bytes(8, "little") + rim0 + bytes(32)
            + (0x80000000).to_bytes(8, "little") + (1).to_bytes(8, "little")
            + hashlib.sha256(granule).digest() + bytes(32) + bytes(0x60))
    r = Realm(dict(base, hash_algo=0))
    r.data_create(0x80000000, 1, granule)
    check(len(desc) == DESC_LEN and r.rim == hashlib.sha256(desc).digest(),
          "DATA descriptor (measured) layout")
    r = Realm(dict(base, hash_algo=0))
    r.data_create(0x80001000, 0, granule)
    desc_u = desc[:0x50] + (0x80001000).to_bytes(8, "little") + bytes(8) + bytes(0xa0)
    check(r.rim == hashlib.sha256(desc_u).digest(), "DATA descriptor (unmeasured) layout")
    recp = bytearray(GRANULE)
    recp[0] = 1
    recp[0x200:0x208] = (0x80000000).to_bytes(8, "little")
    recp[0x300:0x308] = (0x88000000).to_bytes(8, "little")
    rdesc = (bytes([1]) + bytes(7) + DESC_LEN.to_bytes(8, "little") + rim0 + bytes(32)
             + hashlib.sha256(bytes(recp)).digest() + bytes(32) + bytes(0x70))
    r = Realm(dict(base, hash_algo=0))
    r.rec_create(1, 0x80000000, [0x88000000] + [0] * 7)
    check(len(rdesc) == DESC_LEN and r.rim == hashlib.sha256(rdesc).digest(), "REC descriptor layout")
    r.rec_create(0, 0x80000000, [0] * 8)
    check(r.rim == hashlib.sha256(rdesc).digest(), "non-runnable REC is not measured")
    r = Realm(dict(base, hash_algo=1))
    r.extend(2, b"abc")
    check(r.rems[1] == hashlib.sha512(bytes(64) + b"abc").digest() and r.rems[0] == bytes(64),
          "REM extend sha-512")

    # End-to-end through replay(), including refusals.
    b64 = lambda b: base64.b64encode(b).decode()
    r = Realm(dict(base, hash_algo=0))
    r.data_create(0x80000000, 1, granule)
    r.rec_create(1, 0x80000000, [0x88000000] + [0] * 7)
    r.extend(1, b"x" * 64)
    doc = {"hash_algorithm": "sha-256", "rim": r.rim.hex(), "rems": [x.hex() for x in r.rems],
           "personalization_value": "00" * 64,
           "log": [{"op": "realm-create", "params": dict(base, hash_algo=0)},
                   {"op": "data-create", "ipa": 0x80000000, "flags": 1, "content": b64(granule), "what": "k"},
                   {"op": "rec-create", "flags": 1, "pc": 0x80000000, "gprs": [0x88000000] + [0] * 7},
                   {"op": "measurement-extend", "index": 1, "value": b64(b"x" * 64), "what": "t"}]}
    check(replay(doc)[1], "replay matches")
    bad = json.loads(json.dumps(doc))
    bad["rems"][3] = "11" * 32
    res, ok = replay(bad)
    check(not ok and res["mismatches"][0]["what"] == "rems[3]", "replay reports a mismatch")

    def refused(mutate, what):
        d = json.loads(json.dumps(doc))
        mutate(d)
        try:
            replay(d)
        except Malformed:
            check(True, "refused: " + what)
            return
        check(False, "refused: " + what)

    refused(lambda d: d["log"][3].update(index=0), "extend index 0")
    refused(lambda d: d["log"][3].update(index=5), "extend index 5")
    refused(lambda d: d["log"][3].update(value=b64(b"x" * 65)), "extend value of 65 bytes")
    refused(lambda d: d["log"][1].update(content=b64(granule[:4095])), "granule of 4095 bytes")
    refused(lambda d: d["log"].pop(0), "log not starting with realm-create")
    refused(lambda d: d.update(hash_algorithm="sha-512"), "hash_algorithm disagreeing with params")
    refused(lambda d: d["log"][0]["params"].update(hash_algo=7), "unknown hash_algo")

    print("selftest: %s" % ("FAILED (%d)" % len(failures) if failures else "passed"))
    return 0 if not failures else 1


def main(argv):
    if len(argv) == 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) != 3 or argv[1] != "replay":
        sys.stderr.write("usage: rmm_model.py replay LOGFILE|- | rmm_model.py selftest\n")
        return 2
    try:
        text = sys.stdin.read() if argv[2] == "-" else open(argv[2]).read()
        doc = json.loads(text)
        result, ok = replay(doc)
    except (OSError, ValueError, Malformed) as e:
        sys.stderr.write("rmm_model: malformed input: %s\n" % e)
        return 2
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
