// fasco-realm: the System Realm supervisor of Fasco's software backend.
//
// Usage: fasco-realm --dir DIR [--hostname NAME] [--no-new-netns | --netns PATH] [--no-new-ipcns]
//                    [--no-new-utsns] [--new-pidns] [--hide-mount PATH]...
//                    [--userns --uid-map C:H:L [--uid-map ...] --gid-map C:H:L [--gid-map ...]]
//
// Start-up: setsid, PR_SET_CHILD_SUBREAPER, unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
// (less what the --no-new-* flags keep from the parent; --netns PATH joins the network
// namespace bound at PATH instead of making one), sethostname, loopback up, SIGPIPE
// and SIGHUP ignored, SIGCHLD/SIGTERM/SIGINT taken through a signalfd, DIR/control.sock
// listening (AF_UNIX SOCK_SEQPACKET, mode 0600; a stale socket is replaced, a served one
// makes it fail), DIR/pid written atomically. With --new-pidns the pause child is started
// next (see pidns.c): PID 1 of a new PID namespace, in the realm's other namespaces, killed
// with the supervisor (PR_SET_PDEATHSIG); its host pid is written atomically to
// DIR/pidns-pid ("PID\n"), which is removed on shutdown, when the pause child dies, and at
// a start-up without --new-pidns. The supervisor itself stays in the host's PID namespace
// (so its runtimes do too, and pids are host pids throughout the protocol). Then "ready\n"
// is written to fd 3 if it is open (the spawner's readiness pipe) and fd 3 is closed; a
// start-up failure writes "error <message>\n" there instead and exits 1. Other inherited
// descriptors above 3 are closed first. The daemon enters the namespaces through
// /proc/<pid>/ns/{net,ipc,uts} and, with --new-pidns, /proc/<pause pid>/ns/pid (a container
// joining it is still re-parented to the supervisor and its exit reported as any other).
//
// With --userns the supervisor makes none of these namespaces itself: the pause child is
// started (with or without --new-pidns) in a new user namespace whose uid_map and gid_map
// the supervisor writes from the --uid-map/--gid-map triples (container ID, host ID,
// length; at most 8 each), and it unshares the network, IPC and UTS namespaces (less the
// --no-new-* ones), sets the hostname and brings lo up there (see pidns.c). Its host pid is
// written to DIR/userns-pid (removed as pidns-pid is), and the daemon then enters
// /proc/<pause pid>/ns/{user,net,ipc,uts}.
//
// Protocol: one datagram per command, one datagram per reply. Fields are separated by NUL
// bytes (no trailing NUL), so any field may hold spaces or newlines.
//
//   create\0ID\0PIDFILE\0LOGPATH\0ARG0\0ARG1...
//       Runs ARGV (a runtime's `create ... --pid-file PIDFILE ID`) with stdin /dev/null and
//       stdout/stderr on two pipes the supervisor owns, and waits for it (without blocking
//       other commands). If it exits 0 and PIDFILE holds the pid of a child of the supervisor
//       (the container process, reparented here because the supervisor is the subreaper):
//           ok\0PID
//       else the record and the pipes are dropped and the reply is
//           error\0STATUS\0OUTPUT
//       STATUS is the exit status (128+N for signal N; 127 when ARGV could not be executed),
//       OUTPUT the first 4 KiB of what ARGV wrote to stdout and stderr (or why no pid was
//       found). Everything read from the pipes, by ARGV and later by the container, goes to
//       LOGPATH in the CRI log format:
//           2026-11-22T05:18:03.123456789Z stdout F content\n
//       A line longer than 16 KiB is written as P chunks of 16 KiB and a final F chunk; a
//       partial last line is written as F at EOF and when the container exits.
//   create-stdin\0MODE\0ID\0PIDFILE\0LOGPATH\0ARG0...
//       As create, but the container's stdin is a pipe whose write end the supervisor keeps
//       (so the container's reads wait for input) for `attach`. MODE "open" keeps it for
//       every attach; "once" hands it to the first attach and closes the supervisor's copy,
//       so the container reads end-of-file when that client closes it (CRI stdin_once).
//   create-tty\0MODE\0SOCKET\0ID\0PIDFILE\0LOGPATH\0ARG0...
//       As create, for a container with a terminal (process.terminal): ARGV names SOCKET as
//       its --console-socket, where the supervisor listens (a unix socket path, replaced if
//       it exists, removed once done) for the terminal's controlling side, which the runtime
//       passes with SCM_RIGHTS during the create. Everything read from it is the container's
//       stdout (log and attach); the runtime's own output is its stderr. MODE "none", "open"
//       or "once": with "open" and "once" attach hands out a duplicate of the controlling side
//       as the container's stdin, as create-stdin does its pipe (a terminal has no end of
//       file: "once" only hands it to the first client). A create whose runtime exits without
//       having passed a terminal fails.
//   resize\0ID\0COLUMNS\0ROWS  ok   (sets a terminal container's terminal size, 1-65535 each)
//   attach\0ID             ok\0S with descriptors (SCM_RIGHTS): the stdin write end first
//                         when S is 1, then the read ends of two new pipes that get a copy of
//                         everything the running container writes to stdout and stderr from
//                         now on (the log is unaffected). They end when the container's
//                         output does or it exits; a client that does not keep up (its
//                         1 MiB pipe full) or closes its end is detached. At most 8 at once.
//   reopen\0ID            ok                       (reopens LOGPATH, for log rotation)
//   list                  ok[\nRECORD]...          RECORD = ID\0PID\0STATE\0CODE\0FINISHED_NS\0OOM
//                         STATE is creating, running or exited; CODE is -1, FINISHED_NS 0 and
//                         OOM 0 until the container exited; records are separated by '\n'
//                         (IDs never contain '\n' or NUL).
//   wait\0ID              exited\0CODE\0FINISHED_NS\0OOM   when the container has exited (at once
//                         if it already had); several connections may wait on one container.
//   forget\0ID            ok   (drops an exited container's record and DIR/exits/ID; unknown IDs too)
//   shutdown              ok   after every process of the realm (the pause child, and so the
//                         whole PID namespace, included) was killed (SIGKILL) and reaped and
//                         control.sock, pid, pidns-pid and userns-pid were removed; then it exits 0.
//                         SIGTERM and SIGINT do the same without a reply.
// A create after the pause child died unexpectedly is refused with "failed precondition".
// Errors are  error\0KIND: MESSAGE  with KIND one of "invalid argument", "not found",
// "already exists", "failed precondition", "resource exhausted", "internal".
//
// Exits are persisted to DIR/exits/ID ("code=N\nfinished=NS\noom=0|1\npid=P\n", written to a
// temporary file, fsynced, renamed, directory fsynced) before any waiter is answered; the
// container's pipes are drained first, so its log is complete when `wait` returns.
//
// OOM is 1 when the kernel's OOM killer killed a process in the container's memory cgroup
// while the container ran: when the create succeeds, the cgroup of PID is looked up in
// /proc/PID/cgroup (the v1 "memory" hierarchy, else the v2 "0::" one) and its mount in
// /proc/self/mountinfo, and the "oom_kill N" count of memory.oom_control (v1) or
// memory.events (v2) there is noted; when PID is reaped, the count is read again and OOM is
// 1 if it grew. The killed process need not be PID, nor the exit status 137 (a shell whose
// child was killed exits as it likes), as with containerd and CRI-O. OOM is 0 when the
// cgroup cannot be found or read, so a container that shares its memory cgroup with others
// (no cgroup of its own) may be reported for their kills too. Nothing waits on the counter:
// the supervisor stays one thread and reads two small files per container.
#include "realm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *realm_dir;
int realm_epoll = -1;
struct container *realm_containers;
struct connection *realm_connections;

