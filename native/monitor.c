/*
 * pier-monitor: the per-container monitor (conmon's role, smaller). It decides nothing:
 * every path and both command lines come from argv.
 *
 * usage: pier-monitor -p MONITOR_PID_FILE -C CREATE_PID_FILE -c PID_FILE -l LOG_FILE
 *                     -e EXIT_FILE [-i STDIN_FIFO] [-k CTL_FIFO] [-t CONSOLE_SOCKET]
 *                     [-S SYNC_SOCKET] -- CREATE_ARGV... -- [START_ARGV...]
 *
 * The first process double-forks (setsid in between) and exits once the monitor exists, so
 * the monitor outlives its caller. The monitor is a child subreaper, writes its pid to
 * MONITOR_PID_FILE, runs CREATE_ARGV with the container's stdio (stdin from /dev/null or
 * STDIN_FIFO, stdout and stderr to pipes it reads), reads the container pid from
 * CREATE_PID_FILE (the runtime's init process is reparented to the monitor), runs
 * START_ARGV, then publishes the pid in PID_FILE. Output goes into LOG_FILE in docker's
 * json-file format: one record per line, lines split at 16 KiB, and an unfinished line as
 * a partial record (no trailing newline) once the process has paused writing. When the container's process exits,
 * its status goes to EXIT_FILE (temp file + rename) and the monitor exits. A failed create
 * or start is recorded in EXIT_FILE with an "error" field.
 *
 * Stdin: with -i, what is written into STDIN_FIFO reaches the container's stdin (a pipe,
 * or the terminal); without it, stdin is /dev/null. With -t, the monitor listens on
 * CONSOLE_SOCKET (CREATE_ARGV passes it to the runtime as --console-socket), receives the
 * terminal's master over SCM_RIGHTS and logs what the terminal prints as "stdout".
 * CTL_FIFO takes one command per line: "c" closes stdin (EOF; ^D on a terminal), and
 * "r ROWS COLS" resizes the terminal. With no START_ARGV (an exec with --detach, or a
 * caller that starts the container itself), the process whose pid was written to
 * CREATE_PID_FILE is the one watched. With -S, CREATE_ARGV gets, as fd 3, a connection to
 * the unix socket SYNC_SOCKET: that is how pierd drives `pier-nsexec 3` itself (the
 * runtime library in pierd's process) while the container is still the monitor's child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h> /* rename() only: no stdio buffering is used */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384

static const char *mon_pid_file, *create_pid_file, *pid_file, *log_file, *exit_file, *stdin_fifo, *ctl_fifo,
    *console_socket, *sync_socket;
static int sync_fd = -1;
static int log_fd = -1;

static size_t slen(const char *s) { return strlen(s); }

static void put_err(const char *a, const char *b) {
  const char *p[] = {"pier-monitor: ", a, b ? ": " : "", b ? b : "", "\n"};
  for (size_t i = 0; i < 5; i++)
    if (write(2, p[i], slen(p[i])) < 0) return;
}

static void die(const char *what) {
  put_err(what, strerror(errno));
  _exit(1);
}

/* ---- small output buffer ---- */
static char obuf[4096];
static size_t olen;

static void oflush(void) {
  size_t off = 0;
  while (off < olen) {
    ssize_t n = write(log_fd, obuf + off, olen - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* a full disk must not kill the container's monitor */
    }
    off += (size_t)n;
  }
  olen = 0;
}

static void oput(const char *s, size_t n) {
  while (n > 0) {
    if (olen == sizeof obuf) oflush();
    size_t k = sizeof obuf - olen;
    if (k > n) k = n;
    memcpy(obuf + olen, s, k);
    olen += k;
    s += k;
    n -= k;
  }
}

static void oputs(const char *s) { oput(s, slen(s)); }

