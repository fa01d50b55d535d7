// pier-nsexec: executes a plan that pier-runtime (TypeScript) computed.
//
// It decides nothing. The plan is an ordered list of operations; this program
// carries them out in order, reports progress and errors on the sync socket,
// and stops at the first failure. The TypeScript side chose every path, flag,
// mask and value; here we only do what Node cannot: act between clone() and
// execve(), and setns() into another process's namespaces.
//
//   usage: pier-nsexec SYNCFD
//
// Protocol on SYNCFD (a unix stream socket to pier-runtime):
//   runtime -> helper : u32 length (little endian), then the encoded plan
//   helper  -> runtime: "PID <host pid>\n" once the child exists
//   child   -> runtime: "SYNC <tag>\n", answered by "OK <n>\n" + n bytes of data
//                       (the state JSON for hooks) or "ABORT\n"
//   child   -> runtime: "CREATED\n" when set up and about to wait for start
//   any     -> runtime: "ERR <op index> <errno> <message>\n" and exit 1
//
// Plan encoding: records of  u16 op, u16 argc, then argc x (u32 len, bytes).
// Ops before CLONE run in the helper; CLONE forks (with namespace flags); the
// ops after it up to PARENT_DONE run in the helper (uid/gid maps), the rest in
// the child. See src/runtime/plan/ops.ts for the authoritative op list.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum op {
  OP_JOIN_CGROUP = 1,  // file mode                  mode parent: the helper writes the child's pid after
                       //                            clone; self: the child writes 0 (itself) on release
  OP_SETNS = 2,        // path nstype                open + setns
  OP_CLONE = 3,        // flags mode                 fork into new namespaces; mode: detach|wait
  OP_UID_MAP = 4,      // content                    (parent) write /proc/CHILD/uid_map
  OP_GID_MAP = 5,      // content                    (parent) write /proc/CHILD/gid_map
  OP_PARENT_DONE = 6,  //                            end of parent ops
  OP_SETSID = 7,
  OP_MOUNT = 8,        // src dst fstype flags data  empty src/fstype/data mean NULL
  OP_MKDIRP = 9,       // path mode
  OP_TOUCH = 10,       // path                       create an empty file (parents too) if missing
  OP_MKNOD = 11,       // path mode dev uid gid
  OP_SYMLINK = 12,     // target linkpath            EEXIST ignored
  OP_REMOUNT = 13,     // path flags                 bind remount keeping the mount's locked flags
  OP_MASK = 14,        // path                       /dev/null over a file, ro tmpfs over a dir
  OP_PIVOT = 15,       // rootfs
  OP_CHROOT = 16,      // rootfs                     MS_MOVE + chroot (no pivot)
  OP_SYNC = 17,        // tag
  OP_HOOK = 18,        // timeout path argc argv... env...
  OP_WRITE = 19,       // path content               ENOENT ignored if flag "?" prefix in path
  OP_HOSTNAME = 20,    // name
  OP_DOMAINNAME = 21,  // name
  OP_LO_UP = 22,
  OP_RLIMIT = 23,      // resource soft hard
  OP_CONSOLE_CONNECT = 24,  // socket path
  OP_PTY = 25,         // target(socket|relay) rows cols bindconsole
  OP_FIFO_OPEN = 26,   // path
  OP_FIFO_WAIT = 27,
  OP_CREATED = 28,     // report CREATED and close the sync socket if arg is "close"
  OP_CAP_BOUNDING = 29,  // keep-mask(hex, 64 bit)
  OP_KEEPCAPS = 30,      // 0|1
  OP_SETGROUPS = 31,     // gid...
  OP_SETRESGID = 32,     // gid
  OP_SETRESUID = 33,     // uid
  OP_CAPSET = 34,        // effective permitted inheritable (hex)
  OP_AMBIENT = 35,       // mask (hex)
  OP_NNP = 36,
  OP_SECCOMP = 37,       // raw sock_filter array, seccomp(2) flags
  OP_UMASK = 38,         // mask (octal)
  OP_CHDIR = 39,         // path
  OP_LOOKUP = 40,        // argv0 PATH             resolve the executable now, for early errors
  OP_EXEC = 41,          // argc argv... env...
  OP_PERSONALITY = 42,   // persona
  OP_CLOSE_FROM = 43,    // first fd to mark close-on-exec
  OP_UNSHARE = 44,       // flags                 (e.g. cgroup ns after joining the cgroup)
  OP_MKFIFO = 45,        // path mode
  OP_WAIT_PARENT = 46,   //                       wait until the helper put us in our cgroups
};

