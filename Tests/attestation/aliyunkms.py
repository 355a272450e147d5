#!/usr/bin/env python3
"""A small local stand-in for an Alibaba Cloud KMS instance ("dedicated KMS") as Confidential
Containers' confidential-data-hub reaches it with client_type = client_key: Encrypt, Decrypt and
GetSecretValue over HTTPS with protobuf bodies and RSA-signed requests. Written for Fasco's tests from
public sources only, and sharing no code with Fasco:
  - guest-components confidential-data-hub/kms/src/plugins/aliyun/client/client_key_client/
    (mod.rs: headers, string to sign, error handling; credential.rs: clientKey_<id>.json,
    password_<id>.json, PKCS#12 private key) and its protobuf/dkms_api.proto (field numbers);
  - Alibaba Cloud KMS "Common error codes" for KMS instances (protobuf Error, codes and statuses);
  - guest-components confidential-data-hub/docs/SEALED_SECRET.md and docs/kms-providers/alibaba.md
    (envelope and vault sealed secrets, provider "aliyun", annotations "iv", "version_stage", "version_id").

    aliyunkms.py serve --port P --state STATE.json --tls-dir DIR [--log LOG] [--ready FILE]
    aliyunkms.py client-key --id ID --state STATE.json --out-dir DIR [--password P]
    aliyunkms.py seal-envelope --signing-key PEM --kid KID --state STATE.json --key-id K --client-key-id C
                               --kms-instance-id I (--plaintext T | --plaintext-file F)
    aliyunkms.py seal-vault --signing-key PEM --kid KID --name N --client-key-id C --kms-instance-id I
                            [--version-stage S] [--version-id V]
    aliyunkms.py selftest

STATE.json (re-read on every request) is {"client_keys": {ID: {"public_key_pem"}},
"keys": {KEY: {"material": 64 hex, "allowed": [ID], "enabled"}}, "secrets": {NAME: {"data", "allowed": [ID]}},
"fail_next"?: N, "down"?: bool}. A CiphertextBlob is AES-256-GCM(material, Iv, plaintext, Aad) as
ciphertext || 16-byte tag; the Iv travels separately (CoCo keeps it in the sealed secret's annotations).
"""
import argparse, base64, datetime, hashlib, http.client, http.server, ipaddress, json, os, secrets, shutil
import ssl, sys, tempfile, threading, uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sealing import load_signing_key, opened, seal  # noqa: E402  (the suite's sealed-secret form)

API_VERSION, SIGNATURE_METHOD, PROTOBUF = "dkms-gcs-0.2", "RSA_PKCS1_SHA_256", "application/x-protobuf"
DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"  # RFC 7231 IMF-fixdate, as chrono formats it in mod.rs
MAX_SKEW = 15 * 60
STATE_LOCK, LOG_LOCK = threading.Lock(), threading.Lock()

# dkms_api.proto: (field number, name, kind); "strings" is a repeated string.
SCHEMAS = {
    "EncryptRequest": [(1, "KeyId", "string"), (2, "Plaintext", "bytes"), (3, "Algorithm", "string"),
                       (4, "Aad", "bytes"), (5, "Iv", "bytes"), (6, "PaddingMode", "string")],
    "EncryptResponse": [(1, "KeyId", "string"), (2, "CiphertextBlob", "bytes"), (3, "Iv", "bytes"),
                        (4, "RequestId", "string"), (5, "Algorithm", "string"), (6, "PaddingMode", "string")],
    "DecryptRequest": [(1, "CiphertextBlob", "bytes"), (2, "KeyId", "string"), (3, "Algorithm", "string"),
                       (4, "Aad", "bytes"), (5, "Iv", "bytes"), (6, "PaddingMode", "string")],
    "DecryptResponse": [(1, "KeyId", "string"), (2, "Plaintext", "bytes"), (3, "RequestId", "string"),
                        (4, "Algorithm", "string"), (5, "PaddingMode", "string")],
    "GetSecretValueRequest": [(1, "SecretName", "string"), (2, "VersionStage", "string"),
                              (3, "VersionId", "string"), (4, "FetchExtendedConfig", "bool")],
    "GetSecretValueResponse": [(1, "SecretName", "string"), (2, "SecretType", "string"), (3, "SecretData", "string"),
                               (4, "SecretDataType", "string"), (5, "VersionStages", "strings"),
                               (6, "VersionId", "string"), (7, "CreateTime", "string"), (8, "RequestId", "string")],
    "Error": [(1, "StatusCode", "int32"), (2, "ErrorCode", "string"), (3, "ErrorMessage", "string"),
              (4, "RequestId", "string")],
}
DEFAULTS = {"string": "", "bytes": b"", "bool": False, "int32": 0}
CONVERT = {"int32": lambda v: (v & 0xFFFFFFFF) - ((v >> 31 & 1) << 32), "bool": bool, "bytes": bytes,
           "string": lambda v: v.decode("utf-8"), "strings": lambda v: v.decode("utf-8")}


class KmsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---- protobuf wire format (proto3, wire types 0 and 2) -------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def read_varint(data, i):
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = data[i]
        n, i, shift = n | (b & 0x7F) << shift, i + 1, shift + 7
        if not b & 0x80:
            return n, i


def pb_encode(schema, msg):
    out = bytearray()
    for num, name, kind in SCHEMAS[schema]:
        v = msg.get(name)
        for x in (v or []) if kind == "strings" else [v]:
            if kind in ("int32", "bool"):
                if x:  # proto3 leaves default (zero) scalars out; negative int32 takes ten bytes
                    out += varint(num << 3) + varint(int(x) & 0xFFFFFFFFFFFFFFFF)
            elif x is not None and (x or kind == "strings"):
                b = x.encode() if isinstance(x, str) else bytes(x)
                out += varint(num << 3 | 2) + varint(len(b)) + b
    return bytes(out)


def pb_decode(schema, data):
    """Decodes a message; unknown fields (of any wire type but groups) are skipped. Raises ValueError."""
    fields = {num: (name, kind) for num, name, kind in SCHEMAS[schema]}
    msg = {name: ([] if kind == "strings" else DEFAULTS[kind]) for name, kind in fields.values()}
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wire not in (0, 1, 2, 5):
            raise ValueError("unsupported wire type %d" % wire)
        if wire in (1, 5):
            value, i = None, i + (8 if wire == 1 else 4)
        else:
            value, i = read_varint(data, i)  # the value, or for wire type 2 the length
        if wire == 2:
            value, i = data[i:i + value], i + value
        if i > len(data):
            raise ValueError("truncated field %d" % num)
        if num in fields:
            name, kind = fields[num]
            if wire != (0 if kind in ("int32", "bool") else 2):
                raise ValueError("field %s has wire type %d" % (name, wire))
            if kind == "strings":
                msg[name].append(CONVERT[kind](value))
            else:
                msg[name] = CONVERT[kind](value)
    return msg


# ---- request signing (client_key_client/mod.rs build_headers) ------------------------------------

def string_to_sign(content_sha256, date, headers):
    """headers: {lower-case name: value}; every x-kms-* header is signed, sorted by name."""
    canon = "".join("%s:%s\n" % (k, headers[k].strip()) for k in sorted(headers) if k.startswith("x-kms-"))
    return "POST\n%s\n%s\n%s\n%s/" % (content_sha256, PROTOBUF, date, canon)


def sign_request(private_key, client_key_id, api_name, body, date=None):
    """The headers a client sends (selftest and smoke clients only)."""
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime(DATE_FORMAT)
    sha = hashlib.sha256(body).hexdigest().upper()
    h = {"accept": PROTOBUF, "content-type": PROTOBUF, "content-length": str(len(body)), "date": date,
         "x-kms-apiversion": API_VERSION, "x-kms-apiname": api_name, "x-kms-signaturemethod": SIGNATURE_METHOD,
         "x-kms-acccesskeyid": client_key_id, "content-sha256": sha}
    sig = private_key.sign(string_to_sign(sha, date, h).encode(), padding.PKCS1v15(), hashes.SHA256())
    h["authorization"] = "Bearer " + base64.b64encode(sig).decode()
    return h


