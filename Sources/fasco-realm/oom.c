// OOM kills of a container: the kernel counts them per memory cgroup, in the "oom_kill N"
// line of memory.oom_control (cgroup v1, Linux 4.13+) or memory.events (cgroup v2). The
// counter file of a container's cgroup is found once its process is known and read again
// when that process is reaped: more kills than at the start means the OOM killer killed
// something in the container's cgroup (the reaped process or another one of it).
//
// The file is read by path at reap time, not through a descriptor kept open: a removed
// cgroup's files fail with ENODEV even when open, and nobody removes a container's cgroup
// before its exit was recorded (the runtime deletes it only when the daemon asks, after
// `wait`).
#include "realm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Reads up to size-1 bytes of a small file and terminates them. -1 when it cannot be read.
static ssize_t read_small(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t used = 0;
    while (used < size - 1) {
        ssize_t count = read(fd, buffer + used, size - 1 - used);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            close(fd);
            return -1;
        }
        if (count == 0) break;
        used += (size_t)count;
    }
    close(fd);
    buffer[used] = '\0';
    return (ssize_t)used;
}

int oom_counter_read(const char *path, int64_t *count) {
    char text[4096];
    if (read_small(path, text, sizeof text) < 0) return -1;
    // "oom_kill N" at the start of a line ("oom_kill_disable" and "oom_group_kill" are others).
    for (char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, "oom_kill ", 9) == 0) {
            char *end;
            long long value = strtoll(line + 9, &end, 10);
            if (end == line + 9 || value < 0) return -1;
            *count = value;
            return 0;
        }
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    return -1;
}

// Undoes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) in place.
static void unescape(char *text) {
    char *out = text;
    for (char *in = text; *in != '\0'; in++) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 3;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

// True when the comma-separated `list` holds `item`.
static bool list_contains(const char *list, const char *item) {
    size_t length = strlen(item);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t field = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (field == length && strncmp(p, item, length) == 0) return true;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return false;
}

// Finds a mount of the hierarchy (v1: fstype "cgroup" with `controller` among its super
// options; v2: `controller` NULL, fstype "cgroup2") whose root contains the cgroup `path`,
// and writes the cgroup's directory below it to `out`. -1 when there is none.
static int cgroup_directory(const char *controller, const char *path, char *out, size_t size) {
    FILE *mounts = fopen("/proc/self/mountinfo", "re");
    if (mounts == NULL) return -1;
    char *line = NULL;
    size_t capacity = 0;
    int result = -1;
    while (result != 0 && getline(&line, &capacity, mounts) > 0) {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        char *fields[6], *save = NULL, *fstype = NULL, *super_options = NULL;
        int count = 0;
        for (char *token = strtok_r(line, " \n", &save); token != NULL; token = strtok_r(NULL, " \n", &save)) {
            if (count < 6) {
                fields[count++] = token;
            } else if (strcmp(token, "-") == 0) {
                fstype = strtok_r(NULL, " \n", &save);
                if (fstype != NULL && strtok_r(NULL, " \n", &save) != NULL) super_options = strtok_r(NULL, " \n", &save);
                break;
            }
        }
        if (count < 6 || fstype == NULL || super_options == NULL) continue;
        if (controller != NULL ? strcmp(fstype, "cgroup") != 0 || !list_contains(super_options, controller)
                               : strcmp(fstype, "cgroup2") != 0)
            continue;
        char *root = fields[3], *mount_point = fields[4];
        unescape(root);
        unescape(mount_point);
        // The path is relative to the hierarchy's root as this process sees it, the mount
        // shows the subtree `root` of it: the cgroup must lie inside.
        const char *rest = path;
        if (strcmp(root, "/") != 0) {
            size_t length = strlen(root);
            if (strncmp(path, root, length) != 0 || (path[length] != '/' && path[length] != '\0')) continue;
            rest = path + length;
        }
        if (strcmp(rest, "/") == 0) rest = "";
        if ((size_t)snprintf(out, size, "%s%s", mount_point, rest) < size) result = 0;
    }
    free(line);
    fclose(mounts);
    return result;
}

int oom_counter_find(pid_t pid, char **path, int64_t *count) {
    char name[64], text[8192];
    snprintf(name, sizeof name, "/proc/%d/cgroup", (int)pid);
    if (read_small(name, text, sizeof text) <= 0) return -1;
    // Lines are HIERARCHY-ID:CONTROLLERS:PATH; v1's memory hierarchy wins over v2's "0::PATH"
    // (on a hybrid host the v2 hierarchy has no memory controller).
    char *v1 = NULL, *v2 = NULL, *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *first = strchr(line, ':');
        char *second = first != NULL ? strchr(first + 1, ':') : NULL;
        if (second == NULL || second[1] != '/') continue;
        *second = '\0';
        if (strcmp(line, "0:") == 0 && first + 1 == second) v2 = second + 1;
        else if (list_contains(first + 1, "memory")) v1 = second + 1;
    }
    char directory[REALM_MAX_PATH], file[REALM_MAX_PATH];
    bool found = false;
    if (v1 != NULL && cgroup_directory("memory", v1, directory, sizeof directory) == 0)
        found = (size_t)snprintf(file, sizeof file, "%s/memory.oom_control", directory) < sizeof file;
    else if (v2 != NULL && cgroup_directory(NULL, v2, directory, sizeof directory) == 0)
        found = (size_t)snprintf(file, sizeof file, "%s/memory.events", directory) < sizeof file;
    if (!found || oom_counter_read(file, count) != 0) return -1;
    *path = strdup(file);
    return *path != NULL ? 0 : -1;
}
