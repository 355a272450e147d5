// Linux and glibc calls that Swift's Glibc module hides (they need _GNU_SOURCE) or
// cannot call (variadic). Implemented in fasco_linux.c, which is compiled with _GNU_SOURCE.
#ifndef FASCO_LINUX_H
#define FASCO_LINUX_H

#include <spawn.h>
#include <sys/types.h>

// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): close every fd >= from in the child.
int fasco_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);
// posix_spawn_file_actions_addchdir_np (glibc 2.29+).
int fasco_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);
// POSIX_SPAWN_SETSID (glibc 2.26+).
short fasco_spawn_setsid_flag(void);
// pidfd_open(2); -1 and errno on failure.
int fasco_pidfd_open(pid_t pid, unsigned int flags);
// pipe2(2) with O_CLOEXEC.
int fasco_pipe_cloexec(int fds[2]);
// prctl(PR_SET_CHILD_SUBREAPER, 1).
int fasco_set_child_subreaper(void);
// setns(2).
int fasco_setns(int fd, int nstype);
// CLONE_NEWNET.
int fasco_clone_newnet(void);
// SO_PEERCRED: the pid of the process at the other end of a connected unix socket (as
// of its connect), in the caller's PID namespace; -1 and errno on failure.
int fasco_peer_pid(int socket);
// unshare(2).
int fasco_unshare(int flags);
// gettid(2): the calling thread's ID.
pid_t fasco_gettid(void);
// Clones the mount at `source` and attaches the clone at `target` (an existing directory) as
// an idmapped mount with the ID mappings of the user namespace `userns_path` (open_tree
// OPEN_TREE_CLONE, mount_setattr MOUNT_ATTR_IDMAP, move_mount). 0, or -1 and errno.
int fasco_mount_idmapped(const char *source, const char *target, const char *userns_path);
// Whether `path` is a file of nsfs (a namespace, or a bind mount of one): 1, 0, or -1 and errno.
int fasco_is_namespace_file(const char *path);
// Receives one descriptor passed with SCM_RIGHTS on a connected unix socket (a runtime's
// --console-socket): the descriptor (close-on-exec), or -1 with errno (EBADMSG: none came).
int fasco_receive_fd(int socket);
// recvmsg(2) of one message and up to `max` descriptors passed with it (close-on-exec, in
// fds, their number in *count; any beyond `max` are closed): the bytes received, or -1 and errno.
long fasco_receive_message(int socket, void *buffer, size_t size, int *fds, int max, int *count);
// TIOCSWINSZ: sets a terminal's size (the kernel signals SIGWINCH to its foreground group).
int fasco_set_window_size(int fd, unsigned short rows, unsigned short columns);
// A new pseudo-terminal pair, both ends close-on-exec; the replica in raw mode except for
// output post-processing (OPOST|ONLCR, as a terminal a runtime relays to expects).
int fasco_open_pty(int *primary, int *replica);
// The ID of the mount `path` is on, not following a final symlink (statx STATX_MNT_ID): 0 and
// *id, or -1 and errno (EOPNOTSUPP when the kernel does not report mount IDs).
int fasco_mount_id(const char *path, unsigned long long *id);

#endif