static void utoa(unsigned long v, char *out, int width) {
  char t[24];
  int n = 0;
  do {
    t[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) t[n++] = '0';
  int i = 0;
  while (n) out[i++] = t[--n];
  out[i] = 0;
}

/* RFC 3339 with nanoseconds, UTC. */
static void now_rfc3339(char *out) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char n[24];
  out[0] = 0;
  utoa((unsigned long)tm.tm_year + 1900, n, 4), strcat(out, n), strcat(out, "-");
  utoa((unsigned long)tm.tm_mon + 1, n, 2), strcat(out, n), strcat(out, "-");
  utoa((unsigned long)tm.tm_mday, n, 2), strcat(out, n), strcat(out, "T");
  utoa((unsigned long)tm.tm_hour, n, 2), strcat(out, n), strcat(out, ":");
  utoa((unsigned long)tm.tm_min, n, 2), strcat(out, n), strcat(out, ":");
  utoa((unsigned long)tm.tm_sec, n, 2), strcat(out, n), strcat(out, ".");
  utoa((unsigned long)ts.tv_nsec, n, 9), strcat(out, n), strcat(out, "Z");
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned min;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* JSON string body, escaped like Go's encoding/json (invalid UTF-8 becomes U+FFFD). */
static void oput_json(const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)p;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    char e[7];
    if (c == '"' || c == '\\') {
      e[0] = '\\', e[1] = (char)c;
      oput(e, 2);
      i++;
    } else if (c == '\n') {
      oput("\\n", 2), i++;
    } else if (c == '\r') {
      oput("\\r", 2), i++;
    } else if (c == '\t') {
      oput("\\t", 2), i++;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
      oput(e, 6);
      i++;
    } else if (c < 0x80) {
      size_t j = i;
      while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\' && s[j] != '<' &&
             s[j] != '>' && s[j] != '&')
        j++;
      oput(p + i, j - i);
      i = j;
    } else {
      size_t k = utf8_len(s + i, n - i);
      if (k == 0) oput("\\ufffd", 6), i++;
      else oput(p + i, k), i += k;
    }
  }
}

static void log_record(const char *stream, const char *data, size_t n) {
  char ts[48];
  now_rfc3339(ts);
  oputs("{\"log\":\"");
  oput_json(data, n);
  oputs("\",\"stream\":\"");
  oputs(stream);
  oputs("\",\"time\":\"");
  oputs(ts);
  oputs("\"}\n");
  oflush();
}

/* ---- one output stream: a pipe and a line buffer ---- */
struct stream {
  const char *name;
  int fd;
  size_t len;
  char buf[LINE_MAX_BYTES];
};
static struct stream streams[3]; /* stdout, stderr, the terminal */
#define NSTREAMS 3
static void forget_fd(int fd);

/* Reads what is there; returns 0 at EOF or error (fd closed), 1 otherwise. */
static int pump(struct stream *st) {
  char in[4096];
  ssize_t n = read(st->fd, in, sizeof in);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  /* A terminal's master reads EIO once no slave is open: that is its EOF. */
  if (n <= 0) {
    if (st->len) log_record(st->name, st->buf, st->len);
    st->len = 0;
    forget_fd(st->fd);
    close(st->fd);
    st->fd = -1;
    return 0;
  }
  for (ssize_t i = 0; i < n; i++) {
    st->buf[st->len++] = in[i];
    if (in[i] == '\n' || st->len == LINE_MAX_BYTES) {
      log_record(st->name, st->buf, st->len);
      st->len = 0;
    }
  }
  /* An unfinished line (a prompt, a progress bar) goes out as a partial record once nothing
   * more is waiting, so followers see it at once; readers join partial records again. */
  if (st->len) {
    struct pollfd p = {.fd = st->fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0) log_record(st->name, st->buf, st->len), st->len = 0;
  }
  return 1;
}

/* ---- files ---- */
static void write_atomic(const char *path, const char *data) {
  char tmp[4096];
  size_t pl = slen(path);
  if (pl + 6 > sizeof tmp) return;
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t n = slen(data), off = 0;
  while (off < n) {
    ssize_t w = write(fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    off += (size_t)w;
  }
  fsync(fd);
  close(fd);
  rename(tmp, path);
}

static void write_pid(const char *path, pid_t pid) {
  char s[24];
  utoa((unsigned long)pid, s, 1);
  write_atomic(path, s);
}

static void write_exit(int code, int sig, const char *error) {
  char out[1024], n[24], ts[48];
  now_rfc3339(ts);
  strcpy(out, "{\"exitCode\":");
  if (code < 0) strcat(out, "-"), code = -code;
  utoa((unsigned long)code, n, 1), strcat(out, n);
  strcat(out, ",\"signal\":");
  utoa((unsigned long)sig, n, 1), strcat(out, n);
  strcat(out, ",\"oomKilled\":false,\"finishedAt\":\"");
  strcat(out, ts);
  strcat(out, "\"");
  if (error) {
    strcat(out, ",\"error\":\"");
    strncat(out, error, 200); /* callers pass plain ASCII without quotes */
    strcat(out, "\"");
  }
  strcat(out, "}\n");
  write_atomic(exit_file, out);
}

static pid_t spawn(char **argv, int in, int out, int err) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive execve */
    signal(SIGHUP, SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
    if (sync_fd == 3) fcntl(3, F_SETFD, 0);
    else if (sync_fd >= 0 && dup2(sync_fd, 3) < 0) _exit(127);
    execvp(argv[0], argv);
    _exit(127);
  }
  return pid;
}

