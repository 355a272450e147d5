#!/usr/bin/env bash
# Fasco test-image kit: builds OCI image layouts from Debian packages (no Dockerfiles, no
# network except apt) and serves them from local Distribution registries.
#
#   kit.sh deps                         apt-get install whatever the kit needs and is missing
#   kit.sh build [OUT]                  build OCI layouts under OUT (default /var/tmp/fasco-images)
#   kit.sh registry-start [DIR]         start registries (default DIR /var/tmp/fasco-registry):
#                                         http://127.0.0.1:5000   plain
#                                         http://127.0.0.1:5001   basic auth fasco / s3cret
#                                         https://127.0.0.1:5443  TLS, CA certificate in DIR/ca.crt
#   kit.sh registry-stop [DIR]          stop them
#   kit.sh push [OUT] [REGISTRY]        push everything (REGISTRY default 127.0.0.1:5000), corrupt
#                                       fasco/corrupt, write OUT/pushed.json
#   kit.sh all                          deps + build + registry-start + push
#   kit.sh status [DIR]                 show which registries are running
#   kit.sh smoke [OUT]                  run the built images in chroots/namespaces (busybox applets,
#                                       masked /bin/ls, nnp setuid, pause SIGTERM, nginx/httpd 200 ...)
#   kit.sh verify [OUT]                 check the running registries (catalog, auth, TLS, index,
#                                       corrupt blob fails digest verification, pulls)
#   kit.sh check-layered ROOTFS         compare an unpacked fasco/layered rootfs with layered.expect
#   kit.sh unpack OUT IMAGE REF DEST    reference unpack (gzip/zstd/plain layers, whiteouts) of a layout
#
# Environment: FASCO_IMAGES_OUT, FASCO_REGISTRY_DIR, FASCO_REG_PLAIN (127.0.0.1:5000),
# FASCO_REG_AUTH (127.0.0.1:5001), FASCO_REG_TLS (127.0.0.1:5443), FASCO_KIT_FORCE=1 (rebuild all).
#
# Not reproducible, so not built: gcr.io/k8s-staging-cri-tools/test-image-digest@sha256:9700f9a2...
# (critest pins the digest of the original 2021 manifest bytes; no local build can produce it).
set -euo pipefail

KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FILES="$KIT_DIR/files"
DEFAULT_OUT=${FASCO_IMAGES_OUT:-/var/tmp/fasco-images}
DEFAULT_REGDIR=${FASCO_REGISTRY_DIR:-/var/tmp/fasco-registry}
REG_PLAIN=${FASCO_REG_PLAIN:-127.0.0.1:5000}
REG_AUTH=${FASCO_REG_AUTH:-127.0.0.1:5001}
REG_TLS=${FASCO_REG_TLS:-127.0.0.1:5443}
AUTH_USER=fasco
AUTH_PASS=s3cret
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi
export LC_ALL=C

