#!/bin/bash
# Runs a command where /sys/fs/cgroup is the cgroup v2 hierarchy alone, as on a unified host,
# on a host whose cgroups are v1 or hybrid: in a mount namespace of its own, every cgroup mount
# is detached and cgroup2 is mounted at /sys/fs/cgroup. Nothing outside the namespace changes;
# mounts made outside later still reach it (it is the host's slave, as mount propagation
# tests need).
#
#   Tests/cgroupv2/lab.sh COMMAND [ARG...]
#
# The hierarchy is the host's own v2 hierarchy (a hybrid host mounts it at
# /sys/fs/cgroup/unified): what the command makes in it is visible there. It offers only the
# controllers no v1 hierarchy holds (on a host with every controller bound to v1, none or a
# few such as hugetlb), so it exercises v2 placement, delegation and removal for real, not
# memory or CPU limits. Exits 3 when the kernel has no cgroup2 file system.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
grep -qw cgroup2 /proc/filesystems || { echo "this kernel has no cgroup2 file system" >&2; exit 3; }
# The hierarchy's options (nsdelegate, memory_recursiveprot, ...) belong to the whole
# hierarchy and every mount of it sets them: mount it with the ones it has already.
options=$(awk '$0 ~ / - cgroup2 / { sub(/.* - cgroup2 [^ ]* /, ""); print; exit }' /proc/self/mountinfo)
options=${options:-rw}
exec unshare --mount --propagation slave -- /bin/bash -c '
set -e
options=$1
shift
# Deepest first; -l because something in the namespace may still use them.
for mountpoint in $(awk "\$5 ~ \"^/sys/fs/cgroup(/|\$)\" { print \$5 }" /proc/self/mountinfo | sort -r); do
    umount -l "$mountpoint"
done
mount -t cgroup2 -o "$options" cgroup2 /sys/fs/cgroup
exec "$@"' cgroupv2-lab "$options" "$@"
