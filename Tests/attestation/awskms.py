#!/usr/bin/env python3
"""A small local stand-in for AWS KMS (Encrypt, Decrypt) and AWS Secrets Manager (GetSecretValue),
written for Fasco's tests from public documentation only, sharing no code with Fasco:
  - AWS Signature Version 4, "Create a signed AWS API request" (canonical request, string to sign,
    signing key) and the published sig-v4 test-suite vectors (checked by `selftest`);
  - AWS KMS API Reference, Decrypt and Encrypt; AWS Secrets Manager API Reference, GetSecretValue;
  - the AWS JSON 1.1 protocol and its errors ({"__type", "message"}, x-amzn-ErrorType) and the
    services' "Common Errors" pages for HTTP statuses;
  - Confidential Containers guest-components confidential-data-hub/docs/SEALED_SECRET.md and
    docs/kms-providers/aws.md (envelope and vault sealed secrets, provider "aws").

    awskms.py serve --port P --state STATE.json [--log LOG] [--ready FILE]
    awskms.py seal-envelope --signing-key PEM --kid KID --state STATE.json --key-id K --region R
                            [--context k=v ...] [--wrap A256GCM|A256CTR] (--plaintext T | --plaintext-file F)
    awskms.py seal-vault --signing-key PEM --kid KID --name N --region R [--version-id V] [--version-stage S]
    awskms.py credential --access-key AKID --secret S [--session-token T]
    awskms.py selftest

STATE.json (re-read on every request) is {"region", "credentials": {AKID: {"secret", "session_token"}},
"keys": {ID: {"material": 64 hex, "allowed": [AKID], "enabled", "aliases": ["alias/x"]}},
"secrets": {NAME: {"string" | "binary": b64, "allowed": [AKID]}}, "fail_next"?: N, "down"?: bool}.
KMS ciphertext blobs are opaque to clients; this peer's are
b"FKMS\\x01" | len(key id) | key id | 12-byte nonce | AES-256-GCM(key, plaintext, aad=canonical JSON context).
"""
import argparse, base64, datetime, hashlib, hmac, http.client, http.server, json, os, secrets, sys, tempfile
import threading, urllib.parse, uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sealing import compact, load_signing_key, opened, seal  # noqa: E402  (the suite's sealed-secret form)

ACCOUNT = "111122223333"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60
BLOB_MAGIC = b"FKMS\x01"
CREATED = 1700000000.0
JSON_TYPE = "application/x-amz-json-1.1"
SERVICES = {"TrentService": "kms", "secretsmanager": "secretsmanager"}
# AWS's JSON-protocol errors are HTTP 400 unless documented otherwise: the Common Errors pages give
# MissingAuthenticationToken 403, ServiceUnavailable 503, and the internal failures 500.
STATUS = {"MissingAuthenticationTokenException": 403, "ServiceUnavailableException": 503,
          "KMSInternalException": 500, "InternalServiceError": 500, "InternalFailure": 500}
STATE_LOCK, LOG_LOCK = threading.Lock(), threading.Lock()


class AwsError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name, self.message, self.status = name, message, STATUS.get(name, 400)


# ---- Signature Version 4 -------------------------------------------------------------------------

def uri_encode(s):
    # SigV4 UriEncode: RFC 3986 unreserved characters kept, everything else %XX in upper-case hex.
    return urllib.parse.quote(s, safe="-_.~")


def canonical_uri(path):
    # Services other than S3 encode each segment of the (already encoded) request path once more.
    return "/".join(uri_encode(seg) for seg in path.split("/")) or "/"


def canonical_query(raw):
    pairs = []
    for part in (p for p in raw.split("&") if p):
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
    return "&".join(k + "=" + v for k, v in sorted(pairs))


def string_to_sign(method, path, query, headers, signed, body, amz_date, scope):
    """headers: {lower-case name: [values]}; signed: the sorted lower-case names that are signed."""
    canon_headers = "".join("%s:%s\n" % (h, ",".join(" ".join(v.split()) for v in headers[h])) for h in signed)
    canon = "\n".join([method, canonical_uri(path), canonical_query(query), canon_headers, ";".join(signed),
                       hashlib.sha256(body).hexdigest()])
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])


