/*
 * nodelet's exec helper: runs probe and hook commands inside a container's
 * namespaces for the agent, confined as runc confines the container's own
 * processes, and answers with the exit code and output.
 *
 * Why native: at a hundred exec probes a second, every fork of the agent's large
 * Node heap (or of a Node helper) costs milliseconds of page-table copying; this
 * process starts commands without copying even its own few hundred KiB (see
 * "in the children" below). Why not
 * runc exec: runc costs ~40 ms of CPU per exec, and a two-core node cannot run a
 * hundred of those a second.
 *
 * What a command gets (the agent decides per container that this is all the
 * container has; a container with a seccomp filter, an LSM label or another user
 * namespace is exec'd through Docker instead):
 *   - the cgroups of the container (written into each cgroup.procs the agent names),
 *     its rlimits and oom_score_adj, copied from its main process;
 *   - the mount, UTS, IPC, network, PID and cgroup namespaces of the main process,
 *     entered through a pidfd whose start time is checked first, so a reused pid is
 *     refused (status TARGET_GONE) and never entered;
 *   - the container's root, the working directory, groups, gid and uid;
 *   - the container's capability bounding set (what a root process gets on
 *     exec; another uid gets none), an empty inheritable set, and no_new_privs
 *     when the container has it.
 * The command runs in a session of its own: at its deadline the whole process
 * group is killed. The helper is a child subreaper: the commands are its children
 * to reap, time and kill. When the agent goes away (stdin closes, or SIGTERM), every
 * command still running is killed and the helper exits.
 *
 * Protocol, little-endian, on stdin (requests) and stdout (replies); each message
 * is a u32 length followed by that many bytes (the agent's side:
 * native-exec-protocol.ts, which must speak the same NSEXEC_PROTOCOL_VERSION).
 *   hello:   "NSXH", u8 version: the helper's first message, before it reads any
 *            request, so the agent sends nothing a helper of another version would
 *            misread.
 *   request: u8 version, u32 id, u32 timeout_ms (0 = none), u32 max_output, i32 pid,
 *            u64 start_time, u32 uid, u32 gid, u64 cap_bounding, u32 flags,
 *            u32 ngroups + u32[ngroups], then four string lists (u32 count, then
 *            NUL-terminated strings): cgroup.procs paths, [working dir], env, argv
 *            (everything from pid to env is the same for every command in one
 *            container, and the agent encodes it once). A request of another
 *            version is refused: status PROTOCOL_MISMATCH, exit_code = the helper's
 *            version.
 *   reply:   u32 id, u32 status, i32 exit_code (or errno), u8 timed_out,
 *            u32 len + stdout, u32 len + stderr, u32 len + message.
 * Whatever a later version changes, these stay: the hello, a request's version and
 * id, and a reply's id, status and exit_code, so each side can tell the other it
 * speaks another version.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#ifndef NSEXEC_PROTOCOL_VERSION
#define NSEXEC_PROTOCOL_VERSION 1
#endif

enum { STATUS_EXITED = 0, STATUS_SETUP_FAILED = 1, STATUS_TARGET_GONE = 2, STATUS_PROTOCOL_MISMATCH = 3 };
enum { FLAG_NO_NEW_PRIVS = 1 };
/** After the command exits, how long a background child may hold its output open. */
#define OUTPUT_DRAIN_MS 1000
#define MAX_MESSAGE (64u * 1024 * 1024)
#define MAX_JOBS 1024

struct buffer { char *data; size_t len, cap; };

