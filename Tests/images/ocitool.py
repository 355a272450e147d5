#!/usr/bin/env python3
"""Small, dependency-free OCI image-layout writer used by Tests/images/kit.sh.

Everything it writes is deterministic: tar entries are sorted, mtimes are fixed,
gzip headers carry no name/mtime and JSON is serialised with sorted keys, so the
same inputs always give the same digests.

Subcommands
  layer   --src DIR | --entries FILE.json[:INDEX]   --compression gzip|zstd|none  --out PREFIX
          Writes PREFIX.blob and PREFIX.json ({mediaType,digest,size,diffID}).
  image   --layout DIR --ref TAG --layer PREFIX.json... --config CFG.json [--arch A] [--variant V]
          Adds an image manifest (+config, +layer blobs) to an OCI layout and names it TAG.
  index   --layout DIR --ref TAG --from REF... [--drop-sources]
          Builds an image index from manifests already in the layout (platform from their configs).
  unpack  --layout DIR --ref TAG --dest DIR [--platform os/arch]
          Applies the layers (gzip, zstd or plain tar) with OCI whiteout semantics.
  tree    DIR [--absent PATH...]
          Prints the tree in the layered.expect format.
  check   DIR EXPECT
          Compares a tree with an expect file; exit 1 and a diff on mismatch.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

MTIME = 1704067200  # 2024-01-01T00:00:00Z, fixed for reproducible layers
CREATED = "2024-01-01T00:00:00Z"

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}
REF_ANNOTATION = "org.opencontainers.image.ref.name"


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


# --------------------------------------------------------------------------- tar building

def _base_info(name):
    ti = tarfile.TarInfo(name)
    ti.mtime = MTIME
    ti.uname = ""
    ti.gname = ""
    return ti


def tar_from_dir(root, out):
    """Tar every path below root (not root itself), sorted, with hard links detected."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            paths.append(os.path.relpath(full, root))
    paths.sort()
    seen_inodes = {}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for rel in paths:
            full = os.path.join(root, rel)
            st = os.lstat(full)
            ti = _base_info(rel)
            ti.mode = stat.S_IMODE(st.st_mode)
            ti.uid, ti.gid = st.st_uid, st.st_gid
            xattrs = {}
            try:
                for k in os.listxattr(full, follow_symlinks=False):
                    if k.startswith("user.") or k == "security.capability":
                        xattrs["SCHILY.xattr." + k] = os.getxattr(full, k, follow_symlinks=False).decode("latin-1")
            except OSError:
                pass
            if xattrs:
                ti.pax_headers = xattrs
            fobj = None
            if stat.S_ISDIR(st.st_mode):
                ti.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(st.st_mode):
                ti.type = tarfile.SYMTYPE
                ti.linkname = os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen_inodes:
                    ti.type = tarfile.LNKTYPE
                    ti.linkname = seen_inodes[key]
                else:
                    seen_inodes[key] = rel
                    ti.type = tarfile.REGTYPE
                    ti.size = st.st_size
                    fobj = open(full, "rb")
            elif stat.S_ISFIFO(st.st_mode):
                ti.type = tarfile.FIFOTYPE
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            else:
                print("skipping socket/unknown %s" % rel, file=sys.stderr)
                continue
            tf.addfile(ti, fobj)
            if fobj:
                fobj.close()