def verify_request(state, headers, body):
    """Checks a request's headers and signature strictly; returns (api name, client key id) or raises."""
    def need(name, code="MissingParameter"):
        if name not in headers:
            raise KmsError(400, code, "Parameter %s does not exist in http header." % name)
        return headers[name]

    if need("x-kms-apiversion", "InvalidApiVersion") != API_VERSION:
        raise KmsError(400, "InvalidApiVersion", 'The ApiVersion "%s" is invalid.' % headers["x-kms-apiversion"])
    api = need("x-kms-apiname", "InvalidApiName")
    if api not in OPERATIONS:
        raise KmsError(400, "InvalidApiName", 'The ApiName "%s" is invalid.' % api)
    method = need("x-kms-signaturemethod", "InvalidParam")
    if method != SIGNATURE_METHOD:
        raise KmsError(400, "InvalidParam", 'The Param x-kms-signaturemethod is invalid. message:"%s".' % method)
    akid = need("x-kms-acccesskeyid")
    need("content-length")
    for name in ("accept", "content-type"):
        if need(name) != PROTOBUF:
            raise KmsError(400, "InvalidParam", "The Param %s is invalid: want %s." % (name, PROTOBUF))
    date = need("date")
    try:
        when = datetime.datetime.strptime(date, DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
        if when.strftime(DATE_FORMAT) != date:  # a wrong weekday, or not zero-padded
            raise ValueError(date)
    except ValueError:
        raise KmsError(400, "InvalidParam", "The Param Date is invalid.")
    if abs((when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) > MAX_SKEW:
        raise KmsError(400, "RequestTimeTooSkewed", "Request time exceeds server time more than 15 minutes.")
    sha = hashlib.sha256(body).hexdigest().upper()
    if need("content-sha256") != sha:
        raise KmsError(401, "SignatureNotMatch", "Signature is not matched: Content-Sha256 is not the body's.")
    scheme, _, b64 = need("authorization").partition(" ")
    try:
        sig = base64.b64decode(b64, validate=True)
    except ValueError:
        sig = b""
    if scheme != "Bearer" or not sig:
        raise KmsError(401, "SignatureNotMatch", "Signature is not matched: Authorization must be Bearer <base64>.")
    entry = state.get("client_keys", {}).get(akid)
    if entry is None:
        raise KmsError(404, "InvalidAccessKeyId.NotFound",
                       'The AccessKey ID "%s" does not exist in our records.' % akid)
    public = serialization.load_pem_public_key(entry["public_key_pem"].encode())
    try:
        public.verify(sig, string_to_sign(sha, date, headers).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise KmsError(401, "SignatureNotMatch", "Signature is not matched.")
    return api, akid


# ---- the operations ------------------------------------------------------------------------------

def usable_key(state, akid, key_id):
    key = state.get("keys", {}).get(key_id)
    if not key_id or key is None:
        raise KmsError(404, "Forbidden.KeyNotFound", "The specified Key is not found.")
    if akid not in key.get("allowed", []):
        raise KmsError(403, "Forbidden.NoPermission", "The client key %s may not use key %s." % (akid, key_id))
    if not key.get("enabled", True):
        raise KmsError(403, "Rejected.Disabled", "The specified Key %s is disabled." % key_id)
    return bytes.fromhex(key["material"])


def check_algorithm(req):
    if req["Algorithm"] not in ("", "AES_GCM") or req["PaddingMode"]:
        raise KmsError(400, "InvalidParameter", "The specified parameter Algorithm/PaddingMode is not valid: "
                       "only AES_GCM without padding is served.")


def wrap(material, plaintext, aad=b"", iv=None):
    """What Encrypt does: (CiphertextBlob = ciphertext || tag, Iv)."""
    iv = iv or secrets.token_bytes(12)
    return AESGCM(material).encrypt(iv, plaintext, aad or None), iv


def op_encrypt(state, akid, req):
    material = usable_key(state, akid, req["KeyId"])
    check_algorithm(req)
    if req["Iv"] and len(req["Iv"]) != 12 or not req["Plaintext"]:
        raise KmsError(400, "InvalidParameter", "The specified parameter Plaintext/Iv is not valid.")
    blob, iv = wrap(material, req["Plaintext"], req["Aad"], req["Iv"])
    return req["KeyId"], {"KeyId": req["KeyId"], "CiphertextBlob": blob, "Iv": iv, "Algorithm": "AES_GCM"}


def op_decrypt(state, akid, req):
    material = usable_key(state, akid, req["KeyId"])
    check_algorithm(req)
    try:
        if len(req["Iv"]) != 12:
            raise InvalidTag()
        plaintext = AESGCM(material).decrypt(req["Iv"], req["CiphertextBlob"], req["Aad"] or None)
    except InvalidTag:
        raise KmsError(400, "InvalidParameter", "The specified parameter CiphertextBlob is not valid: decrypt failed.")
    return req["KeyId"], {"KeyId": req["KeyId"], "Plaintext": plaintext, "Algorithm": "AES_GCM"}


def op_get_secret(state, akid, req):
    name, secret = req["SecretName"], state.get("secrets", {}).get(req["SecretName"])
    if secret is None:
        raise KmsError(404, "Forbidden.ResourceNotFound", "The specified secret %s is not found." % name)
    if akid not in secret.get("allowed", []):
        raise KmsError(403, "Forbidden.NoPermission", "The client key %s may not read secret %s." % (akid, name))
    if req["VersionStage"] not in ("", "ACSCurrent") or req["VersionId"] not in ("", "v1"):
        raise KmsError(404, "Forbidden.ResourceNotFound", "The specified version of secret %s is not found." % name)
    return name, {"SecretName": name, "SecretType": "Generic", "SecretData": secret["data"], "SecretDataType": "text",
                  "VersionStages": ["ACSCurrent"], "VersionId": "v1", "CreateTime": "2024-01-01T00:00:00Z"}


OPERATIONS = {"Encrypt": (op_encrypt, "EncryptRequest", "EncryptResponse"),
              "Decrypt": (op_decrypt, "DecryptRequest", "DecryptResponse"),
              "GetSecretValue": (op_get_secret, "GetSecretValueRequest", "GetSecretValueResponse")}


# ---- the server ----------------------------------------------------------------------------------

def write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def write_json(path, obj):
    write_atomic(path, json.dumps(obj, indent=1).encode())


def take_state(path):
    """Reads the state file; consumes one "fail_next" (rewriting the file) when it is set."""
    with STATE_LOCK:
        with open(path) as f:
            state = json.load(f)
        if int(state.get("fail_next") or 0) > 0:
            state["fail_next"] = int(state["fail_next"]) - 1
            write_json(path, state)
            raise KmsError(503, "Rejected.Throttling", "The request was throttled; try again later.")
    if state.get("down"):
        raise KmsError(500, "InternalFailure", "Internal Failure.")
    return state


def handle(state_path, command, path, headers, body, repeated=()):
    """One request -> (status, response bytes, log line). Never raises."""
    api, akid = headers.get("x-kms-apiname", "-"), headers.get("x-kms-acccesskeyid", "-")
    try:
        state = take_state(state_path)
        if command != "POST" or path != "/":
            raise KmsError(400, "InvalidParameter", "Only POST / is served.")
        if repeated:  # the real client sends each header once; a second date or key id could hide behind one
            raise KmsError(400, "InvalidParam", "The header %s is repeated." % ", ".join(sorted(repeated)))
        api, akid = verify_request(state, headers, body)
        op, req_schema, resp_schema = OPERATIONS[api]
        try:
            req = pb_decode(req_schema, body)
        except ValueError as e:
            raise KmsError(400, "InvalidParameter", "The request body is not a %s: %s" % (req_schema, e))
        name, resp = op(state, akid, req)
        resp["RequestId"] = str(uuid.uuid4())
        return 200, pb_encode(resp_schema, resp), "%s ok key=%s by=%s" % (api, name, akid)
    except Exception as e:  # a bug here, or an unreadable state file, is an InternalFailure, not a hang
        if not isinstance(e, KmsError):
            e = KmsError(500, "InternalFailure", "%s: %s" % (type(e).__name__, e))
        err = {"StatusCode": e.status, "ErrorCode": e.code, "ErrorMessage": e.message, "RequestId": str(uuid.uuid4())}
        return e.status, pb_encode("Error", err), "%s refused %s by=%s: %s" % (api, e.code, akid, e.message)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer waits for the client's delayed ACK
    timeout = 30
    state_path = log_path = None

    def setup(self):
        self.request.settimeout(self.timeout)
        self.request.do_handshake()  # here, in the connection's thread, so a bad client blocks no one
        super().setup()

    def log_message(self, *a):
        pass

    def do_POST(self):
        try:
            body = self.rfile.read(max(0, int(self.headers.get("Content-Length") or 0)))
        except ValueError:  # the stream cannot be followed past this request: answer, then close
            body, self.close_connection = b"", True
        headers, repeated = {}, set()
        for k, v in self.headers.items():
            if k.lower() in headers:
                repeated.add(k.lower())
            headers[k.lower()] = v
        status, data, line = handle(self.state_path, self.command, self.path, headers, body, repeated)
        if self.log_path:
            with LOG_LOCK, open(self.log_path, "a") as f:
                f.write(line + "\n")
        self.send_response(status)
        self.send_header("Content-Type", PROTOBUF)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_POST  # refused as InvalidParameter (after fail_next / down)


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = allow_reuse_address = True

    def __init__(self, address, context):
        self.context = context
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # a failed handshake or a dropped connection ends that connection only


def certificate(subject, public_key, issuer, issuer_key, days, ca, sans=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    cn = lambda s: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, s)])
    b = (x509.CertificateBuilder().subject_name(cn(subject)).issuer_name(cn(issuer)).public_key(public_key)
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def tls_context(tls_dir):
    """Makes DIR/ca.pem, DIR/server.key and DIR/server.pem unless they exist; returns a server context."""
    paths = [os.path.join(tls_dir, n) for n in ("ca.pem", "server.key", "server.pem")]
    if not all(os.path.exists(p) for p in paths):
        os.makedirs(tls_dir, exist_ok=True)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = certificate("aliyunkms test CA", ca_key.public_key(), "aliyunkms test CA", ca_key, 3650, True)
        sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                x509.DNSName("*.cryptoservice.kms.aliyuncs.com")]  # the endpoint mod.rs builds from the instance id
        cert = certificate("127.0.0.1", key.public_key(), "aliyunkms test CA", ca_key, 825, False, sans)
        write_atomic(paths[0], ca.public_bytes(serialization.Encoding.PEM))
        write_atomic(paths[1], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        write_atomic(paths[2], cert.public_bytes(serialization.Encoding.PEM))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths[2], paths[1])
    return ctx


# ---- tools ---------------------------------------------------------------------------------------

def make_client_key(client_key_id, state_path, out_dir, password=None):
    """CoCo's clientKey_<id>.json and password_<id>.json; the public key goes into the state file."""
    password = password or secrets.token_hex(16)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = certificate(client_key_id, key.public_key(), client_key_id, key, 3650, False)
    try:  # 2048 rounds, as the PKCS#12 of guest-components' Alibaba client-key vector has
        enc = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
               .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
               .build(password.encode()))
    except AttributeError:  # cryptography < 38: no legacy builder
        enc = serialization.BestAvailableEncryption(password.encode())
    p12 = pkcs12.serialize_key_and_certificates(client_key_id.encode(), key, cert, None, enc)
    with STATE_LOCK:
        state = json.load(open(state_path)) if os.path.exists(state_path) else {}
        state.setdefault("client_keys", {})[client_key_id] = {"public_key_pem": key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()}
        write_json(state_path, state)
    os.makedirs(out_dir, exist_ok=True)
    files = {"clientKey_%s.json" % client_key_id: json.dumps({"KeyId": client_key_id,
                                                               "PrivateKeyData": base64.b64encode(p12).decode()}),
             "password_%s.json" % client_key_id: password}
    for fname, text in files.items():
        fd = os.open(os.path.join(out_dir, fname), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    return [os.path.join(out_dir, f) for f in files]


def load_client_key(out_dir, client_key_id):
    """Reads the two credential files back as credential.rs does (password trimmed at its end)."""
    ck = json.load(open(os.path.join(out_dir, "clientKey_%s.json" % client_key_id)))
    password = open(os.path.join(out_dir, "password_%s.json" % client_key_id)).read().rstrip()
    key, _, _ = pkcs12.load_key_and_certificates(base64.b64decode(ck["PrivateKeyData"]), password.encode())
    return ck["KeyId"], key


def settings(client_key_id, instance):
    return {"client_type": "client_key", "client_key_id": client_key_id, "kms_instance_id": instance}


def seal_envelope(signing_key, kid, state, key_id, client_key_id, instance, plaintext):
    if key_id not in state.get("keys", {}):
        raise SystemExit("key %s is not in the state file" % key_id)
    dek, iv = secrets.token_bytes(32), secrets.token_bytes(12)
    data = AESGCM(dek).encrypt(iv, plaintext, None)
    blob, wrap_iv = wrap(bytes.fromhex(state["keys"][key_id]["material"]), dek)
    b64 = lambda b: base64.b64encode(b).decode()
    return seal(signing_key, kid, {
        "version": "0.1.0", "type": "envelope", "key_id": key_id, "encrypted_key": b64(blob),
        "encrypted_data": b64(data), "wrap_type": "A256GCM", "iv": b64(iv), "provider": "aliyun",
        "provider_settings": settings(client_key_id, instance), "annotations": {"iv": b64(wrap_iv)}})


# ---- selftest ------------------------------------------------------------------------------------

def selftest():
    failures = []

    def check(what, ok):
        print(("ok    " if ok else "FAIL  ") + what)
        failures.extend([] if ok else [what])

    def refused(code, fn, *a):
        try:
            fn(*a)
        except KmsError as e:
            return e.code == code
        except ValueError:
            return code == "ValueError"
        return False

    check("varint 300", varint(300) == b"\xac\x02" and read_varint(b"\xac\x02", 0) == (300, 2))
    check("EncryptRequest bytes",
          pb_encode("EncryptRequest", {"KeyId": "k", "Plaintext": b"\x01"}) == b"\x0a\x01k\x12\x01\x01")
    for schema, msg in [("GetSecretValueResponse", {"SecretName": "n", "SecretData": "d\u00e9", "VersionId": "v1",
                                                    "VersionStages": ["ACSCurrent", "", "x"]}),
                        ("Error", {"StatusCode": -1, "ErrorCode": "X", "ErrorMessage": "m"}),
                        ("GetSecretValueRequest", {"SecretName": "s", "FetchExtendedConfig": True}),
                        ("DecryptRequest", {"CiphertextBlob": bytes(range(256)) * 2, "KeyId": "k", "Iv": b"\0" * 12})]:
        back = pb_decode(schema, pb_encode(schema, msg))
        check("round trip " + schema, all(back[k] == v for k, v in msg.items()))
    extra = b"\x48\x96\x01" + b"\x62\x03abc" + b"\x7d\0\0\0\0" + b"\x79" + b"\0" * 8  # unknown fields 9, 12, 15
    check("unknown fields skipped", pb_decode("Error", extra + b"\x12\x01E")["ErrorCode"] == "E")
    check("truncated message refused", refused("ValueError", pb_decode, "Error", b"\x12\x05ab"))

    tmp = tempfile.mkdtemp()
    state_path = os.path.join(tmp, "state.json")
    for ck in ("KAAP.test-1", "KAAP.other"):
        make_client_key(ck, state_path, tmp)
    (akid, key), (_, other) = load_client_key(tmp, "KAAP.test-1"), load_client_key(tmp, "KAAP.other")
    check("client key files read back", akid == "KAAP.test-1" and isinstance(key, rsa.RSAPrivateKey))
    state = dict(json.load(open(state_path)), fail_next=0, down=False,
                 keys={"key-test-1": {"material": secrets.token_hex(32), "allowed": [akid], "enabled": True},
                       "key-other": {"material": secrets.token_hex(32), "allowed": ["KAAP.other"]}},
                 secrets={"db-password": {"data": "from-dkms", "allowed": [akid]}})
    write_json(state_path, state)

    body = pb_encode("GetSecretValueRequest", {"SecretName": "db-password"})
    good = sign_request(key, akid, "GetSecretValue", body)
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)).strftime(DATE_FORMAT)
    check("signed request verifies", verify_request(state, good, body) == ("GetSecretValue", akid))
    for what, code, headers, sent in [
            ("tampered body", "SignatureNotMatch", good, body + b"\0"),
            ("tampered header", "SignatureNotMatch", dict(good, **{"x-kms-apiname": "Decrypt"}), body),
            ("wrong private key", "SignatureNotMatch", sign_request(other, akid, "GetSecretValue", body), body),
            ("stale date", "RequestTimeTooSkewed", sign_request(key, akid, "GetSecretValue", body, stale), body),
            ("unknown client key", "InvalidAccessKeyId.NotFound", sign_request(key, "KAAP.x", "Decrypt", body), body),
            ("no Content-Sha256", "MissingParameter", {k: v for k, v in good.items() if k != "content-sha256"}, body)]:
        check(what + " refused", refused(code, verify_request, state, headers, sent))

    signing = ec.generate_private_key(ec.SECP256R1())
    p = opened(seal_envelope(signing, "kbs:///default/signing/key", state, "key-test-1", akid, "kst-test", b"top secret"),
               signing.public_key())
    check("envelope JWS signature", p is not None)
    req = pb_decode("DecryptRequest", pb_encode("DecryptRequest", {
        "CiphertextBlob": base64.b64decode(p["encrypted_key"]), "KeyId": p["key_id"], "Algorithm": "AES_GCM",
        "Iv": base64.b64decode(p["annotations"]["iv"])}))
    dek = op_decrypt(state, akid, req)[1]["Plaintext"]
    plain = AESGCM(dek).decrypt(base64.b64decode(p["iv"]), base64.b64decode(p["encrypted_data"]), None)
    check("envelope unwrapped by Decrypt", plain == b"top secret")
    check("wrong iv refused", refused("InvalidParameter", op_decrypt, state, akid, dict(req, Iv=b"\1" * 12)))
    check("other key refused", refused("Forbidden.NoPermission", op_decrypt, state, akid, dict(req, KeyId="key-other")))

    # Over HTTPS, trusting ca.pem only.
    Handler.state_path = state_path
    server = TLSServer(("127.0.0.1", 0), tls_context(os.path.join(tmp, "tls")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_ctx = ssl.create_default_context(cafile=os.path.join(tmp, "tls", "ca.pem"))
    for what, api, schema, msg, signer, want in [
            ("HTTPS Decrypt", "Decrypt", "DecryptRequest", req, key, {"Plaintext": dek}),
            ("HTTPS GetSecretValue", "GetSecretValue", "GetSecretValueRequest",
             {"SecretName": "db-password", "VersionStage": "ACSCurrent"}, key, {"SecretData": "from-dkms"}),
            ("HTTPS bad signature refused", "GetSecretValue", "GetSecretValueRequest", {"SecretName": "db-password"},
             other, {"StatusCode": 401, "ErrorCode": "SignatureNotMatch"})]:
        data = pb_encode(schema, msg)
        conn = http.client.HTTPSConnection("127.0.0.1", server.server_address[1], context=client_ctx, timeout=10)
        conn.request("POST", "/", data, sign_request(signer, akid, api, data))
        resp = conn.getresponse()
        out = pb_decode(OPERATIONS[api][2] if resp.status == 200 else "Error", resp.read())
        conn.close()
        check(what, resp.status == want.get("StatusCode", 200) and all(out[k] == v for k, v in want.items()))
    server.shutdown()
    server.server_close()
    shutil.rmtree(tmp)
    print("all passed" if not failures else "failed: " + ", ".join(failures))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)

    def command(cmd, *options):  # "--x" is required, "--x?" optional
        p = sub.add_parser(cmd)
        for o in options:
            p.add_argument(o.rstrip("?"), required=not o.endswith("?"))
        return p

    command("serve", "--port", "--state", "--tls-dir", "--log?", "--ready?")
    command("client-key", "--id", "--state", "--out-dir", "--password?")
    env = command("seal-envelope", "--signing-key", "--kid", "--state", "--key-id", "--client-key-id",
                  "--kms-instance-id")
    g = env.add_mutually_exclusive_group(required=True)
    g.add_argument("--plaintext")
    g.add_argument("--plaintext-file")
    command("seal-vault", "--signing-key", "--kid", "--name", "--client-key-id", "--kms-instance-id",
            "--version-stage?", "--version-id?")
    sub.add_parser("selftest")
    args = ap.parse_args()

    if args.cmd == "selftest":
        return selftest()
    if args.cmd == "client-key":
        print("\n".join(make_client_key(args.id, args.state, args.out_dir, args.password)))
    elif args.cmd == "seal-envelope":
        state = json.load(open(args.state))
        plaintext = args.plaintext.encode() if args.plaintext_file is None else open(args.plaintext_file, "rb").read()
        print(seal_envelope(load_signing_key(args.signing_key), args.kid, state, args.key_id, args.client_key_id,
                            args.kms_instance_id, plaintext))
    elif args.cmd == "seal-vault":
        print(seal(load_signing_key(args.signing_key), args.kid, {
            "version": "0.1.0", "type": "vault", "name": args.name, "provider": "aliyun",
            "provider_settings": settings(args.client_key_id, args.kms_instance_id),
            "annotations": {"version_stage": args.version_stage or "", "version_id": args.version_id or ""}}))
    else:
        Handler.state_path, Handler.log_path = args.state, args.log
        server = TLSServer(("127.0.0.1", int(args.port)), tls_context(args.tls_dir))
        if args.ready:  # written whole, then renamed: a reader never sees it empty
            write_atomic(args.ready, str(args.port).encode())
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