static char dir_buffer[PATH_MAX];
static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int ready_fd = -1;
static int listener_fd = -1;
static bool listener_paused;
static bool pid_written;
static bool pidns_written;
static bool userns_written;
static int signal_fd = -1;
static int connection_count;
static enum realm_kind listener_kind = KIND_LISTENER;
static enum realm_kind signals_kind = KIND_SIGNALS;
// Command datagrams are received here: one more byte than allowed, to see oversize ones.
static char command_buffer[REALM_MAX_COMMAND + 2];

void realm_log(const char *format, ...) {
    char text[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    dprintf(STDERR_FILENO, "%04d-%02d-%02dT%02d:%02d:%02dZ fasco-realm[%d]: %s\n", utc.tm_year + 1900,
            utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (int)getpid(), text);
}

static void remove_file(const char *name) {
    char path[REALM_MAX_PATH];
    snprintf(path, sizeof path, "%s/%s", realm_dir, name);
    unlink(path);
}

// A start-up failure: told to the spawner through the readiness pipe and to stderr.
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *format, ...) {
    char text[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    realm_log("%s", text);
    if (ready_fd >= 0) {
        dprintf(ready_fd, "error %s\n", text);
        close(ready_fd);
    }
    if (listener_fd >= 0) unlink(socket_path);
    pidns_stop_and_reap();
    if (pidns_written) remove_file("pidns-pid");
    if (userns_written) remove_file("userns-pid");
    if (pid_written) {
        char pid_path[REALM_MAX_PATH];
        snprintf(pid_path, sizeof pid_path, "%s/pid", realm_dir);
        unlink(pid_path);
    }
    exit(1);
}

int64_t realm_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int realm_watch(int fd, uint32_t events, void *object) {
    struct epoll_event event = {.events = events, .data.ptr = object};
    return epoll_ctl(realm_epoll, EPOLL_CTL_ADD, fd, &event);
}

void realm_unwatch(int fd) { epoll_ctl(realm_epoll, EPOLL_CTL_DEL, fd, NULL); }

static void set_connection_events(struct connection *connection, uint32_t events) {
    struct epoll_event event = {.events = events, .data.ptr = connection};
    epoll_ctl(realm_epoll, EPOLL_CTL_MOD, connection->fd, &event);
}

void realm_defer(struct connection *connection, int pending, struct container *subject) {
    connection->pending = pending;
    connection->subject = subject;
    // Not read again until answered; a hang-up is still reported.
    set_connection_events(connection, EPOLLRDHUP);
}

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

int realm_write_atomically(const char *directory, const char *name, const char *data, size_t length) {
    char temporary[REALM_MAX_PATH], final[REALM_MAX_PATH];
    if ((size_t)snprintf(temporary, sizeof temporary, "%s/.%s.tmp", directory, name) >= sizeof temporary ||
        (size_t)snprintf(final, sizeof final, "%s/%s", directory, name) >= sizeof final) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, data, length) != 0 || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        unlink(temporary);
        errno = saved;
        return -1;
    }
    close(fd);
    if (rename(temporary, final) != 0) {
        int saved = errno;
        unlink(temporary);
        errno = saved;
        return -1;
    }
    int directory_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0) return -1;
    int result = fsync(directory_fd);
    close(directory_fd);
    return result;
}