struct arg {
  uint32_t len;
  char *s;  // NUL terminated copy
};
struct rec {
  uint16_t op;
  uint16_t argc;
  struct arg *argv;
};

static int sync_fd = -1;
static int cur_op = -1;
static int console_fd = -1;
static int relay_sock[2] = {-1, -1};
static int fifo_fd = -1;
static char *state_blob = NULL;
static size_t state_len = 0;
static char exec_path[4096];
static int go_read = -1;
static int cgroup_fds[32];
static size_t ncgroup_fds = 0;
static int self_cgroup_fds[32];
static size_t nself_cgroup_fds = 0;

static void writeall(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int err, const char *fmt, ...) {
  char msg[1024], line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *c = msg; *c; c++)
    if (*c == '\n') *c = ' ';
  if (sync_fd >= 0) {
    int n = snprintf(line, sizeof line, "ERR %d %d %s\n", cur_op, err, msg);
    writeall(sync_fd, line, (size_t)n);
  } else {
    int n = snprintf(line, sizeof line, "pier-runtime: %s%s%s\n", msg, err ? ": " : "", err ? strerror(err) : "");
    writeall(2, line, (size_t)n);
  }
  _exit(err == ENOENT || err == EACCES ? 127 : 1);
}

static void readfull(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) _exit(1);  // the runtime went away: give up quietly
    p += r;
    n -= (size_t)r;
  }
}

static unsigned long long num(const struct rec *r, int i, int base) {
  return strtoull(r->argv[i].s, NULL, base);
}

static struct rec *parse_plan(char *buf, uint32_t len, int *count) {
  int cap = 64, n = 0;
  struct rec *recs = calloc((size_t)cap, sizeof *recs);
  uint32_t off = 0;
  while (off + 4 <= len) {
    if (n == cap) {
      cap *= 2;
      recs = realloc(recs, (size_t)cap * sizeof *recs);
    }
    struct rec *r = &recs[n++];
    memcpy(&r->op, buf + off, 2);
    memcpy(&r->argc, buf + off + 2, 2);
    off += 4;
    r->argv = calloc(r->argc + 1u, sizeof *r->argv);
    for (int i = 0; i < r->argc; i++) {
      uint32_t l;
      if (off + 4 > len) fail(EINVAL, "plan truncated");
      memcpy(&l, buf + off, 4);
      off += 4;
      if (off + l > len) fail(EINVAL, "plan truncated");
      r->argv[i].len = l;
      r->argv[i].s = malloc(l + 1);
      memcpy(r->argv[i].s, buf + off, l);
      r->argv[i].s[l] = 0;
      off += l;
    }
  }
  *count = n;
  return recs;
}

static void write_file(const char *path, const char *content, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, "open %s", path);
  ssize_t w = write(fd, content, len);
  if (w < 0 || (size_t)w != len) fail(w < 0 ? errno : EIO, "write %s", path);
  close(fd);
}

static void mkdirp(const char *path, mode_t mode) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) fail(ENAMETOOLONG, "mkdir %s", path);
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) fail(errno, "mkdir %s", buf);
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) fail(errno, "mkdir %s", buf);
}

static void touch(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0) return;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    mkdirp(dir, 0755);
  }
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) fail(errno, "create %s", path);
  close(fd);
}

static const char *nul(const struct rec *r, int i) { return r->argv[i].len ? r->argv[i].s : NULL; }

// Remounting a bind mount must repeat the flags the kernel locked on it (in a
// user namespace nosuid/nodev/noexec/ro inherited from the host cannot be
// cleared; asking to clear them is EPERM).
static void do_remount(const char *path, unsigned long flags) {
  struct statvfs sv;
  unsigned long keep = 0;
  if (statvfs(path, &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
  }
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags | keep, NULL) == 0) return;
  int e = errno;
  if (e == EPERM && !(flags & MS_RDONLY) && (sv.f_flag & ST_RDONLY)) {
    // The source is read-only and locked; keep it read-only.
    if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags | keep | MS_RDONLY, NULL) == 0) return;
  }
  fail(e, "remount %s", path);
}

