// Containers of the realm: starting them through a runtime, carrying their output into
// CRI log files, reaping every child and recording exits on disk.
#include "realm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

// Children reaped before anyone claimed them: a container process can exit (and be reaped)
// before the runtime that created it exits and its pid file is read.
#define RECENT_EXITS 64
struct reaped {
    pid_t pid;
    int status;
    int64_t when;
    uint64_t sequence;
};
static struct reaped recent[RECENT_EXITS];
static unsigned recent_next;
static uint64_t reap_sequence;

static char read_buffer[64 * 1024];
// One log entry: timestamp, stream, tag, content, newline.
static char entry_buffer[REALM_LOG_LINE_MAX + 128];

bool container_valid_id(const char *id) {
    size_t length = strlen(id);
    if (length == 0 || length > REALM_MAX_ID) return false;
    for (size_t i = 0; i < length; i++) {
        char c = id[i];
        bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        // The first byte is alphanumeric: no ".", "..", hidden or option-like names.
        if (!alphanumeric && (i == 0 || (c != '-' && c != '_' && c != '.'))) return false;
    }
    return true;
}

struct container *container_find(const char *id) {
    for (struct container *c = realm_containers; c != NULL; c = c->next)
        if (strcmp(c->id, id) == 0) return c;
    return NULL;
}

int container_count(void) {
    int count = 0;
    for (struct container *c = realm_containers; c != NULL; c = c->next) count++;
    return count;
}

static struct connection *waiting_connection(int pending, struct container *c) {
    for (struct connection *k = realm_connections; k != NULL; k = k->next)
        if (k->pending == pending && k->subject == c) return k;
    return NULL;
}

static int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

// ---------------------------------------------------------------------------------------
// Logs

static size_t format_timestamp(char *out, size_t size) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    size_t length = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
    int rest = snprintf(out + length, size - length, ".%09ldZ", (long)now.tv_nsec);
    return length + (rest > 0 ? (size_t)rest : 0);
}

// Writes one CRI log entry with a single write(2): with O_APPEND each entry lands whole
// even if something else appends to the same file.
static void write_entry(struct container *c, struct stream *s, const char *data, size_t length, char tag) {
    if (c->log_fd < 0) return;
    size_t used = format_timestamp(entry_buffer, 64);
    used += (size_t)snprintf(entry_buffer + used, sizeof entry_buffer - used, " %s %c ", s->name, tag);
    memcpy(entry_buffer + used, data, length);
    used += length;
    entry_buffer[used++] = '\n';
    const char *cursor = entry_buffer;
    while (used > 0) {
        ssize_t written = write(c->log_fd, cursor, used);
        if (written < 0) {
            if (errno == EINTR) continue;
            if (!c->log_failed) realm_log("container %s: cannot write its log %s: %s", c->id, c->log_path, strerror(errno));
            c->log_failed = true;
            return;
        }
        cursor += written;
        used -= (size_t)written;
    }
}

static void emit_line(struct container *c, struct stream *s, char tag) {
    write_entry(c, s, s->line, s->length, tag);
    s->length = 0;
}

static bool ensure_line_buffer(struct container *c, struct stream *s) {
    if (s->line == NULL) s->line = malloc(REALM_LOG_LINE_MAX);
    if (s->line == NULL && !c->log_failed) {
        realm_log("container %s: out of memory for its %s line buffer", c->id, s->name);
        c->log_failed = true;
    }
    return s->line != NULL;
}

// Turns the bytes of one stream into log entries: complete lines as F, 16 KiB pieces of
// longer lines as P; an unfinished line waits in the stream's buffer.
static void feed(struct container *c, struct stream *s, const char *p, size_t n) {
    while (n > 0) {
        const char *newline = memchr(p, '\n', n);
        size_t segment = newline != NULL ? (size_t)(newline - p) : n;
        if (s->length == 0) {
            // Nothing buffered: write straight from the read buffer.
            while (segment > REALM_LOG_LINE_MAX) {
                write_entry(c, s, p, REALM_LOG_LINE_MAX, 'P');
                p += REALM_LOG_LINE_MAX;
                n -= REALM_LOG_LINE_MAX;
                segment -= REALM_LOG_LINE_MAX;
            }
            if (newline != NULL) {
                write_entry(c, s, p, segment, 'F');
                p += segment + 1;
                n -= segment + 1;
                continue;
            }
            if (!ensure_line_buffer(c, s)) return;
            memcpy(s->line, p, segment);
            s->length = segment;
            return;
        }
        // A full buffer followed by more of the same line is a P chunk; followed by the
        // newline it is the F chunk.
        if (s->length == REALM_LOG_LINE_MAX && segment > 0) {
            emit_line(c, s, 'P');
            continue;
        }
        size_t take = segment < REALM_LOG_LINE_MAX - s->length ? segment : REALM_LOG_LINE_MAX - s->length;
        memcpy(s->line + s->length, p, take);
        s->length += take;
        p += take;
        n -= take;
        if (take < segment) continue;
        if (newline == NULL) return;
        emit_line(c, s, 'F');
        p++;
        n--;
    }
}