def signature(secret, date, region, service, sts):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def sign(akid, secret, token, region, service, method, path, query, headers, body, amz_date=None):
    """A SigV4 signer (selftest and smoke clients only). Returns the headers to send, signing all of them."""
    amz_date = amz_date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = dict(headers, **{"X-Amz-Date": amz_date}, **({"X-Amz-Security-Token": token} if token else {}))
    lower = {k.lower(): [v] for k, v in out.items()}
    signed = sorted(lower)
    scope = "/".join([amz_date[:8], region, service, "aws4_request"])
    sig = signature(secret, amz_date[:8], region, service,
                    string_to_sign(method, path, query, lower, signed, body, amz_date, scope))
    out["Authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, akid, scope, ";".join(signed), sig)
    return out


def parse_authorization(value):
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        raise AwsError("IncompleteSignatureException", "Unsupported AWS 'algorithm': '%s'" % algo)
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(k):
            raise AwsError("IncompleteSignatureException", "Authorization header requires '%s' parameter." % k)
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not all(cred):
        raise AwsError("IncompleteSignatureException",
                       "Credential must have the form <key>/<yyyymmdd>/<region>/<service>/aws4_request")
    return cred[:4], fields["SignedHeaders"].split(";"), fields["Signature"]


def verify(state, method, path, query, headers, body, service):
    """Checks a request's SigV4 Authorization strictly; returns the access key id or raises AwsError."""
    (akid, date, region, scope_service), signed, sig = parse_authorization(headers["authorization"][0])
    cred = state.get("credentials", {}).get(akid)
    if cred is None:
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    token = cred.get("session_token")
    sent_token = headers.get("x-amz-security-token", [None])[0]
    if (sent_token or None) != (token or None):
        raise AwsError("UnrecognizedClientException", "The security token included in the request is "
                       + ("missing." if sent_token is None else "invalid."))
    if signed != sorted(set(signed)) or any(h != h.lower() or not h for h in signed):
        raise AwsError("IncompleteSignatureException", "SignedHeaders must be lower-case, sorted and unique.")
    # Real SDKs sign x-amz-target and content-type as well; a client that does not is refused here.
    for h in ["host", "x-amz-date", "x-amz-target", "content-type"] + (["x-amz-security-token"] if token else []):
        if h not in signed:
            raise AwsError("IncompleteSignatureException", "'%s' must be a 'SignedHeader' in the AWS Authorization." % h)
    for h in signed:
        if h not in headers:
            raise AwsError("InvalidSignatureException", "Signed header '%s' is not in the request." % h)
    amz_date = headers["x-amz-date"][0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AwsError("IncompleteSignatureException", "X-Amz-Date must be in ISO-8601 basic format YYYYMMDDTHHMMSSZ.")
    if region != state["region"]:
        raise AwsError("InvalidSignatureException", "Credential should be scoped to a valid region, not '%s'." % region)
    if scope_service != service:
        raise AwsError("InvalidSignatureException", "Credential should be scoped to correct service: '%s'." % service)
    if date != amz_date[:8]:
        raise AwsError("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from "
                       "ISO-8601 version of date from HTTP: '%s' != '%s'" % (date, amz_date[:8]))
    skew = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    if abs(skew) > MAX_SKEW:
        raise AwsError("InvalidSignatureException", "Signature %s: %s is more than 15 minutes from now."
                       % ("not yet current" if skew > 0 else "expired", amz_date))
    scope = "/".join([date, region, scope_service, "aws4_request"])
    want = signature(cred["secret"], date, region, scope_service,
                     string_to_sign(method, path, query, headers, signed, body, amz_date, scope))
    if not hmac.compare_digest(want.encode(), sig.encode()):
        raise AwsError("InvalidSignatureException", "The request signature we calculated does not match the "
                       "signature you provided. Check your AWS Secret Access Key and signing method.")
    return akid


# ---- KMS and Secrets Manager ---------------------------------------------------------------------

def key_arn(state, kid):
    return "arn:aws:kms:%s:%s:key/%s" % (state["region"], ACCOUNT, kid)


def resolve_key(state, key_id):
    """A bare key id, alias/<name>, or a key or alias ARN in account 111122223333 -> (id, key)."""
    keys, ref = state.get("keys", {}), key_id
    if ref.startswith("arn:"):
        prefix = "arn:aws:kms:%s:%s:" % (state["region"], ACCOUNT)
        ref = ref[len(prefix):] if ref.startswith(prefix) else ""
        ref = ref[4:] if ref.startswith("key/") else ref if ref.startswith("alias/") else ""
    for kid, key in keys.items():
        if ref and (ref == kid or (ref.startswith("alias/") and ref in key.get("aliases", []))):
            return kid, key
    raise AwsError("NotFoundException", "Key '%s' does not exist" % key_id)


def usable_key(state, akid, key_id, action):
    kid, key = resolve_key(state, key_id)
    if akid not in key.get("allowed", []):
        raise AwsError("AccessDeniedException", "User: arn:aws:iam::%s:user/%s is not authorized to perform: kms:%s "
                       "on resource: %s" % (ACCOUNT, akid, action, key_arn(state, kid)))
    if not key.get("enabled", True):
        raise AwsError("DisabledException", "%s is disabled." % key_arn(state, kid))
    return kid, bytes.fromhex(key["material"])


def field(req, name, kind, required=False):
    v = req.get(name)
    if v is None and required:
        raise AwsError("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy "
                       "constraint: Member must not be null" % name)
    if v is not None and not isinstance(v, kind):
        raise AwsError("SerializationException", "'%s' has the wrong type" % name)
    return v


def blob_field(req, name, lo, hi):
    try:
        v = base64.b64decode(field(req, name, str, True), validate=True)
    except ValueError:
        raise AwsError("SerializationException", "'%s' is not valid base64" % name)
    if not lo <= len(v) <= hi:
        raise AwsError("ValidationException", "'%s' must be %d to %d bytes long" % (name, lo, hi))
    return v


def context_field(req):
    ctx = field(req, "EncryptionContext", dict) or {}
    if not all(isinstance(v, str) for v in ctx.values()):
        raise AwsError("SerializationException", "EncryptionContext values must be strings")
    return ctx


def check_algorithm(req):
    if field(req, "EncryptionAlgorithm", str) not in (None, "SYMMETRIC_DEFAULT"):
        raise AwsError("InvalidKeyUsageException", "Only SYMMETRIC_DEFAULT is supported by symmetric keys.")


def wrap(kid, material, plaintext, context):
    nonce, kb = secrets.token_bytes(12), kid.encode()
    return BLOB_MAGIC + bytes([len(kb)]) + kb + nonce + AESGCM(material).encrypt(nonce, plaintext, compact(context).encode())


def op_encrypt(state, akid, req):
    kid, material = usable_key(state, akid, field(req, "KeyId", str, True), "Encrypt")
    plaintext, ctx = blob_field(req, "Plaintext", 1, 4096), context_field(req)
    check_algorithm(req)
    blob = wrap(kid, material, plaintext, ctx)
    return kid, {"KeyId": key_arn(state, kid), "CiphertextBlob": base64.b64encode(blob).decode(),
                 "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def op_decrypt(state, akid, req):
    blob, ctx = blob_field(req, "CiphertextBlob", 1, 6144), context_field(req)
    check_algorithm(req)
    if not blob.startswith(BLOB_MAGIC) or len(blob) < 6 + blob[5] + 12 + 16:
        raise AwsError("InvalidCiphertextException", "The ciphertext is not a KMS ciphertext blob.")
    n = blob[5]
    blob_kid = blob[6:6 + n].decode(errors="replace")
    if field(req, "KeyId", str) is not None:
        kid, _ = usable_key(state, akid, req["KeyId"], "Decrypt")
        if kid != blob_kid:
            raise AwsError("IncorrectKeyException", "The key ID in the request does not identify a KMS key "
                           "that can perform this operation.")
    kid, material = usable_key(state, akid, blob_kid, "Decrypt")
    try:
        plaintext = AESGCM(material).decrypt(blob[6 + n:18 + n], blob[18 + n:], compact(ctx).encode())
    except InvalidTag:
        raise AwsError("InvalidCiphertextException", "The ciphertext or its encryption context is not valid.")
    return kid, {"KeyId": key_arn(state, kid), "Plaintext": base64.b64encode(plaintext).decode(),
                 "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def secret_arn(state, name):
    # Real ARNs end in "-" and six random characters; here they are derived from the name.
    return "arn:aws:secretsmanager:%s:%s:secret:%s-%s" % (state["region"], ACCOUNT, name,
                                                          hashlib.sha256(name.encode()).hexdigest()[:6])


def op_get_secret(state, akid, req):
    sid = field(req, "SecretId", str, True)
    vid, stage = field(req, "VersionId", str), field(req, "VersionStage", str)
    if vid == "" or stage == "":
        raise AwsError("ValidationException", "VersionId and VersionStage must not be empty when present")
    found = state.get("secrets", {})
    name = next((n for n in found if sid in (n, secret_arn(state, n), secret_arn(state, n)[:-7])), None)
    if name is None:
        raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    if akid not in found[name].get("allowed", []):
        raise AwsError("AccessDeniedException", "User: arn:aws:iam::%s:user/%s is not authorized to perform: "
                       "secretsmanager:GetSecretValue on resource: %s" % (ACCOUNT, akid, sid))
    if vid not in (None, "v1") or stage not in (None, "AWSCURRENT"):
        raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for "
                       + ("VersionId: %s" % vid if vid not in (None, "v1") else "staging label: %s" % stage))
    out = {"ARN": secret_arn(state, name), "Name": name, "VersionId": "v1", "VersionStages": ["AWSCURRENT"],
           "CreatedDate": CREATED}
    if "string" in found[name]:
        out["SecretString"] = found[name]["string"]
    else:
        out["SecretBinary"] = found[name]["binary"]
    return name, out


OPERATIONS = {"TrentService.Decrypt": op_decrypt, "TrentService.Encrypt": op_encrypt,
              "secretsmanager.GetSecretValue": op_get_secret}


def take_state(path):
    """Reads the state file; consumes one "fail_next" (rewriting the file) when it is set."""
    with STATE_LOCK:
        with open(path) as f:
            state = json.load(f)
        if int(state.get("fail_next") or 0) > 0:
            state["fail_next"] = int(state["fail_next"]) - 1
            with open(path + ".tmp", "w") as f:
                json.dump(state, f, indent=1)
            os.replace(path + ".tmp", path)
            raise AwsError("ServiceUnavailableException", "The service is unavailable; try again.")
    return state


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each answer waits for the
    # client's delayed ACK (about 40 ms), which would be the peer's cost, not the client's.
    disable_nagle_algorithm = True
    state_path = log_path = None

    def log_message(self, *a):
        pass

    def log(self, line):
        if self.log_path:
            with LOG_LOCK, open(self.log_path, "a") as f:
                f.write(line + "\n")
                f.flush()

    def reply(self, status, obj, error=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        target = headers.get("x-amz-target", [""])[0].strip()
        service = SERVICES.get(target.partition(".")[0])
        op = target.partition(".")[2] or "-"
        akid = headers.get("authorization", [""])[0].partition("Credential=")[2].split("/")[0] or "-"  # for the log
        try:
            state = take_state(self.state_path)
            if state.get("down"):
                raise AwsError("InternalServiceError" if service == "secretsmanager" else "KMSInternalException",
                               "The request failed because of an internal error.")
            if "authorization" not in headers:
                raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
            akid = parse_authorization(headers["authorization"][0])[0][0]
            if service is None:
                raise AwsError("UnknownOperationException", "Unknown operation '%s'" % target)
            url = urllib.parse.urlsplit(self.path)
            verify(state, self.command, url.path, url.query, headers, body, service)
            if target not in OPERATIONS or self.command != "POST" or url.path != "/":
                raise AwsError("UnknownOperationException", "Unknown operation '%s'" % target)
            if headers["content-type"][0].split(";")[0].strip() != JSON_TYPE:
                raise AwsError("SerializationException", "Content-Type must be " + JSON_TYPE)
            try:
                req = json.loads(body)
            except ValueError:
                req = None
            if not isinstance(req, dict):
                raise AwsError("SerializationException", "The request body is not a JSON object.")
            name, result = OPERATIONS[target](state, akid, req)
        except Exception as e:  # a bug here, or an unreadable state file, is an InternalFailure, not a hang
            if not isinstance(e, AwsError):
                e = AwsError("InternalFailure", "%s: %s" % (type(e).__name__, e))
            self.log("%s refused %s by=%s: %s" % (op, e.name, akid, e.message))
            return self.reply(e.status, {"__type": e.name, "message": e.message}, e.name)
        self.log("%s ok key=%s by=%s" % (op, name, akid))
        self.reply(200, result)

    do_GET = do_PUT = do_DELETE = do_POST  # signed like any request, then refused as unknown operations


# ---- sealing tools -------------------------------------------------------------------------------

def seal_envelope(signing_key, kid, state, key_id, region, context, wrap_type, plaintext):
    key_kid, key = resolve_key(state, key_id)
    dek = secrets.token_bytes(32)
    if wrap_type == "A256GCM":
        iv = secrets.token_bytes(12)
        data = AESGCM(dek).encrypt(iv, plaintext, None)  # ciphertext || 16-byte tag
    else:
        iv = secrets.token_bytes(16)  # the whole IV is the initial counter block
        enc = Cipher(algorithms.AES(dek), modes.CTR(iv)).encryptor()
        data = enc.update(plaintext) + enc.finalize()
    blob = wrap(key_kid, bytes.fromhex(key["material"]), dek, context)
    return seal(signing_key, kid, {
        "version": "0.1.0", "type": "envelope", "key_id": key_id, "encrypted_key": base64.b64encode(blob).decode(),
        "encrypted_data": base64.b64encode(data).decode(), "wrap_type": wrap_type, "iv": base64.b64encode(iv).decode(),
        "provider": "aws", "provider_settings": {"region": region},
        "annotations": {"encryption_context": context} if context else {}})


# ---- selftest ------------------------------------------------------------------------------------

def selftest():
    failures = []

    def check(name, ok):
        print(("ok    " if ok else "FAIL  ") + name)
        if not ok:
            failures.append(name)

    # AWS sig-v4 test suite: AKIDEXAMPLE, us-east-1, service "service", example.amazonaws.com.
    for name, method, query, want in [
            ("get-vanilla", "GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            ("get-vanilla-query-order-key-case", "GET", "Param2=value2&Param1=value1",
             "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            ("post-vanilla", "POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")]:
        hdrs = {"host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
        sts = string_to_sign(method, "/", query, hdrs, ["host", "x-amz-date"], b"", "20150830T123600Z",
                             "20150830/us-east-1/service/aws4_request")
        check("sigv4 " + name, signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1",
                                         "service", sts) == want)

    def refused(name, fn, *a):
        try:
            fn(*a)
        except AwsError as e:
            return e.name == name
        return False

    kid, other = "1234abcd-12ab-34cd-56ef-1234567890ab", "0987dcba-09fe-87dc-65ba-ab0987654321"
    state = {"region": "us-east-1", "credentials": {"AKIDTEST": {"secret": "s3cret", "session_token": None}},
             "keys": {kid: {"material": secrets.token_hex(32), "allowed": ["AKIDTEST"], "aliases": ["alias/coco"]},
                      other: {"material": secrets.token_hex(32), "allowed": ["AKIDTEST"]}}, "secrets": {}}
    signing = ec.generate_private_key(ec.SECP256R1())
    for wrap_type in ("A256GCM", "A256CTR"):
        sealed = seal_envelope(signing, "kbs:///default/signing/key", state, "alias/coco", "us-east-1",
                               {"app": "db"}, wrap_type, b"top secret")
        p = opened(sealed, signing.public_key())
        check(wrap_type + " JWS signature", p is not None)
        req = {"CiphertextBlob": p["encrypted_key"], "EncryptionContext": p["annotations"]["encryption_context"]}
        dek = base64.b64decode(op_decrypt(state, "AKIDTEST", req)[1]["Plaintext"])
        iv, data = base64.b64decode(p["iv"]), base64.b64decode(p["encrypted_data"])
        if wrap_type == "A256GCM":
            plain = AESGCM(dek).decrypt(iv, data, None)
        else:
            dec = Cipher(algorithms.AES(dek), modes.CTR(iv)).decryptor()
            plain = dec.update(data) + dec.finalize()
        check(wrap_type + " envelope round trip", plain == b"top secret")
        check(wrap_type + " wrong context refused", refused("InvalidCiphertextException", op_decrypt, state, "AKIDTEST",
                                                            dict(req, EncryptionContext={"app": "web"})))
        check(wrap_type + " other KeyId refused", refused("IncorrectKeyException", op_decrypt, state, "AKIDTEST",
                                                          dict(req, KeyId=other)))

    # Over HTTP, through the SigV4 verifier: one signed Decrypt, and the same request with its body changed.
    tmp = tempfile.mkdtemp()
    Handler.state_path = os.path.join(tmp, "state.json")
    with open(Handler.state_path, "w") as f:
        json.dump(state, f)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = "127.0.0.1:%d" % server.server_address[1]
    blob = op_encrypt(state, "AKIDTEST", {"KeyId": "arn:aws:kms:us-east-1:%s:alias/coco" % ACCOUNT,
                                          "Plaintext": base64.b64encode(b"dek").decode()})[1]["CiphertextBlob"]
    body = json.dumps({"CiphertextBlob": blob}).encode()
    hdrs = sign("AKIDTEST", "s3cret", None, "us-east-1", "kms", "POST", "/", "", {
        "Host": host, "Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.Decrypt"}, body)
    for name, sent, want in [("signed Decrypt over HTTP", body, 200), ("tampered body refused", body + b" ", 400)]:
        conn = http.client.HTTPConnection(host)
        conn.request("POST", "/", sent, hdrs)
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        check(name, resp.status == want and (answer.get("Plaintext") == base64.b64encode(b"dek").decode()
                                             if want == 200 else answer["__type"] == "InvalidSignatureException"))
    server.shutdown()
    os.remove(Handler.state_path)
    os.rmdir(tmp)
    print("all passed" if not failures else "failed: " + ", ".join(failures))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)

    def command(name, *options):  # "--x" is required, "--x?" optional
        p = sub.add_parser(name)
        for o in options:
            p.add_argument(o.rstrip("?"), required=not o.endswith("?"))
        return p

    command("serve", "--port", "--state", "--log?", "--ready?")
    command("seal-vault", "--signing-key", "--kid", "--name", "--region", "--version-id?", "--version-stage?")
    env = command("seal-envelope", "--signing-key", "--kid", "--state", "--key-id", "--region")
    env.add_argument("--context", action="append", default=[], help="k=v, repeatable")
    env.add_argument("--wrap", choices=("A256GCM", "A256CTR"), default="A256GCM")
    g = env.add_mutually_exclusive_group(required=True)
    g.add_argument("--plaintext")
    g.add_argument("--plaintext-file")
    command("credential", "--access-key", "--secret", "--session-token?")
    sub.add_parser("selftest")
    args = ap.parse_args()

    if args.cmd == "selftest":
        return selftest()
    if args.cmd == "credential":
        print(json.dumps({"access_key_id": args.access_key, "secret_access_key": args.secret,
                          "session_token": args.session_token}))
    elif args.cmd == "seal-vault":
        print(seal(load_signing_key(args.signing_key), args.kid, {
            "version": "0.1.0", "type": "vault", "name": args.name, "provider": "aws",
            "provider_settings": {"region": args.region},
            "annotations": {"version_id": args.version_id or "", "version_stage": args.version_stage or ""}}))
    elif args.cmd == "seal-envelope":
        if any("=" not in c for c in args.context):
            raise SystemExit("--context takes k=v")
        context = dict(c.split("=", 1) for c in args.context)
        with open(args.state) as f:
            state = json.load(f)
        plaintext = args.plaintext.encode() if args.plaintext_file is None else open(args.plaintext_file, "rb").read()
        try:
            print(seal_envelope(load_signing_key(args.signing_key), args.kid, state, args.key_id, args.region,
                                context, args.wrap, plaintext))
        except AwsError as e:
            raise SystemExit("%s: %s" % (e.name, e.message))
    else:
        Handler.state_path, Handler.log_path = args.state, args.log
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(args.port)), Handler)
        if args.ready:
            with open(args.ready, "w") as f:
                f.write(str(args.port))
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