log() { printf '[kit %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ocitool() { "$PY" "$KIT_DIR/ocitool.py" "$@"; }

# ------------------------------------------------------------------------------------------ deps

DEPS=(docker-registry skopeo umoci busybox-static zstd apache2-utils openssl procps util-linux
      python3 gcc libc6-dev curl iproute2)

apt_update_once() {
    if [[ -z "${_KIT_APT_UPDATED:-}" ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        _KIT_APT_UPDATED=1
    fi
}

cmd_deps() {
    local missing=() p
    for p in "${DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "deps: all present"
        return 0
    fi
    log "deps: installing ${missing[*]}"
    apt_update_once
    # docker-registry's maintainer scripts would start a system registry on :5000; keep services
    # from starting while we install (standard policy-rc.d mechanism), then restore.
    local created_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null || rc=$?
    [[ -n "$created_policy" ]] && rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get install failed"
}

# ------------------------------------------------------------------------------------------ build helpers

OUT=""
WORK=""
DEBS=""
LAYERS=""
STAMPS=""
KIT_HASH=""

kit_hash() {
    # Everything that determines the images: the kit's files and the host packages we copy from.
    {
        # only the build part of kit.sh: editing the registry/push/smoke code keeps the cache
        sed -n '/^# -* build helpers$/,/^# -* registries$/p' "$KIT_DIR/kit.sh"
        cat "$KIT_DIR/ocitool.py" "$KIT_DIR/layered.json" "$FILES"/*
        dpkg-query -W -f='${Package}=${Version}\n' busybox-static procps util-linux libc6 libc6-dev gcc \
            zstd libssl3 libpcre2-8-0 zlib1g libcrypt1 libexpat1 libuuid1 libsystemd0 libproc2-0 libcap2 \
            libgcrypt20 liblzma5 libzstd1 liblz4-1 libgpg-error0 libgcc-s1 2>/dev/null || true
    } | sha256sum | cut -c1-16
}

# fresh NAME EXTRA...: true if the stamp for NAME is current (and the output exists)
fresh() {
    local name=$1; shift
    [[ -z "${FASCO_KIT_FORCE:-}" ]] || return 1
    local key; key=$(printf '%s\n' "$KIT_HASH" "$@" | sha256sum | cut -c1-16)
    [[ -f "$STAMPS/$name" && "$(cat "$STAMPS/$name")" == "$key" ]]
}
stamp() {
    local name=$1; shift
    printf '%s\n' "$KIT_HASH" "$@" | sha256sum | cut -c1-16 >"$STAMPS/$name"
}

# deb PKG: prints the path of a cached .deb for PKG (downloads the candidate version if needed)
deb() {
    local pkg=$1 f
    f=$(ls "$DEBS/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [[ -z "$f" ]]; then
        log "apt-get download $pkg"
        if ! (cd "$DEBS" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
            apt_update_once >&2
            (cd "$DEBS" && apt-get download -qq "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
        fi
        f=$(ls "$DEBS/${pkg}_"*.deb | head -n1)
    fi
    echo "$f"
}
debs_key() { local p; for p in "$@"; do basename "$(deb "$p")"; done; }

# copy_libs ROOT FILE...: copy the shared libraries FILE needs (per ldd) into ROOT at the same
# paths. Libraries already inside ROOT (from extracted packages) are found via LD_LIBRARY_PATH;
# libraries present under $LIBS_HAVE (a lower layer's rootfs) are not copied again.
copy_libs() {
    local root=$1; shift
    local f line lib
    for f in "$@"; do
        while read -r line; do
            [[ "$line" == *"not found"* ]] && die "ldd: $f: $line"
            lib=""
            if [[ "$line" == *"=> /"* ]]; then
                lib=${line#*=> }; lib=${lib%% (*}
            elif [[ "$line" == /* ]]; then
                lib=${line%% (*}
            fi
            [[ -n "$lib" ]] || continue
            [[ "$lib" == "$root"/* ]] && continue
            [[ -n "${LIBS_HAVE:-}" && -e "$LIBS_HAVE$lib" ]] && continue
            if [[ ! -e "$root$lib" ]]; then
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
            fi
        done < <(LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" ldd "$f" 2>&1 || true)
    done
}

# dlopen_libs ROOT: libraries glibc loads at run time, which ldd does not show (libgcc_s for
# pthread_exit/pthread_cancel unwinding: Apache's worker threads abort without it)
dlopen_libs() {
    local lib=/lib/x86_64-linux-gnu/libgcc_s.so.1
    mkdir -p "$1$(dirname "$lib")"
    cp -L "$lib" "$1$lib"
}

# busybox_rootfs DIR BUSYBOX symlink|hardlink PASSWD_EXTRA GROUP_EXTRA
busybox_rootfs() {
    local d=$1 bb=$2 how=$3 pw_extra=$4 gr_extra=$5 a
    rm -rf "$d"
    mkdir -p "$d"/{bin,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
    chmod 1777 "$d/tmp"
    chmod 0700 "$d/root"
    install -m 0755 "$bb" "$d/bin/busybox"
    for a in $("$bb" --list); do
        [[ "$a" == busybox ]] && continue
        if [[ $how == symlink ]]; then ln -s busybox "$d/bin/$a"; else ln "$d/bin/busybox" "$d/bin/$a"; fi
    done
    copy_libs "$d" "$d/bin/busybox"
    { cat "$FILES/busybox-passwd"; [[ -z "$pw_extra" ]] || printf '%s\n' "$pw_extra"; } >"$d/etc/passwd"
    { cat "$FILES/busybox-group"; [[ -z "$gr_extra" ]] || printf '%s\n' "$gr_extra"; } >"$d/etc/group"
    chmod 0644 "$d/etc/passwd" "$d/etc/group"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$d/etc/nsswitch.conf"
}

# mklayer NAME (--src DIR | --entries F:I) COMPRESSION
mklayer() {
    local name=$1 kind=$2 src=$3 comp=$4
    ocitool layer "$kind" "$src" --compression "$comp" --out "$LAYERS/$name" --comment "$name" >/dev/null
}

# ldig LAYER...: digests of built layers (image stamps depend on the layers they reuse)
ldig() { local l; for l in "$@"; do "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$LAYERS/$l.json"; done; }

cfgfile() { # cfgfile NAME JSON -> path of a config snippet file
    local f="$WORK/cfg-$1.json"
    printf '%s\n' "$2" >"$f"
    echo "$f"
}

# new_layout NAME: remove and recreate OUT/NAME
new_layout() { rm -rf "${OUT:?}/$1"; }

BASE_CFG='{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["sh"]}}'

# ------------------------------------------------------------------------------------------ layers

# fasco busybox: busybox-static with symlinked applets, users root/nobody/fasco.
# (Debian's busybox-static prefers applets: its sh runs applets even when /bin/<applet> is
# missing or masked. The critest base below uses the dynamic busybox, which does not.)
layer_fasco_busybox() {
    fresh layer-fasco-busybox && [[ -f "$LAYERS/fasco-busybox.json" ]] && return 0
    local r="$WORK/rootfs-fasco-busybox"
    busybox_rootfs "$r" /bin/busybox symlink \
        'fasco:x:1000:1000:Fasco Test User:/home/fasco:/bin/sh' 'fasco:x:1000:'
    mkdir -p "$r/home/fasco"
    chown 1000:1000 "$r/home/fasco"
    mklayer fasco-busybox --src "$r" gzip
    stamp layer-fasco-busybox
}

# critest base, like Docker Hub's busybox:glibc: Debian's dynamic busybox (not the static one, whose
# shell prefers applets, which breaks critest's MaskedPaths spec "/bin/sh: ls: Permission denied"),
# applets hard-linked in /bin (a symlink /bin/ls would make masking /bin/ls mask /bin/busybox),
# libc + libresolv, busybox's users (root, daemon, www-data, nobody, ...).
critest_base_rootfs() {
    local r="$WORK/rootfs-critest-base" x="$WORK/busybox-deb"
    [[ -x "$r/bin/busybox" ]] && return 0
    rm -rf "$x"; mkdir -p "$x"
    dpkg-deb -x "$(deb busybox)" "$x"
    busybox_rootfs "$r" "$x/bin/busybox" hardlink '' ''
}

layer_critest_base() {
    fresh layer-critest-base "$(debs_key busybox)" && [[ -f "$LAYERS/critest-base.json" ]] && return 0
    critest_base_rootfs
    mklayer critest-base --src "$WORK/rootfs-critest-base" gzip
    stamp layer-critest-base "$(debs_key busybox)"
}

# procps pgrep/pkill + util-linux ipcs/ipcrm/ipcmk with their libraries (busybox lacks them)
layer_critest_extras() {
    fresh layer-critest-extras "$(debs_key busybox)" && [[ -f "$LAYERS/critest-extras.json" ]] && return 0
    critest_base_rootfs
    local r="$WORK/rootfs-critest-extras" b
    rm -rf "$r"; mkdir -p "$r/usr/bin"
    for b in /usr/bin/pgrep /usr/bin/pkill /usr/bin/ipcs /usr/bin/ipcrm /usr/bin/ipcmk; do
        cp -L "$b" "$r/usr/bin/"
    done
    LIBS_HAVE="$WORK/rootfs-critest-base" copy_libs "$r" "$r"/usr/bin/*
    mklayer critest-extras --src "$r" gzip
    stamp layer-critest-extras "$(debs_key busybox)"
}

# ------------------------------------------------------------------------------------------ images

build_busybox() {
    layer_fasco_busybox
    fresh img-busybox "$(ldig fasco-busybox)" && [[ -d "$OUT/busybox" ]] && { log "busybox: cached"; return 0; }
    new_layout busybox
    ocitool image --layout "$OUT/busybox" --ref latest --ref 1.36 --ref 1.35 \
        --layer "$LAYERS/fasco-busybox.json" --config "$(cfgfile busybox "$BASE_CFG")"
    # variant: same filesystem, different config (entrypoint + user + workdir + labels)
    ocitool image --layout "$OUT/busybox" --ref variant-user \
        --layer "$LAYERS/fasco-busybox.json" --config "$(cfgfile busybox-v '{"config":{"Env":["'"$PATH_ENV"'","FASCO=1"],"Entrypoint":["/bin/sh","-c"],"Cmd":["id"],"User":"fasco","WorkingDir":"/home/fasco","Labels":{"org.opencontainers.image.title":"fasco busybox variant"},"StopSignal":"SIGINT"}}')"
    stamp img-busybox "$(ldig fasco-busybox)"
}

build_multiarch() {
    layer_fasco_busybox
    fresh img-multiarch "$(ldig fasco-busybox)" && [[ -d "$OUT/multiarch" ]] && { log "multiarch: cached"; return 0; }
    local e="$WORK/multiarch.json"
    printf '%s' '[{"path":"etc/","type":"dir","mode":"0755"},{"path":"etc/fasco-platform","type":"file","mode":"0644","content":"amd64\n"}]' >"$e"
    mklayer multiarch-amd64 --entries "$e" gzip
    printf '%s' '[{"path":"etc/","type":"dir","mode":"0755"},{"path":"etc/fasco-platform","type":"file","mode":"0644","content":"arm64\n"}]' >"$e"
    mklayer multiarch-arm64 --entries "$e" gzip
    new_layout multiarch
    ocitool image --layout "$OUT/multiarch" --ref amd64 --arch amd64 \
        --layer "$LAYERS/fasco-busybox.json" --layer "$LAYERS/multiarch-amd64.json" \
        --config "$(cfgfile multiarch "$BASE_CFG")"
    ocitool image --layout "$OUT/multiarch" --ref arm64 --arch arm64 --variant v8 \
        --layer "$LAYERS/multiarch-arm64.json" --config "$(cfgfile multiarch "$BASE_CFG")"
    ocitool index --layout "$OUT/multiarch" --ref latest --from amd64 --from arm64 --drop-sources
    stamp img-multiarch "$(ldig fasco-busybox)"
}

build_layered() {
    fresh img-layered && [[ -d "$OUT/layered" ]] && { log "layered: cached"; return 0; }
    local spec="$KIT_DIR/layered.json" n comp args=()
    n=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["layers"]))' "$spec")
    for ((i = 0; i < n; i++)); do
        comp=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][int(sys.argv[2])]["compression"])' "$spec" "$i")
        mklayer "layered-$((i + 1))" --entries "$spec:$i" "$comp"
        args+=(--layer "$LAYERS/layered-$((i + 1)).json")
    done
    new_layout layered
    ocitool image --layout "$OUT/layered" --ref latest "${args[@]}" \
        --config "$(cfgfile layered '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["/data/suid"],"WorkingDir":"/data"}}')"
    # self-check: the reference applier must produce exactly layered.expect
    local t="$WORK/layered-check"
    rm -rf "$t"
    ocitool unpack --layout "$OUT/layered" --ref latest --dest "$t"
    ocitool check "$t" "$KIT_DIR/layered.expect" >&2 || die "layered: tree differs from layered.expect"
    stamp img-layered
}

BIG_PKGS=(libpython3.11-minimal libpython3.11-stdlib perl-modules-5.36 libperl5.36 vim-runtime)

build_big() {
    local key; key=$(debs_key "${BIG_PKGS[@]}")
    fresh img-big "$key" && [[ -d "$OUT/big" ]] && { log "big: cached"; return 0; }
    local r args=() i=0
    # layer 1: python stdlib, 2: perl modules, 3: libperl, 4: vim runtime, 5: a small manifest
    for group in "libpython3.11-minimal libpython3.11-stdlib" perl-modules-5.36 libperl5.36 vim-runtime; do
        i=$((i + 1))
        r="$WORK/rootfs-big-$i"
        rm -rf "$r"; mkdir -p "$r"
        for p in $group; do dpkg-deb -x "$(deb "$p")" "$r"; done
        mklayer "big-$i" --src "$r" gzip
        args+=(--layer "$LAYERS/big-$i.json")
    done
    r="$WORK/rootfs-big-meta"
    rm -rf "$r"; mkdir -p "$r/etc"
    printf '%s\n' $key >"$r/etc/fasco-big-packages"
    mklayer big-meta --src "$r" gzip
    args+=(--layer "$LAYERS/big-meta.json")
    new_layout big
    ocitool image --layout "$OUT/big" --ref latest "${args[@]}" --config "$(cfgfile big '{"config":{"Env":["'"$PATH_ENV"'"]}}')"
    stamp img-big "$key"
}

build_corrupt() {
    layer_critest_base
    fresh img-corrupt "$(ldig critest-base)" && [[ -d "$OUT/corrupt" ]] && { log "corrupt: cached"; return 0; }
    local r="$WORK/rootfs-corrupt"
    rm -rf "$r"; mkdir -p "$r/payload"
    # 2 MiB of deterministic incompressible bytes, unique to this image so corrupting its blob in
    # the registry does not affect any other image.
    "$PY" -c '
import hashlib, sys
out = bytearray(); h = b"fasco-corrupt-payload"
while len(out) < 2 * 1024 * 1024:
    h = hashlib.sha256(h).digest(); out += h
open(sys.argv[1], "wb").write(out)' "$r/payload/blob.bin"
    mklayer corrupt-payload --src "$r" gzip
    new_layout corrupt
    ocitool image --layout "$OUT/corrupt" --ref latest \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/corrupt-payload.json" \
        --config "$(cfgfile corrupt "$BASE_CFG")"
    stamp img-corrupt "$(ldig critest-base)"
}

compile_static() { # compile_static SRC OUTBIN
    gcc -static -Os -s -o "$2" "$1"
}

build_pause() {
    fresh img-pause && [[ -d "$OUT/pause" ]] && { log "pause: cached"; return 0; }
    local r="$WORK/rootfs-pause"
    rm -rf "$r"; mkdir -p "$r"
    compile_static "$FILES/pause.c" "$r/pause"
    chmod 0755 "$r/pause"
    mklayer pause --src "$r" gzip
    new_layout pause
    local v
    for v in 3.6 3.10; do
        ocitool image --layout "$OUT/pause" --ref "$v" --layer "$LAYERS/pause.json" \
            --config "$(cfgfile pause '{"config":{"Entrypoint":["/pause"],"User":"65535:65535","Labels":{"io.fasco.pause.version":"'"$v"'"}}}')"
    done
    stamp img-pause
}

build_e2e_busybox() {
    layer_critest_base
    layer_critest_extras
    fresh img-e2e-busybox "$(ldig critest-base critest-extras)" && [[ -d "$OUT/e2e-busybox" ]] && { log "e2e-busybox: cached"; return 0; }
    new_layout e2e-busybox
    ocitool image --layout "$OUT/e2e-busybox" --ref 1.29-2 \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/critest-extras.json" \
        --config "$(cfgfile e2e-busybox '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["sh"],"Labels":{"image_version":"1.29-2"}}}')"
    stamp img-e2e-busybox "$(ldig critest-base critest-extras)"
}

build_nonewprivs() {
    layer_critest_base
    fresh img-nonewprivs "$(ldig critest-base)" && [[ -d "$OUT/e2e-nonewprivs" ]] && { log "nonewprivs: cached"; return 0; }
    local r="$WORK/rootfs-nnp"
    rm -rf "$r"; mkdir -p "$r/usr/local/bin"
    compile_static "$FILES/nnp.c" "$r/usr/local/bin/nnp"
    chown 0:0 "$r/usr/local/bin/nnp"
    chmod 4755 "$r/usr/local/bin/nnp"
    mklayer nnp --src "$r" gzip
    new_layout e2e-nonewprivs
    ocitool image --layout "$OUT/e2e-nonewprivs" --ref 1.3 \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/nnp.json" \
        --config "$(cfgfile nnp '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["nnp"]}}')"
    stamp img-nonewprivs "$(ldig critest-base)"
}

NGINX_PKGS=(nginx nginx-common)

layer_nginx() {
    local key; key=$(debs_key "${NGINX_PKGS[@]}")
    fresh layer-nginx "$key" && [[ -f "$LAYERS/nginx.json" ]] && return 0
    local x="$WORK/nginx-debs" r="$WORK/rootfs-nginx"
    rm -rf "$x" "$r"; mkdir -p "$x"
    for p in "${NGINX_PKGS[@]}"; do dpkg-deb -x "$(deb "$p")" "$x"; done
    mkdir -p "$r"/{usr/sbin,etc/nginx/conf.d,usr/share/nginx/html,var/lib/nginx,var/log/nginx,run,var/cache/nginx}
    install -m 0755 "$x/usr/sbin/nginx" "$r/usr/sbin/nginx"
    install -m 0644 "$x/etc/nginx/mime.types" "$r/etc/nginx/mime.types"
    install -m 0644 "$FILES/nginx.conf" "$r/etc/nginx/nginx.conf"
    install -m 0644 "$FILES/nginx-default.conf" "$r/etc/nginx/conf.d/default.conf"
    install -m 0644 "$FILES/nginx-index.html" "$r/usr/share/nginx/html/index.html"
    ln -s /dev/stdout "$r/var/log/nginx/access.log"
    ln -s /dev/stderr "$r/var/log/nginx/error.log"
    ln -s ../run "$r/var/run"
    critest_base_rootfs
    LIBS_HAVE="$WORK/rootfs-critest-base" copy_libs "$r" "$r/usr/sbin/nginx"
    dlopen_libs "$r"
    mklayer nginx --src "$r" gzip
    stamp layer-nginx "$key"
}

NGINX_CFG='{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["nginx","-g","daemon off;"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGTERM"}}'

build_nginx() {
    layer_critest_base
    layer_nginx
    fresh img-nginx "$(ldig critest-base nginx)" && [[ -d "$OUT/e2e-nginx" ]] && { log "nginx: cached"; return 0; }
    new_layout e2e-nginx
    ocitool image --layout "$OUT/e2e-nginx" --ref 1.14-2 \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/nginx.json" --config "$(cfgfile nginx "$NGINX_CFG")"
    stamp img-nginx "$(ldig critest-base nginx)"
}

build_hostnet_nginx() {
    layer_critest_base
    layer_nginx
    fresh img-hostnet-nginx "$(ldig critest-base nginx)" && [[ -d "$OUT/hostnet-nginx" ]] && { log "hostnet-nginx: cached"; return 0; }
    local r="$WORK/rootfs-hostnet"
    rm -rf "$r"; mkdir -p "$r/etc/nginx/conf.d"
    install -m 0644 "$FILES/hostnet-nginx-default.conf" "$r/etc/nginx/conf.d/default.conf"
    mklayer hostnet-conf --src "$r" gzip
    new_layout hostnet-nginx
    ocitool image --layout "$OUT/hostnet-nginx" --ref latest \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/nginx.json" --layer "$LAYERS/hostnet-conf.json" \
        --config "$(cfgfile hostnet '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["nginx","-g","daemon off;"],"ExposedPorts":{"12003/tcp":{}},"StopSignal":"SIGTERM"}}')"
    stamp img-hostnet-nginx "$(ldig critest-base nginx)"
}

HTTPD_PKGS=(apache2-bin libapr1 libaprutil1)

build_httpd() {
    layer_critest_base
    local key; key=$(debs_key "${HTTPD_PKGS[@]}")
    fresh img-httpd "$key" "$(ldig critest-base)" && [[ -d "$OUT/e2e-httpd" ]] && { log "httpd: cached"; return 0; }
    local x="$WORK/httpd-debs" r="$WORK/rootfs-httpd" m
    rm -rf "$x" "$r"; mkdir -p "$x"
    for p in "${HTTPD_PKGS[@]}"; do dpkg-deb -x "$(deb "$p")" "$x"; done
    local ap="$r/usr/local/apache2"
    mkdir -p "$ap"/{bin,conf,htdocs,logs,modules} "$r/usr/lib/x86_64-linux-gnu"
    # Debian's apache2 binary under the upstream image's name, so messages read "httpd: ..."
    install -m 0755 "$x/usr/sbin/apache2" "$ap/bin/httpd"
    install -m 0755 "$FILES/httpd-foreground" "$ap/bin/httpd-foreground"
    install -m 0644 "$FILES/httpd.conf" "$ap/conf/httpd.conf"
    install -m 0644 "$FILES/apache-mime.types" "$ap/conf/mime.types"
    printf '<html><body><h1>It works!</h1></body></html>\n' >"$ap/htdocs/index.html"
    for m in mpm_event authz_core mime dir; do
        install -m 0644 "$x/usr/lib/apache2/modules/mod_$m.so" "$ap/modules/"
    done
    cp -a "$x"/usr/lib/x86_64-linux-gnu/libapr-1.so.0* "$x"/usr/lib/x86_64-linux-gnu/libaprutil-1.so.0* \
        "$r/usr/lib/x86_64-linux-gnu/"
    critest_base_rootfs
    LIBS_HAVE="$WORK/rootfs-critest-base" copy_libs "$r" "$ap/bin/httpd" "$ap"/modules/*.so "$r"/usr/lib/x86_64-linux-gnu/*.so.*
    dlopen_libs "$r"
    mklayer httpd --src "$r" gzip
    new_layout e2e-httpd
    ocitool image --layout "$OUT/e2e-httpd" --ref 2.4.39-4 \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/httpd.json" \
        --config "$(cfgfile httpd '{"config":{"Env":["PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","HTTPD_PREFIX=/usr/local/apache2"],"Cmd":["httpd-foreground"],"WorkingDir":"/usr/local/apache2","ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGWINCH"}}')"
    stamp img-httpd "$key" "$(ldig critest-base)"
}

# cri-tools images/image-test: FROM busybox + an empty file named after the image
build_test_images() {
    layer_critest_base
    fresh img-test-images "$(ldig critest-base)" && [[ -d "$OUT/test-image-tags" ]] && { log "test-image-*: cached"; return 0; }
    local e="$WORK/marker.json" name file
    mk_marker() { # mk_marker LAYERNAME FILE
        printf '[{"path":"%s","type":"file","mode":"0644"}]' "$2" >"$e"
        mklayer "$1" --entries "$e" gzip
    }
    # layout:ref:file
    for spec in test-image-tag:test:test test-image-tag:all:all test-image-latest:latest:test-image-latest \
        test-image-1:latest:test-image-1 test-image-2:latest:test-image-2 test-image-3:latest:test-image-3; do
        IFS=: read -r name ref file <<<"$spec"
        mk_marker "marker-$file" "$file"
        [[ "$ref" == all ]] || new_layout "$name"
        ocitool image --layout "$OUT/$name" --ref "$ref" \
            --layer "$LAYERS/critest-base.json" --layer "$LAYERS/marker-$file.json" --config "$(cfgfile t "$BASE_CFG")"
    done
    mk_marker marker-same-image same-image
    new_layout test-image-tags
    ocitool image --layout "$OUT/test-image-tags" --ref 1 --ref 2 --ref 3 \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/marker-same-image.json" --config "$(cfgfile t "$BASE_CFG")"
    # cri-tools images/image-user: FROM busybox, USER <x>
    local user
    for spec in uid:1002 username:www-data uid-group:1003:1004 username-group:www-data:1004; do
        name=${spec%%:*}; user=${spec#*:}
        new_layout "test-image-user-$name"
        ocitool image --layout "$OUT/test-image-user-$name" --ref latest --layer "$LAYERS/critest-base.json" \
            --config "$(cfgfile t '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["sh"],"User":"'"$user"'"}}')"
    done
    # cri-tools images/image-predefined-group
    local r="$WORK/rootfs-predefined-group"
    rm -rf "$r"; mkdir -p "$r/etc" "$r/home/default-user"
    { cat "$FILES/busybox-passwd"; echo 'default-user:x:1000:1000::/home/default-user:/bin/sh'; } >"$r/etc/passwd"
    { cat "$FILES/busybox-group"; echo 'default-user:x:1000:'; echo 'group-defined-in-image:x:50000:default-user'; } >"$r/etc/group"
    chmod 0644 "$r/etc/passwd" "$r/etc/group"
    chown 1000:1000 "$r/home/default-user"
    chmod 2755 "$r/home/default-user"
    chmod 0755 "$r/etc"
    mklayer predefined-group --src "$r" gzip
    new_layout test-image-predefined-group
    ocitool image --layout "$OUT/test-image-predefined-group" --ref latest \
        --layer "$LAYERS/critest-base.json" --layer "$LAYERS/predefined-group.json" \
        --config "$(cfgfile t '{"config":{"Env":["'"$PATH_ENV"'"],"Cmd":["sh"],"User":"1000"}}')"
    stamp img-test-images "$(ldig critest-base)"
}

cmd_build() {
    OUT=$(realpath -m "${1:-$DEFAULT_OUT}")
    mkdir -p "$OUT"
    WORK="$OUT/.work"; DEBS="$OUT/.debs"; LAYERS="$OUT/.layers"; STAMPS="$OUT/.stamps"
    mkdir -p "$WORK" "$DEBS" "$LAYERS" "$STAMPS"
    for t in "$PY" skopeo umoci zstd gcc dpkg-deb /bin/busybox /usr/bin/pgrep /usr/bin/ipcs; do
        command -v "$t" >/dev/null || die "missing $t (run: $0 deps)"
    done
    KIT_HASH=$(kit_hash)
    local t0=$SECONDS
    build_busybox
    build_multiarch
    build_layered
    build_big
    build_corrupt
    build_pause
    build_e2e_busybox
    build_nonewprivs
    build_nginx
    build_hostnet_nginx
    build_httpd
    build_test_images
    rm -rf "$WORK"
    log "build done in $((SECONDS - t0))s; layouts in $OUT"
}

# ------------------------------------------------------------------------------------------ registries

REGS=(plain auth tls)
reg_addr() { case $1 in plain) echo "$REG_PLAIN" ;; auth) echo "$REG_AUTH" ;; tls) echo "$REG_TLS" ;; esac; }
reg_url() { case $1 in tls) echo "https://$(reg_addr tls)/v2/" ;; *) echo "http://$(reg_addr "$1")/v2/" ;; esac; }

reg_answers() { # reg_answers NAME DIR -> 0 if GET /v2/ gives 200 or 401
    local code extra=()
    [[ $1 == tls ]] && extra=(--cacert "$2/ca.crt")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${extra[@]}" "$(reg_url "$1")" || true)
    [[ "$code" == 200 || "$code" == 401 ]]
}

reg_pid_alive() { # reg_pid_alive DIR NAME
    local pf="$1/$2/registry.pid" pid
    [[ -f "$pf" ]] || return 1
    pid=$(cat "$pf")
    [[ -n "$pid" && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'docker-registry serve'
}

make_certs() {
    local d=$1
    [[ -f "$d/ca.crt" && -f "$d/tls/server.crt" && -f "$d/tls/server.key" ]] && return 0
    log "generating CA and server certificate"
    mkdir -p "$d/tls"
    local t="$d/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Fasco Test CA" \
        -keyout "$t/ca.key" -out "$t/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
        -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
        -days 3650 -sha256 -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null
    cp "$t/ca.crt" "$d/ca.crt"
    # containers-style cert dirs (skopeo --cert-dir, /etc/containers/certs.d layout)
    local port=${REG_TLS##*:}
    mkdir -p "$d/certs.d/127.0.0.1:$port" "$d/certs.d/localhost:$port"
    cp "$t/ca.crt" "$d/certs.d/127.0.0.1:$port/ca.crt"
    cp "$t/ca.crt" "$d/certs.d/localhost:$port/ca.crt"
}

write_reg_config() { # write_reg_config DIR NAME
    local d=$1 n=$2 c="$1/$2"
    mkdir -p "$c/storage"
    [[ -f "$c/secret" ]] || head -c 24 /dev/urandom | base64 >"$c/secret"
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: info"
        echo "  formatter: text"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: $c/storage"
        echo "  delete:"
        echo "    enabled: true"
        echo "http:"
        echo "  addr: $(reg_addr "$n")"
        echo "  secret: $(cat "$c/secret")"
        echo "  headers:"
        echo "    X-Content-Type-Options: [nosniff]"
        if [[ $n == tls ]]; then
            echo "  tls:"
            echo "    certificate: $d/tls/server.crt"
            echo "    key: $d/tls/server.key"
        fi
        if [[ $n == auth ]]; then
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: fasco-test-registry"
            echo "    path: $d/auth/htpasswd"
        fi
    } >"$c/config.yml"
}

cmd_registry_start() {
    local d; d=$(realpath -m "${1:-$DEFAULT_REGDIR}")
    mkdir -p "$d"
    command -v docker-registry >/dev/null || die "docker-registry missing (run: $0 deps)"
    make_certs "$d"
    mkdir -p "$d/auth"
    if [[ ! -f "$d/auth/htpasswd" ]] || ! htpasswd -vb "$d/auth/htpasswd" "$AUTH_USER" "$AUTH_PASS" >/dev/null 2>&1; then
        htpasswd -Bbc "$d/auth/htpasswd" "$AUTH_USER" "$AUTH_PASS" 2>/dev/null
    fi
    local n pid started=()
    for n in "${REGS[@]}"; do
        if reg_pid_alive "$d" "$n" && reg_answers "$n" "$d"; then
            log "registry $n already running (pid $(cat "$d/$n/registry.pid")) on $(reg_addr "$n")"
            continue
        fi
        if reg_pid_alive "$d" "$n"; then
            kill "$(cat "$d/$n/registry.pid")" 2>/dev/null || true
            sleep 1
        fi
        if reg_answers "$n" "$d"; then
            die "something else already answers on $(reg_addr "$n"); stop it or set FASCO_REG_${n^^}"
        fi
        write_reg_config "$d" "$n"
        # setsid: own session, so the registry outlives this script and its terminal/job group
        setsid docker-registry serve "$d/$n/config.yml" >>"$d/$n/registry.log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$d/$n/registry.pid"
        started+=("$n")
        log "started registry $n (pid $pid) on $(reg_addr "$n"), log $d/$n/registry.log"
    done
    for n in "${started[@]}"; do
        local i
        for ((i = 0; i < 100; i++)); do
            reg_answers "$n" "$d" && break
            reg_pid_alive "$d" "$n" || { tail -n 20 "$d/$n/registry.log" >&2; die "registry $n exited"; }
            sleep 0.1
        done
        reg_answers "$n" "$d" || { tail -n 20 "$d/$n/registry.log" >&2; die "registry $n does not answer"; }
    done
    log "registries ready: http://$REG_PLAIN  http://$REG_AUTH ($AUTH_USER:$AUTH_PASS)  https://$REG_TLS (CA $d/ca.crt)"
}

cmd_registry_stop() {
    local d; d=$(realpath -m "${1:-$DEFAULT_REGDIR}")
    local n pid i
    for n in "${REGS[@]}"; do
        if reg_pid_alive "$d" "$n"; then
            pid=$(cat "$d/$n/registry.pid")
            kill "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
            [[ -d /proc/$pid ]] && kill -9 "$pid" 2>/dev/null || true
            log "stopped registry $n (pid $pid)"
        fi
        rm -f "$d/$n/registry.pid"
    done
}

cmd_status() {
    local d; d=$(realpath -m "${1:-$DEFAULT_REGDIR}")
    local n
    for n in "${REGS[@]}"; do
        if reg_pid_alive "$d" "$n" && reg_answers "$n" "$d"; then
            echo "$n $(reg_url "$n") running pid $(cat "$d/$n/registry.pid")"
        else
            echo "$n $(reg_url "$n") not running"
        fi
    done
}

# ------------------------------------------------------------------------------------------ push

# layout:ref  ->  repository:tag (on the plain registry; upstream host stripped)
PUSH_LIST=(
    "busybox:latest fasco/busybox:latest"
    "busybox:1.36 fasco/busybox:1.36"
    "busybox:1.35 fasco/busybox:1.35"
    "busybox:variant-user fasco/busybox:variant-user"
    "multiarch:latest fasco/multiarch:latest"
    "layered:latest fasco/layered:latest"
    "big:latest fasco/big:latest"
    "corrupt:latest fasco/corrupt:latest"
    "e2e-busybox:1.29-2 e2e-test-images/busybox:1.29-2"
    "e2e-nginx:1.14-2 e2e-test-images/nginx:1.14-2"
    "e2e-httpd:2.4.39-4 e2e-test-images/httpd:2.4.39-4"
    "e2e-nonewprivs:1.3 e2e-test-images/nonewprivs:1.3"
    "pause:3.6 pause:3.6"
    "pause:3.10 pause:3.10"
    "hostnet-nginx:latest k8s-staging-cri-tools/hostnet-nginx-amd64:latest"
    "test-image-tag:test k8s-staging-cri-tools/test-image-tag:test"
    "test-image-tag:all k8s-staging-cri-tools/test-image-tag:all"
    "test-image-latest:latest k8s-staging-cri-tools/test-image-latest:latest"
    "test-image-1:latest k8s-staging-cri-tools/test-image-1:latest"
    "test-image-2:latest k8s-staging-cri-tools/test-image-2:latest"
    "test-image-3:latest k8s-staging-cri-tools/test-image-3:latest"
    "test-image-tags:1 k8s-staging-cri-tools/test-image-tags:1"
    "test-image-tags:2 k8s-staging-cri-tools/test-image-tags:2"
    "test-image-tags:3 k8s-staging-cri-tools/test-image-tags:3"
    "test-image-user-uid:latest k8s-staging-cri-tools/test-image-user-uid:latest"
    "test-image-user-username:latest k8s-staging-cri-tools/test-image-user-username:latest"
    "test-image-user-uid-group:latest k8s-staging-cri-tools/test-image-user-uid-group:latest"
    "test-image-user-username-group:latest k8s-staging-cri-tools/test-image-user-username-group:latest"
    "test-image-predefined-group:latest k8s-staging-cri-tools/test-image-predefined-group:latest"
    # critest -benchmark pulls public.ecr.aws/docker/library/busybox:* (mirror public.ecr.aws too)
    "e2e-busybox:1.29-2 docker/library/busybox:1.35.0-glibc"
    "e2e-busybox:1.29-2 docker/library/busybox:1"
    "e2e-busybox:1.29-2 docker/library/busybox:1-glibc"
    "e2e-busybox:1.29-2 docker/library/busybox:1-musl"
    "e2e-busybox:1.29-2 docker/library/busybox:1-uclibc"
)

SKOPEO=(skopeo --insecure-policy)

# sk_copy SRC DST [extra...]
sk_copy() {
    local src=$1 dst=$2; shift 2
    "${SKOPEO[@]}" copy --quiet --preserve-digests --all "$@" "$src" "$dst" >/dev/null
}

corrupt_blob() { # corrupt_blob STORAGE_ROOT DIGEST
    local hex=${2#sha256:}
    local f="$1/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
    [[ -f "$f" ]] || { log "WARNING: blob file $f not found; fasco/corrupt NOT corrupted"; return 0; }
    if [[ "$(sha256sum "$f" | cut -d' ' -f1)" != "$hex" ]]; then
        log "fasco/corrupt layer $2 already corrupted"
        return 0
    fi
    "$PY" - "$f" <<'EOF'
import os, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(size // 2)
    b = f.read(16)
    f.seek(size // 2)
    f.write(bytes(x ^ 0xFF for x in b))
EOF
    log "corrupted layer blob $2 of fasco/corrupt ($f, 16 bytes flipped at the middle, size unchanged)"
}

cmd_push() {
    OUT=$(realpath -m "${1:-$DEFAULT_OUT}")
    local reg=${2:-$REG_PLAIN}
    local regdir; regdir=$(realpath -m "$DEFAULT_REGDIR")
    [[ -f "$OUT/busybox/index.json" ]] || die "nothing built in $OUT (run: $0 build $OUT)"
    local t0=$SECONDS entry src dst layout ref
    local refs_file="$OUT/.pushed-refs"
    : >"$refs_file"
    for entry in "${PUSH_LIST[@]}"; do
        src=${entry%% *}; dst=${entry#* }
        layout=${src%%:*}; ref=${src#*:}
        log "push $layout:$ref -> $reg/$dst"
        sk_copy "oci:$OUT/$layout:$ref" "docker://$reg/$dst" --dest-tls-verify=false
        echo "$reg $dst $OUT/$layout $ref" >>"$refs_file"
    done
    # the same busybox on the auth and the TLS registries
    log "push busybox -> $REG_AUTH/fasco/busybox:latest (basic auth)"
    sk_copy "oci:$OUT/busybox:latest" "docker://$REG_AUTH/fasco/busybox:latest" --dest-tls-verify=false \
        --dest-creds "$AUTH_USER:$AUTH_PASS"
    echo "$REG_AUTH fasco/busybox:latest $OUT/busybox latest" >>"$refs_file"
    log "push busybox -> $REG_TLS/fasco/busybox:latest (TLS)"
    if [[ -d "$regdir/certs.d/${REG_TLS}" ]]; then
        sk_copy "oci:$OUT/busybox:latest" "docker://$REG_TLS/fasco/busybox:latest" --dest-cert-dir "$regdir/certs.d/$REG_TLS"
    else
        sk_copy "oci:$OUT/busybox:latest" "docker://$REG_TLS/fasco/busybox:latest" --dest-tls-verify=false
    fi
    echo "$REG_TLS fasco/busybox:latest $OUT/busybox latest" >>"$refs_file"

    # corrupt the payload layer (last layer) of fasco/corrupt inside the plain registry's storage
    local cdig
    cdig=$("$PY" -c '
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = [x for x in idx["manifests"] if x["annotations"]["org.opencontainers.image.ref.name"] == "latest"][0]
man = json.load(open(d + "/blobs/sha256/" + m["digest"].split(":")[1]))
print(man["layers"][-1]["digest"])' "$OUT/corrupt")
    if [[ "$reg" == "$REG_PLAIN" && -d "$regdir/plain/storage" ]]; then
        corrupt_blob "$regdir/plain/storage" "$cdig"
    else
        log "WARNING: $reg is not the kit's plain registry ($regdir); fasco/corrupt left intact"
    fi
    summarize "$refs_file" "$OUT/pushed.json" "$regdir"
    log "push done in $((SECONDS - t0))s; summary in $OUT/pushed.json"
}

# summarize REFS_FILE JSON_OUT REGDIR: query every pushed reference back from its registry
summarize() {
    local refs_file=$1 json=$2 regdir=$3
    "$PY" - "$refs_file" "$json" "$regdir" "$REG_AUTH" "$REG_TLS" "$AUTH_USER:$AUTH_PASS" <<'EOF'
import hashlib, json, os, subprocess, sys
refs_file, out, regdir, reg_auth, reg_tls, creds = sys.argv[1:7]

def sk(reg, ref, *args):
    cmd = ["skopeo", "--insecure-policy", "inspect", "--raw"] + list(args)
    if reg == reg_tls and os.path.isdir(os.path.join(regdir, "certs.d", reg)):
        cmd += ["--cert-dir", os.path.join(regdir, "certs.d", reg)]
    else:
        cmd += ["--tls-verify=false"]
    if reg == reg_auth:
        cmd += ["--creds", creds]
    return subprocess.run(cmd + ["docker://%s/%s" % (reg, ref)], check=True, stdout=subprocess.PIPE).stdout

def local_digest(layout, ref):
    idx = json.load(open(os.path.join(layout, "index.json")))
    return [m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == ref][0]["digest"]

result = []
for line in open(refs_file):
    reg, repotag, layout, lref = line.split()
    repo, tag = repotag.rsplit(":", 1)
    raw = sk(reg, repotag)
    mdig = "sha256:" + hashlib.sha256(raw).hexdigest()
    if mdig != local_digest(layout, lref):
        sys.exit("digest not preserved for %s/%s: %s != %s" % (reg, repotag, mdig, local_digest(layout, lref)))
    man = json.loads(raw)
    entry = {"reference": "%s/%s" % (reg, repotag), "registry": reg, "repository": repo, "tag": tag,
             "mediaType": man.get("mediaType"), "manifestDigest": mdig}
    if "manifests" in man:
        entry["platforms"] = [dict(p["platform"], digest=p["digest"]) for p in man["manifests"]]
        amd = [p for p in man["manifests"] if p["platform"]["architecture"] == "amd64"][0]
        entry["platformManifestDigest"] = amd["digest"]
        man = json.loads(sk(reg, "%s@%s" % (repo, amd["digest"])))
    cfg_raw = sk(reg, repotag, "--config")
    cdig = "sha256:" + hashlib.sha256(cfg_raw).hexdigest()
    if cdig != man["config"]["digest"]:
        sys.exit("config digest mismatch for %s: %s vs %s" % (repotag, cdig, man["config"]["digest"]))
    entry["configDigest"] = cdig
    entry["layers"] = [{"digest": l["digest"], "size": l["size"], "mediaType": l["mediaType"]} for l in man["layers"]]
    result.append(entry)
    print("%-78s manifest %s  config %s" % (entry["reference"], mdig, cdig))
with open(out, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
EOF
}

# ------------------------------------------------------------------------------------------ smoke / verify

PASSES=0
FAILS=0
ok() { PASSES=$((PASSES + 1)); printf 'PASS %s\n' "$*"; }
bad() { FAILS=$((FAILS + 1)); printf 'FAIL %s\n' "$*"; }
expect_in() { # expect_in NAME NEEDLE HAYSTACK
    if [[ "$3" == *"$2"* ]]; then ok "$1"; else bad "$1: expected '$2' in: $(printf '%s' "$3" | head -c 600)"; fi
}

smoke_unpack() { # smoke_unpack LAYOUT:REF DEST -> rootfs path (umoci, an independent unpacker)
    rm -rf "$2"
    umoci unpack --image "$1" "$2" >/dev/null
    mkdir -p "$2/rootfs/dev" "$2/rootfs/proc" "$2/rootfs/sys"
    echo "$2/rootfs"
}

# in_ns ROOTFS CMD...: run CMD chrooted in ROOTFS in new mount/pid/net/uts/ipc namespaces, with
# /proc and /sys mounted, /dev bound from the host and loopback up. CMD is PID 1 of the new pid namespace.
in_ns() {
    local r=$1; shift
    unshare -m -p -f -n -u -i --kill-child sh -c '
        r=$1; shift
        mount --bind /dev "$r/dev"
        mount -t proc proc "$r/proc"
        mount -t sysfs sysfs "$r/sys"
        ip link set lo up
        hostname smoke-test
        exec chroot "$r" "$@"' in_ns "$r" "$@"
}

# ns_init_pid PID: host pid of the child of the first `unshare` at or below PID (the namespace's PID 1)
ns_init_pid() {
    local p=$1 i c
    for ((i = 0; i < 4; i++)); do
        c=$(pgrep -P "$p" | head -n1 || true)
        [[ -n "$c" ]] || return 0
        if [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == unshare ]]; then echo "$c"; return 0; fi
        p=$c
    done
}

# serve_check NAME ROOTFS PORT LOG CMD...: start a server as PID 1 in a private netns, GET / on PORT
serve_check() {
    local name=$1 r=$2 port=$3 logf=$4; shift 4
    in_ns "$r" "$@" >"$logf" 2>&1 &
    local upid=$! pid="" i code=""
    for ((i = 0; i < 50; i++)); do
        pid=$(ns_init_pid "$upid")  # unshare's child execs the server (PID 1)
        if [[ -n "$pid" ]]; then
            code=$(nsenter -t "$pid" -n curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null || true)
            [[ "$code" == 200 ]] && break
        fi
        sleep 0.2
    done
    [[ "$code" == 200 ]] && ok "$name: GET / on :$port -> 200" || bad "$name: GET / on :$port -> '$code'"
    SERVE_PID=$pid
    SERVE_UNSHARE=$upid
}
serve_stop() {
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$SERVE_UNSHARE" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVE_UNSHARE" 2>/dev/null || true
    wait "$SERVE_UNSHARE" 2>/dev/null || true
}

cmd_smoke() {
    OUT=$(realpath -m "${1:-$DEFAULT_OUT}")
    local S="$OUT/.smoke" r out
    rm -rf "$S"; mkdir -p "$S"

    # fasco/busybox
    r=$(smoke_unpack "$OUT/busybox:latest" "$S/busybox")
    out=$(chroot "$r" /bin/sh -c 'echo ok; id nobody; id fasco' 2>&1 || true)
    expect_in "busybox: sh runs" "ok" "$out"
    expect_in "busybox: nobody" "uid=65534(nobody)" "$out"
    expect_in "busybox: fasco" "uid=1000(fasco) gid=1000(fasco)" "$out"
    out=$(stat -c '%a %U' "$r/tmp" "$r/root"; readlink "$r/bin/ls")
    expect_in "busybox: /tmp 1777, /root, /bin/ls symlink" $'1777 root\n700 root\nbusybox' "$out"

    # multiarch amd64 member
    r=$(smoke_unpack "$OUT/multiarch:latest" "$S/multiarch" 2>/dev/null || true)
    if [[ -n "$r" && -f "$r/etc/fasco-platform" ]]; then
        expect_in "multiarch: amd64 marker" "amd64" "$(cat "$r/etc/fasco-platform")"
    else
        r="$S/multiarch-ref"; ocitool unpack --layout "$OUT/multiarch" --ref latest --dest "$r"
        expect_in "multiarch: amd64 marker (reference unpack)" "amd64" "$(cat "$r/etc/fasco-platform")"
    fi

    # layered (zstd + plain layers: umoci cannot read zstd, use the reference applier)
    rm -rf "$S/layered"
    ocitool unpack --layout "$OUT/layered" --ref latest --dest "$S/layered"
    out=$(ocitool check "$S/layered" "$KIT_DIR/layered.expect" 2>&1 || true)
    expect_in "layered: tree matches layered.expect" "tree matches" "$out"

    # critest busybox
    r=$(smoke_unpack "$OUT/e2e-busybox:1.29-2" "$S/e2e-busybox")
    out=$(in_ns "$r" /bin/sh -c 'echo -n hello; echo; sleep 4321 & sleep 0.2; pgrep sleep >/dev/null && echo pgrep-ok; kill %1; ipcs -m | head -n 2; pidof sh; id -nu 2>&1; brctl addbr foobar && brctl delbr foobar && echo brctl-ok; netstat -ln >/dev/null && echo netstat-ok; cd /tmp && touch test.go && [ -f test.go ] && echo Found; sleep infinity & p=$!; sleep 0.3; kill -0 $p && echo inf-alive; hostname; dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null && echo dd-ok' 2>&1 || true)
    expect_in "e2e-busybox: echo -n" $'hello\n' "$out"
    expect_in "e2e-busybox: pgrep finds sleep" "pgrep-ok" "$out"
    expect_in "e2e-busybox: ipcs -m" "Shared Memory Segments" "$out"
    expect_in "e2e-busybox: pidof sh -> 1" $'\n1\n' "$out"
    expect_in "e2e-busybox: brctl" "brctl-ok" "$out"
    expect_in "e2e-busybox: netstat" "netstat-ok" "$out"
    expect_in "e2e-busybox: touch in /tmp" "Found" "$out"
    expect_in "e2e-busybox: sleep infinity" "inf-alive" "$out"
    expect_in "e2e-busybox: hostname" "smoke-test" "$out"
    out=$(chroot --userspec=65534:65534 "$r" /bin/id -nu 2>&1 || true)
    expect_in "e2e-busybox: id -nu as 65534" "nobody" "$out"
    # MaskedPaths /bin/ls -> /dev/null: sh must exec /bin/ls (no applet shortcut)
    out=$(unshare -m sh -c 'mount --bind /dev/null "$1/bin/ls"; chroot "$1" /bin/sh -c ls' x "$r" 2>&1 || true)
    expect_in "e2e-busybox: masked /bin/ls" "/bin/sh: ls: Permission denied" "$out"
    out=$(unshare -m sh -c 'mount --bind "$1/tmp" "$1/tmp"; mount -o remount,bind,ro "$1/tmp"; chroot "$1" touch /tmp/test' x "$r" 2>&1 || true)
    expect_in "e2e-busybox: read-only /tmp message" "touch: /tmp/test: Read-only file system" "$out"

    # nonewprivs
    r=$(smoke_unpack "$OUT/e2e-nonewprivs:1.3" "$S/nnp")
    out=$(chroot --userspec=1000:1000 "$r" /usr/local/bin/nnp 2>&1 || true)
    expect_in "nonewprivs: setuid effective" "Effective uid: 0" "$out"
    out=$(setpriv --no-new-privs chroot --userspec=1000:1000 "$r" /usr/local/bin/nnp 2>&1 || true)
    expect_in "nonewprivs: no_new_privs" "Effective uid: 1000" "$out"

    # pause: runs as pid 1, exits 0 on SIGTERM
    r=$(smoke_unpack "$OUT/pause:3.10" "$S/pause")
    in_ns "$r" /pause >"$S/pause.log" 2>&1 &
    local upid=$! ppid rc=0 i
    sleep 0.5
    ppid=$(ns_init_pid "$upid")
    kill -TERM "$ppid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
    wait "$upid" || rc=$?
    [[ $rc == 0 ]] && ok "pause: exits 0 on SIGTERM" || bad "pause: exit code $rc ($(cat "$S/pause.log"))"

    # nginx: pid 1 "master process", /var/run/nginx.pid, 200 on :80
    r=$(smoke_unpack "$OUT/e2e-nginx:1.14-2" "$S/nginx")
    serve_check "nginx" "$r" 80 "$S/nginx.log" nginx -g 'daemon off;'
    sleep 0.5
    expect_in "nginx: pid 1 is master" "master process" "$(tr '\0' ' ' <"/proc/$SERVE_PID/cmdline" 2>/dev/null)"
    expect_in "nginx: /var/run/nginx.pid" "1" "$(cat "$r/var/run/nginx.pid" 2>/dev/null)"
    serve_stop
    r=$(smoke_unpack "$OUT/hostnet-nginx:latest" "$S/hostnet")
    serve_check "hostnet-nginx" "$r" 12003 "$S/hostnet.log" nginx -g 'daemon off;'
    serve_stop

    # httpd: 200 on :80, "httpd" in its log, echo
    r=$(smoke_unpack "$OUT/e2e-httpd:2.4.39-4" "$S/httpd")
    serve_check "httpd" "$r" 80 "$S/httpd.log" /usr/local/apache2/bin/httpd-foreground
    sleep 1.5
    serve_stop
    if grep -Eq 'must be installed|exit signal|not found' "$S/httpd.log"; then
        bad "httpd: errors in log: $(grep -E 'must be installed|exit signal|not found' "$S/httpd.log" | head -n 3)"
    else
        ok "httpd: no crashing children"
    fi
    expect_in "httpd: log mentions httpd" "httpd" "$(cat "$S/httpd.log")"
    expect_in "httpd: echo" "httpd" "$(chroot "$r" echo httpd)"

    # predefined group
    r=$(smoke_unpack "$OUT/test-image-predefined-group:latest" "$S/pg")
    expect_in "predefined-group: id -G default-user" "1000 50000" "$(chroot "$r" id -G default-user 2>&1)"

    # every layout ref is accepted by skopeo
    local entry src n=0
    for entry in "${PUSH_LIST[@]}"; do
        src=${entry%% *}
        if "${SKOPEO[@]}" inspect --raw "oci:$OUT/${src%%:*}:${src#*:}" >/dev/null 2>&1; then n=$((n + 1)); else bad "skopeo inspect oci:$src"; fi
    done
    ok "skopeo reads $n layout refs"
    rm -rf "$S"
    echo "smoke: $PASSES passed, $FAILS failed"
    ((FAILS == 0))
}

cmd_verify() {
    OUT=$(realpath -m "${1:-$DEFAULT_OUT}")
    local d; d=$(realpath -m "$DEFAULT_REGDIR")
    local out code t="$OUT/.verify"
    rm -rf "$t"; mkdir -p "$t"
    out=$(curl -s "http://$REG_PLAIN/v2/_catalog?n=1000")
    expect_in "plain: catalog lists fasco/busybox" '"fasco/busybox"' "$out"
    expect_in "plain: catalog lists e2e-test-images/busybox" '"e2e-test-images/busybox"' "$out"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG_AUTH/v2/")
    [[ $code == 401 ]] && ok "auth: anonymous GET /v2/ -> 401" || bad "auth: anonymous -> $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$AUTH_USER:$AUTH_PASS" "http://$REG_AUTH/v2/")
    [[ $code == 200 ]] && ok "auth: $AUTH_USER:$AUTH_PASS -> 200" || bad "auth: with creds -> $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$AUTH_USER:wrong" "http://$REG_AUTH/v2/")
    [[ $code == 401 ]] && ok "auth: wrong password -> 401" || bad "auth: wrong password -> $code"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$d/ca.crt" "https://$REG_TLS/v2/")
    [[ $code == 200 ]] && ok "tls: GET /v2/ with CA -> 200" || bad "tls: -> $code"
    if curl -s -o /dev/null "https://$REG_TLS/v2/" 2>/dev/null; then bad "tls: accepted without CA"; else ok "tls: rejected without CA"; fi
    out=$("${SKOPEO[@]}" inspect --tls-verify=false --raw "docker://$REG_PLAIN/fasco/multiarch:latest")
    expect_in "multiarch: index has arm64" '"architecture":"arm64"' "$out"
    expect_in "multiarch: index has amd64" '"architecture":"amd64"' "$out"
    out=$("${SKOPEO[@]}" copy --src-tls-verify=false "docker://$REG_PLAIN/fasco/corrupt:latest" "dir:$t/corrupt" 2>&1 || true)
    expect_in "corrupt: pull fails digest verification" "Digest did not match" "$out"
    if "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG_PLAIN/fasco/busybox:latest" "dir:$t/bb" >/dev/null 2>&1; then ok "plain: pull fasco/busybox"; else bad "plain: pull fasco/busybox"; fi
    if "${SKOPEO[@]}" copy -q --src-creds "$AUTH_USER:$AUTH_PASS" --src-tls-verify=false "docker://$REG_AUTH/fasco/busybox:latest" "dir:$t/bb-auth" >/dev/null 2>&1; then ok "auth: pull with creds"; else bad "auth: pull with creds"; fi
    if "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG_AUTH/fasco/busybox:latest" "dir:$t/bb-noauth" >/dev/null 2>&1; then bad "auth: pull without creds succeeded"; else ok "auth: pull without creds refused"; fi
    if "${SKOPEO[@]}" copy -q --src-cert-dir "$d/certs.d/$REG_TLS" "docker://$REG_TLS/fasco/busybox:latest" "dir:$t/bb-tls" >/dev/null 2>&1; then ok "tls: pull with CA"; else bad "tls: pull with CA"; fi
    if "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG_PLAIN/fasco/layered:latest" "dir:$t/layered" >/dev/null 2>&1; then ok "plain: pull fasco/layered (zstd + plain layers)"; else bad "plain: pull fasco/layered"; fi
    if "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG_PLAIN/fasco/big:latest" "dir:$t/big" >/dev/null 2>&1; then ok "plain: pull fasco/big"; else bad "plain: pull fasco/big"; fi
    rm -rf "$t"
    echo "verify: $PASSES passed, $FAILS failed"
    ((FAILS == 0))
}

# ------------------------------------------------------------------------------------------ main

cmd_all() {
    local t0=$SECONDS
    cmd_deps
    cmd_build "$DEFAULT_OUT"
    cmd_registry_start "$DEFAULT_REGDIR"
    cmd_push "$DEFAULT_OUT" "$REG_PLAIN"
    log "all done in $((SECONDS - t0))s"
}

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

main() {
    local cmd=${1:-help}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        deps) cmd_deps ;;
        build) cmd_build "$@" ;;
        registry-start) cmd_registry_start "$@" ;;
        registry-stop) cmd_registry_stop "$@" ;;
        status) cmd_status "$@" ;;
        push) cmd_push "$@" ;;
        all) cmd_all ;;
        smoke) cmd_smoke "$@" ;;
        verify) cmd_verify "$@" ;;
        check-layered) [[ $# -ge 1 ]] || die "usage: $0 check-layered ROOTFS"; ocitool check "$1" "$KIT_DIR/layered.expect" ;;
        unpack) [[ $# -eq 4 ]] || die "usage: $0 unpack OUT IMAGE REF DEST"; ocitool unpack --layout "$1/$2" --ref "$3" --dest "$4" ;;
        help | -h | --help) usage ;;
        *) usage; die "unknown command $cmd" ;;
    esac
}

main "$@"
