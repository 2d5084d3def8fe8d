/*
 * recvtty: the receiving end of --console-socket, for the checkpoint test VM
 * (scripts/vm/criu-test.sh), which has no other program that can take a file
 * descriptor out of an SCM_RIGHTS message.
 *
 *   recvtty SOCKET LOG
 *
 * Listens on the Unix socket SOCKET. A runtime creating or restoring a
 * container with process.terminal connects and sends the pty master; recvtty
 * keeps every master it gets open (closing it would hang up the container's
 * terminal) and appends what the container writes to its terminal to LOG, so
 * the test can see output from before the checkpoint and after the restore.
 * It runs until killed. Built static by scripts/vm/criu-build.sh.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 64

static void die(const char *what)
{
	fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The descriptor in the first SCM_RIGHTS message on CONN, or -1. */
static int receive_fd(int conn)
{
	char name[4096];
	struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
			return fd;
		}
	}
	errno = EPROTO;
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct pollfd fds[MAX_FDS];
	int nfds = 1, listener, log, i;
	char buf[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: recvtty SOCKET LOG\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "recvtty: socket path too long\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	log = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log < 0)
		die(argv[2]);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0)
		die("socket");
	unlink(argv[1]);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die(argv[1]);
	if (listen(listener, 8) < 0)
		die("listen");

	fds[0].fd = listener;
	fds[0].events = POLLIN;
	for (;;) {
		if (poll(fds, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (fds[0].revents & POLLIN) {
			int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
			int master = conn < 0 ? -1 : receive_fd(conn);

			if (master < 0) {
				fprintf(stderr, "recvtty: no pty master received: %s\n", strerror(errno));
			} else if (nfds == MAX_FDS) {
				fprintf(stderr, "recvtty: too many terminals\n");
				close(master);
			} else {
				fds[nfds].fd = master;
				fds[nfds].events = POLLIN;
				fds[nfds].revents = 0;
				nfds++;
			}
			if (conn >= 0)
				close(conn);
		}
		for (i = 1; i < nfds; i++) {
			ssize_t n;

			if (!fds[i].revents)
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0) {
				if (write(log, buf, n) != n)
					die(argv[2]);
				continue;
			}
			/* EIO: every slave descriptor is closed (the container
			 * is gone, or was checkpointed). Forget this master. */
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			close(fds[i].fd);
			fds[i] = fds[--nfds];
			i--;
		}
	}
}