// ---------------------------------------------------------------------------------------
// Replies

static void reply_sent(struct connection *connection) {
    if (connection->pending != CONN_IDLE) {
        connection->pending = CONN_IDLE;
        connection->subject = NULL;
        set_connection_events(connection, EPOLLIN | EPOLLRDHUP);
    }
}

void realm_reply(struct connection *connection, const char *data, size_t length) {
    if (connection->fd >= 0 && send(connection->fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        // A peer that does not read its replies (or has gone) loses its connection; the
        // main loop closes it when epoll reports the hang-up.
        if (errno == EMSGSIZE) {
            static const char too_big[] = "error\0resource exhausted: the reply is larger than the socket allows";
            if (send(connection->fd, too_big, sizeof too_big - 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) goto answered;
        }
        shutdown(connection->fd, SHUT_RDWR);
    }
answered:
    reply_sent(connection);
}

void realm_reply_fds(struct connection *connection, const char *data, size_t length, const int *fds, int count) {
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec vector = {.iov_base = (void *)data, .iov_len = length};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (count > 0 && count <= 4) {
        message.msg_control = control.space;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)count);
    }
    if (connection->fd >= 0 && sendmsg(connection->fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        shutdown(connection->fd, SHUT_RDWR);
    reply_sent(connection);
}

void realm_reply_error(struct connection *connection, const char *format, ...) {
    char text[1024];
    memcpy(text, "error", 6);  // "error\0"
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text + 6, sizeof text - 6, format, arguments);
    va_end(arguments);
    if (length < 0) length = 0;
    if ((size_t)length > sizeof text - 7) length = (int)(sizeof text - 7);
    realm_reply(connection, text, 6 + (size_t)length);
}

// ---------------------------------------------------------------------------------------
// Commands

static void reply_list(struct connection *connection) {
    size_t capacity = 3 + (size_t)container_count() * (REALM_MAX_ID + 96);
    char *reply = malloc(capacity);
    if (reply == NULL) {
        realm_reply_error(connection, "resource exhausted: out of memory");
        return;
    }
    size_t length = 0;
    memcpy(reply, "ok", 2);
    length = 2;
    for (struct container *c = realm_containers; c != NULL; c = c->next) {
        static const char *const names[] = {"creating", "running", "exited"};
        bool exited = c->state == STATE_EXITED;
        int written = snprintf(reply + length, capacity - length, "\n%s%c%d%c%s%c%d%c%lld%c%d", c->id, 0,
                               (int)c->pid, 0, names[c->state], 0, exited ? c->exit_code : -1, 0,
                               exited ? (long long)c->finished_ns : 0LL, 0, exited && c->oom ? 1 : 0);
        if (written < 0 || (size_t)written >= capacity - length) break;
        length += (size_t)written;
    }
    realm_reply(connection, reply, length);
    free(reply);
}

static void start_wait(struct connection *connection, const char *id) {
    struct container *c = container_find(id);
    if (c == NULL) {
        realm_reply_error(connection, "not found: no container %s in this realm", id);
    } else if (c->state == STATE_EXITED) {
        container_answer_wait(connection, c);
    } else if (c->state == STATE_CREATING) {
        realm_reply_error(connection, "failed precondition: container %s is still being created", id);
    } else {
        realm_defer(connection, CONN_WAIT, c);
    }
}

static void realm_shutdown(struct connection *requester) __attribute__((noreturn));

// Splits a NUL-separated datagram in place (data has room for one more byte) into
// fields[0..count), followed by a NULL so the tail can serve as an argv; returns the number
// of fields or -1 if there are too many.
static int split_fields(char *data, size_t length, char **fields) {
    int count = 0;
    char *start = data;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || data[i] == '\0') {
            if (count == REALM_MAX_FIELDS) return -1;
            data[i] = '\0';
            fields[count++] = start;
            start = data + i + 1;
        }
    }
    fields[count] = NULL;
    return count;
}

