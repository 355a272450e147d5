// fasco-realm: the System Realm supervisor of Fasco's software backend.
//
// One small single-threaded process per pod. It owns the pod's network, IPC and UTS
// namespaces (and, with --new-pidns, a PID namespace whose init is its pause child), is the child subreaper of every container process started inside it,
// carries their stdout/stderr into CRI-format log files and records their exits (and
// whether the OOM killer struck in their memory cgroup) on disk so that a daemon
// restarting later still learns them. The daemon talks to it over
// DIR/control.sock; see docs in main.c for the protocol.
#ifndef FASCO_REALM_H
#define FASCO_REALM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Bounds on everything that comes from the control socket.
#define REALM_MAX_COMMAND (64 * 1024)   // bytes in one command datagram
#define REALM_MAX_ARGS 256               // argv entries of a create
#define REALM_MAX_FIELDS (4 + REALM_MAX_ARGS)
#define REALM_MAX_ID 128                 // bytes in a container ID
#define REALM_MAX_PATH 4096
#define REALM_MAX_CONTAINERS 512
#define REALM_MAX_CONNECTIONS 128
#define REALM_LOG_LINE_MAX (16 * 1024)   // longer lines are split into P chunks
#define REALM_CAPTURE_MAX 4096           // runtime output returned by a failed create
#define REALM_MAX_ATTACH 8               // clients attached to one container at once

// What an epoll event points at: every registered object starts with its kind.
enum realm_kind { KIND_LISTENER = 1, KIND_SIGNALS, KIND_CONNECTION, KIND_STREAM, KIND_CONSOLE };

struct container;

enum { CONN_IDLE, CONN_CREATE, CONN_WAIT };

// One client connection. At most one command is in progress per connection: while a
// reply is deferred (create, wait) the connection is not read.
struct connection {
    enum realm_kind kind;
    int fd;
    int pending;                     // CONN_IDLE, CONN_CREATE or CONN_WAIT
    struct container *subject;      // the container a deferred reply is about
    struct connection *next;
};

// One of a container's two output pipes and the line being assembled from it.
struct stream {
    enum realm_kind kind;
    int fd;                          // read end, non-blocking; -1 once at EOF or dropped
    const char *name;                // "stdout" or "stderr"
    char *line;                      // REALM_LOG_LINE_MAX bytes, allocated on first use
    size_t length;
    struct container *owner;
};

enum container_state { STATE_CREATING, STATE_RUNNING, STATE_EXITED };

// What the container's stdin is: /dev/null, or a pipe whose write end the supervisor keeps
// for attach (handed over to the first attach, and then closed with it, when "once").
enum stdin_mode { STDIN_NONE, STDIN_OPEN, STDIN_ONCE };

// The socket a runtime hands a terminal container's terminal over on (`--console-socket`):
// listening from the create until the controlling side arrived or the create ended.
struct console_socket {
    enum realm_kind kind;
    int fd;                          // -1 when none
    char *path;
    struct container *owner;
};

// An attached client: the write ends of the pipes its copy of the output goes to (-1 once closed).
struct attacher {
    int out;
    int err;
};

struct container {
    char id[REALM_MAX_ID + 1];
    enum container_state state;
    pid_t runtime_pid;               // the create argv while STATE_CREATING
    pid_t pid;                       // the container process once created
    uint64_t created_after;          // reap sequence number when the create started
    char *pid_file;
    char *log_path;
    int log_fd;
    bool log_failed;                 // a write error was reported already
    struct stream out, err;
    int stdin_fd;                    // write end of the container's stdin pipe (a terminal: a duplicate of
                                     // its controlling side); -1 when none or handed over
    bool stdin_once;
    bool stdin_wanted;               // a terminal container with stdin (its stdin_fd comes with the terminal)
    bool tty;                        // its stdout is the controlling side of its terminal (`out`)
    struct console_socket console;
    struct attacher attachers[REALM_MAX_ATTACH];
    char *capture;                   // first REALM_CAPTURE_MAX bytes of output while creating
    size_t capture_length;
    int exit_code;
    int64_t finished_ns;
    bool oom;                        // the OOM killer killed something in its memory cgroup
    char *oom_counter;               // the cgroup's oom_kill counter file, NULL if unknown
    int64_t oom_baseline;            // its value when the container was created
    struct container *next;
};

