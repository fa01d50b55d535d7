/*
 * pier-fsops: executes file-system operations that Node cannot make itself
 * (mknod, xattrs, mount/umount, the new mount API). TypeScript decides every
 * operation; this program only executes them, one reply line per request.
 *
 * Usage: pier-fsops [--root DIR]
 *
 * Requests arrive on stdin as NUL-terminated fields; the first field names the
 * operation, which fixes how many fields follow:
 *
 *   mknod     PATH MODE MAJOR MINOR      mode includes the S_IFMT bits (decimal)
 *   setxattr  PATH NAME HEXVALUE         never follows a final symlink
 *   getxattrs PATH                       -> "ok HEXNAME=HEXVALUE ..."
 *   mount     CWD SOURCE TARGET FSTYPE FLAGS DATA
 *                                        CWD "" = stay; else chdir there first so
 *                                        DATA may use short relative paths
 *   fsmount   CWD FSTYPE TARGET ATTRS N (KEY VALUE)*N
 *                                        fsopen/fsconfig/fsmount/move_mount; an
 *                                        empty VALUE sets a flag; ATTRS = MOUNT_ATTR_*
 *   umount    TARGET FLAGS
 *
 * Each request gets one line on stdout: "ok[ PAYLOAD]" or "err ERRNO message".
 * With --root, PATHs of mknod/setxattr/getxattrs are relative to DIR and their
 * parent directory is resolved with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS):
 * the kernel itself refuses any path that would leave DIR or cross a symlink,
 * whatever TypeScript checked before.
 *
 * Exit status: 0 when the input ended cleanly (individual failures are reported
 * per line), 2 on a malformed request stream.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_FIELDS 2100
#define XATTR_MAX 65536
#define XATTR_LIST_MAX 65536

static int root_fd = -1;
static int start_cwd_fd = -1;

static char *fields[MAX_FIELDS];
static size_t nfields;

static void reply_err(int err, const char *what) {
  const char *name = strerrorname_np(err);
  printf("err %s %s: %s\n", name ? name : "EUNKNOWN", what, strerror(err));
  fflush(stdout);
}

static void reply_ok(const char *payload) {
  if (payload && *payload)
    printf("ok %s\n", payload);
  else
    printf("ok\n");
  fflush(stdout);
}

/* Reads one NUL-terminated field; returns NULL at a clean end of input. */
static char *read_field(int *eof) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&line, &cap, '\0', stdin);
  if (n < 0) {
    free(line);
    *eof = 1;
    return NULL;
  }
  if (n == 0 || line[n - 1] != '\0') { /* truncated last field */
    free(line);
    *eof = 2;
    return NULL;
  }
  return line;
}

static int parse_ull(const char *s, unsigned long long *out) {
  char *end;
  if (!*s) return -1;
  errno = 0;
  *out = strtoull(s, &end, 10);
  return (errno || *end) ? -1 : 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static ssize_t unhex(const char *s, unsigned char *out, size_t cap) {
  size_t len = strlen(s);
  if (len % 2 || len / 2 > cap) return -1;
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return (ssize_t)(len / 2);
}

static void puthex(const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    putchar(digits[p[i] >> 4]);
    putchar(digits[p[i] & 15]);
  }
}

/*
 * Opens the parent directory of PATH and returns its fd (O_PATH) and the last
 * component in *base. Without --root, PATH is used as given.
 */
static int open_parent(const char *path, const char **base) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (slash) {
    *base = slash + 1;
    dir = strndup(path, (size_t)(slash - path));
    if (!dir) return -1;
    if (!*dir) { /* "/name" */
      free(dir);
      dir = strdup("/");
      if (!dir) return -1;
    }
  } else {
    *base = path;
    dir = strdup(".");
    if (!dir) return -1;
  }
  if (!**base || strcmp(*base, "..") == 0) {
    free(dir);
    errno = EINVAL;
    return -1;
  }
  int fd;
  if (root_fd >= 0) {
    if (path[0] == '/') {
      free(dir);
      errno = EXDEV;
      return -1;
    }
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    fd = (int)syscall(SYS_openat2, root_fd, dir, &how, sizeof how);
  } else {
    fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  int saved = errno;
  free(dir);
  errno = saved;
  return fd;
}