// ---------------------------------------------------------------------------------------
// Attached clients

static void close_fd(int *fd) {
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
        realm_resume_listener();
    }
}

// The attachers' pipe for stream `s` (stdout or stderr) of attacher `a`.
static int *attached_end(struct container *c, struct attacher *a, struct stream *s) {
    return s == &c->out ? &a->out : &a->err;
}

static void detach_stream(struct container *c, struct stream *s) {
    for (int i = 0; i < REALM_MAX_ATTACH; i++) close_fd(attached_end(c, &c->attachers[i], s));
}

static void detach_all(struct container *c) {
    for (int i = 0; i < REALM_MAX_ATTACH; i++) {
        close_fd(&c->attachers[i].out);
        close_fd(&c->attachers[i].err);
    }
}

// Copies output to every attached client; one whose pipe is full (or closed) is detached
// from this stream rather than allowed to hold the container's output up.
static void fan_out(struct container *c, struct stream *s, const char *data, size_t length) {
    for (int i = 0; i < REALM_MAX_ATTACH; i++) {
        int *fd = attached_end(c, &c->attachers[i], s);
        size_t done = 0;
        while (*fd >= 0 && done < length) {
            ssize_t written = write(*fd, data + done, length - done);
            if (written < 0) {
                if (errno == EINTR) continue;
                close_fd(fd);
                break;
            }
            done += (size_t)written;
        }
    }
}

static void close_stream(struct stream *s) {
    if (s->fd >= 0) {
        realm_unwatch(s->fd);
        close(s->fd);
        s->fd = -1;
        realm_resume_listener();
    }
    free(s->line);
    s->line = NULL;
    s->length = 0;
}

static void end_stream(struct container *c, struct stream *s) {
    if (s->length > 0) emit_line(c, s, 'F');
    close_stream(s);
    detach_stream(c, s);
}

// Reads from one stream until it would block, ends or `limit` bytes were read.
static void read_stream(struct container *c, struct stream *s, size_t limit) {
    size_t total = 0;
    while (s->fd >= 0 && total < limit) {
        ssize_t count = read(s->fd, read_buffer, sizeof read_buffer);
        if (count < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                // EIO: a terminal's controlling side once nothing holds the other side open.
                if (errno != EIO || !c->tty) realm_log("container %s: reading its %s: %s", c->id, s->name, strerror(errno));
                end_stream(c, s);
            }
            return;
        }
        if (count == 0) {
            end_stream(c, s);
            return;
        }
        if (c->state == STATE_CREATING && c->capture != NULL && c->capture_length < REALM_CAPTURE_MAX) {
            size_t room = REALM_CAPTURE_MAX - c->capture_length;
            size_t take = (size_t)count < room ? (size_t)count : room;
            memcpy(c->capture + c->capture_length, read_buffer, take);
            c->capture_length += take;
        }
        feed(c, s, read_buffer, (size_t)count);
        fan_out(c, s, read_buffer, (size_t)count);
        total += (size_t)count;
    }
}

void container_stream_readable(struct stream *stream) {
    // A bounded amount per wake-up keeps one chatty container from starving the rest.
    read_stream(stream->owner, stream, 4 * sizeof read_buffer);
}

// Everything a process wrote before it exited is in the pipe: read it all (bounded, in case
// another holder of the pipe keeps writing).
static void drain(struct container *c) {
    read_stream(c, &c->out, 16u << 20);
    read_stream(c, &c->err, 16u << 20);
}

// ---------------------------------------------------------------------------------------
// Records