// Global state (main.c).
extern const char *realm_dir;
extern int realm_epoll;
extern struct container *realm_containers;
extern struct connection *realm_connections;

// main.c
void realm_log(const char *format, ...) __attribute__((format(printf, 1, 2)));
int realm_watch(int fd, uint32_t events, void *object);
void realm_unwatch(int fd);
void realm_resume_listener(void);
void realm_defer(struct connection *connection, int pending, struct container *subject);
void realm_reply(struct connection *connection, const char *data, size_t length);
// A reply carrying descriptors (SCM_RIGHTS); the caller still owns and closes its copies.
void realm_reply_fds(struct connection *connection, const char *data, size_t length, const int *fds, int count);
void realm_reply_error(struct connection *connection, const char *format, ...) __attribute__((format(printf, 2, 3)));
int64_t realm_now_ns(void);
int realm_write_atomically(const char *directory, const char *name, const char *data, size_t length);

// container.c
struct container *container_find(const char *id);
int container_count(void);
// `console_path`: NULL, or where to listen for the terminal of a terminal container.
void container_create(struct connection *requester, char **fields, int count, enum stdin_mode stdin_mode,
                      const char *console_path);
void container_console_readable(struct console_socket *console);
void container_resize(struct connection *requester, const char *id, const char *columns, const char *rows);
void container_attach(struct connection *requester, const char *id);
void container_stream_readable(struct stream *stream);
void container_reap_children(void);
void container_reopen_log(struct connection *requester, const char *id);
void container_forget(struct connection *requester, const char *id);
void container_answer_wait(struct connection *connection, struct container *container);
bool container_valid_id(const char *id);
int container_kill_all(void);

// pidns.c: the pause child, PID 1 of the pod's shared PID namespace (--new-pidns) and/or
// the holder of the pod's user namespace and the namespaces it owns (--userns).
#define REALM_MAX_ID_MAPS 8
struct pause_options {
    bool new_pidns;                  // PID 1 of a new PID namespace
    bool new_userns;                 // in a new user namespace, which then owns the ones below
    const char *uid_map;             // with new_userns: uid_map text ("C H L\n" lines)
    const char *gid_map;
    int namespaces;                  // with new_userns: CLONE_NEWNET|NEWIPC|NEWUTS it unshares
    const char *hostname;            // with new_userns and CLONE_NEWUTS: set there; may be NULL
};
// Starts the pause child and returns once it is set up: 0, or -1 with a message in `error`.
int pidns_start(const struct pause_options *options, char *error, size_t size);
// The pause child's pid (in the host's namespace), 0 when there is none (any more).
pid_t pidns_pid(void);
// Whether the pause child died other than by pidns_stop: the namespace is gone.
bool pidns_lost(void);
// SIGKILL to the pause child; its death is expected from now on (reaped as any child).
void pidns_stop(void);
// pidns_stop and wait for it (start-up failures, before the main loop).
void pidns_stop_and_reap(void);
// Called for every reaped child: true (and handled) when `pid` was the pause child.
bool pidns_reaped(pid_t pid, int status);

// oom.c
// Finds the file counting OOM kills in the memory cgroup of `pid` (memory.oom_control on
// cgroup v1, memory.events on v2) from /proc/PID/cgroup and /proc/self/mountinfo: 0 with
// *path (malloc'ed) and its current *count, -1 when there is none.
int oom_counter_find(pid_t pid, char **path, int64_t *count);
// The "oom_kill N" value of such a file: 0 and *count, or -1 when it cannot be read.
int oom_counter_read(const char *path, int64_t *count);

#endif