static void do_mask(const char *path) {
  if (mount("/dev/null", path, NULL, MS_BIND, NULL) == 0) return;
  if (errno == ENOENT) return;
  if (errno == ENOTDIR || errno == EISDIR || errno == EINVAL) {
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0") == 0) return;
    if (errno == ENOENT) return;
  }
  fail(errno, "mask %s", path);
}

static void do_pivot(const char *rootfs) {
  // pivot_root(".", ".") stacks the old root under the new one at "/";
  // detaching it leaves only the new root. No directory for the old root needed.
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) fail(errno, "open /");
  int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) fail(errno, "open rootfs %s", rootfs);
  if (fchdir(newroot) < 0) fail(errno, "chdir %s", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail(errno, "pivot_root %s", rootfs);
  if (fchdir(oldroot) < 0) fail(errno, "chdir old root");
  // Make the old root a slave so the unmount does not propagate to the host.
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail(errno, "make old root rslave");
  if (umount2(".", MNT_DETACH) < 0) fail(errno, "detach old root");
  if (chdir("/") < 0) fail(errno, "chdir /");
  close(oldroot);
  close(newroot);
}

static void do_chroot(const char *rootfs) {
  if (chdir(rootfs) < 0) fail(errno, "chdir %s", rootfs);
  if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) fail(errno, "move %s to /", rootfs);
  if (chroot(".") < 0) fail(errno, "chroot %s", rootfs);
  if (chdir("/") < 0) fail(errno, "chdir /");
}

static void do_sync(const char *tag) {
  char line[256];
  int n = snprintf(line, sizeof line, "SYNC %s\n", tag);
  writeall(sync_fd, line, (size_t)n);
  // reply: "OK <n>\n" + n bytes, or "ABORT\n"
  size_t i = 0;
  while (i < sizeof line - 1) {
    readfull(sync_fd, &line[i], 1);
    if (line[i] == '\n') break;
    i++;
  }
  line[i] = 0;
  if (strncmp(line, "OK", 2) != 0) _exit(1);
  size_t len = (size_t)strtoull(line + 2, NULL, 10);
  if (len > 0) {
    free(state_blob);
    state_blob = malloc(len);
    readfull(sync_fd, state_blob, len);
    state_len = len;
  }
}

static void do_hook(const struct rec *r) {
  long timeout = (long)num(r, 0, 10);
  int argc = (int)num(r, 2, 10);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  int envc = r->argc - 3 - argc;
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  for (int i = 0; i < argc; i++) argv[i] = r->argv[3 + i].s;
  for (int i = 0; i < envc; i++) envp[i] = r->argv[3 + argc + i].s;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) fail(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) fail(errno, "fork hook");
  if (pid == 0) {
    dup2(p[0], 0);
    execve(r->argv[1].s, argv, envp);
    _exit(127);
  }
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  if (state_len) writeall(p[1], state_blob, state_len);
  close(p[1]);
  int status;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    pid_t w = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) fail(errno, "wait hook %s", r->argv[1].s);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fail(ETIMEDOUT, "hook %s timed out after %lds", r->argv[1].s, timeout);
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(0, "hook %s failed (%s %d)", r->argv[1].s, WIFEXITED(status) ? "exit status" : "signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  free(argv);
  free(envp);
}

static void lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(errno, "get lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(errno, "bring lo up");
  close(s);
}

static void send_fd(int sock, int fd) {
  char dummy = 'P';
  struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &msg, 0) < 0) fail(errno, "send terminal to console socket");
}

static int recv_fd(int sock) {
  char dummy;
  struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static void do_pty(const struct rec *r) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(errno, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(errno, "unlock pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  char name[64] = "";
  int ptn;
  if (ioctl(master, TIOCGPTN, &ptn) == 0) snprintf(name, sizeof name, "/dev/pts/%d", ptn);
  if (slave < 0) {
    slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) fail(errno, "open %s", name);
  }
  unsigned rows = (unsigned)num(r, 1, 10), cols = (unsigned)num(r, 2, 10);
  if (rows && cols) {
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  if (num(r, 3, 10) && name[0]) {
    touch("/dev/console");
    if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) fail(errno, "bind %s to /dev/console", name);
  }
  if (strcmp(r->argv[0].s, "relay") == 0) {
    send_fd(relay_sock[1], master);
    close(relay_sock[1]);
  } else {
    if (console_fd < 0) fail(EBADF, "no console socket connected");
    send_fd(console_fd, master);
    close(console_fd);
  }
  close(master);
  if (setsid() < 0 && errno != EPERM) fail(errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) fail(errno, "set controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) fail(errno, "dup terminal");
  if (slave > 2) close(slave);
}

static int cap_last(void) {
  int last = CAP_LAST_CAP;
  char buf[16];
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
      buf[n] = 0;
      last = atoi(buf);
    }
    close(fd);
  }
  return last;
}

