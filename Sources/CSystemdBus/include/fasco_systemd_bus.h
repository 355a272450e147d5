// The few calls of systemd's manager API (org.freedesktop.systemd1, over D-Bus through
// libsystemd's sd-bus) that Fasco's systemd cgroup driver makes. Each call opens its own
// connection: systemd's private socket (/run/systemd/private, root only, no bus daemon),
// else the system bus; it is closed before the call returns. Blocking; thread-safe.
#ifndef FASCO_SYSTEMD_BUS_H
#define FASCO_SYSTEMD_BUS_H

#include <stddef.h>
#include <stdint.h>

// Starts the transient scope unit `name` in the slice unit `slice`, holding the `count`
// processes `pids` (as systemd's PID namespace sees them), with Delegate=yes (the subtree is
// the caller's) and CollectMode=inactive-or-failed (unloaded once it stops, even after a
// failure). Returns 0, or a negative errno with systemd's error name and message in `error`
// (`size` bytes).
int fasco_systemd_start_scope(const char *name, const char *slice, const char *description, const uint32_t *pids,
                              size_t count, char *error, size_t size);

// Stops the unit `name` (job mode "replace"). 0, also when no such unit is loaded; else a
// negative errno and the message in `error`.
int fasco_systemd_stop_unit(const char *name, char *error, size_t size);

// 0 when a systemd manager answers (its Version property is read into `version`).
int fasco_systemd_version(char *version, size_t version_size, char *error, size_t size);

#endif