static void op_mknod(void) {
  unsigned long long mode, major, minor;
  if (parse_ull(fields[2], &mode) || parse_ull(fields[3], &major) || parse_ull(fields[4], &minor)) {
    reply_err(EINVAL, "mknod: bad number");
    return;
  }
  const char *base;
  int pfd = open_parent(fields[1], &base);
  if (pfd < 0) {
    reply_err(errno, "mknod: open parent");
    return;
  }
  int r = mknodat(pfd, base, (mode_t)mode, makedev((unsigned)major, (unsigned)minor));
  int saved = errno;
  close(pfd);
  if (r < 0)
    reply_err(saved, "mknod");
  else
    reply_ok(NULL);
}

static void op_setxattr(void) {
  static unsigned char value[XATTR_MAX];
  ssize_t n = unhex(fields[3], value, sizeof value);
  if (n < 0) {
    reply_err(EINVAL, "setxattr: bad hex value");
    return;
  }
  const char *base;
  int pfd = open_parent(fields[1], &base);
  if (pfd < 0) {
    reply_err(errno, "setxattr: open parent");
    return;
  }
  /* lsetxattr on the last component, relative to the verified parent. */
  int r = fchdir(pfd);
  if (r == 0) r = lsetxattr(base, fields[2], value, (size_t)n, 0);
  int saved = errno;
  close(pfd);
  if (r < 0)
    reply_err(saved, "setxattr");
  else
    reply_ok(NULL);
}

static void op_getxattrs(void) {
  static char names[XATTR_LIST_MAX];
  static unsigned char value[XATTR_MAX];
  const char *base;
  int pfd = open_parent(fields[1], &base);
  if (pfd < 0) {
    reply_err(errno, "getxattrs: open parent");
    return;
  }
  if (fchdir(pfd) < 0) {
    reply_err(errno, "getxattrs: fchdir");
    close(pfd);
    return;
  }
  close(pfd);
  ssize_t len = llistxattr(base, names, sizeof names);
  if (len < 0) {
    if (errno == ENOTSUP) {
      reply_ok(NULL);
      return;
    }
    reply_err(errno, "getxattrs: list");
    return;
  }
  /* Read every value before printing so that a failure yields one clean line. */
  printf("ok");
  for (ssize_t off = 0; off < len;) {
    const char *name = names + off;
    size_t nl = strlen(name);
    off += (ssize_t)nl + 1;
    ssize_t vl = lgetxattr(base, name, value, sizeof value);
    if (vl < 0) {
      if (errno == ENODATA) continue; /* removed meanwhile */
      vl = 0;
    }
    putchar(' ');
    puthex((const unsigned char *)name, nl);
    putchar('=');
    puthex(value, (size_t)vl);
  }
  putchar('\n');
  fflush(stdout);
}

static int enter_cwd(const char *cwd) {
  if (!*cwd) return 0;
  return chdir(cwd);
}

static void leave_cwd(void) {
  if (fchdir(start_cwd_fd) < 0) {
    perror("pier-fsops: fchdir back");
    exit(3);
  }
}

static void op_mount(void) {
  unsigned long long flags;
  if (parse_ull(fields[5], &flags)) {
    reply_err(EINVAL, "mount: bad flags");
    return;
  }
  if (enter_cwd(fields[1]) < 0) {
    reply_err(errno, "mount: chdir");
    return;
  }
  const char *src = *fields[2] ? fields[2] : NULL;
  const char *fstype = *fields[4] ? fields[4] : NULL;
  const char *data = *fields[6] ? fields[6] : NULL;
  int r = mount(src, fields[3], fstype, (unsigned long)flags, data);
  int saved = errno;
  leave_cwd();
  if (r < 0)
    reply_err(saved, "mount");
  else
    reply_ok(NULL);
}