static int wait_for(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return st;
}

static pid_t read_pid(const char *path) {
  char b[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  /* With -S the pid file is written by the process driving the helper: it may come a
   * moment after the helper exits. */
  for (int i = 0; fd < 0 && errno == ENOENT && sync_socket && i < 5000; i++) {
    usleep(2000);
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n <= 0) return -1;
  b[n] = 0;
  long v = strtol(b, NULL, 10);
  return v > 0 ? (pid_t)v : -1;
}

static void finish_streams(int wait_ms) {
  /* The container is gone: take what is left in the pipes (its own children may still
   * hold them when it shares the host's pid namespace, so do not wait for EOF forever). */
  for (;;) {
    struct pollfd p[NSTREAMS];
    int np = 0;
    for (int i = 0; i < NSTREAMS; i++)
      if (streams[i].fd >= 0) p[np].fd = streams[i].fd, p[np].events = POLLIN, np++;
    if (np == 0) break;
    int r = poll(p, (nfds_t)np, wait_ms);
    if (r <= 0) break;
    for (int i = 0; i < np; i++)
      if (p[i].revents)
        for (int j = 0; j < NSTREAMS; j++)
          if (streams[j].fd == p[i].fd) pump(&streams[j]);
  }
  for (int i = 0; i < NSTREAMS; i++)
    if (streams[i].fd >= 0 && streams[i].len) log_record(streams[i].name, streams[i].buf, streams[i].len);
}

static void usage(void) {
  put_err("usage: pier-monitor -p MONPID -C CREATEPID -c PIDFILE -l LOG -e EXIT [-i FIFO] [-k CTL] [-t SOCK] "
          "-- CREATE... -- [START...]",
          NULL);
  _exit(2);
}

/* ---- stdin: STDIN_FIFO → the container's stdin (a pipe or the terminal's master) ---- */
static int in_fifo = -1, in_target = -1, ctl_fd = -1, tty_master = -1;
static char in_buf[4096];
static size_t in_len, in_off;
static char ctl_buf[256];
static size_t ctl_len;

static void forget_fd(int fd) {
  if (fd == tty_master) {
    if (in_target == tty_master) in_target = -1;
    tty_master = -1;
  }
}

static void close_stdin(void) {
  if (tty_master >= 0) {
    /* A terminal has no half-close: ^D at the start of a line is its end of input. */
    if (write(tty_master, "\004", 1) < 0) {
    }
    return;
  }
  if (in_target >= 0) close(in_target), in_target = -1;
  if (in_fifo >= 0) close(in_fifo), in_fifo = -1;
  in_len = in_off = 0;
}

static void flush_stdin(void) {
  while (in_target >= 0 && in_off < in_len) {
    ssize_t n = write(in_target, in_buf + in_off, in_len - in_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      close_stdin(); /* the container closed its stdin */
      return;
    }
    in_off += (size_t)n;
  }
  if (in_off == in_len) in_len = in_off = 0;
}

static void read_stdin(void) {
  if (in_len) return;
  ssize_t n = read(in_fifo, in_buf, sizeof in_buf);
  if (n <= 0) return; /* we hold a writer too: no EOF, only EAGAIN */
  in_len = (size_t)n, in_off = 0;
  flush_stdin();
}

static void ctl_command(char *line) {
  if (line[0] == 'c') {
    flush_stdin();
    close_stdin();
  } else if (line[0] == 'r' && tty_master >= 0) {
    char *end;
    long rows = strtol(line + 1, &end, 10), cols = strtol(end, NULL, 10);
    if (rows > 0 && cols > 0 && rows < 65536 && cols < 65536) {
      struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
      ioctl(tty_master, TIOCSWINSZ, &ws);
    }
  }
}

static void read_ctl(void) {
  ssize_t n = read(ctl_fd, ctl_buf + ctl_len, sizeof ctl_buf - 1 - ctl_len);
  if (n <= 0) return;
  ctl_len += (size_t)n;
  for (;;) {
    char *nl = memchr(ctl_buf, '\n', ctl_len);
    if (!nl) {
      if (ctl_len == sizeof ctl_buf - 1) ctl_len = 0; /* no command is that long */
      return;
    }
    *nl = 0;
    ctl_command(ctl_buf);
    size_t used = (size_t)(nl - ctl_buf) + 1;
    memmove(ctl_buf, nl + 1, ctl_len - used);
    ctl_len -= used;
  }
}

/* ---- the console socket: the runtime sends the terminal's master here ---- */
static int listen_console(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (slen(path) >= sizeof a.sun_path) return errno = ENAMETOOLONG, -1;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int recv_master(int lfd) {
  int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return -1;
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
  close(c);
  if (n < 0) return -1;
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) return errno = EBADMSG, -1;
  int fd;
  memcpy(&fd, CMSG_DATA(h), sizeof fd);
  return fd;
}

/* Runs CREATE_ARGV; with a console socket, takes the master while it runs. */
static int run_create(char **argv, int in, int out, int err, int lfd) {
  pid_t cp = spawn(argv, in, out, err);
  if (cp < 0) return -1;
  if (lfd < 0) return wait_for(cp);
  for (;;) {
    int st;
    pid_t r = waitpid(cp, &st, WNOHANG);
    if (r == cp) {
      /* It may have sent the master just before exiting. */
      struct pollfd p = {.fd = lfd, .events = POLLIN};
      if (tty_master < 0 && poll(&p, 1, 0) > 0) tty_master = recv_master(lfd);
      return st;
    }
    if (r < 0 && errno != EINTR) return -1;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (tty_master < 0 && poll(&p, 1, 20) > 0) tty_master = recv_master(lfd);
    else if (tty_master >= 0) usleep(2000);
  }
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "+p:C:c:l:e:i:k:t:S:")) != -1) {
    switch (opt) {
      case 'p': mon_pid_file = optarg; break;
      case 'C': create_pid_file = optarg; break;
      case 'c': pid_file = optarg; break;
      case 'l': log_file = optarg; break;
      case 'e': exit_file = optarg; break;
      case 'i': stdin_fifo = optarg; break;
      case 'k': ctl_fifo = optarg; break;
      case 't': console_socket = optarg; break;
      case 'S': sync_socket = optarg; break;
      default: usage();
    }
  }
  if (!mon_pid_file || !create_pid_file || !pid_file || !log_file || !exit_file) usage();
  char **create_argv = argv + optind, **start_argv = NULL;
  for (int i = optind; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      argv[i] = NULL;
      start_argv = argv + i + 1;
      break;
    }
  if (!create_argv[0] || !start_argv) usage();

  /* Everything that can fail on bad input is checked before detaching. */
  log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) die(log_file);
  int in = -1, in_p[2] = {-1, -1};
  if (stdin_fifo) {
    /* Made here if missing; held open for writing too, so writers coming and going
     * never make an EOF. */
    if (mkfifo(stdin_fifo, 0600) < 0 && errno != EEXIST) die(stdin_fifo);
    in_fifo = open(stdin_fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (in_fifo < 0) die(stdin_fifo);
    if (!console_socket) {
      if (pipe2(in_p, O_CLOEXEC) < 0) die("pipe");
      in = in_p[0], in_target = in_p[1];
      fcntl(in_target, F_SETFL, O_NONBLOCK);
    }
  }
  if (in < 0) in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) die("/dev/null");
  if (ctl_fifo) {
    if (mkfifo(ctl_fifo, 0600) < 0 && errno != EEXIST) die(ctl_fifo);
    ctl_fd = open(ctl_fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (ctl_fd < 0) die(ctl_fifo);
  }
  int lfd = -1;
  if (console_socket && (lfd = listen_console(console_socket)) < 0) die(console_socket);
  int out_p[2], err_p[2];
  if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0) die("pipe");
  if (sync_socket) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (slen(sync_socket) >= sizeof a.sun_path) errno = ENAMETOOLONG, die(sync_socket);
    strcpy(a.sun_path, sync_socket);
    sync_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sync_fd < 0 || connect(sync_fd, (struct sockaddr *)&a, sizeof a) < 0) die(sync_socket);
  }

  /* Double fork: the caller's child exits, the grandchild is the monitor. */
  pid_t c1 = fork();
  if (c1 < 0) die("fork");
  if (c1 > 0) {
    int st = wait_for(c1);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  if (setsid() < 0) die("setsid");
  pid_t c2 = fork();
  if (c2 < 0) die("fork");
  if (c2 > 0) _exit(0);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die("PR_SET_CHILD_SUBREAPER");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) die("/dev/null");
  write_pid(mon_pid_file, getpid());
  /* The caller's stdio must not be held by a process that lives for the container's life. */
  dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);

  streams[0].name = "stdout", streams[0].fd = out_p[0];
  streams[1].name = "stderr", streams[1].fd = err_p[0];
  streams[2].name = "stdout", streams[2].fd = -1;

  int st = run_create(create_argv, in, out_p[1], err_p[1], lfd);
  if (sync_fd >= 0) close(sync_fd), sync_fd = -1;
  if (in_p[0] >= 0) close(in_p[0]);
  if (lfd >= 0) close(lfd), unlink(console_socket);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    close(out_p[1]), close(err_p[1]);
    finish_streams(100);
    write_exit(-1, 0, "create failed");
    return 1;
  }
  if (console_socket && tty_master < 0) {
    close(out_p[1]), close(err_p[1]);
    finish_streams(100);
    write_exit(-1, 0, "no terminal from the runtime");
    return 1;
  }
  if (tty_master >= 0) {
    streams[2].fd = tty_master;
    if (in_fifo >= 0) in_target = tty_master;
  }
  pid_t ctr = read_pid(create_pid_file);
  if (ctr < 0) {
    close(out_p[1]), close(err_p[1]);
    finish_streams(100);
    write_exit(-1, 0, "no container pid after create");
    return 1;
  }
  if (start_argv[0]) {
    /* start's own messages go to the container's stderr, as create's did. */
    pid_t sp = spawn(start_argv, devnull, out_p[1], err_p[1]);
    close(out_p[1]), close(err_p[1]);
    st = sp < 0 ? -1 : wait_for(sp);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      finish_streams(100);
      write_exit(-1, 0, "start failed");
      return 1;
    }
  } else {
    close(out_p[1]), close(err_p[1]);
  }
  write_pid(pid_file, ctr);

  int done = 0, code = 0, sig = 0;
  while (!done) {
    struct pollfd p[3 + NSTREAMS];
    int np = 0;
    p[np].fd = sfd, p[np].events = POLLIN, np++;
    int in_i = -1, ctl_i = -1;
    if (in_fifo >= 0 && in_target >= 0) {
      in_i = np;
      /* Read more only when what we hold went out; else wait for room. */
      if (in_len) p[np].fd = in_target, p[np].events = POLLOUT;
      else p[np].fd = in_fifo, p[np].events = POLLIN;
      np++;
    }
    if (ctl_fd >= 0) ctl_i = np, p[np].fd = ctl_fd, p[np].events = POLLIN, np++;
    int first_stream = np;
    for (int i = 0; i < NSTREAMS; i++)
      if (streams[i].fd >= 0) p[np].fd = streams[i].fd, p[np].events = POLLIN, np++;
    /* Reap first: the container may have exited while start ran. */
    int ws;
    pid_t r;
    while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
      if (r == ctr) {
        done = 1;
        if (WIFSIGNALED(ws)) sig = WTERMSIG(ws), code = 128 + sig;
        else code = WEXITSTATUS(ws);
      }
    if (done) break;
    if (r < 0 && errno == ECHILD && kill(ctr, 0) < 0) {
      /* Not our child (an exec whose runtime did not hand it to us): it is gone. */
      code = -1;
      break;
    }
    if (poll(p, (nfds_t)np, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
    }
    if (in_i >= 0 && p[in_i].revents) {
      if (in_len) flush_stdin();
      else read_stdin();
    }
    if (ctl_i >= 0 && p[ctl_i].revents) read_ctl();
    for (int i = first_stream; i < np; i++)
      if (p[i].revents)
        for (int j = 0; j < NSTREAMS; j++)
          if (streams[j].fd == p[i].fd) pump(&streams[j]);
  }
  finish_streams(50);
  write_exit(code, sig, NULL);
  /* Leftover children (reparented to us) are reaped as we go; exiting hands them to init. */
  return 0;
}