// Releases a record that is not (or no longer) on the list.
static void close_console(struct container *c) {
    if (c->console.fd >= 0) {
        realm_unwatch(c->console.fd);
        close(c->console.fd);
        c->console.fd = -1;
        realm_resume_listener();
    }
    if (c->console.path != NULL) unlink(c->console.path);
    free(c->console.path);
    c->console.path = NULL;
}

static void free_container(struct container *c) {
    close_console(c);
    close_stream(&c->out);
    close_stream(&c->err);
    detach_all(c);
    close_fd(&c->stdin_fd);
    if (c->log_fd >= 0) close(c->log_fd);
    free(c->pid_file);
    free(c->log_path);
    free(c->capture);
    free(c->oom_counter);
    free(c);
}

static void remove_container(struct container *c) {
    for (struct container **link = &realm_containers; *link != NULL; link = &(*link)->next) {
        if (*link == c) {
            *link = c->next;
            break;
        }
    }
    free_container(c);
}

void container_answer_wait(struct connection *connection, struct container *c) {
    char reply[96];
    int length = snprintf(reply, sizeof reply, "exited%c%d%c%lld%c%d", 0, c->exit_code, 0,
                          (long long)c->finished_ns, 0, c->oom ? 1 : 0);
    realm_reply(connection, reply, (size_t)length);
}

static void container_exited(struct container *c, int status, int64_t when) {
    drain(c);
    // The process is gone: its unfinished lines are final. (A pipe still held by another
    // process stays open and keeps being logged.)
    if (c->out.length > 0) emit_line(c, &c->out, 'F');
    if (c->err.length > 0) emit_line(c, &c->err, 'F');
    // Attached clients see the end with the process; nobody is left to read its stdin.
    detach_all(c);
    close_fd(&c->stdin_fd);
    c->state = STATE_EXITED;
    c->exit_code = decode_status(status);
    c->finished_ns = when;
    // Read before anyone can remove the cgroup: the runtime deletes it only after `wait`.
    int64_t kills;
    c->oom = c->oom_counter != NULL && oom_counter_read(c->oom_counter, &kills) == 0 && kills > c->oom_baseline;

    char record[128], exits[REALM_MAX_PATH];
    int length = snprintf(record, sizeof record, "code=%d\nfinished=%lld\noom=%d\npid=%d\n", c->exit_code,
                          (long long)c->finished_ns, c->oom ? 1 : 0, (int)c->pid);
    snprintf(exits, sizeof exits, "%s/exits", realm_dir);
    if (realm_write_atomically(exits, c->id, record, (size_t)length) != 0)
        realm_log("container %s: cannot record its exit in %s: %s", c->id, exits, strerror(errno));

    struct connection *waiter;
    while ((waiter = waiting_connection(CONN_WAIT, c)) != NULL) container_answer_wait(waiter, c);
}

static void create_failed(struct container *c, int code, const char *reason) {
    struct connection *requester = waiting_connection(CONN_CREATE, c);
    if (requester != NULL) {
        char reply[32 + REALM_CAPTURE_MAX + 512];
        int length = snprintf(reply, sizeof reply, "error%c%d%c", 0, code, 0);
        memcpy(reply + length, c->capture, c->capture_length);
        length += (int)c->capture_length;
        if (reason != NULL) {
            int more = snprintf(reply + length, sizeof reply - (size_t)length, "%sfasco-realm: %s",
                                c->capture_length > 0 ? "\n" : "", reason);
            if (more > 0) length += more;
            if ((size_t)length >= sizeof reply) length = (int)sizeof reply - 1;
        }
        realm_reply(requester, reply, (size_t)length);
    }
    remove_container(c);
}

// Looks for `pid` among the children reaped since the create started; consumes the entry.
static struct reaped *claim_recent(pid_t pid, uint64_t after) {
    for (unsigned i = 0; i < RECENT_EXITS; i++) {
        if (recent[i].pid == pid && recent[i].sequence > after) {
            recent[i].pid = 0;
            return &recent[i];
        }
    }
    return NULL;
}

static bool receive_console(struct container *c);

