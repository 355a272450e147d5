#!/bin/bash
# A private systemd for tests ("the lab"), on a host whose PID 1 is not systemd.
#
#   lab.sh available                 exit 0 if this host can run a lab, else say why and exit 1
#   lab.sh start NAME                start the lab (systemd + D-Bus system bus), wait until ready
#   lab.sh exec NAME -- CMD [ARG...] run CMD inside the lab; stdio, cwd, environment and exit status
#                                    pass through (descriptors beyond 2 do not), catchable signals
#                                    are forwarded to CMD, and CMD is SIGKILLed if this script is
#                                    (exit 125: the lab is not running)
#   lab.sh cgroup NAME CONTROLLER    host directory of the lab's cgroup in CONTROLLER's hierarchy
#                                    (memory, cpu, pids, ..., systemd for name=systemd, unified)
#   lab.sh stop NAME                 kill the lab, remove its cgroups and state (idempotent)
#
# The lab is systemd as PID 1 of new pid, mount, UTS and cgroup namespaces, placed in a cgroup
# fasco-lab-NAME under the caller's cgroup in every hierarchy (so inside the lab,
# /sys/fs/cgroup/<hierarchy>/ is that cgroup). It shares the host's network namespace, users and
# filesystems, except: /run and /tmp are private (backed by the state directory
# /var/tmp/fasco-systemd-lab/NAME), /etc and /proc/sys are read-only, and /dev/console is a file.
#
# SAFETY. The private PID 1 must never see the host's units: a stock unit with
# DefaultDependencies=yes pulls sysinit.target, whose systemd-tmpfiles-setup once wiped the
# host's /tmp (plus systemd-sysctl, journald, ...). So SYSTEMD_UNIT_PATH is a lab-only directory
# holding only stub targets and a DefaultDependencies=no dbus.socket/dbus.service, generators are
# off, and the read-only /etc and /proc/sys stop PID 1 from writing a machine-id or raising
# global sysctls. Do not weaken any of this.
#
# Supported: cgroup v1 ("legacy") and v1+v2 ("hybrid") hosts. A cgroup-v2-only host is not
# supported yet (`available` says so).
set -euo pipefail

STATE_ROOT=/var/tmp/fasco-systemd-lab
SELF=$(readlink -f "$0")
SYSTEMD=/lib/systemd/systemd
READY_TIMEOUT=30 # seconds; a hang guard only

die() { echo "lab.sh: $*" >&2; exit 1; }

check_name() {
    [[ ${1:-} =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] || die "bad lab name '${1:-}' (letters, digits, _ . -; at most 40)"
}

# Why this host cannot run a lab (empty: it can).
unavailable_reason() {
    [ "$(id -u)" = 0 ] || { echo "needs root"; return; }
    [ -x "$SYSTEMD" ] || { echo "$SYSTEMD is missing (apt-get install systemd)"; return; }
    local tool
    for tool in unshare nsenter setpriv setsid dbus-daemon dbus-send systemctl; do
        command -v "$tool" >/dev/null || { echo "$tool is missing"; return; }
    done
    [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] || { echo "PID 1 is systemd: test against the host's systemd instead"; return; }
    [ -e /proc/self/ns/cgroup ] || { echo "the kernel has no cgroup namespaces"; return; }
    case "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" in
        cgroup2fs) echo "cgroup v2 only (unified) host: not supported by the lab yet"; return;;
        tmpfs) ;;
        *) echo "/sys/fs/cgroup is not a tmpfs of cgroup v1 mounts"; return;;
    esac
    local controllers dir mountpoint found_systemd=0 found_memory=0
    while IFS='|' read -r controllers dir mountpoint; do
        [ -n "$dir" ] || { echo "no mount of cgroup hierarchy '$controllers' under /sys/fs/cgroup"; return; }
        case ",$controllers," in *,name=systemd,*) found_systemd=1;; *,memory,*) found_memory=1;; esac
    done < <(hierarchies)
    [ $found_systemd = 1 ] || { echo "no name=systemd cgroup hierarchy"; return; }
    [ $found_memory = 1 ] || { echo "no cgroup v1 memory hierarchy"; return; }
}