static void handle_command(struct connection *connection, size_t length) {
    char *fields[REALM_MAX_FIELDS + 1];
    int count = split_fields(command_buffer, length, fields);
    if (count < 0) {
        realm_reply_error(connection, "invalid argument: more than %d fields in one command", REALM_MAX_FIELDS);
        return;
    }
    const char *verb = fields[0];
    bool takes_id = strcmp(verb, "reopen") == 0 || strcmp(verb, "wait") == 0 || strcmp(verb, "forget") == 0 ||
                    strcmp(verb, "attach") == 0;
    if (takes_id) {
        if (count != 2) {
            realm_reply_error(connection, "invalid argument: %s takes exactly one container ID", verb);
        } else if (!container_valid_id(fields[1])) {
            realm_reply_error(connection, "invalid argument: malformed container ID");
        } else if (strcmp(verb, "reopen") == 0) {
            container_reopen_log(connection, fields[1]);
        } else if (strcmp(verb, "wait") == 0) {
            start_wait(connection, fields[1]);
        } else if (strcmp(verb, "attach") == 0) {
            container_attach(connection, fields[1]);
        } else {
            container_forget(connection, fields[1]);
        }
    } else if (strcmp(verb, "create") == 0) {
        container_create(connection, fields, count, STDIN_NONE, NULL);
    } else if (strcmp(verb, "create-stdin") == 0) {
        // create-stdin\0MODE\0ID\0...: the fields after MODE are create's.
        if (count < 2 || (strcmp(fields[1], "open") != 0 && strcmp(fields[1], "once") != 0))
            realm_reply_error(connection, "invalid argument: create-stdin needs MODE open or once");
        else
            container_create(connection, fields + 1, count - 1, strcmp(fields[1], "once") == 0 ? STDIN_ONCE : STDIN_OPEN, NULL);
    } else if (strcmp(verb, "create-tty") == 0) {
        // create-tty\0MODE\0SOCKET\0ID\0...: the fields after SOCKET are create's.
        if (count < 3 || (strcmp(fields[1], "none") != 0 && strcmp(fields[1], "open") != 0 && strcmp(fields[1], "once") != 0))
            realm_reply_error(connection, "invalid argument: create-tty needs MODE none, open or once and a SOCKET");
        else
            container_create(connection, fields + 2, count - 2,
                             strcmp(fields[1], "none") == 0 ? STDIN_NONE : strcmp(fields[1], "once") == 0 ? STDIN_ONCE : STDIN_OPEN,
                             fields[2]);
    } else if (strcmp(verb, "resize") == 0) {
        if (count != 4 || !container_valid_id(fields[1]))
            realm_reply_error(connection, "invalid argument: resize takes a container ID, COLUMNS and ROWS");
        else
            container_resize(connection, fields[1], fields[2], fields[3]);
    } else if (strcmp(verb, "list") == 0 && count == 1) {
        reply_list(connection);
    } else if (strcmp(verb, "shutdown") == 0 && count == 1) {
        realm_shutdown(connection);
    } else if (strcmp(verb, "list") == 0 || strcmp(verb, "shutdown") == 0) {
        realm_reply_error(connection, "invalid argument: %s takes no arguments", verb);
    } else {
        realm_reply_error(connection, "invalid argument: unknown command");
    }
}

