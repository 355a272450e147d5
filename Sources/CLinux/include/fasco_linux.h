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

#endif
