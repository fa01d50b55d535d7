// recvtty: a console socket for tests. Listens on a unix socket, receives one
// terminal master fd (SCM_RIGHTS) as runc/pier-runtime send it with
// --console-socket, then copies everything read from the terminal to stdout
// until the terminal closes. Optional input text is written to the terminal.
//
//   usage: recvtty SOCKET_PATH [INPUT]
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: recvtty SOCKET_PATH [INPUT]\n");
    return 2;
  }
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
  unlink(argv[1]);
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0) {
    perror("recvtty: listen");
    return 1;
  }
  printf("READY\n");
  fflush(stdout);
  int c = accept(l, NULL, NULL);
  if (c < 0) {
    perror("recvtty: accept");
    return 1;
  }
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(c, &msg, 0) <= 0) {
    perror("recvtty: recvmsg");
    return 1;
  }
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "recvtty: no fd received\n");
    return 1;
  }
  int master;
  memcpy(&master, CMSG_DATA(cm), sizeof master);
  printf("GOT-TTY\n");
  fflush(stdout);
  if (argc > 2 && write(master, argv[2], strlen(argv[2])) < 0) perror("recvtty: write");
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    if (write(1, buf, (size_t)n) < 0) break;
  }
  close(master);
  unlink(argv[1]);
  return 0;
}