// ---------------------------------------------------------------------------------------
// Connections

void realm_resume_listener(void) {
    if (listener_paused && listener_fd >= 0 && realm_watch(listener_fd, EPOLLIN, &listener_kind) == 0)
        listener_paused = false;
}

static void close_connection(struct connection *connection) {
    realm_unwatch(connection->fd);
    close(connection->fd);
    realm_resume_listener();
    for (struct connection **link = &realm_connections; *link != NULL; link = &(*link)->next) {
        if (*link == connection) {
            *link = connection->next;
            break;
        }
    }
    connection_count--;
    free(connection);
}

static void accept_connections(void) {
    for (;;) {
        int fd = accept4(listener_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: a level-triggered listener would spin. Stop listening
                // until a connection or a container frees one (realm_resume_listener).
                realm_log("accept: %s; not accepting until a descriptor is freed", strerror(errno));
                realm_unwatch(listener_fd);
                listener_paused = true;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                realm_log("accept: %s", strerror(errno));
            }
            return;
        }
        struct connection *connection = NULL;
        if (connection_count >= REALM_MAX_CONNECTIONS || (connection = calloc(1, sizeof *connection)) == NULL) {
            static const char busy[] = "error\0resource exhausted: too many connections";
            send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        connection->kind = KIND_CONNECTION;
        connection->fd = fd;
        connection->pending = CONN_IDLE;
        if (realm_watch(fd, EPOLLIN | EPOLLRDHUP, connection) != 0) {
            close(fd);
            free(connection);
            continue;
        }
        connection->next = realm_connections;
        realm_connections = connection;
        connection_count++;
    }
}

static void connection_event(struct connection *connection, uint32_t events) {
    if (connection->pending == CONN_IDLE && (events & EPOLLIN)) {
        struct iovec vector = {.iov_base = command_buffer, .iov_len = REALM_MAX_COMMAND + 1};
        struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
        ssize_t received = recvmsg(connection->fd, &message, MSG_DONTWAIT);
        if (received < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            close_connection(connection);
        } else if (received == 0) {
            close_connection(connection);  // orderly close (an empty datagram reads the same)
        } else if (received > REALM_MAX_COMMAND || (message.msg_flags & MSG_TRUNC)) {
            realm_reply_error(connection, "invalid argument: command larger than %d bytes", REALM_MAX_COMMAND);
        } else {
            handle_command(connection, (size_t)received);
        }
        return;
    }
    if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) close_connection(connection);
}

// ---------------------------------------------------------------------------------------
// Shutdown

// SIGKILL to every process whose parent is this one (orphans reparented to the subreaper
// included). Returns how many were signalled.
static int kill_children(void) {
    DIR *proc = opendir("/proc");
    if (proc == NULL) return 0;
    pid_t self = getpid();
    int killed = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self) continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t length = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (length <= 0) continue;
        stat[length] = '\0';
        // "pid (comm) state ppid ...": comm may hold anything, so parse after the last ')'.
        char *close_paren = strrchr(stat, ')');
        char state;
        int parent;
        if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &parent) != 2) continue;
        if (parent == self && state != 'Z' && kill((pid_t)pid, SIGKILL) == 0) killed++;
    }
    closedir(proc);
    return killed;
}

