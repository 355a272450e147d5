#define _GNU_SOURCE
#include "fasco_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

int fasco_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int fasco_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

short fasco_spawn_setsid_flag(void) { return POSIX_SPAWN_SETSID; }

int fasco_pidfd_open(pid_t pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }

int fasco_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int fasco_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int fasco_setns(int fd, int nstype) { return setns(fd, nstype); }

int fasco_clone_newnet(void) { return CLONE_NEWNET; }

int fasco_peer_pid(int socket) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    if (credentials.pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return credentials.pid;
}

int fasco_unshare(int flags) { return unshare(flags); }

pid_t fasco_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int fasco_mount_idmapped(const char *source, const char *target, const char *userns_path) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -1;
    int userns = open(userns_path, O_RDONLY | O_CLOEXEC);
    if (userns < 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    struct mount_attr attributes = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
    int result = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attributes, sizeof attributes);
    if (result == 0) result = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    int saved = errno;
    close(userns);
    close(tree);
    errno = saved;
    return result;
}

int fasco_is_namespace_file(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return info.f_type == NSFS_MAGIC;
}

long fasco_receive_message(int socket, void *buffer, size_t size, int *fds, int max, int *count) {
    *count = 0;
    struct iovec vector = { .iov_base = buffer, .iov_len = size };
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space,
    };
    ssize_t received;
    do {
        received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int passed[8];
        if (n > 8) n = 8;
        memcpy(passed, CMSG_DATA(header), n * sizeof(int));
        for (size_t index = 0; index < n; index++) {
            // Never leak descriptors a peer sent beyond what the caller takes.
            if (*count < max) fds[(*count)++] = passed[index];
            else close(passed[index]);
        }
    }
    if (message.msg_flags & MSG_CTRUNC) {
        for (int index = 0; index < *count; index++) close(fds[index]);
        *count = 0;
        errno = EMSGSIZE;
        return -1;
    }
    return (long)received;
}

int fasco_receive_fd(int socket) {
    char byte;
    int fd = -1, count = 0;
    if (fasco_receive_message(socket, &byte, 1, &fd, 1, &count) < 0) return -1;
    if (count == 0) {
        errno = EBADMSG;
        return -1;
    }
    return fd;
}

int fasco_set_window_size(int fd, unsigned short rows, unsigned short columns) {
    struct winsize size = { .ws_row = rows, .ws_col = columns };
    return ioctl(fd, TIOCSWINSZ, &size);
}

int fasco_open_pty(int *primary, int *replica) {
    int main = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (main < 0) return -1;
    char name[128];
    if (grantpt(main) != 0 || unlockpt(main) != 0 || ptsname_r(main, name, sizeof name) != 0) {
        int saved = errno;
        close(main);
        errno = saved;
        return -1;
    }
    int other = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (other < 0) {
        int saved = errno;
        close(main);
        errno = saved;
        return -1;
    }
    struct termios settings;
    if (tcgetattr(other, &settings) == 0) {
        cfmakeraw(&settings);
        settings.c_oflag |= OPOST | ONLCR;
        tcsetattr(other, TCSANOW, &settings);
    }
    *primary = main;
    *replica = other;
    return 0;
}

int fasco_mount_id(const char *path, unsigned long long *id) {
    struct statx info;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &info) != 0) return -1;
    if (!(info.stx_mask & STATX_MNT_ID)) {
        errno = EOPNOTSUPP;
        return -1;
    }
    *id = info.stx_mnt_id;
    return 0;
}