/* The new mount API: no page-size limit on options, and overlay takes one "lowerdir+" per layer. */
static void op_fsmount(size_t nparams) {
  unsigned long long attrs;
  if (parse_ull(fields[4], &attrs)) {
    reply_err(EINVAL, "fsmount: bad attrs");
    return;
  }
  if (enter_cwd(fields[1]) < 0) {
    reply_err(errno, "fsmount: chdir");
    return;
  }
  int fsfd = -1, mfd = -1, err = 0;
  const char *what = "fsopen";
  fsfd = (int)syscall(SYS_fsopen, fields[2], FSOPEN_CLOEXEC);
  if (fsfd < 0) goto fail;
  for (size_t i = 0; i < nparams; i++) {
    const char *key = fields[6 + 2 * i], *val = fields[7 + 2 * i];
    what = key;
    long r = *val ? syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, val, 0)
                  : syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
    if (r < 0) goto fail;
  }
  what = "fsconfig create";
  if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) goto fail;
  what = "fsmount";
  mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, (unsigned)attrs);
  if (mfd < 0) goto fail;
  what = "move_mount";
  if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, fields[3], MOVE_MOUNT_F_EMPTY_PATH) < 0) goto fail;
  close(mfd);
  close(fsfd);
  leave_cwd();
  reply_ok(NULL);
  return;
fail:
  err = errno;
  if (mfd >= 0) close(mfd);
  if (fsfd >= 0) close(fsfd);
  leave_cwd();
  reply_err(err, what);
}

static void op_umount(void) {
  unsigned long long flags;
  if (parse_ull(fields[2], &flags)) {
    reply_err(EINVAL, "umount: bad flags");
    return;
  }
  if (umount2(fields[1], (int)flags) < 0)
    reply_err(errno, "umount");
  else
    reply_ok(NULL);
}

static void free_fields(void) {
  for (size_t i = 0; i < nfields; i++) free(fields[i]);
  nfields = 0;
}

/* Reads `n` more fields into `fields`; returns 0, or -1 on a malformed stream. */
static int read_more(size_t n) {
  if (nfields + n > MAX_FIELDS) return -1;
  for (size_t i = 0; i < n; i++) {
    int eof = 0;
    char *f = read_field(&eof);
    if (!f) return -1;
    fields[nfields++] = f;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--root") == 0) {
    root_fd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
      fprintf(stderr, "pier-fsops: open root %s: %s\n", argv[2], strerror(errno));
      return 2;
    }
  } else if (argc != 1) {
    fprintf(stderr, "usage: pier-fsops [--root DIR] < requests\n");
    return 2;
  }
  start_cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (start_cwd_fd < 0) {
    perror("pier-fsops: open cwd");
    return 2;
  }
  for (;;) {
    int eof = 0;
    char *op = read_field(&eof);
    if (!op) {
      if (eof == 1) return 0;
      fprintf(stderr, "pier-fsops: truncated request\n");
      return 2;
    }
    fields[0] = op;
    nfields = 1;
    int bad = 0;
    if (strcmp(op, "mknod") == 0) {
      if (!(bad = read_more(4))) op_mknod();
    } else if (strcmp(op, "setxattr") == 0) {
      if (!(bad = read_more(3))) op_setxattr();
    } else if (strcmp(op, "getxattrs") == 0) {
      if (!(bad = read_more(1))) op_getxattrs();
    } else if (strcmp(op, "mount") == 0) {
      if (!(bad = read_more(6))) op_mount();
    } else if (strcmp(op, "fsmount") == 0) {
      unsigned long long n = 0;
      bad = read_more(5);
      if (!bad && (parse_ull(fields[5], &n) || n > (MAX_FIELDS - 6) / 2)) bad = -1;
      if (!bad) bad = read_more((size_t)n * 2);
      if (!bad) op_fsmount((size_t)n);
    } else if (strcmp(op, "umount") == 0) {
      if (!(bad = read_more(2))) op_umount();
    } else {
      fprintf(stderr, "pier-fsops: unknown operation %s\n", op);
      free_fields();
      return 2;
    }
    free_fields();
    if (bad) {
      fprintf(stderr, "pier-fsops: malformed request\n");
      return 2;
    }
  }
}
