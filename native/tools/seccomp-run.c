/*
 * seccomp-run FILTERFILE CMD [ARGS...]
 *
 * Installs the raw classic-BPF seccomp filter in FILTERFILE (an array of
 * struct sock_filter, as produced by pier's compileSeccomp) and execs CMD.
 * A test tool: it sets PR_SET_NO_NEW_PRIVS so it works without CAP_SYS_ADMIN.
 *
 * Exit status: 125 if the filter cannot be read or installed, 126/127 if CMD
 * cannot be executed (like env(1)), else CMD's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_INSNS 4096 /* BPF_MAXINSNS */

static int read_filter(const char *path, struct sock_filter *buf, size_t *count)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "seccomp-run: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t size = 0;
	const size_t cap = MAX_INSNS * sizeof(struct sock_filter);
	for (;;) {
		char extra;
		ssize_t n = size < cap ? read(fd, (char *)buf + size, cap - size) : read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "seccomp-run: read %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (size >= cap) {
			fprintf(stderr, "seccomp-run: %s: more than %d instructions\n", path, MAX_INSNS);
			close(fd);
			return -1;
		}
		size += (size_t)n;
	}
	close(fd);
	if (size == 0 || size % sizeof(struct sock_filter) != 0) {
		fprintf(stderr, "seccomp-run: %s: %zu bytes is not a whole number of sock_filter\n", path, size);
		return -1;
	}
	*count = size / sizeof(struct sock_filter);
	return 0;
}

int main(int argc, char **argv)
{
	static struct sock_filter insns[MAX_INSNS];
	size_t count = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: seccomp-run FILTERFILE CMD [ARGS...]\n");
		return 125;
	}
	if (read_filter(argv[1], insns, &count) < 0)
		return 125;

	struct sock_fprog prog = { .len = (unsigned short)count, .filter = insns };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "seccomp-run: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
		return 125;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		fprintf(stderr, "seccomp-run: PR_SET_SECCOMP: %s\n", strerror(errno));
		return 125;
	}
	execvp(argv[2], argv + 2);
	/* The filter is in force now: the message may itself be refused, the status is not. */
	int err = errno;
	fprintf(stderr, "seccomp-run: exec %s: %s\n", argv[2], strerror(err));
	return err == ENOENT ? 127 : 126;
}