static void realm_shutdown(struct connection *requester) {
    // No new clients from here on.
    if (listener_fd >= 0) {
        realm_unwatch(listener_fd);
        close(listener_fd);
        listener_fd = -1;
        unlink(socket_path);
    }
    int64_t deadline = realm_now_ns() + 10 * (int64_t)1000000000;
    // PID 1 of the pod's namespace first: the kernel kills everything in the namespace.
    pidns_stop();
    for (;;) {
        container_kill_all();
        kill_children();
        container_reap_children();
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) break;
        if (realm_now_ns() > deadline) {
            realm_log("shutdown: children still alive after 10 s; exiting without them");
            break;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    remove_file("pidns-pid");
    remove_file("userns-pid");
    remove_file("pid");
    if (requester != NULL) {
        static const char ok[] = "ok";
        realm_reply(requester, ok, 2);
    }
    exit(0);
}

// ---------------------------------------------------------------------------------------
// Start-up

static void usage(void) {
    dprintf(STDERR_FILENO,
            "usage: fasco-realm --dir DIR [--hostname NAME] [--no-new-netns | --netns PATH] [--no-new-ipcns]"
            " [--no-new-utsns] [--new-pidns] [--hide-mount PATH]... [--userns --uid-map C:H:L... --gid-map C:H:L...]\n");
}

static void close_inherited_descriptors(void) {
    // Keep 0-2 and the readiness pipe (3); nothing else of the spawner's belongs here.
    if (close_range(4, ~0U, 0) == 0) return;
    DIR *fds = opendir("/proc/self/fd");
    if (fds == NULL) return;
    int own = dirfd(fds);
    struct dirent *entry;
    while ((entry = readdir(fds)) != NULL) {
        int fd = atoi(entry->d_name);
        if (fd > 3 && fd != own) close(fd);
    }
    closedir(fds);
}

static void loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket for the loopback interface: %s", strerror(errno));
    struct ifreq request;
    memset(&request, 0, sizeof request);
    memcpy(request.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) fail("SIOCGIFFLAGS lo: %s", strerror(errno));
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) fail("SIOCSIFFLAGS lo: %s", strerror(errno));
    close(fd);
}

static void listen_on_control_socket(void) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if ((size_t)snprintf(socket_path, sizeof socket_path, "%s/control.sock", realm_dir) >= sizeof socket_path)
        fail("%s/control.sock is longer than a unix socket path may be", realm_dir);
    memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);

    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    // A socket left by a supervisor that died is replaced; one still served is not.
    int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        if (connect(probe, (struct sockaddr *)&address, sizeof address) == 0)
            fail("another supervisor serves %s", socket_path);
        close(probe);
    }
    unlink(socket_path);
    // Single-threaded: the umask change cannot race with anything.
    mode_t saved = umask(0177);
    int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    umask(saved);
    if (bound != 0) fail("bind %s: %s", socket_path, strerror(errno));
    listener_fd = fd;
    if (chmod(socket_path, 0600) != 0) fail("chmod %s: %s", socket_path, strerror(errno));
    if (listen(fd, 64) != 0) fail("listen %s: %s", socket_path, strerror(errno));
}

