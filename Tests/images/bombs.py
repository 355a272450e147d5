#!/usr/bin/env python3
"""Decompression-bomb layers for Fasco's tests, made in seconds and a few MiB.

  bombs.py zeros --size BYTES --out FILE
      a gzip'd tar holding one file of BYTES zero bytes (2 GiB -> about 2 MiB).
      The deflate stream of one MiB of zeros after a full flush is made once and
      repeated (a full flush resets the window, so each copy stands alone);
      only the CRC runs over BYTES (zlib.crc32, about a second for 2 GiB).
  bombs.py entries --count N --out FILE
      a gzip'd tar of N empty files (ustar headers only).
  bombs.py push --registry HOST:PORT --repository REPO --tag TAG --layer FILE
      pushes an image of that one gzip layer (OCI manifest, monolithic uploads)
      and prints the layer digest and the manifest digest. The config's DiffID is
      computed by decompressing the layer unless --fake-diff-id is given (a bomb's
      DiffID would take hashing all of it; an unpacker must refuse it before it
      gets to compare DiffIDs anyway).
"""
import argparse
import hashlib
import json
import struct
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import push_blob, put_manifest  # noqa: E402

CHUNK = 1 << 20


def ustar_header(name, size, mode=0o644, typeflag=b"0"):
    fields = [
        name.encode().ljust(100, b"\0"),
        b"%07o\0" % mode,
        b"%07o\0" % 0,
        b"%07o\0" % 0,
        b"%011o\0" % size,
        b"%011o\0" % 1600000000,
        b" " * 8,
        typeflag,
        b"\0" * 100,
        b"ustar\x0000",
        b"root".ljust(32, b"\0"),
        b"root".ljust(32, b"\0"),
        b"%07o\0" % 0,
        b"%07o\0" % 0,
        b"\0" * 155,
    ]
    header = b"".join(fields).ljust(512, b"\0")
    checksum = sum(header)
    return header[:148] + b"%06o\0 " % checksum + header[156:]


def raw_deflate(data, mode):
    d = zlib.compressobj(9, zlib.DEFLATED, -15)
    return d.compress(data) + d.flush(mode)


def gzip_header(out):
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03")


def cmd_zeros(a):
    size = a.size
    head = ustar_header("zeros", size)
    pad = (-size) % 512
    tail = b"\0" * pad + b"\0" * 1024
    zero_block = raw_deflate(b"\0" * CHUNK, zlib.Z_FULL_FLUSH)
    whole, rest = divmod(size, CHUNK)
    crc = zlib.crc32(head)
    zero = b"\0" * CHUNK
    with open(a.out, "wb") as out:
        gzip_header(out)
        out.write(raw_deflate(head, zlib.Z_FULL_FLUSH))
        for _ in range(whole):
            out.write(zero_block)
            crc = zlib.crc32(zero, crc)
        out.write(raw_deflate(b"\0" * rest + tail, zlib.Z_FINISH))
        crc = zlib.crc32(b"\0" * rest + tail, crc)
        total = len(head) + size + len(tail)
        out.write(struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF))


def cmd_entries(a):
    with open(a.out, "wb") as raw:
        gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        batch = []
        for i in range(a.count):
            batch.append(ustar_header("f/%07d" % i, 0))
            if len(batch) == 4096:
                raw.write(gz.compress(b"".join(batch)))
                batch = []
        batch.append(b"\0" * 1024)
        raw.write(gz.compress(b"".join(batch)))
        raw.write(gz.flush())


def cmd_push(a):
    base = "http://" + a.registry
    layer = open(a.layer, "rb").read()
    if a.fake_diff_id:
        diff_id = "sha256:" + hashlib.sha256(b"not the real DiffID: see bombs.py").hexdigest()
    else:
        diff_id = "sha256:" + hashlib.sha256(zlib.decompress(layer, 31)).hexdigest()
    config = json.dumps({
        "architecture": a.architecture, "os": "linux",
        "config": {"Cmd": ["/zeros"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    config_digest = push_blob(base, a.repository, config)
    layer_digest = push_blob(base, a.repository, layer)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest = put_manifest(base, a.repository, a.tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    print(layer_digest)
    print(manifest_digest)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("zeros")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_zeros)
    s = sub.add_parser("entries")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_entries)
    s = sub.add_parser("push")
    s.add_argument("--registry", default="127.0.0.1:5000")
    s.add_argument("--repository", required=True)
    s.add_argument("--tag", default="latest")
    s.add_argument("--layer", required=True)
    s.add_argument("--architecture", default="amd64")
    s.add_argument("--fake-diff-id", action="store_true")
    s.set_defaults(func=cmd_push)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    sys.exit(main())