def tar_from_entries(entries, out):
    """entries: list of {path,type,mode,uid,gid,content|target|xattrs}; kept in the given order."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = _base_info(e["path"].lstrip("/"))
            ti.mode = int(e.get("mode", "0777" if e["type"] == "symlink" else "0644"), 8)
            ti.uid = int(e.get("uid", 0))
            ti.gid = int(e.get("gid", 0))
            data = None
            t = e["type"]
            if t == "dir":
                ti.type = tarfile.DIRTYPE
            elif t == "file":
                ti.type = tarfile.REGTYPE
                data = e.get("content", "").encode()
                ti.size = len(data)
            elif t == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e["target"]
            elif t == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e["target"].lstrip("/")
            elif t == "fifo":
                ti.type = tarfile.FIFOTYPE
            else:
                raise SystemExit("unknown entry type %r" % t)
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def cmd_layer(a):
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp_tar = a.out + ".tar.tmp"
    with open(tmp_tar, "wb") as f:
        if a.src:
            tar_from_dir(a.src, f)
        else:
            path, _, idx = a.entries.partition(":")
            spec = json.load(open(path))
            ents = spec["layers"][int(idx or 0)]["entries"] if "layers" in spec else spec
            tar_from_entries(ents, f)
    diff_id = sha256_file(tmp_tar)
    blob = a.out + ".blob"
    if a.compression == "none":
        os.replace(tmp_tar, blob)
    elif a.compression == "gzip":
        with open(tmp_tar, "rb") as src, open(blob, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                shutil.copyfileobj(src, gz, 1 << 20)
        os.unlink(tmp_tar)
    elif a.compression == "zstd":
        subprocess.run(["zstd", "-q", "-f", "-3", "--no-progress", "-o", blob, tmp_tar], check=True)
        os.unlink(tmp_tar)
    else:
        raise SystemExit("bad compression")
    desc = {
        "mediaType": MT_LAYER[a.compression],
        "digest": sha256_file(blob),
        "size": os.path.getsize(blob),
        "diffID": diff_id,
        "comment": a.comment or os.path.basename(a.out),
    }
    with open(a.out + ".json", "w") as f:
        json.dump(desc, f, sort_keys=True, indent=1)
    print("%s %s %d" % (os.path.basename(a.out), desc["digest"], desc["size"]))


# --------------------------------------------------------------------------- layouts

def layout_init(layout):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    p = os.path.join(layout, "oci-layout")
    if not os.path.exists(p):
        with open(p, "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
    ip = os.path.join(layout, "index.json")
    if not os.path.exists(ip):
        with open(ip, "wb") as f:
            f.write(canon({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": []}))


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def put_bytes(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    p = blob_path(layout, d)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.replace(p + ".tmp", p)
    return d


def put_file(layout, path, digest):
    p = blob_path(layout, digest)
    if not os.path.exists(p):
        try:
            os.link(path, p)
        except OSError:
            shutil.copyfile(path, p + ".tmp")
            os.replace(p + ".tmp", p)


def read_index(layout):
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)


def write_index(layout, idx):
    p = os.path.join(layout, "index.json")
    with open(p + ".tmp", "wb") as f:
        f.write(canon(idx))
    os.replace(p + ".tmp", p)


def set_ref(layout, desc, ref):
    idx = read_index(layout)
    keep = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF_ANNOTATION) != ref]
    d = dict(desc)
    d["annotations"] = {REF_ANNOTATION: ref}
    keep.append(d)
    keep.sort(key=lambda m: m["annotations"][REF_ANNOTATION])
    idx["manifests"] = keep
    write_index(layout, idx)


def get_ref(layout, ref):
    for m in read_index(layout)["manifests"]:
        if m.get("annotations", {}).get(REF_ANNOTATION) == ref:
            return m
    raise SystemExit("ref %s not found in %s" % (ref, layout))


def cmd_image(a):
    layout_init(a.layout)
    cfg_in = json.load(open(a.config)) if a.config else {}
    layers, diff_ids, history = [], [], []
    for lp in a.layer:
        ld = json.load(open(lp))
        put_file(a.layout, lp[: -len(".json")] + ".blob", ld["digest"])
        layers.append({"mediaType": ld["mediaType"], "digest": ld["digest"], "size": ld["size"]})
        diff_ids.append(ld["diffID"])
        history.append({"created": CREATED, "created_by": "fasco test-image kit: " + ld.get("comment", "layer")})
    config = {
        "created": CREATED,
        "architecture": a.arch,
        "os": "linux",
        "config": cfg_in.get("config", {}),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if a.variant:
        config["variant"] = a.variant
    cfg_bytes = canon(config)
    cfg_digest = put_bytes(a.layout, cfg_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": layers,
    }
    if cfg_in.get("annotations"):
        manifest["annotations"] = cfg_in["annotations"]
    mbytes = canon(manifest)
    mdigest = put_bytes(a.layout, mbytes)
    desc = {"mediaType": MT_MANIFEST, "digest": mdigest, "size": len(mbytes)}
    for ref in a.ref:
        set_ref(a.layout, desc, ref)
    print("%s %s config=%s" % (",".join(a.ref), mdigest, cfg_digest))


def cmd_index(a):
    manifests = []
    for ref in a.src:
        d = get_ref(a.layout, ref)
        m = json.load(open(blob_path(a.layout, d["digest"])))
        c = json.load(open(blob_path(a.layout, m["config"]["digest"])))
        plat = {"architecture": c["architecture"], "os": c["os"]}
        if c.get("variant"):
            plat["variant"] = c["variant"]
        manifests.append({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"], "platform": plat})
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
    ib = canon(index)
    idig = put_bytes(a.layout, ib)
    if a.drop_sources:
        idx = read_index(a.layout)
        idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF_ANNOTATION) not in a.src]
        write_index(a.layout, idx)
    for ref in a.ref:
        set_ref(a.layout, {"mediaType": MT_INDEX, "digest": idig, "size": len(ib)}, ref)
    print("%s %s (index)" % (",".join(a.ref), idig))


# --------------------------------------------------------------------------- unpack (reference applier)

def _open_layer(path, media_type):
    if media_type.endswith("+gzip"):
        return gzip.open(path, "rb")
    if media_type.endswith("+zstd"):
        p = subprocess.run(["zstd", "-q", "-d", "-c", path], check=True, stdout=subprocess.PIPE)
        return io.BytesIO(p.stdout)
    return open(path, "rb")


def _rm(path):
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def apply_layer(dest, fobj):
    with tarfile.open(fileobj=fobj, mode="r|") as tf:
        members = []
        for ti in tf:
            data = tf.extractfile(ti).read() if ti.isreg() else None
            members.append((ti, data))
    # Pass 1: whiteouts (they only hide lower layers, so apply them before this layer's content).
    for ti, _ in members:
        name = os.path.normpath(ti.name).lstrip("/")
        base, parent = os.path.basename(name), os.path.dirname(name)
        if base == ".wh..wh..opq":
            pdir = os.path.join(dest, parent)
            if os.path.isdir(pdir) and not os.path.islink(pdir):
                for child in os.listdir(pdir):
                    _rm(os.path.join(pdir, child))
        elif base.startswith(".wh."):
            _rm(os.path.join(dest, parent, base[4:]))
    # Pass 2: content.
    dirs = []
    for ti, data in members:
        name = os.path.normpath(ti.name).lstrip("/")
        if name in ("", ".") or os.path.basename(name).startswith(".wh."):
            continue
        path = os.path.join(dest, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if ti.isdir():
            if os.path.lexists(path) and not os.path.isdir(path):
                _rm(path)
            os.makedirs(path, exist_ok=True)
            dirs.append((ti, path))
        else:
            _rm(path)
            if ti.isreg():
                with open(path, "wb") as f:
                    f.write(data)
            elif ti.issym():
                os.symlink(ti.linkname, path)
            elif ti.islnk():
                os.link(os.path.join(dest, ti.linkname.lstrip("/")), path)
                continue  # metadata belongs to the target
            elif ti.isfifo():
                os.mkfifo(path)
            elif ti.ischr() or ti.isblk():
                os.mknod(path, (stat.S_IFCHR if ti.ischr() else stat.S_IFBLK) | 0o600, os.makedev(ti.devmajor, ti.devminor))
        os.lchown(path, ti.uid, ti.gid)
        if not ti.issym():
            os.chmod(path, ti.mode)  # after chown, so setuid/setgid bits survive
        for k, v in ti.pax_headers.items():
            if k.startswith("SCHILY.xattr."):
                os.setxattr(path, k[len("SCHILY.xattr."):], v.encode("latin-1"), follow_symlinks=False)
        os.utime(path, (ti.mtime, ti.mtime), follow_symlinks=False)
    for ti, path in reversed(dirs):
        os.utime(path, (ti.mtime, ti.mtime))


def cmd_unpack(a):
    d = get_ref(a.layout, a.ref)
    m = json.load(open(blob_path(a.layout, d["digest"])))
    if m.get("mediaType") == MT_INDEX or "manifests" in m:
        want_os, want_arch = a.platform.split("/", 1)
        cand = [x for x in m["manifests"] if x["platform"]["os"] == want_os and x["platform"]["architecture"] == want_arch]
        if not cand:
            raise SystemExit("no manifest for platform " + a.platform)
        m = json.load(open(blob_path(a.layout, cand[0]["digest"])))
    os.makedirs(a.dest, exist_ok=True)
    for l in m["layers"]:
        with _open_layer(blob_path(a.layout, l["digest"]), l["mediaType"]) as f:
            apply_layer(a.dest, f)


# --------------------------------------------------------------------------- tree / expect

TYPES = [(stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"), (stat.S_ISREG, "file"), (stat.S_ISFIFO, "fifo"),
         (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISSOCK, "socket")]


def describe(root, rel):
    full = os.path.join(root, rel.lstrip("/"))
    st = os.lstat(full)
    kind = next(n for f, n in TYPES if f(st.st_mode))
    mode = "%04o" % stat.S_IMODE(st.st_mode) if kind != "symlink" else "-"
    fields = [rel, kind, mode, str(st.st_uid), str(st.st_gid)]
    if kind == "file":
        data = open(full, "rb").read()
        fields.append("size=%d" % len(data))
        fields.append("sha256=" + hashlib.sha256(data).hexdigest())
        if len(data) <= 64:
            try:
                fields.append("content=" + json.dumps(data.decode()))
            except UnicodeDecodeError:
                pass
    elif kind == "symlink":
        fields.append("target=" + os.readlink(full))
    try:
        for k in sorted(os.listxattr(full, follow_symlinks=False)):
            if k.startswith("user."):
                fields.append("xattr.%s=%s" % (k, os.getxattr(full, k, follow_symlinks=False).decode("latin-1")))
    except OSError:
        pass
    return "\t".join(fields)


def tree_lines(root, absent):
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            rel = "/" + os.path.relpath(os.path.join(dirpath, n), root)
            lines.append(describe(root, rel))
    for p in absent:
        if os.path.lexists(os.path.join(root, p.lstrip("/"))):
            lines.append("%s\tPRESENT-BUT-SHOULD-BE-ABSENT" % p)
        else:
            lines.append("%s\tabsent" % p)
    return sorted(lines)


def cmd_tree(a):
    for l in tree_lines(a.root, a.absent or []):
        print(l)


def cmd_check(a):
    want = [l for l in open(a.expect).read().splitlines() if l and not l.startswith("#")]
    absent = [l.split("\t")[0] for l in want if l.split("\t")[1:2] == ["absent"]]
    got = tree_lines(a.root, absent)
    if sorted(want) != got:
        import difflib
        sys.stdout.writelines(difflib.unified_diff([w + "\n" for w in sorted(want)], [g + "\n" for g in got], "expect", "actual"))
        sys.exit(1)
    print("tree matches %s (%d entries)" % (a.expect, len(got)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("layer")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--src")
    g.add_argument("--entries")
    s.add_argument("--compression", default="gzip", choices=sorted(MT_LAYER))
    s.add_argument("--out", required=True)
    s.add_argument("--comment")
    s.set_defaults(fn=cmd_layer)
    s = sub.add_parser("image")
    s.add_argument("--layout", required=True)
    s.add_argument("--ref", action="append", required=True)
    s.add_argument("--layer", action="append", default=[])
    s.add_argument("--config")
    s.add_argument("--arch", default="amd64")
    s.add_argument("--variant")
    s.set_defaults(fn=cmd_image)
    s = sub.add_parser("index")
    s.add_argument("--layout", required=True)
    s.add_argument("--ref", action="append", required=True)
    s.add_argument("--from", dest="src", action="append", required=True)
    s.add_argument("--drop-sources", action="store_true")
    s.set_defaults(fn=cmd_index)
    s = sub.add_parser("unpack")
    s.add_argument("--layout", required=True)
    s.add_argument("--ref", required=True)
    s.add_argument("--dest", required=True)
    s.add_argument("--platform", default="linux/amd64")
    s.set_defaults(fn=cmd_unpack)
    s = sub.add_parser("tree")
    s.add_argument("root")
    s.add_argument("--absent", action="append")
    s.set_defaults(fn=cmd_tree)
    s = sub.add_parser("check")
    s.add_argument("root")
    s.add_argument("expect")
    s.set_defaults(fn=cmd_check)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