// --hide-mount: the supervisor (and so every runtime it runs) gets a mount namespace of its
// own without these mounts, e.g. the cgroup v2 mount of a hybrid host that crun refuses.
// Only each hidden mount's parent is made private there, so the unmount stays in this
// namespace while every other mount keeps its propagation (containers' volumes still see
// the host's mounts); if the parent is not a mount point, everything is made private.
static void hide_mounts(const char **paths, int count) {
    if (unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS): %s", strerror(errno));
    for (int i = 0; i < count; i++) {
        char parent[REALM_MAX_PATH];
        snprintf(parent, sizeof parent, "%s", paths[i]);
        char *slash = strrchr(parent, '/');
        if (slash == NULL || slash == parent) snprintf(parent, sizeof parent, "/");
        else *slash = 0;
        if (mount(NULL, parent, NULL, MS_PRIVATE, NULL) != 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            fail("making %s private: %s", parent, strerror(errno));
        if (umount2(paths[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
            fail("hiding %s: %s", paths[i], strerror(errno));
    }
}

// Appends "C H L\n" for a --uid-map/--gid-map argument "C:H:L" to `map` (size bytes);
// false when it is malformed, empty, beyond 32 bits or there are too many.
static bool append_id_map(char *map, size_t size, int *count, const char *argument) {
    unsigned long long inside, outside, length;
    char tail;
    if (*count >= REALM_MAX_ID_MAPS || argument[0] < '0' || argument[0] > '9' ||
        sscanf(argument, "%llu:%llu:%llu%c", &inside, &outside, &length, &tail) != 3)
        return false;
    if (length == 0 || inside + length > 0x100000000ULL || outside + length > 0x100000000ULL) return false;
    size_t used = strlen(map);
    int written = snprintf(map + used, size - used, "%llu %llu %llu\n", inside, outside, length);
    if (written < 0 || (size_t)written >= size - used) return false;
    (*count)++;
    return true;
}

int main(int argc, char **argv) {
    const char *directory = NULL, *hostname = NULL, *netns_path = NULL;
    int namespaces = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    bool new_pidns = false, new_userns = false;
    static char uid_map[REALM_MAX_ID_MAPS * 40], gid_map[REALM_MAX_ID_MAPS * 40];
    int uid_maps = 0, gid_maps = 0;
    const char *hidden[8];
    int hidden_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            directory = argv[++i];
        } else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) {
            hostname = argv[++i];
        } else if (strcmp(argv[i], "--no-new-netns") == 0) {
            namespaces &= ~CLONE_NEWNET;
        } else if (strcmp(argv[i], "--netns") == 0 && i + 1 < argc && argv[i + 1][0] == '/') {
            netns_path = argv[++i];
        } else if (strcmp(argv[i], "--no-new-ipcns") == 0) {
            namespaces &= ~CLONE_NEWIPC;
        } else if (strcmp(argv[i], "--no-new-utsns") == 0) {
            namespaces &= ~CLONE_NEWUTS;
        } else if (strcmp(argv[i], "--new-pidns") == 0) {
            new_pidns = true;
        } else if (strcmp(argv[i], "--userns") == 0) {
            new_userns = true;
        } else if (strcmp(argv[i], "--uid-map") == 0 && i + 1 < argc && append_id_map(uid_map, sizeof uid_map, &uid_maps, argv[i + 1])) {
            i++;
        } else if (strcmp(argv[i], "--gid-map") == 0 && i + 1 < argc && append_id_map(gid_map, sizeof gid_map, &gid_maps, argv[i + 1])) {
            i++;
        } else if (strcmp(argv[i], "--hide-mount") == 0 && i + 1 < argc && hidden_count < 8 && argv[i + 1][0] == '/') {
            hidden[hidden_count++] = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    // A joined network namespace belongs to the host's user namespace, not to a new one.
    if (directory == NULL || new_userns != (uid_maps > 0) || new_userns != (gid_maps > 0) ||
        (netns_path != NULL && (new_userns || !(namespaces & CLONE_NEWNET)))) {
        usage();
        return 2;
    }

    if (fcntl(3, F_GETFD) >= 0) {
        ready_fd = 3;
        fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    }
    close_inherited_descriptors();
    // 0-2 must be taken, or pipes opened later could land there and be dup2'ed over.
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int null_fd = open("/dev/null", O_RDWR);
            if (null_fd >= 0 && null_fd != fd) close(null_fd);
        }
    }

    if (realpath(directory, dir_buffer) == NULL) fail("state directory %s: %s", directory, strerror(errno));
    realm_dir = dir_buffer;
    if (hostname != NULL && (strlen(hostname) == 0 || strlen(hostname) > 64))
        fail("hostname must have 1 to 64 bytes");
    if (hostname != NULL && !(namespaces & CLONE_NEWUTS))
        fail("--hostname needs a new UTS namespace");
    if (chdir("/") != 0) fail("chdir /: %s", strerror(errno));
    umask(022);

    // Its own session: a signal to the daemon's process group or terminal does not reach it.
    if (setsid() < 0 && errno != EPERM) fail("setsid: %s", strerror(errno));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    // With a user namespace the pause child makes these, owned by it.
    int own_namespaces = new_userns ? 0 : namespaces;
    if (netns_path != NULL) {
        // The daemon made and bound it (so the pod's network is set up while this starts).
        int netns = open(netns_path, O_RDONLY | O_CLOEXEC);
        if (netns < 0) fail("network namespace %s: %s", netns_path, strerror(errno));
        if (setns(netns, CLONE_NEWNET) != 0) fail("setns %s: %s", netns_path, strerror(errno));
        close(netns);
        own_namespaces &= ~CLONE_NEWNET;
    }
    if (own_namespaces != 0 && unshare(own_namespaces) != 0) fail("unshare: %s", strerror(errno));
    if (hidden_count > 0) hide_mounts(hidden, hidden_count);
    if (!new_userns && hostname != NULL && sethostname(hostname, strlen(hostname)) != 0)
        fail("sethostname: %s", strerror(errno));
    if ((own_namespaces & CLONE_NEWNET) || netns_path != NULL) loopback_up();

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    if (sigprocmask(SIG_BLOCK, &handled, NULL) != 0) fail("sigprocmask: %s", strerror(errno));
    signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd < 0) fail("signalfd: %s", strerror(errno));

    char exits[REALM_MAX_PATH];
    snprintf(exits, sizeof exits, "%s/exits", realm_dir);
    if (mkdir(exits, 0755) != 0 && errno != EEXIST) fail("mkdir %s: %s", exits, strerror(errno));

    // The socket first: it refuses to start beside a live supervisor, whose pid file must
    // then stay as it is.
    listen_on_control_socket();
    char pid_text[32];
    int pid_length = snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
    if (realm_write_atomically(realm_dir, "pid", pid_text, (size_t)pid_length) != 0)
        fail("cannot write %s/pid: %s", realm_dir, strerror(errno));
    pid_written = true;
    // After the socket (a served directory keeps its files) and after the signal mask (the
    // pause child starts with SIGTERM and SIGINT blocked too).
    if (new_pidns || new_userns) {
        char error[256];
        struct pause_options options = {
            .new_pidns = new_pidns, .new_userns = new_userns, .uid_map = uid_map, .gid_map = gid_map,
            .namespaces = namespaces, .hostname = hostname};
        if (pidns_start(&options, error, sizeof error) != 0) fail("%s", error);
        char pause_text[32];
        int pause_length = snprintf(pause_text, sizeof pause_text, "%d\n", (int)pidns_pid());
        if (new_pidns) {
            pidns_written = true;
            if (realm_write_atomically(realm_dir, "pidns-pid", pause_text, (size_t)pause_length) != 0)
                fail("cannot write %s/pidns-pid: %s", realm_dir, strerror(errno));
        }
        if (new_userns) {
            userns_written = true;
            if (realm_write_atomically(realm_dir, "userns-pid", pause_text, (size_t)pause_length) != 0)
                fail("cannot write %s/userns-pid: %s", realm_dir, strerror(errno));
        }
    }
    // One left by an earlier supervisor of this directory names no namespace of this one.
    if (!new_pidns) remove_file("pidns-pid");
    if (!new_userns) remove_file("userns-pid");

    realm_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (realm_epoll < 0) fail("epoll_create1: %s", strerror(errno));
    if (realm_watch(listener_fd, EPOLLIN, &listener_kind) != 0 || realm_watch(signal_fd, EPOLLIN, &signals_kind) != 0)
        fail("epoll_ctl: %s", strerror(errno));

    if (ready_fd >= 0) {
        static const char ready[] = "ready\n";
        if (write_all(ready_fd, ready, sizeof ready - 1) != 0) realm_log("readiness pipe: %s", strerror(errno));
        close(ready_fd);
        ready_fd = -1;
    }

    for (;;) {
        // One event per call: handling one may free the object another event of the same
        // batch points at. Readiness is level-triggered and epoll rotates its ready list,
        // so nothing is lost or starved.
        struct epoll_event event;
        int count = epoll_wait(realm_epoll, &event, 1, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            realm_log("epoll_wait: %s", strerror(errno));
            realm_shutdown(NULL);
        }
        if (count == 0) continue;
        enum realm_kind *kind = event.data.ptr;
        switch (*kind) {
        case KIND_LISTENER:
            accept_connections();
            break;
        case KIND_SIGNALS: {
            struct signalfd_siginfo info;
            bool terminate = false, child = false;
            while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo == SIGCHLD) child = true;
                else terminate = true;
            }
            if (child) container_reap_children();
            if (terminate) realm_shutdown(NULL);
            break;
        }
        case KIND_CONNECTION:
            connection_event((struct connection *)kind, event.events);
            break;
        case KIND_STREAM:
            container_stream_readable((struct stream *)kind);
            break;
        case KIND_CONSOLE:
            container_console_readable((struct console_socket *)kind);
            break;
        }
    }
}