static void buffer_add(struct buffer *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) { perror("nsexec-helper: realloc"); exit(70); }
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buffer_consume(struct buffer *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

struct job {
  int used;
  uint32_t id;
  pid_t pid;            /* the command (its session and process group leader) */
  int out_fd, err_fd;
  struct buffer out, err;
  uint32_t max_output;
  int64_t deadline;     /* monotonic ms; 0 = none */
  int64_t drain_deadline;
  int exited, exit_code, timed_out;
};

static struct job jobs[MAX_JOBS];
/** One past the highest slot in use: the loops scan no further (a node runs ~10 commands at once, not 1024). */
static int job_end;
static struct buffer input, output;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request decoding ---------------------------------------------------- */

struct reader { const char *p, *end; int bad; };

static uint8_t read_u8(struct reader *r) {
  if (r->end - r->p < 1) { r->bad = 1; return 0; }
  return (uint8_t)*r->p++;
}

static uint32_t read_u32(struct reader *r) {
  uint32_t v = 0;
  if (r->end - r->p < 4) { r->bad = 1; return 0; }
  memcpy(&v, r->p, 4);
  r->p += 4;
  return v;
}

static uint64_t read_u64(struct reader *r) {
  uint64_t v = 0;
  if (r->end - r->p < 8) { r->bad = 1; return 0; }
  memcpy(&v, r->p, 8);
  r->p += 8;
  return v;
}

/** A NULL-terminated array of pointers into the message (strings are NUL-terminated there). */
static char **read_strings(struct reader *r) {
  uint32_t n = read_u32(r);
  if (r->bad || n > 65536) { r->bad = 1; return NULL; }
  char **list = calloc(n + 1, sizeof(char *));
  if (!list) { r->bad = 1; return NULL; }
  for (uint32_t i = 0; i < n; i++) {
    const char *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!nul) { r->bad = 1; free(list); return NULL; }
    list[i] = (char *)r->p;
    r->p = nul + 1;
  }
  return list;
}

struct request {
  uint32_t id, timeout_ms, max_output, uid, gid, flags, ngroups;
  int32_t pid;
  uint64_t start_time, cap_bounding;
  gid_t *groups;
  char **cgroup_procs, **workdir, **argv, **env;
};

/* ---- in the children ----------------------------------------------------- */

/*
 * A command is started by two children that share the helper's memory and run one
 * at a time (clone with CLONE_VM | CLONE_VFORK, each on a stack of its own): the
 * helper sleeps while the first sets up and starts the second, and the first sleeps
 * until the second has exec'd. Nothing of the helper's memory is copied, which was
 * most of the helper's CPU with fork(), and set-up failures come back through
 * `struct spawn` instead of a pipe.
 *   C1 joins the container's cgroups, takes its rlimits and oom_score_adj, enters its
 *      namespaces and root (entering a PID namespace takes effect for children only),
 *      starts C2 and exits; the helper, a child subreaper, inherits C2.
 *   C2 starts a session, takes the command's stdio and credentials and execs it.
 * Both only make system calls and format into their own stack buffers: no malloc,
 * no stdio, nothing that leaves the helper's state changed.
 * The price: while a command is being set up the helper waits. A set-up that blocks
 * in the kernel (the working directory or the binary on a hung network mount) holds
 * every other command back until it returns; the agent then gives up on the helper's
 * answers after the command's deadline plus a grace and runs them through Docker.
 */
struct spawn {
  const struct request *q;
  int out_fd, err_fd;
  /* Written by C1 or C2, read by the helper once C1 is gone. */
  int failed;
  uint32_t status;
  int32_t err;
  char message[512];
  pid_t command;
};

#define CHILD_STACK_BYTES (256 * 1024)
static char c1_stack[CHILD_STACK_BYTES] __attribute__((aligned(64)));
static char c2_stack[CHILD_STACK_BYTES] __attribute__((aligned(64)));

/** Records why the command could not be set up, and ends this child. */
_Noreturn static void setup_failed(struct spawn *sp, uint32_t status, const char *what) {
  int err = errno;
  char text[256];
  /* strerror_r (GNU) formats into our buffer, never into static storage. */
  const char *why = strerror_r(err, text, sizeof text);
  snprintf(sp->message, sizeof sp->message, "%s: %s", what, why);
  sp->status = status;
  sp->err = err;
  sp->failed = 1;
  _exit(125);
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold ") "). */
static int start_time_of(pid_t pid, uint64_t *out) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return -1;
  text[n] = '\0';
  char *p = strrchr(text, ')');
  if (!p) return -1;
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  *out = strtoull(p, NULL, 10);
  return 0;
}

