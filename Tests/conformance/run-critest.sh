#!/usr/bin/env bash
# Runs critest (kubernetes-sigs/cri-tools) against a private Fasco and prints
# pass/fail/skip by area. Checks that the daemon is still alive afterwards.
# usage: run-critest.sh FASCO_BINARY CRITEST_BINARY [extra critest flags...]
# With FASCO_CGROUP_DRIVER=systemd on a host whose init is not systemd, Fasco and critest
# both run inside a private systemd (Tests/systemd/lab.sh); its /proc/sys is read-only, so
# the specs that set sysctls (and portmap's route_localnet) fail there.
# With FASCO_CGROUP_V2=1 on a host that is not unified, Fasco runs where /sys/fs/cgroup is
# the host's cgroup v2 hierarchy alone (Tests/cgroupv2/lab.sh), with runc unless the host
# grants CAP_SYS_RESOURCE (crun needs it there); critest stays outside.
set -uo pipefail
fasco=${1:?usage: run-critest.sh FASCO CRITEST}
critest=${2:-}
shift 2 || true
if [ -z "$critest" ] || [ ! -x "$critest" ]; then
    echo "set CRITEST=/path/to/critest (build it from kubernetes-sigs/cri-tools v1.34.0: go test -c ./cmd/critest)" >&2
    exit 2
fi
lab=""
# What runs Fasco, and critest, inside a lab; only Fasco, with the cgroup v2 lab.
inside=()
daemon_inside=()
if [ "${FASCO_CGROUP_DRIVER:-}" = systemd ] && [ ! -d /run/systemd/system ]; then
    here_lab=$(cd "$(dirname "$0")/../systemd" && pwd)
    "$here_lab/lab.sh" available || exit 2
    lab=critest-$$
    "$here_lab/lab.sh" start "$lab" || exit 1
    inside=("$here_lab/lab.sh" exec "$lab" --)
    daemon_inside=("${inside[@]}")
fi
v2_runtime=""
if [ -n "${FASCO_CGROUP_V2:-}" ] && ! grep -q ' /sys/fs/cgroup rw[^ ]* .* - cgroup2 ' /proc/self/mountinfo; then
    daemon_inside=("$(cd "$(dirname "$0")/../cgroupv2" && pwd)/lab.sh")
    # CapEff bit 24 is CAP_SYS_RESOURCE.
    (( 0x$(awk '/^CapEff/ {print $2}' /proc/self/status) & (1 << 24) )) || v2_runtime=runc
fi
# Not /tmp: the lab has a private one.
work=$(mktemp -d /var/tmp/fasco-critest-XXXXXX)
# Searchable by others: the root of a pod with a user namespace (an unprivileged host ID)
# must reach its bundle under --root.
chmod 0711 "$work"
socket=$work/fasco.sock
here=$(cd "$(dirname "$0")" && pwd)
# The mirrors config plus a CNI directory holding Fasco's shipped bridge network.
mkdir -p "$work/cni"
cp "$here/../../deploy/cni/10-fasco.conflist" "$work/cni/"
config=$work/fasco.toml
cat "${FASCO_CONFIG:-$here/fasco-critest.toml}" > "$config"
printf '\n[cni]\nconf_dir = "%s"\n' "$work/cni" >> "$config"
if [ -n "${FASCO_CGROUP_DRIVER:-}" ] || [ -n "$v2_runtime" ]; then
    printf '\n[runtime]\n' >> "$config"
    [ -z "${FASCO_CGROUP_DRIVER:-}" ] || printf 'cgroup_driver = "%s"\n' "$FASCO_CGROUP_DRIVER" >> "$config"
    [ -z "$v2_runtime" ] || printf 'oci_runtime = "%s"\n' "$v2_runtime" >> "$config"
fi
"${daemon_inside[@]}" "$fasco" serve --listen "unix://$socket" --root "$work/root" --state "$work/state" \
    --config "$config" --log-level info 2> "$work/fasco.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; [ -z "$lab" ] || "$here_lab/lab.sh" stop "$lab"' EXIT
for _ in $(seq 1 200); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { echo "fasco did not start:"; cat "$work/fasco.log"; exit 1; }

"${inside[@]}" "$critest" --runtime-endpoint "unix://$socket" --image-endpoint "unix://$socket" \
    --ginkgo.no-color --ginkgo.junit-report "$work/junit.xml" --ginkgo.timeout 60m "$@" > "$work/critest.log" 2>&1
critest_status=$?
grep -E '^(Ran |FAIL!|SUCCESS!|PASS|FAIL)' "$work/critest.log" | tail -4

python3 - "$work/junit.xml" <<'PY'
import collections, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as error:
    print(f"no junit report: {error}"); sys.exit(0)
areas = collections.defaultdict(collections.Counter)
for case in root.iter("testcase"):
    name = case.get("name", "")
    area = name.split("]", 1)[-1].strip().split(" ")[0:2]
    area = " ".join(area) if area else "?"
    if case.find("skipped") is not None: outcome = "skip"
    elif case.find("failure") is not None or case.find("error") is not None: outcome = "fail"
    else: outcome = "pass"
    areas[area][outcome] += 1
total = collections.Counter()
print(f"{'area':40} {'pass':>5} {'fail':>5} {'skip':>5}")
for area in sorted(areas):
    c = areas[area]; total.update(c)
    print(f"{area[:40]:40} {c['pass']:5} {c['fail']:5} {c['skip']:5}")
print(f"{'total':40} {total['pass']:5} {total['fail']:5} {total['skip']:5}")
PY

if kill -0 $pid 2>/dev/null; then
    echo "fasco survived the run (pid $pid); logs in $work"
else
    echo "FASCO DIED during critest; log tail:"; tail -20 "$work/fasco.log"; exit 1
fi
exit $critest_status