# One line per cgroup hierarchy this process is in, fields separated by |: controllers (name=systemd, cpu,cpuacct; empty
# for v2), the host directory of our cgroup in it, and its mount point under /sys/fs/cgroup.
hierarchies() {
    local id controllers path
    while IFS=: read -r id controllers path; do
        local want fstype found=""
        if [ "$id" = 0 ]; then want=""; fstype=cgroup2; else want=$controllers; fstype=cgroup; fi
        # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
        while read -r -a f; do
            local i=6
            while [ "${f[$i]}" != - ]; do i=$((i + 1)); done
            [ "${f[$((i + 1))]}" = "$fstype" ] || continue
            [[ ${f[4]} == /sys/fs/cgroup/* ]] || continue
            if [ "$fstype" = cgroup ]; then
                local super=",${f[$((i + 3))]}," c ok=1
                IFS=, read -r -a cs <<< "$want"
                for c in "${cs[@]}"; do [[ $super == *",$c,"* ]] || ok=0; done
                [ $ok = 1 ] || continue
            fi
            local root=${f[3]}
            [[ $path == "$root"* ]] || continue
            local rel=${path#"$root"}
            found="${f[4]}/${rel#/}"; found=${found%/}
            echo "$controllers|$found|${f[4]}"
            break
        done < /proc/self/mountinfo
        [ -n "$found" ] || echo "$controllers||"
    done < /proc/self/cgroup
}

state_of() { echo "$STATE_ROOT/$1"; }

# PID 1 of lab NAME (host PID), if it is running.
lab_pid() {
    local state pid
    state=$(state_of "$1")
    pid=$(cat "$state/systemd.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] || return 1
    # PID 1 of its own namespace, and in this lab's cgroup: never a recycled PID.
    grep -q "^NSpid:.*[[:space:]]1$" "/proc/$pid/status" 2>/dev/null || return 1
    grep -q "/fasco-lab-$1\$" "/proc/$pid/cgroup" 2>/dev/null || return 1
    echo "$pid"
}

write_units() {
    local units=$1 state=$2
    cat > "$units/fasco-lab.target" <<'EOF'
[Unit]
Description=Fasco systemd lab (the default target: empty)
AllowIsolate=yes
EOF
    # Stubs for the targets systemd's built-in dependencies name, with nothing in them.
    local t
    for t in sysinit basic sockets timers paths slices local-fs remote-fs network \
             shutdown halt poweroff reboot exit final umount; do
        printf '[Unit]\nDescription=lab stub %s.target\nDefaultDependencies=no\n' "$t" > "$units/$t.target"
    done
    printf '[Unit]\nDescription=lab stub %s\nDefaultDependencies=no\n' "-.slice" > "$units/-.slice"
    printf '[Unit]\nDescription=System Slice (lab)\nDefaultDependencies=no\n' > "$units/system.slice"
    # The D-Bus system bus: crun --systemd-cgroup (and busctl) talk to systemd through it.
    cat > "$units/dbus.socket" <<'EOF'
[Unit]
Description=D-Bus System Message Bus Socket (lab)
DefaultDependencies=no
[Socket]
ListenStream=/run/dbus/system_bus_socket
EOF
    cat > "$units/dbus.service" <<EOF
[Unit]
Description=D-Bus System Message Bus (lab)
DefaultDependencies=no
Requires=dbus.socket
After=dbus.socket
[Service]
Type=notify
ExecStart=/usr/bin/dbus-daemon --config-file=$state/dbus.conf --address=systemd: --nofork --nopidfile --nosyslog
StandardOutput=append:$state/dbus.log
StandardError=append:$state/dbus.log
EOF
}

# The bus's configuration: the stock system.conf would let it start the host's D-Bus services
# (/usr/share/dbus-1/system-services) on demand. This one has no service directories, runs as
# root and lets every client do anything.
write_dbus_config() {
    cat > "$1" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
}

# The lab's PID 1 before it becomes systemd: mounts, then exec.
write_inner() {
    local state=$1 file=$2
    {
        echo '#!/bin/bash'
        echo 'set -eu'
        echo '# Inside the new cgroup namespace these mounts are rooted at the lab cgroups.'
        echo 'mount -t tmpfs -o mode=755,nosuid,nodev,noexec fasco-lab-cgroup /sys/fs/cgroup'
        local controllers dir mountpoint
        while IFS='|' read -r controllers dir mountpoint; do
            if [ -z "$controllers" ]; then
                echo "mkdir -p $mountpoint && mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 $mountpoint"
            else
                local opts=$controllers
                [[ $opts == name=* ]] && opts="none,$opts"
                echo "mkdir -p $mountpoint && mount -t cgroup -o nosuid,nodev,noexec,$opts cgroup $mountpoint"
            fi
        done < "$state/hierarchies"
        # Aliases such as cpu -> cpu,cpuacct.
        local link
        for link in /sys/fs/cgroup/*; do
            [ -L "$link" ] && echo "ln -s $(readlink "$link") $link"
        done
        cat <<EOF
mount --bind $state/run /run
mkdir -p /run/dbus
EOF
        # A checkout under /tmp (a CI clone, say) stays visible at its path in the private /tmp:
        # the binaries run inside come from it.
        local repository
        repository=$(cd "$(dirname "$SELF")/../.." && pwd -P)
        if [[ $repository == /tmp/* ]]; then
            echo "mkdir -p $state/tmp${repository#/tmp} && mount --bind $repository $state/tmp${repository#/tmp}"
        fi
        cat <<EOF
mount --rbind $state/tmp /tmp
mount --bind /etc /etc && mount -o remount,bind,ro /etc
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
mount --bind $state/console.log /dev/console
export container=fasco-lab
export SYSTEMD_UNIT_PATH=$state/units
export SYSTEMD_GENERATOR_PATH=$state/empty SYSTEMD_ENVIRONMENT_GENERATOR_PATH=$state/empty
exec $SYSTEMD --system --unit=fasco-lab.target --log-target=console --log-level=\${FASCO_LAB_LOG_LEVEL:-info} \\
    --log-color=no --show-status=no --default-standard-output=null --default-standard-error=null
EOF
    } > "$file"
    chmod 755 "$file"
}

# Closes every descriptor but 0, 1 and 2 (in a subshell about to exec). What the lab keeps
# running must not hold the caller's other descriptors: e.g. Foundation's Process learns that
# its child exited when a socket it passed the child closes everywhere.
close_extra_fds() {
    local fd
    for fd in "/proc/$BASHPID/fd"/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
}

# Polls `$@` until it succeeds, for at most READY_TIMEOUT seconds.
poll() {
    local deadline=$((SECONDS + READY_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.02
    done
}

systemd_is_pid1() { [ "$(cat "/proc/$(pgrep -P "$1" | head -1)/comm" 2>/dev/null)" = systemd ]; }
manager_running() { "$SELF" exec "$1" -- systemctl is-system-running | grep -Eq '^(running|degraded)$'; }
systemd_on_bus() {
    "$SELF" exec "$1" -- dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.systemd1 | grep -q 'boolean true'
}

cmd_start() {
    local name=$1 state reason
    state=$(state_of "$name")
    reason=$(unavailable_reason)
    [ -z "$reason" ] || die "cannot run a systemd lab here: $reason"
    if lab_pid "$name" >/dev/null; then die "lab $name is already running"; fi
    [ ! -e "$state" ] || cmd_stop "$name" # a dead lab's leftovers
    umask 022
    mkdir -p "$state/units" "$state/empty" "$state/run" "$state/tmp"
    chmod 1777 "$state/tmp"
    : > "$state/console.log"
    hierarchies > "$state/hierarchies"
    write_units "$state/units" "$state"
    write_dbus_config "$state/dbus.conf"
    write_inner "$state" "$state/inner.sh"

    # The lab cgroups, recorded before they exist so that stop removes even a half-made set.
    local controllers dir mountpoint
    : > "$state/cgroups"
    while IFS='|' read -r controllers dir mountpoint; do
        echo "$dir/fasco-lab-$name" >> "$state/cgroups"
    done < "$state/hierarchies"
    while read -r dir; do
        mkdir "$dir" || { cmd_stop "$name"; die "cannot create cgroup $dir"; }
        if [ -f "$dir/cpuset.cpus" ] && [ -z "$(cat "$dir/cpuset.cpus")" ]; then
            cat "$(dirname "$dir")/cpuset.cpus" > "$dir/cpuset.cpus"
            cat "$(dirname "$dir")/cpuset.mems" > "$dir/cpuset.mems"
        fi
    done < "$state/cgroups"

    # The launcher joins the lab cgroups, then becomes unshare, whose child is the lab's PID 1.
    (
        while read -r dir; do echo "$BASHPID" > "$dir/cgroup.procs"; done < "$state/cgroups"
        close_extra_fds
        exec setsid unshare --pid --fork --mount --mount-proc --propagation private --uts --cgroup \
            --kill-child=SIGKILL "$state/inner.sh"
    ) </dev/null >>"$state/console.log" 2>&1 &
    local launcher=$!
    echo "$launcher" > "$state/launcher.pid"
    if ! poll systemd_is_pid1 "$launcher"; then
        cmd_stop "$name"; die "systemd did not start; console: $(tail -20 "$state/console.log" 2>/dev/null)"
    fi
    pgrep -P "$launcher" | head -1 > "$state/systemd.pid"
    if ! poll manager_running "$name"; then
        local log; log=$(tail -20 "$state/console.log"); cmd_stop "$name"
        die "systemd in lab $name did not become ready; console: $log"
    fi
    if ! "$SELF" exec "$name" -- systemctl start dbus.socket dbus.service >/dev/null 2>&1 || ! poll systemd_on_bus "$name"; then
        local log; log=$(tail -20 "$state/console.log"; cat "$state/dbus.log" 2>/dev/null); cmd_stop "$name"
        die "the D-Bus system bus did not start in lab $name: $log"
    fi
}

cmd_exec() {
    local name=$1 state pid
    shift
    [ "${1:-}" = -- ] || { echo "usage: lab.sh exec NAME -- CMD [ARG...]" >&2; exit 125; }
    shift
    [ $# -gt 0 ] || { echo "usage: lab.sh exec NAME -- CMD [ARG...]" >&2; exit 125; }
    state=$(state_of "$name")
    pid=$(lab_pid "$name") || { echo "lab.sh: lab $name is not running" >&2; exit 125; }
    local dir
    while read -r dir; do
        echo $$ > "$dir/cgroup.procs" || { echo "lab.sh: cannot join $dir" >&2; exit 125; }
    done < "$state/cgroups"
    # nsenter forks CMD into the lab's PID namespace and waits for it. setpriv's parent-death
    # signals make CMD die with nsenter and nsenter with this shell, so killing the launcher
    # (kill -9 included) never leaves CMD behind. `<&0`: a background job keeps our stdin.
    # This shell keeps descriptors beyond 2 (its caller may watch them), CMD does not get them.
    (
        close_extra_fds
        exec setpriv --pdeathsig KILL -- nsenter -t "$pid" -m -p -C -u --wd="$PWD" -- \
            setpriv --pdeathsig KILL -- "$@"
    ) <&0 &
    local child=$!
    local sig
    for sig in TERM INT HUP QUIT USR1 USR2; do
        # shellcheck disable=SC2064
        trap "forward $sig $child" "$sig"
    done
    local status
    while :; do
        wait "$child" && status=0 || status=$?
        kill -0 "$child" 2>/dev/null || break # else a trapped signal interrupted wait
    done
    if [ "$status" -gt 128 ]; then
        # The last wait may have been interrupted just before nsenter exited: its status is kept.
        local again=0
        wait "$child" 2>/dev/null || again=$?
        [ "$again" = 127 ] || status=$again
    fi
    exit "$status"
}

# Sends signal $1 to the command nsenter runs (nsenter's child), or to nsenter before it forked.
forward() {
    local target
    target=$(pgrep -P "$2" | head -1) || true
    kill -s "$1" "${target:-$2}" 2>/dev/null || true
}

cmd_stop() {
    local name=$1 state pid launcher
    state=$(state_of "$name")
    [ -d "$state" ] || return 0
    if pid=$(lab_pid "$name"); then
        # SIGKILL to a PID namespace's init kills every process in the namespace; the mount
        # namespace (and every mount made in the lab) goes with its last process.
        kill -9 "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + READY_TIMEOUT))
        while [ -e "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
    fi
    launcher=$(cat "$state/launcher.pid" 2>/dev/null || true)
    if [[ $launcher =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$launcher/comm" 2>/dev/null)" = unshare ] \
        && grep -q "/fasco-lab-$name\$" "/proc/$launcher/cgroup" 2>/dev/null; then
        kill -9 "$launcher" 2>/dev/null || true
    fi
    # Remove the lab cgroups, deepest first. Whatever is still in them is the lab's (e.g. an
    # exec launcher on the host side whose command just died): kill it. Cgroups empty
    # asynchronously, so retry.
    local deadline=$((SECONDS + READY_TIMEOUT)) left dir
    while :; do
        left=0
        if [ -f "$state/cgroups" ]; then
            while read -r dir; do
                [ -d "$dir" ] || continue
                local procs
                procs=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | grep -vx -e $$ -e "$PPID" || true)
                # shellcheck disable=SC2086
                [ -z "$procs" ] || kill -9 $procs 2>/dev/null || true
                find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
                [ ! -d "$dir" ] || left=1
            done < "$state/cgroups"
        fi
        [ $left = 1 ] || break
        if [ $SECONDS -ge $deadline ]; then
            echo "lab.sh: lab $name: cgroups left behind (state kept in $state):" >&2
            while read -r dir; do [ ! -d "$dir" ] || echo "  $dir" >&2; done < "$state/cgroups"
            return 1
        fi
        sleep 0.05
    done
    rm -rf --one-file-system "$state"
}

cmd_cgroup() {
    local name=$1 want=$2 state controllers dir
    state=$(state_of "$name")
    [ -f "$state/cgroups" ] || die "lab $name is not running"
    case "$want" in systemd) want=name=systemd;; unified|"") want="";; esac
    while IFS='|' read -r controllers dir _; do
        if [[ ,$controllers, == *",$want,"* ]] || { [ -z "$want" ] && [ -z "$controllers" ]; }; then
            echo "$dir/fasco-lab-$name"; return 0
        fi
    done < "$state/hierarchies"
    die "lab $name has no cgroup hierarchy '$2'"
}

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case "${1:-}" in
    available)
        reason=$(unavailable_reason)
        [ -z "$reason" ] || { echo "systemd lab unavailable: $reason"; exit 1; } ;;
    start) [ $# = 2 ] || usage; check_name "$2"; cmd_start "$2" ;;
    exec) [ $# -ge 2 ] || usage; check_name "$2"; name=$2; shift 2; cmd_exec "$name" "$@" ;;
    stop) [ $# = 2 ] || usage; check_name "$2"; cmd_stop "$2" ;;
    cgroup) [ $# = 3 ] || usage; check_name "$2"; cmd_cgroup "$2" "$3" ;;
    *) usage ;;
esac