static void copy_limits(pid_t pid) {
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit lim;
    if (prlimit(pid, (enum __rlimit_resource)r, NULL, &lim) == 0) setrlimit((enum __rlimit_resource)r, &lim);
  }
  char path[64], value[32];
  snprintf(path, sizeof path, "/proc/%d/oom_score_adj", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, value, sizeof value);
  close(fd);
  if (n <= 0) return;
  fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t w = write(fd, value, (size_t)n);
  (void)w;
  close(fd);
}

static int capset_inheritable_empty(void) {
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return -1;
  data[0].inheritable = data[1].inheritable = 0;
  return (int)syscall(SYS_capset, &header, data);
}

/** C2: the command's session, stdio and credentials, then exec. */
static int run_command(void *arg) {
  struct spawn *sp = arg;
  const struct request *q = sp->q;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(sp->out_fd, 1) < 0 || dup2(sp->err_fd, 2) < 0) setup_failed(sp, STATUS_SETUP_FAILED, "stdio");
  if (setgroups(q->ngroups, q->groups) != 0) setup_failed(sp, STATUS_SETUP_FAILED, "setgroups");
  if (setgid(q->gid) != 0) setup_failed(sp, STATUS_SETUP_FAILED, "setgid");
  /* The bounding set limits what any exec can gain (file capabilities too), whatever the uid. */
  for (unsigned long cap = 0; cap <= 63; cap++) {
    if (q->cap_bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) setup_failed(sp, STATUS_SETUP_FAILED, "dropping capabilities");
  }
  if (capset_inheritable_empty() != 0) setup_failed(sp, STATUS_SETUP_FAILED, "capset");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  /* Root then gets the bounding set on exec; another uid loses every capability here (no keep-caps). */
  if (setuid(q->uid) != 0) setup_failed(sp, STATUS_SETUP_FAILED, "setuid");
  if ((q->flags & FLAG_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    setup_failed(sp, STATUS_SETUP_FAILED, "no_new_privs");
  }
  /* PATH is looked up in the command's own environment, as Docker's exec does. */
  execvpe(q->argv[0], q->argv, q->env);
  /* A command that cannot be run is the command's failure (127/126 and a message), as with Docker. */
  int err = errno;
  char text[256];
  dprintf(2, "exec %s: %s\n", q->argv[0], strerror_r(err, text, sizeof text));
  _exit(err == ENOENT ? 127 : 126);
}

/** C1: the container's cgroups, limits, namespaces and root; then C2, and gone. */
static int enter_container(void *arg) {
  struct spawn *sp = arg;
  const struct request *q = sp->q;
  for (char **path = q->cgroup_procs; *path; path++) {
    int fd = open(*path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) setup_failed(sp, STATUS_SETUP_FAILED, *path);
    close(fd);
  }
  copy_limits(q->pid);

  int pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
  if (pidfd < 0) setup_failed(sp, STATUS_TARGET_GONE, "pidfd_open");
  uint64_t start = 0;
  /* Checked after the pidfd is held: the pidfd now pins this very process. */
  if (start_time_of(q->pid, &start) != 0 || start != q->start_time) {
    errno = ESRCH;
    setup_failed(sp, STATUS_TARGET_GONE, "the container's main process");
  }
  char root_path[64];
  snprintf(root_path, sizeof root_path, "/proc/%d/root", q->pid);
  int root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) setup_failed(sp, STATUS_TARGET_GONE, root_path);
  if (setns(pidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP) != 0) {
    setup_failed(sp, STATUS_SETUP_FAILED, "setns");
  }
  if (fchdir(root_fd) != 0 || chroot(".") != 0) setup_failed(sp, STATUS_SETUP_FAILED, "chroot to the container's root");
  close(root_fd);
  close(pidfd);
  if (chdir(q->workdir[0]) != 0) setup_failed(sp, STATUS_SETUP_FAILED, q->workdir[0]);

  pid_t command = clone(run_command, c2_stack + sizeof c2_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, sp);
  if (command < 0) setup_failed(sp, STATUS_SETUP_FAILED, "clone");
  /* Here C2 has exec'd, or exited: set-up failed (reaped here, it never ran) or exec failed (its exit is the answer). */
  if (sp->failed) {
    while (waitpid(command, NULL, __WALL) < 0 && errno == EINTR) {}
  } else {
    sp->command = command;
  }
  _exit(0);
}