static void runtime_exited(struct container *c, int status) {
    drain(c);
    int code = decode_status(status);
    if (code != 0) {
        create_failed(c, code, NULL);
        return;
    }
    // The runtime passed the terminal before it exited; the event may not have been handled yet.
    if (c->tty && c->out.fd < 0 && !receive_console(c)) {
        create_failed(c, 0, "the runtime exited 0 but passed no terminal on its console socket");
        return;
    }
    char text[64], reason[REALM_MAX_PATH + 128];
    int fd = open(c->pid_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(reason, sizeof reason, "the runtime exited 0 but %s cannot be read: %s", c->pid_file, strerror(errno));
        create_failed(c, 0, reason);
        return;
    }
    ssize_t length = read(fd, text, sizeof text - 1);
    close(fd);
    text[length > 0 ? length : 0] = '\0';
    char *end;
    long pid = strtol(text, &end, 10);
    while (*end == '\n' || *end == ' ' || *end == '\t') end++;
    if (length <= 0 || end == text || *end != '\0' || pid <= 1 || pid > 0x3fffffff) {
        snprintf(reason, sizeof reason, "the runtime exited 0 but %s holds no pid", c->pid_file);
        create_failed(c, 0, reason);
        return;
    }
    for (struct container *other = realm_containers; other != NULL; other = other->next) {
        if (other != c && other->state == STATE_RUNNING && other->pid == (pid_t)pid) {
            snprintf(reason, sizeof reason, "pid %ld from %s is container %s's already", pid, c->pid_file, other->id);
            create_failed(c, 0, reason);
            return;
        }
    }
    struct reaped *early = claim_recent((pid_t)pid, c->created_after);
    if (early == NULL) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) {
            // Either it was never below the supervisor, or it died before the runtime exited
            // and the runtime reaped it: its exit status is lost either way.
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
                snprintf(reason, sizeof reason, "pid %ld from %s exited before the runtime did and was reaped by it",
                         pid, c->pid_file);
            else
                snprintf(reason, sizeof reason, "pid %ld from %s is not a child of the supervisor", pid, c->pid_file);
            create_failed(c, 0, reason);
            return;
        }
    }
    c->pid = (pid_t)pid;
    c->state = STATE_RUNNING;
    // The process sits in its final cgroup now (the runtime put it there before writing the
    // pid file); one that was reaped already has no /proc entry left to tell which.
    if (early == NULL && oom_counter_find(c->pid, &c->oom_counter, &c->oom_baseline) != 0) c->oom_counter = NULL;
    free(c->capture);
    c->capture = NULL;
    c->capture_length = 0;
    // Recorded (and persisted) before the create is answered, so no exit is ever missed.
    if (early != NULL) container_exited(c, early->status, early->when);
    struct connection *requester = waiting_connection(CONN_CREATE, c);
    if (requester != NULL) {
        char reply[32];
        int reply_length = snprintf(reply, sizeof reply, "ok%c%d", 0, (int)c->pid);
        realm_reply(requester, reply, (size_t)reply_length);
    }
}

void container_reap_children(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        if (pidns_reaped(pid, status)) continue;
        int64_t when = realm_now_ns();
        reap_sequence++;
        struct container *match = NULL;
        for (struct container *c = realm_containers; c != NULL; c = c->next) {
            if ((c->state == STATE_CREATING && c->runtime_pid == pid) || (c->state == STATE_RUNNING && c->pid == pid)) {
                match = c;
                break;
            }
        }
        if (match == NULL) {
            recent[recent_next % RECENT_EXITS] = (struct reaped){pid, status, when, reap_sequence};
            recent_next++;
        } else if (match->state == STATE_CREATING) {
            runtime_exited(match, status);
        } else {
            container_exited(match, status, when);
        }
    }
}

int container_kill_all(void) {
    int count = 0;
    for (struct container *c = realm_containers; c != NULL; c = c->next) {
        pid_t target = c->state == STATE_CREATING ? c->runtime_pid : c->state == STATE_RUNNING ? c->pid : 0;
        if (target > 0 && kill(target, SIGKILL) == 0) count++;
    }
    return count;
}

// ---------------------------------------------------------------------------------------
// Commands

static int open_log(const char *path) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

