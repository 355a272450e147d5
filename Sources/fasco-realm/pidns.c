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
//   - PR_SET_PDEATHSIG(SIGKILL), then waits for one byte on its end of a socketpair whose
//     other end only the supervisor holds (getppid() is 0 across PID namespaces, so it cannot
//     tell whether the supervisor died before that; end of file means it did);
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
// The pod's user namespace (--userns, CRI's userns_options mode POD) is held by the same
// child (or by one made for it alone, without --new-pidns): it is cloned with CLONE_NEWUSER
// (and CLONE_NEWPID, owned then by the new user namespace), waits on the socketpair until the
// supervisor, root in the parent user namespace, has written its uid_map and gid_map, and
// then unshares the pod's network, IPC and UTS namespaces itself, sets the hostname and
// brings lo up: namespaces owned by the pod's user namespace, which a container inside it
// may administer (mount sysfs for its network namespace, set its hostname). A failed step
// is reported on the socketpair as {step, errno}. The supervisor stays in the host's user
// namespace: it runs the runtimes, owns the realm directory and is the subreaper.
//
// When PID 1 of a namespace dies the kernel kills every process in it. The supervisor kills
// the pause child on shutdown; its death at any other time is logged, DIR/pidns-pid removed
// and every later create refused (the pod is broken: its containers were killed with it).
#include "realm.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t pause_pid;
static bool stopping;
static bool lost;

// What the pause child reports on its end of the socketpair when a set-up step fails.
enum { STEP_UNSHARE = 1, STEP_HOSTNAME, STEP_LOOPBACK };
struct pause_failure {
    int step;
    int error;
};

static void __attribute__((noreturn)) pause_fail(int guard, int step) {
    struct pause_failure failure = {.step = step, .error = errno};
    ssize_t written = write(guard, &failure, sizeof failure);
    (void)written;
    _exit(1);
}

static int pause_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    memcpy(request.ifr_name, "lo", 3);
    int result = -1;
    if (ioctl(fd, SIOCGIFFLAGS, &request) == 0) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        result = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

static void __attribute__((noreturn)) pause_main(int guard, int supervisor_end, const struct pause_options *options) {
    // The supervisor's end must be held by the supervisor alone, or its death goes unseen.
    close(supervisor_end);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) _exit(1);
    // The supervisor sends one byte once it has written the ID maps (at once without a user
    // namespace). End of file instead: it died, maybe before PR_SET_PDEATHSIG took effect.
    char go;
    ssize_t got;
    do got = read(guard, &go, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1) _exit(1);
    if (options->new_userns) {
        // Made here, after the maps, so that the user namespace owns them (a container in it
        // may then mount sysfs, set the hostname, configure its network).
        if (options->namespaces != 0 && unshare(options->namespaces) != 0) pause_fail(guard, STEP_UNSHARE);
        if (options->hostname != NULL && (options->namespaces & CLONE_NEWUTS) &&
            sethostname(options->hostname, strlen(options->hostname)) != 0)
            pause_fail(guard, STEP_HOSTNAME);
        if ((options->namespaces & CLONE_NEWNET) && pause_loopback_up() != 0) pause_fail(guard, STEP_LOOPBACK);
    }
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

// Writes `text` to /proc/PID/NAME in one write (the kernel takes a map only whole, once).
static int write_id_map(pid_t pid, const char *name, const char *text, char *error, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, size, "open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    if (written != (ssize_t)length) {
        snprintf(error, size, "writing %s (%s): %s", path, name, written < 0 ? strerror(saved) : "short write");
        return -1;
    }
    return 0;
}

static void kill_and_reap(pid_t pid) {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

int pidns_start(const struct pause_options *options, char *error, size_t size) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        snprintf(error, size, "socketpair: %s", strerror(errno));
        return -1;
    }
    // fork semantics (a copy of the address space, SIGCHLD on exit) plus new namespaces for
    // the child alone; CLONE_NEWUSER is made first, so it owns the new PID namespace. With no
    // stack and no TID/TLS flags the other arguments are unused.
    unsigned long flags = SIGCHLD;
    if (options->new_pidns) flags |= CLONE_NEWPID;
    if (options->new_userns) flags |= CLONE_NEWUSER;
    long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid == 0) pause_main(pair[1], pair[0], options);
    int saved = errno;
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        snprintf(error, size, "clone(%s%s): %s", options->new_pidns ? "CLONE_NEWPID " : "",
                 options->new_userns ? "CLONE_NEWUSER" : "", strerror(saved));
        return -1;
    }
    pause_pid = (pid_t)pid;
    // Root of the parent user namespace may write gid_map without setgroups "deny".
    if (options->new_userns && (write_id_map(pause_pid, "uid_map", options->uid_map, error, size) != 0 ||
                                write_id_map(pause_pid, "gid_map", options->gid_map, error, size) != 0)) {
        close(pair[0]);
        kill_and_reap(pause_pid);
        pause_pid = 0;
        return -1;
    }
    static const char go = 'g';
    ssize_t sent;
    do sent = write(pair[0], &go, 1);
    while (sent < 0 && errno == EINTR);
    // End of file once the child has closed its descriptors (set up), or died; a failed
    // step is reported before.
    struct pause_failure failure;
    size_t have = 0;
    while (have < sizeof failure) {
        ssize_t got = read(pair[0], (char *)&failure + have, sizeof failure - have);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        have += (size_t)got;
    }
    close(pair[0]);
    if (have == sizeof failure) {
        static const char *const steps[] = {"", "unshare", "sethostname", "bringing up lo"};
        int step = failure.step >= 1 && failure.step <= 3 ? failure.step : 0;
        snprintf(error, size, "the pause child (pid %d) failed: %s: %s", (int)pause_pid, steps[step], strerror(failure.error));
        kill_and_reap(pause_pid);
        pause_pid = 0;
        return -1;
    }
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pause_pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pause_pid) {
        snprintf(error, size, "the pause child (pid %d) exited during start-up", (int)pause_pid);
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
    snprintf(path, sizeof path, "%s/userns-pid", realm_dir);
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
