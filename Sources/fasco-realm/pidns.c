// The pod's shared PID namespace (--new-pidns): kubelet's shareProcessNamespace, CRI's
// NamespaceMode POD for pid.
//
// The supervisor starts one tiny child with clone(CLONE_NEWPID): PID 1 of a new namespace
// (the "pause" process; comm "fasco-pause"). Containers join it through
// /proc/<pause>/ns/pid. The supervisor itself stays in the host's PID namespace.
//
// Why clone and not unshare(CLONE_NEWPID) + fork: unshare moves the caller's *children* into
// the new namespace, every later one, not only the first. The runtimes the supervisor spawns
// would then run inside the pod's namespace (and write pid files with pids of that namespace,
// not the host pids waitpid reports), and once PID 1 died every later spawn would fail with
// ENOMEM. clone(CLONE_NEWPID) puts only the pause child there.
//
// The pause child, after the clone, makes system calls only (no allocation, no stdio):
//   - blocks every signal (SIGKILL and SIGSTOP cannot be): a SIGTERM or SIGINT sent to the
//     supervisor's process group does not touch it; the supervisor ends it with SIGKILL;
//   - PR_SET_PDEATHSIG(SIGKILL), then checks that the supervisor did not die before that
//     (getppid() is 0 across PID namespaces, so it cannot tell; instead it polls its end of a
//     socketpair whose other end only the supervisor holds: a hang-up means the supervisor
//     is gone);
//   - names itself "fasco-pause", closes every descriptor (which tells the supervisor, reading
//     the other end, that it is set up), and
//   - reaps forever: waitpid(-1, WNOHANG) until nothing is left, then sigwaitinfo for SIGCHLD
//     (blocked, so an exit between the two stays pending).
// It reaps the processes re-parented to it: those orphaned inside the namespace. The
// containers' own processes are not among them: a runtime's container process is re-parented
// to the supervisor, the subreaper (the kernel looks for a subreaper among the ancestors in
// the namespace of the exiting parent, the runtime, which is the host's), so their exits are
// still reaped and reported by the supervisor.
//
// When PID 1 of a namespace dies the kernel kills every process in it. The supervisor kills
// the pause child on shutdown; its death at any other time is logged, DIR/pidns-pid removed
// and every later create refused (the pod is broken: its containers were killed with it).
#include "realm.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t pause_pid;
static bool stopping;
static bool lost;

static void __attribute__((noreturn)) pause_main(int guard, int supervisor_end) {
    // The supervisor's end must be held by the supervisor alone, or its death goes unseen.
    close(supervisor_end);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) _exit(1);
    // The supervisor may have died before PR_SET_PDEATHSIG took effect: its end of the
    // socketpair is then closed.
    struct pollfd peer = {.fd = guard, .events = POLLIN};
    if (poll(&peer, 1, 0) != 0) _exit(1);
    prctl(PR_SET_NAME, "fasco-pause", 0, 0, 0);
    if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0) {
        struct rlimit limit;
        int highest = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? (int)limit.rlim_cur : 65536;
        for (int fd = 0; fd < highest; fd++) close(fd);
    }
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        sigwaitinfo(&child, NULL);
    }
}

int pidns_start(char *error, size_t size) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        snprintf(error, size, "socketpair: %s", strerror(errno));
        return -1;
    }
    // fork semantics (a copy of the address space, SIGCHLD on exit) plus a new PID namespace
    // for the child alone. With no stack and no TID/TLS flags the other arguments are unused.
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid == 0) pause_main(pair[1], pair[0]);
    int saved = errno;
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        snprintf(error, size, "clone(CLONE_NEWPID): %s", strerror(saved));
        return -1;
    }
    pause_pid = (pid_t)pid;
    // End of file once the child has closed its descriptors (set up), or died.
    char byte;
    while (read(pair[0], &byte, 1) < 0 && errno == EINTR) {}
    close(pair[0]);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pause_pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pause_pid) {
        snprintf(error, size, "the PID namespace's init (pid %d) exited during start-up", (int)pause_pid);
        while (waitpid(pause_pid, NULL, 0) < 0 && errno == EINTR) {}
        pause_pid = 0;
        return -1;
    }
    return 0;
}

pid_t pidns_pid(void) { return pause_pid; }

bool pidns_lost(void) { return lost; }

void pidns_stop(void) {
    if (pause_pid <= 0) return;
    stopping = true;
    kill(pause_pid, SIGKILL);
}

void pidns_stop_and_reap(void) {
    if (pause_pid <= 0) return;
    pidns_stop();
    while (waitpid(pause_pid, NULL, 0) < 0 && errno == EINTR) {}
    pause_pid = 0;
}

bool pidns_reaped(pid_t pid, int status) {
    if (pause_pid <= 0 || pid != pause_pid) return false;
    pause_pid = 0;
    if (stopping) return true;
    lost = true;
    char path[REALM_MAX_PATH];
    snprintf(path, sizeof path, "%s/pidns-pid", realm_dir);
    unlink(path);
    if (WIFSIGNALED(status))
        realm_log("the pod's PID namespace init (pid %d) was killed by signal %d: the namespace and every process "
                  "in it are gone; creates are refused from now on",
                  (int)pid, WTERMSIG(status));
    else
        realm_log("the pod's PID namespace init (pid %d) exited with status %d: the namespace and every process "
                  "in it are gone; creates are refused from now on",
                  (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return true;
}