// Spawns argv with stdin /dev/null and stdout/stderr on the write ends; default signal
// dispositions and an empty mask (the supervisor ignores SIGPIPE and blocks SIGCHLD).
static int spawn(char **argv, int null_fd, int out_fd, int err_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    // The sources are all above 2 (0-2 are always open here), so the dup2s cannot clash.
    if ((result = posix_spawn_file_actions_adddup2(&actions, null_fd, 0)) == 0 &&
        (result = posix_spawn_file_actions_adddup2(&actions, out_fd, 1)) == 0 &&
        (result = posix_spawn_file_actions_adddup2(&actions, err_fd, 2)) == 0 &&
        (result = posix_spawnattr_setsigdefault(&attributes, &all)) == 0 &&
        (result = posix_spawnattr_setsigmask(&attributes, &none)) == 0 &&
        (result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0)
        result = posix_spawnp(pid, argv[0], &actions, &attributes, argv, environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

void container_create(struct connection *requester, char **fields, int count, enum stdin_mode stdin_mode,
                      const char *console_path) {
    if (count < 5) {
        realm_reply_error(requester, "invalid argument: create needs ID, PIDFILE, LOGPATH and at least one argument");
        return;
    }
    const char *id = fields[1], *pid_file = fields[2], *log_path = fields[3];
    char **argv = fields + 4;
    if (!container_valid_id(id)) {
        realm_reply_error(requester, "invalid argument: malformed container ID");
        return;
    }
    if (pid_file[0] != '/' || log_path[0] != '/' || strlen(pid_file) >= REALM_MAX_PATH ||
        strlen(log_path) >= REALM_MAX_PATH) {
        realm_reply_error(requester, "invalid argument: PIDFILE and LOGPATH must be absolute paths");
        return;
    }
    if (argv[0][0] == '\0') {
        realm_reply_error(requester, "invalid argument: empty program name");
        return;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (console_path != NULL && (console_path[0] != '/' || strlen(console_path) >= sizeof address.sun_path)) {
        realm_reply_error(requester, "invalid argument: the console socket must be an absolute path shorter than %zu bytes",
                          sizeof address.sun_path);
        return;
    }
    if (container_find(id) != NULL) {
        realm_reply_error(requester, "already exists: container %s exists in this realm", id);
        return;
    }
    if (pidns_lost()) {
        realm_reply_error(requester, "failed precondition: the realm's PID namespace is gone (its init died)");
        return;
    }
    if (container_count() >= REALM_MAX_CONTAINERS) {
        realm_reply_error(requester, "resource exhausted: this realm holds %d containers already", REALM_MAX_CONTAINERS);
        return;
    }

    struct container *c = calloc(1, sizeof *c);
    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1}, null_fd = -1;
    if (c != NULL) {
        c->log_fd = c->out.fd = c->err.fd = c->stdin_fd = c->console.fd = -1;
        for (int i = 0; i < REALM_MAX_ATTACH; i++) c->attachers[i].out = c->attachers[i].err = -1;
        c->stdin_once = stdin_mode == STDIN_ONCE;
        c->tty = console_path != NULL;
        c->stdin_wanted = c->tty && stdin_mode != STDIN_NONE;
        c->console = (struct console_socket){.kind = KIND_CONSOLE, .fd = -1, .owner = c};
    }
    if (c == NULL || (c->pid_file = strdup(pid_file)) == NULL || (c->log_path = strdup(log_path)) == NULL ||
        (c->capture = malloc(REALM_CAPTURE_MAX)) == NULL) {
        realm_reply_error(requester, "resource exhausted: out of memory");
        goto undo;
    }
    memcpy(c->id, id, strlen(id) + 1);
    c->log_fd = open_log(log_path);
    if (c->log_fd < 0) {
        realm_reply_error(requester, "failed precondition: cannot open log %s: %s", log_path, strerror(errno));
        goto undo;
    }
    // A terminal container's output comes from its terminal; its runtime's goes to stderr.
    if ((!c->tty && pipe2(out, O_CLOEXEC) != 0) || pipe2(err, O_CLOEXEC) != 0 ||
        (!c->tty && stdin_mode != STDIN_NONE && pipe2(in, O_CLOEXEC) != 0) ||
        (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        realm_reply_error(requester, "resource exhausted: pipes for %s: %s", id, strerror(errno));
        goto undo;
    }
    if (out[0] >= 0) fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    c->out = (struct stream){.kind = KIND_STREAM, .fd = out[0], .name = "stdout", .owner = c};
    c->err = (struct stream){.kind = KIND_STREAM, .fd = err[0], .name = "stderr", .owner = c};
    out[0] = err[0] = -1;
    if ((c->out.fd >= 0 && realm_watch(c->out.fd, EPOLLIN, &c->out) != 0) || realm_watch(c->err.fd, EPOLLIN, &c->err) != 0) {
        realm_reply_error(requester, "internal: epoll_ctl: %s", strerror(errno));
        goto undo;
    }
    if (c->tty) {
        memcpy(address.sun_path, console_path, strlen(console_path) + 1);
        unlink(console_path);
        c->console.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->console.fd < 0 || bind(c->console.fd, (struct sockaddr *)&address, sizeof address) != 0 ||
            chmod(console_path, 0600) != 0 || listen(c->console.fd, 1) != 0 ||
            realm_watch(c->console.fd, EPOLLIN, &c->console) != 0) {
            realm_reply_error(requester, "internal: console socket %s: %s", console_path, strerror(errno));
            goto undo;
        }
        if ((c->console.path = strdup(console_path)) == NULL) {
            realm_reply_error(requester, "resource exhausted: out of memory");
            goto undo;
        }
    }
    // A pid file left by an earlier attempt must not be mistaken for this one's.
    unlink(pid_file);

    c->state = STATE_CREATING;
    c->created_after = reap_sequence;
    int result = spawn(argv, in[0] >= 0 ? in[0] : null_fd, out[1] >= 0 ? out[1] : err[1], err[1], &c->runtime_pid);
    close(null_fd);
    if (out[1] >= 0) close(out[1]);
    close(err[1]);
    null_fd = out[1] = err[1] = -1;
    if (in[0] >= 0) close(in[0]);
    c->stdin_fd = in[1];
    in[0] = in[1] = -1;
    if (result != 0) {
        char reply[64 + REALM_MAX_PATH];
        int length = snprintf(reply, sizeof reply, "error%c127%cfasco-realm: cannot execute %.*s: %s", 0, 0,
                              REALM_MAX_PATH, argv[0], strerror(result));
        if ((size_t)length >= sizeof reply) length = (int)sizeof reply - 1;
        realm_reply(requester, reply, (size_t)length);
        goto undo;
    }
    c->next = realm_containers;
    realm_containers = c;
    realm_defer(requester, CONN_CREATE, c);
    return;

undo:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (in[i] >= 0) close(in[i]);
    }
    if (null_fd >= 0) close(null_fd);
    if (c != NULL) free_container(c);
}

void container_attach(struct connection *requester, const char *id) {
    struct container *c = container_find(id);
    if (c == NULL) {
        realm_reply_error(requester, "not found: no container %s in this realm", id);
        return;
    }
    if (c->state != STATE_RUNNING) {
        realm_reply_error(requester, "failed precondition: container %s is not running", id);
        return;
    }
    struct attacher *slot = NULL;
    for (int i = 0; i < REALM_MAX_ATTACH && slot == NULL; i++)
        if (c->attachers[i].out < 0 && c->attachers[i].err < 0) slot = &c->attachers[i];
    if (slot == NULL) {
        realm_reply_error(requester, "resource exhausted: %d clients are attached to %s already", REALM_MAX_ATTACH, id);
        return;
    }
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        realm_reply_error(requester, "resource exhausted: pipes to attach to %s: %s", id, strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (out[i] >= 0) close(out[i]);
            if (err[i] >= 0) close(err[i]);
        }
        return;
    }
    // Room for bursts; a client that still falls behind is detached (see fan_out).
    fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
    fcntl(err[1], F_SETPIPE_SZ, 1 << 20);
    fcntl(out[1], F_SETFL, O_NONBLOCK);
    fcntl(err[1], F_SETFL, O_NONBLOCK);
    int fds[3], count = 0;
    bool with_stdin = c->stdin_fd >= 0;
    if (with_stdin) fds[count++] = c->stdin_fd;
    fds[count++] = out[0];
    fds[count++] = err[0];
    char reply[8];
    int length = snprintf(reply, sizeof reply, "ok%c%d", 0, with_stdin ? 1 : 0);
    realm_reply_fds(requester, reply, (size_t)length, fds, count);
    close(out[0]);
    close(err[0]);
    // stdin_once: the client holds the only write end now; its close is the container's EOF.
    if (with_stdin && c->stdin_once) close_fd(&c->stdin_fd);
    slot->out = out[1];
    slot->err = err[1];
    // Output that has ended already ends for the new client too.
    if (c->out.fd < 0) close_fd(&slot->out);
    if (c->err.fd < 0) close_fd(&slot->err);
}

void container_reopen_log(struct connection *requester, const char *id) {
    struct container *c = container_find(id);
    if (c == NULL) {
        realm_reply_error(requester, "not found: no container %s in this realm", id);
        return;
    }
    if (c->log_fd >= 0) close(c->log_fd);
    c->log_fd = open_log(c->log_path);
    c->log_failed = false;
    if (c->log_fd < 0) {
        realm_reply_error(requester, "internal: cannot reopen %s: %s", c->log_path, strerror(errno));
        return;
    }
    realm_reply(requester, "ok", 2);
}

void container_forget(struct connection *requester, const char *id) {
    struct container *c = container_find(id);
    if (c != NULL && c->state != STATE_EXITED) {
        realm_reply_error(requester, "failed precondition: container %s has not exited", id);
        return;
    }
    char exits[REALM_MAX_PATH], path[REALM_MAX_PATH + REALM_MAX_ID + 2];
    snprintf(exits, sizeof exits, "%s/exits", realm_dir);
    snprintf(path, sizeof path, "%s/%s", exits, id);
    if (unlink(path) == 0) {
        int fd = open(exits, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    if (c != NULL) remove_container(c);
    realm_reply(requester, "ok", 2);
}

// ---------------------------------------------------------------------------------------
// Terminals

// The runtime's console-socket connection: one descriptor (the terminal's controlling side)
// passed with SCM_RIGHTS. -1 when none came (within a second).
static int receive_terminal(int connection) {
    struct timeval limit = {.tv_sec = 1};
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char data[256];
    struct iovec vector = {.iov_base = data, .iov_len = sizeof data};
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.space,
                             .msg_controllen = sizeof control.space};
    ssize_t received;
    do received = recvmsg(connection, &message, MSG_CMSG_CLOEXEC);
    while (received < 0 && errno == EINTR);
    if (received < 0) return -1;
    int terminal = -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[4];
        memcpy(fds, CMSG_DATA(header), count * sizeof(int));
        for (size_t i = 0; i < count; i++) {
            if (terminal < 0) terminal = fds[i];
            else close(fds[i]);
        }
    }
    return terminal;
}

// Takes the terminal from a runtime waiting on the console socket, if one is; true once the
// container has it (its stdout reads it, its stdin is a duplicate of it when wanted).
static bool receive_console(struct container *c) {
    if (c->out.fd >= 0) return true;
    if (c->console.fd < 0) return false;
    int connection = accept4(c->console.fd, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) return false;
    int terminal = receive_terminal(connection);
    close(connection);
    close_console(c);
    if (terminal < 0) {
        realm_log("container %s: its runtime passed no terminal", c->id);
        return false;
    }
    fcntl(terminal, F_SETFL, O_NONBLOCK);
    c->out.fd = terminal;
    if (realm_watch(terminal, EPOLLIN, &c->out) != 0) {
        realm_log("container %s: epoll_ctl for its terminal: %s", c->id, strerror(errno));
        close_stream(&c->out);
        return false;
    }
    if (c->stdin_wanted) c->stdin_fd = fcntl(terminal, F_DUPFD_CLOEXEC, 3);
    return true;
}

void container_console_readable(struct console_socket *console) {
    // One connection is taken (and the socket closed); one that brought no terminal leaves the
    // decision to the runtime's exit (see runtime_exited).
    receive_console(console->owner);
}

static bool parse_dimension(const char *text, unsigned short *value) {
    char *end;
    errno = 0;
    unsigned long number = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || number == 0 || number > 65535) return false;
    *value = (unsigned short)number;
    return true;
}

void container_resize(struct connection *requester, const char *id, const char *columns, const char *rows) {
    struct winsize size = {0};
    if (!parse_dimension(columns, &size.ws_col) || !parse_dimension(rows, &size.ws_row)) {
        realm_reply_error(requester, "invalid argument: COLUMNS and ROWS must be 1 to 65535");
        return;
    }
    struct container *c = container_find(id);
    if (c == NULL) {
        realm_reply_error(requester, "not found: no container %s in this realm", id);
        return;
    }
    if (!c->tty) {
        realm_reply_error(requester, "failed precondition: container %s has no terminal", id);
        return;
    }
    if (c->state != STATE_RUNNING || c->out.fd < 0) {
        realm_reply_error(requester, "failed precondition: container %s is not running", id);
        return;
    }
    if (ioctl(c->out.fd, TIOCSWINSZ, &size) != 0) {
        realm_reply_error(requester, "internal: resizing the terminal of %s: %s", id, strerror(errno));
        return;
    }
    realm_reply(requester, "ok", 2);
}