/* ---- in the helper ------------------------------------------------------- */

static void reply(uint32_t id, uint32_t status, int32_t code, int timed_out, const struct buffer *out, const struct buffer *err, const char *message, size_t message_len) {
  uint32_t out_len = out ? (uint32_t)out->len : 0, err_len = err ? (uint32_t)err->len : 0, msg_len = (uint32_t)message_len;
  uint32_t total = 4 + 4 + 4 + 1 + 4 + out_len + 4 + err_len + 4 + msg_len;
  uint8_t flag = (uint8_t)(timed_out != 0);
  buffer_add(&output, &total, 4);
  buffer_add(&output, &id, 4);
  buffer_add(&output, &status, 4);
  buffer_add(&output, &code, 4);
  buffer_add(&output, &flag, 1);
  buffer_add(&output, &out_len, 4);
  if (out_len) buffer_add(&output, out->data, out_len);
  buffer_add(&output, &err_len, 4);
  if (err_len) buffer_add(&output, err->data, err_len);
  buffer_add(&output, &msg_len, 4);
  if (msg_len) buffer_add(&output, message, msg_len);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void finish(struct job *j) {
  reply(j->id, STATUS_EXITED, j->timed_out ? -1 : j->exit_code, j->timed_out, &j->out, &j->err, NULL, 0);
  close_fd(&j->out_fd);
  close_fd(&j->err_fd);
  free(j->out.data);
  free(j->err.data);
  memset(j, 0, sizeof *j);
  while (job_end > 0 && !jobs[job_end - 1].used) job_end--;
}

static void start(const struct request *q) {
  struct job *j = NULL;
  for (int i = 0; i < MAX_JOBS; i++) if (!jobs[i].used) { j = &jobs[i]; if (i + 1 > job_end) job_end = i + 1; break; }
  if (!j) {
    const char *m = "too many commands at once";
    reply(q->id, STATUS_SETUP_FAILED, EAGAIN, 0, NULL, NULL, m, strlen(m));
    return;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) goto failed;
  if (pipe2(err, O_CLOEXEC) != 0) { close(out[0]); close(out[1]); goto failed; }
  struct spawn sp = { .q = q, .out_fd = out[1], .err_fd = err[1] };
  pid_t c1 = clone(enter_container, c1_stack + sizeof c1_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
  int clone_errno = errno;
  close(out[1]);
  close(err[1]);
  if (c1 < 0) { close(out[0]); close(err[0]); errno = clone_errno; goto failed; }
  /* C1 has exited (CLONE_VFORK woke us at its exit); reap it here, not in the job loop. */
  while (waitpid(c1, NULL, __WALL) < 0 && errno == EINTR) {}
  if (sp.failed || sp.command <= 0) {
    close(out[0]);
    close(err[0]);
    if (!sp.failed) snprintf(sp.message, sizeof sp.message, "the command was not started");
    reply(q->id, sp.failed ? sp.status : STATUS_SETUP_FAILED, sp.failed ? sp.err : 0, 0, NULL, NULL, sp.message, strlen(sp.message));
    while (job_end > 0 && !jobs[job_end - 1].used) job_end--;
    return;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  memset(j, 0, sizeof *j);
  j->used = 1;
  j->id = q->id;
  j->pid = sp.command;
  j->out_fd = out[0];
  j->err_fd = err[0];
  j->max_output = q->max_output;
  j->deadline = q->timeout_ms ? now_ms() + q->timeout_ms : 0;
  return;
failed: {
    char m[128];
    int n = snprintf(m, sizeof m, "cannot start: %s", strerror(errno));
    reply(q->id, STATUS_SETUP_FAILED, errno, 0, NULL, NULL, m, (size_t)n);
    while (job_end > 0 && !jobs[job_end - 1].used) job_end--;
  }
}

static int handle_request(const char *p, uint32_t n) {
  struct reader r = { p, p + n, 0 };
  struct request q;
  memset(&q, 0, sizeof q);
  uint8_t version = read_u8(&r);
  q.id = read_u32(&r);
  if (r.bad) return -1;
  if (version != NSEXEC_PROTOCOL_VERSION) {
    char m[128];
    int len = snprintf(m, sizeof m, "exec helper protocol v%d, agent sent a v%u request", NSEXEC_PROTOCOL_VERSION, (unsigned)version);
    static int told;
    if (!told++) fprintf(stderr, "nsexec-helper: %s; refused (rebuild the helper with the agent: npm run build)\n", m);
    reply(q.id, STATUS_PROTOCOL_MISMATCH, NSEXEC_PROTOCOL_VERSION, 0, NULL, NULL, m, (size_t)len);
    return 0;
  }
  q.timeout_ms = read_u32(&r);
  q.max_output = read_u32(&r);
  q.pid = (int32_t)read_u32(&r);
  q.start_time = read_u64(&r);
  q.uid = read_u32(&r);
  q.gid = read_u32(&r);
  q.cap_bounding = read_u64(&r);
  q.flags = read_u32(&r);
  q.ngroups = read_u32(&r);
  if (r.bad || q.ngroups > 65536 || (size_t)(r.end - r.p) < q.ngroups * 4u) return -1;
  q.groups = calloc(q.ngroups + 1, sizeof(gid_t));
  for (uint32_t i = 0; i < q.ngroups; i++) q.groups[i] = read_u32(&r);
  q.cgroup_procs = read_strings(&r);
  q.workdir = read_strings(&r);
  q.env = read_strings(&r);
  q.argv = read_strings(&r);
  int bad = r.bad || q.pid <= 0 || !q.workdir || !q.workdir[0] || !q.argv || !q.argv[0];
  if (!bad) start(&q);
  free(q.groups);
  free(q.cgroup_procs);
  free(q.workdir);
  free(q.argv);
  free(q.env);
  return bad ? -1 : 0;
}

static void kill_all_and_exit(int code) {
  for (int i = 0; i < job_end; i++) if (jobs[i].used && !jobs[i].exited) kill(-jobs[i].pid, SIGKILL);
  exit(code);
}

/** Reads what is there; past the cap the bytes are read and dropped so the command never blocks. */
static void drain(int *fd, struct buffer *b, uint32_t cap) {
  char chunk[16384];
  for (;;) {
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
      size_t room = b->len < cap ? cap - b->len : 0;
      if (room) buffer_add(b, chunk, (size_t)n < room ? (size_t)n : room);
      continue;
    }
    if (n == 0) close_fd(fd);
    return;
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) { perror("nsexec-helper: signalfd"); return 71; }
  /* The agent died without closing our stdin (it always closes it on kill -9 too; this is the second line). */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  /* Commands are grandchildren (C1 exits once C2 has exec'd): they must become ours to reap and to time. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) { perror("nsexec-helper: PR_SET_CHILD_SUBREAPER"); return 71; }
  if (getppid() == 1) return 0;
  /* The hello: the agent reads our version before it sends a request. */
  uint32_t hello_len = 5;
  uint8_t version = NSEXEC_PROTOCOL_VERSION;
  buffer_add(&output, &hello_len, 4);
  buffer_add(&output, "NSXH", 4);
  buffer_add(&output, &version, 1);
  fcntl(0, F_SETFL, O_NONBLOCK);
  fcntl(1, F_SETFL, O_NONBLOCK);
  int input_open = 1;

  static struct pollfd fds[3 + 2 * MAX_JOBS];
  static struct job *owner[3 + 2 * MAX_JOBS];
  for (;;) {
    int n = 0;
    int64_t now = now_ms(), wait = -1;
    fds[n++] = (struct pollfd){ sfd, POLLIN, 0 };
    if (input_open) fds[n++] = (struct pollfd){ 0, POLLIN, 0 };
    if (output.len) fds[n++] = (struct pollfd){ 1, POLLOUT, 0 };
    int fixed = n;
    for (int i = 0; i < job_end; i++) {
      struct job *j = &jobs[i];
      if (!j->used) continue;
      int *job_fds[2] = { &j->out_fd, &j->err_fd };
      for (int k = 0; k < 2; k++) if (*job_fds[k] >= 0) { owner[n] = j; fds[n++] = (struct pollfd){ *job_fds[k], POLLIN, 0 }; }
      int64_t due = j->exited ? j->drain_deadline : j->deadline;
      if (due && !(j->timed_out && !j->exited)) {
        int64_t left = due > now ? due - now : 0;
        if (wait < 0 || left < wait) wait = left;
      }
    }
    if (!input_open && !output.len) {
      int busy = 0;
      busy = job_end > 0;
      if (!busy) return 0;
    }
    int ready = poll(fds, (nfds_t)n, (int)(wait > 60000 ? 60000 : wait));
    if (ready < 0 && errno != EINTR) { perror("nsexec-helper: poll"); kill_all_and_exit(72); }

    for (int k = fixed; k < n && ready > 0; k++) {
      if (!fds[k].revents) continue;
      struct job *j = owner[k];
      if (fds[k].fd == j->out_fd) drain(&j->out_fd, &j->out, j->max_output);
      else if (fds[k].fd == j->err_fd) drain(&j->err_fd, &j->err, j->max_output);
    }

    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) kill_all_and_exit(0);
    }
    int status;
    pid_t dead;
    while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
      for (int i = 0; i < job_end; i++) {
        struct job *j = &jobs[i];
        if (!j->used || j->pid != dead) continue;
        j->exited = 1;
        j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        j->drain_deadline = now_ms() + OUTPUT_DRAIN_MS;
        /* What is left of the group (a background child) must not outlive the command it came with past the drain. */
      }
    }

    now = now_ms();
    for (int i = 0; i < job_end; i++) {
      struct job *j = &jobs[i];
      if (!j->used) continue;
      if (!j->exited && j->deadline && now >= j->deadline && !j->timed_out) {
        j->timed_out = 1;
        kill(-j->pid, SIGKILL);
      }
      /* Done when the command exited and its output is complete, or the drain ran out, or it was killed at the deadline. */
      int complete = j->out_fd < 0 && j->err_fd < 0;
      if (j->exited && (complete || j->timed_out || now >= j->drain_deadline)) finish(j);
    }

    if (input_open && fds[1].fd == 0 && fds[1].revents) {
      char chunk[65536];
      for (;;) {
        ssize_t got = read(0, chunk, sizeof chunk);
        if (got > 0) { buffer_add(&input, chunk, (size_t)got); continue; }
        if (got == 0) input_open = 0;
        break;
      }
      while (input.len >= 4) {
        uint32_t len;
        memcpy(&len, input.data, 4);
        if (len > MAX_MESSAGE) { fprintf(stderr, "nsexec-helper: request of %u bytes refused\n", len); kill_all_and_exit(73); }
        if (input.len < 4 + (size_t)len) break;
        if (handle_request(input.data + 4, len) != 0) { fprintf(stderr, "nsexec-helper: malformed request\n"); kill_all_and_exit(74); }
        buffer_consume(&input, 4 + (size_t)len);
      }
      if (!input_open) kill_all_and_exit(0);
    }

    while (output.len) {
      ssize_t w = write(1, output.data, output.len);
      if (w > 0) { buffer_consume(&output, (size_t)w); continue; }
      if (w < 0 && errno == EAGAIN) break;
      if (w < 0 && errno == EINTR) continue;
      kill_all_and_exit(0); /* the agent is gone */
    }
  }
}
