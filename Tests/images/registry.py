"""The registry HTTP API (Distribution spec) the test-image tools push and read images with:
standard library only, so that tools run by the system's python3 (bombs.py) can use it as well
as those run in the test venv (cosign.py, encrypt.py)."""
import hashlib
import urllib.request

MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def push_blob(base, repository, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    request = urllib.request.Request(f"{base}/v2/{repository}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(request) as response:
        location = response.headers["Location"]
    if not location.startswith("http"):
        location = base + location
    location += ("&" if "?" in location else "?") + "digest=" + digest
    request = urllib.request.Request(location, method="PUT", data=data, headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request) as response:
        if response.status != 201:
            raise SystemExit(f"blob upload answered {response.status}")
    return digest


def put_manifest(base, repository, tag, body, media_type):
    request = urllib.request.Request(f"{base}/v2/{repository}/manifests/{tag}", method="PUT", data=body,
                                     headers={"Content-Type": media_type})
    with urllib.request.urlopen(request) as response:
        if response.status != 201:
            raise SystemExit(f"manifest push answered {response.status}")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def get_manifest(base, repository, reference):
    """The manifest's bytes and media type (an image manifest, not an index)."""
    request = urllib.request.Request(f"{base}/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request) as response:
        return response.read(), response.headers["Content-Type"].split(";")[0]