static void do_capset(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  d[0].effective = (uint32_t)eff;
  d[1].effective = (uint32_t)(eff >> 32);
  d[0].permitted = (uint32_t)perm;
  d[1].permitted = (uint32_t)(perm >> 32);
  d[0].inheritable = (uint32_t)inh;
  d[1].inheritable = (uint32_t)(inh >> 32);
  if (syscall(SYS_capset, &h, d) < 0) fail(errno, "capset");
}

static void lookup(const char *file, const char *path) {
  if (strchr(file, '/')) {
    if (access(file, X_OK) < 0) fail(errno, "exec %s", file);
    snprintf(exec_path, sizeof exec_path, "%s", file);
    return;
  }
  const char *p = path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*p) {
    const char *end = strchrnul(p, ':');
    int n = snprintf(exec_path, sizeof exec_path, "%.*s/%s", (int)(end - p), p, file);
    struct stat st;
    if (n > 0 && (size_t)n < sizeof exec_path && stat(exec_path, &st) == 0 && S_ISREG(st.st_mode) &&
        access(exec_path, X_OK) == 0)
      return;
    p = *end ? end + 1 : end;
  }
  fail(ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
}

// The parent side of a wait-mode clone: relay a terminal if asked, reap the
// child, exit with its status (128+signal when killed, as shells report it).
static volatile sig_atomic_t winch = 0;
static void on_winch(int sig) {
  (void)sig;
  winch = 1;
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

__attribute__((noreturn)) static void wait_child(pid_t child, int relay) {
  static const int forward[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forward / sizeof *forward; i++) signal(forward[i], SIG_IGN);
  int master = -1;
  struct termios saved;
  int raw = 0;
  if (relay) {
    master = recv_fd(relay_sock[0]);
    close(relay_sock[0]);
    if (master >= 0) {
      struct sigaction sa = {0};
      sa.sa_handler = on_winch;
      sigaction(SIGWINCH, &sa, NULL);
      if (isatty(0) && tcgetattr(0, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(0, TCSANOW, &t);
        raw = 1;
        copy_winsize(0, master);
      }
    }
  }
  if (master >= 0) {
    char buf[8192];
    int in_open = 1;
    for (;;) {
      if (winch) {
        winch = 0;
        copy_winsize(0, master);
      }
      struct pollfd fds[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
      int n = poll(fds, in_open ? 2 : 1, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read(master, buf, sizeof buf);
        if (r <= 0) break;  // EIO once every slave is closed
        writeall(1, buf, (size_t)r);
      }
      if (in_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r <= 0) {
          in_open = 0;
          char eof = 4;  // ^D: the terminal's end of input
          writeall(master, &eof, 1);
        } else {
          writeall(master, buf, (size_t)r);
        }
      }
    }
    if (raw) tcsetattr(0, TCSANOW, &saved);
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) _exit(255);
  if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
  _exit(WEXITSTATUS(status));
}

static void exec_now(const struct rec *r) {
  int argc = (int)num(r, 0, 10);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  int envc = r->argc - 1 - argc;
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  for (int i = 0; i < argc; i++) argv[i] = r->argv[1 + i].s;
  for (int i = 0; i < envc; i++) envp[i] = r->argv[1 + argc + i].s;
  if (!exec_path[0]) {
    const char *path = NULL;
    for (int i = 0; i < envc; i++)
      if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
    lookup(argv[0], path);
  }
  execve(exec_path, argv, envp);
  fail(errno, "exec %s", exec_path);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "pier-nsexec is run by pier-runtime, not by hand\n");
    return 2;
  }
  sync_fd = atoi(argv[1]);
  uint32_t len;
  readfull(sync_fd, &len, 4);
  char *buf = malloc(len ? len : 1);
  readfull(sync_fd, buf, len);
  int n;
  struct rec *plan = parse_plan(buf, len, &n);

  pid_t child = 0;
  int in_child = 0, in_parent_post = 0, wait_mode = 0, relay = 0;
  int go[2] = {-1, -1};

  for (int i = 0; i < n; i++) {
    const struct rec *r = &plan[i];
    cur_op = i;
    if (in_parent_post) {
      char path[64];
      switch (r->op) {
        case OP_UID_MAP:
        case OP_GID_MAP:
          snprintf(path, sizeof path, "/proc/%d/%s", child, r->op == OP_UID_MAP ? "uid_map" : "gid_map");
          write_file(path, r->argv[0].s, r->argv[0].len);
          continue;

        case OP_PARENT_DONE: {
          // Release the child first, then move it into its cgroups while it sets itself up:
          // on cgroup v1 the first migration waits for an RCU grace period (often 5-20 ms),
          // which this overlaps with the mounts. The child waits for "c" (WAIT_PARENT)
          // before it reports created or runs anything of the user's.
          if (write(go[1], "g", 1) != 1) fail(errno, "release child");
          char pid[24];
          int pl = snprintf(pid, sizeof pid, "%d", child);
          for (size_t k = 0; k < ncgroup_fds; k++) {
            if (write(cgroup_fds[k], pid, (size_t)pl) != pl) {
              int e = errno;
              kill(child, SIGKILL);
              fail(e, "put the container process in its cgroup");
            }
            close(cgroup_fds[k]);
          }
          char line[64];
          int l = snprintf(line, sizeof line, "PID %d\n", child);
          writeall(sync_fd, line, (size_t)l);
          if (write(go[1], "c", 1) != 1 && errno != EPIPE) fail(errno, "release child");
          close(go[1]);
          if (!wait_mode) _exit(0);
          close(sync_fd);
          wait_child(child, relay);
        }
        default:
          fail(EINVAL, "op %d not allowed in parent", r->op);
      }
    }
    switch (r->op) {
      case OP_JOIN_CGROUP: {
        // Opened now (before any setns changes what /sys/fs/cgroup is), written with the
        // child's pid right after clone: the helper itself never joins, so it never counts
        // against the container's limits (it stays as the parent in wait mode).
        // "self" (cgroup v1 `tasks`): a single-threaded process moving itself skips the
        // kernel's global threadgroup lock, whose first writer waits for an RCU grace
        // period (5-20 ms); the child does it the moment it is released.
        int self = r->argc > 1 && strcmp(r->argv[1].s, "self") == 0;
        if (ncgroup_fds == sizeof cgroup_fds / sizeof *cgroup_fds ||
            nself_cgroup_fds == sizeof self_cgroup_fds / sizeof *self_cgroup_fds)
          fail(E2BIG, "too many cgroups");
        int fd = open(r->argv[0].s, O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail(errno, "open %s", r->argv[0].s);
        if (self)
          self_cgroup_fds[nself_cgroup_fds++] = fd;
        else
          cgroup_fds[ncgroup_fds++] = fd;
        break;
      }
      case OP_SETNS: {
        int fd = open(r->argv[0].s, O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(errno, "open namespace %s", r->argv[0].s);
        if (setns(fd, (int)num(r, 1, 10)) < 0) fail(errno, "join namespace %s", r->argv[0].s);
        close(fd);
        break;
      }
      case OP_CLONE: {
        unsigned long flags = (unsigned long)num(r, 0, 10);
        wait_mode = strcmp(r->argv[1].s, "wait") == 0;
        relay = r->argc > 2 && strcmp(r->argv[2].s, "relay") == 0;
        if (pipe2(go, O_CLOEXEC) < 0) fail(errno, "pipe");
        if (relay && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, relay_sock) < 0) fail(errno, "socketpair");
        child = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (child < 0) fail(errno, "clone");
        if (child == 0) {
          for (size_t k = 0; k < ncgroup_fds; k++) close(cgroup_fds[k]);
          close(go[1]);
          if (relay) close(relay_sock[0]);
          char g;
          readfull(go[0], &g, 1);
          go_read = go[0];
          for (size_t k = 0; k < nself_cgroup_fds; k++) {
            if (write(self_cgroup_fds[k], "0", 1) != 1) fail(errno, "join the container's cgroup");
            close(self_cgroup_fds[k]);
          }
          // skip the parent's ops
          while (i + 1 < n && plan[i + 1].op != OP_PARENT_DONE) i++;
          i++;
          in_child = 1;
        } else {
          close(go[0]);
          if (relay) close(relay_sock[1]);
          for (size_t k = 0; k < nself_cgroup_fds; k++) close(self_cgroup_fds[k]);
          signal(SIGPIPE, SIG_IGN);
          in_parent_post = 1;
        }
        break;
      }
      case OP_SETSID:
        if (setsid() < 0) fail(errno, "setsid");
        break;
      case OP_MOUNT: {
        // A destination starting with '?' is optional: a missing path is skipped.
        const char *dst = r->argv[1].s;
        int optional = dst[0] == '?';
        if (optional) dst++;
        if (mount(nul(r, 0), dst, nul(r, 2), (unsigned long)num(r, 3, 10), nul(r, 4)) < 0) {
          if (optional && errno == ENOENT) break;
          fail(errno, "mount %s on %s", r->argv[0].len ? r->argv[0].s : r->argv[2].s, dst);
        }
        break;
      }
      case OP_MKFIFO:
        if (mkfifo(r->argv[0].s, (mode_t)num(r, 1, 8)) < 0) fail(errno, "mkfifo %s", r->argv[0].s);
        break;
      case OP_MKDIRP:
        mkdirp(r->argv[0].s, (mode_t)num(r, 1, 8));
        break;
      case OP_TOUCH:
        touch(r->argv[0].s);
        break;
      case OP_MKNOD: {
        const char *p = r->argv[0].s;
        mode_t mode = (mode_t)num(r, 1, 10);
        unlink(p);
        if (mknod(p, mode, (dev_t)num(r, 2, 10)) < 0) fail(errno, "mknod %s", p);
        if (chmod(p, mode & 07777) < 0) fail(errno, "chmod %s", p);
        if (chown(p, (uid_t)num(r, 3, 10), (gid_t)num(r, 4, 10)) < 0) fail(errno, "chown %s", p);
        break;
      }
      case OP_SYMLINK:
        if (symlink(r->argv[0].s, r->argv[1].s) < 0 && errno != EEXIST)
          fail(errno, "symlink %s -> %s", r->argv[1].s, r->argv[0].s);
        break;
      case OP_REMOUNT: {
        const char *p = r->argv[0].s;
        if (p[0] == '?') {
          struct stat st;
          if (stat(++p, &st) < 0 && errno == ENOENT) break;
        }
        do_remount(p, (unsigned long)num(r, 1, 10));
        break;
      }
      case OP_MASK:
        do_mask(r->argv[0].s);
        break;
      case OP_PIVOT:
        do_pivot(r->argv[0].s);
        break;
      case OP_CHROOT:
        do_chroot(r->argv[0].s);
        break;
      case OP_SYNC:
        do_sync(r->argv[0].s);
        break;
      case OP_HOOK:
        do_hook(r);
        break;
      case OP_WRITE: {
        const char *p = r->argv[0].s;
        int optional = p[0] == '?';
        if (optional) p++;
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
          if (optional && errno == ENOENT) break;
          fail(errno, "open %s", p);
        }
        if (write(fd, r->argv[1].s, r->argv[1].len) < 0) fail(errno, "write %s", p);
        close(fd);
        break;
      }
      case OP_HOSTNAME:
        if (sethostname(r->argv[0].s, r->argv[0].len) < 0) fail(errno, "sethostname");
        break;
      case OP_DOMAINNAME:
        if (setdomainname(r->argv[0].s, r->argv[0].len) < 0) fail(errno, "setdomainname");
        break;
      case OP_LO_UP:
        lo_up();
        break;
      case OP_RLIMIT: {
        struct rlimit rl = {.rlim_cur = (rlim_t)num(r, 1, 10), .rlim_max = (rlim_t)num(r, 2, 10)};
        if (setrlimit((int)num(r, 0, 10), &rl) < 0) fail(errno, "setrlimit %s", r->argv[0].s);
        break;
      }
      case OP_CONSOLE_CONNECT: {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (r->argv[0].len >= sizeof sa.sun_path) fail(ENAMETOOLONG, "console socket %s", r->argv[0].s);
        memcpy(sa.sun_path, r->argv[0].s, r->argv[0].len);
        console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (console_fd < 0 || connect(console_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
          fail(errno, "connect console socket %s", r->argv[0].s);
        break;
      }
      case OP_PTY:
        do_pty(r);
        break;
      case OP_FIFO_OPEN:
        fifo_fd = open(r->argv[0].s, O_PATH | O_CLOEXEC);
        if (fifo_fd < 0) fail(errno, "open exec fifo %s", r->argv[0].s);
        break;
      case OP_FIFO_WAIT: {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fifo_fd);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail(errno, "open exec fifo");
        if (write(fd, "0", 1) != 1) fail(errno, "write exec fifo");
        close(fd);
        close(fifo_fd);
        break;
      }
      case OP_CREATED:
        writeall(sync_fd, "CREATED\n", 8);
        if (r->argc > 0 && strcmp(r->argv[0].s, "close") == 0) {
          close(sync_fd);
          sync_fd = -1;
        }
        break;
      case OP_CAP_BOUNDING: {
        uint64_t keep = num(r, 0, 16);
        int last = cap_last();
        for (int c = 0; c <= last; c++)
          if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            fail(errno, "drop capability %d from the bounding set", c);
        break;
      }
      case OP_KEEPCAPS:
        if (prctl(PR_SET_KEEPCAPS, (unsigned long)num(r, 0, 10), 0, 0, 0) < 0) fail(errno, "keepcaps");
        break;
      case OP_SETGROUPS: {
        gid_t *g = calloc(r->argc + 1u, sizeof *g);
        for (int k = 0; k < r->argc; k++) g[k] = (gid_t)num(r, k, 10);
        if (setgroups((size_t)r->argc, g) < 0) fail(errno, "setgroups");
        free(g);
        break;
      }
      case OP_SETRESGID: {
        gid_t g = (gid_t)num(r, 0, 10);
        if (setresgid(g, g, g) < 0) fail(errno, "setgid %u", g);
        break;
      }
      case OP_SETRESUID: {
        uid_t u = (uid_t)num(r, 0, 10);
        if (setresuid(u, u, u) < 0) fail(errno, "setuid %u", u);
        break;
      }
      case OP_CAPSET:
        do_capset(num(r, 0, 16), num(r, 1, 16), num(r, 2, 16));
        break;
      case OP_AMBIENT: {
        uint64_t m = num(r, 0, 16);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (int c = 0; c < 64; c++)
          if ((m & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            fail(errno, "raise ambient capability %d", c);
        break;
      }
      case OP_NNP:
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errno, "no_new_privs");
        break;
      case OP_SECCOMP: {
        struct sock_fprog prog = {.len = (unsigned short)(r->argv[0].len / 8),
                                  .filter = (struct sock_filter *)(void *)r->argv[0].s};
        unsigned long sflags = r->argc > 1 ? (unsigned long)num(r, 1, 10) : 0;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, sflags, &prog) < 0) fail(errno, "load seccomp filter");
        break;
      }
      case OP_UMASK:
        umask((mode_t)num(r, 0, 8));
        break;
      case OP_CHDIR:
        if (chdir(r->argv[0].s) < 0) fail(errno, "chdir to cwd %s", r->argv[0].s);
        break;
      case OP_LOOKUP:
        lookup(r->argv[0].s, r->argc > 1 ? r->argv[1].s : NULL);
        break;
      case OP_EXEC:
        exec_now(r);
        break;
      case OP_PERSONALITY:
        if (personality((unsigned long)num(r, 0, 10)) < 0) fail(errno, "personality");
        break;
      case OP_CLOSE_FROM: {
        unsigned first = (unsigned)num(r, 0, 10);
        if (syscall(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) fail(errno, "close_range");
        break;
      }
      case OP_WAIT_PARENT: {
        char c = 0;
        if (go_read >= 0) {
          readfull(go_read, &c, 1);
          close(go_read);
          go_read = -1;
        }
        break;
      }
      case OP_UNSHARE:
        if (unshare((int)num(r, 0, 10)) < 0) fail(errno, "unshare");
        break;
      case OP_UID_MAP:
      case OP_GID_MAP:
      case OP_PARENT_DONE:
        fail(EINVAL, "op %d outside the parent section", r->op);
      default:
        fail(EINVAL, "unknown op %d", r->op);
    }
  }
  (void)in_child;
  fail(EINVAL, "plan ended without exec");
}
