// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seccomp sandbox (src/sandbox/seccomp.c): what the daemon needs keeps
 * working under the filter, what it never needs kills the process with
 * SIGSYS and a log line naming the call.  Each case runs in a forked child,
 * which installs the filter (it cannot be removed again).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <liburing.h>
#include <seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "sandbox/sandbox.h"

static char *self_exe;

/* The filter of a daemon serving with backend @be: the calls @be declares. */
#define SYSCALLS_OF(be) .backend_syscalls = (be).syscalls, .nr_backend_syscalls = (be).nr_syscalls

/* In the child: a failed check exits with the line's number, so the parent names it. */
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed at line %d: %s\n", \
					__LINE__, #cond); _exit(100); } } while (0)

struct outcome {
	int status;
	char err[4096];         /* the child's stderr */
};

/* Runs fn in a child with stderr captured; returns how the child ended. */
static void run_child(void (*fn)(void *), void *arg, struct outcome *out)
{
	int pfd[2];
	pid_t pid;
	size_t len = 0;
	ssize_t n;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(pfd[1]);
	while (len < sizeof(out->err) - 1 &&
	       (n = read(pfd[0], out->err + len, sizeof(out->err) - 1 - len)) > 0)
		len += (size_t)n;
	out->err[len] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static void expect_exit0(const struct outcome *out)
{
	if (!WIFEXITED(out->status) || WEXITSTATUS(out->status) != 0)
		fail_msg("child ended with status 0x%x, stderr: %s", out->status, out->err);
}

static void expect_sigsys(const struct outcome *out, const char *call)
{
	char want[128];

	if (!WIFSIGNALED(out->status) || WTERMSIG(out->status) != SIGSYS)
		fail_msg("child was not killed by SIGSYS (status 0x%x), stderr: %s",
			 out->status, out->err);
	snprintf(want, sizeof(want), "seccomp: forbidden system call %s (nr ", call);
	if (!strstr(out->err, want))
		fail_msg("no line naming %s in the child's stderr: %s", call, out->err);
}

static void apply(const struct sandbox_opts *o)
{
	int r = sandbox_seccomp_apply(o);

	if (r != 0) {
		fprintf(stderr, "sandbox_seccomp_apply: %s\n", strerror(-r));
		_exit(101);
	}
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* What the queue threads and the control loop do, under the io_uring filter. */
static void child_allowed(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring) };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	DIR *d;
	pthread_t t;
	void *ret;
	uint64_t v;
	int efd, pfd[2], img_fd;
	struct image img;
	char img_path[] = "/tmp/vdb-sandbox-XXXXXX";
	void *p;

	(void)arg;
	CHECK(pipe(pfd) == 0);
	img_fd = mkstemp(img_path);
	CHECK(img_fd >= 0 && ftruncate(img_fd, 1 << 20) == 0);
	unlink(img_path);
	apply(&o);
	CHECK(sandbox_seccomp_is_active());
	CHECK(write(pfd[1], "x", 1) == 1);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK(eventfd_write(efd, 3) == 0 && eventfd_read(efd, &v) == 0 && v == 3);
	CHECK(pthread_create(&t, NULL, thread_fn, &o) == 0);
	CHECK(pthread_join(t, &ret) == 0 && ret == &o);
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p, 4096, PROT_READ) == 0);
	CHECK(munmap(p, 1 << 20) == 0);
	p = malloc(64 << 20);   /* malloc's own mmap */
	CHECK(p);
	free(p);
	/* A ring as a queue makes it: setup, a read of the eventfd, submit and wait. */
	CHECK(io_uring_queue_init(8, &ring, 0) == 0);
	CHECK(io_uring_register_files(&ring, &efd, 1) == 0);
	CHECK(eventfd_write(efd, 5) == 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, 0, &v, sizeof(v), 0);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	CHECK(io_uring_submit_and_wait(&ring, 1) == 1);
	CHECK(io_uring_peek_cqe(&ring, &cqe) == 0 && cqe->res == sizeof(v) && v == 5);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	CHECK(close(efd) == 0);
	/* Reading sysfs as the vdpa job does: opendir (O_DIRECTORY), open, read. */
	d = opendir("/proc/self");
	CHECK(d && readdir(d));
	closedir(d);
	efd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	CHECK(efd >= 0 && read(efd, &v, sizeof(v)) == sizeof(v));
	close(efd);
	/* A live upgrade's new image adopts the image it is handed (fstat, fstatfs...). */
	CHECK(image_adopt(img_fd, img_path, &img) == 0 && img.size_bytes == 1 << 20);
	image_close(&img);
	/* ... and describes it again: the default serial is realpath() of a relative --image. */
	{
		char rp[PATH_MAX];

		CHECK(realpath(".", rp) != NULL);
	}
	/* Applying again (a re-exec's image) keeps the filter in place. */
	CHECK(sandbox_seccomp_apply(&o) == 1);
}

static void test_allowed_calls_work(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_allowed, NULL, &out);
	expect_exit0(&out);
}

/* The forbidden call comes from a thread that ran before the filter: TSYNC covers it. */
static int go_fd = -1;

static void *violating_thread(void *arg)
{
	uint64_t v;

	(void)arg;
	while (eventfd_read(go_fd, &v) < 0)
		;
	sandbox_test_violation();
	return NULL;
}

static void child_violation(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_aio) };
	pthread_t t;

	(void)arg;
	go_fd = eventfd(0, 0);
	CHECK(go_fd >= 0);
	CHECK(pthread_create(&t, NULL, violating_thread, NULL) == 0);
	apply(&o);
	CHECK(eventfd_write(go_fd, 1) == 0);
	pthread_join(t, NULL);
	/* The violation must not return. */
	fprintf(stderr, "sandbox_test_violation() returned\n");
	_exit(102);
}

static void test_violation_in_older_thread_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_violation, NULL, &out);
	expect_sigsys(&out, "mount");
}

/* Without the filter the trigger is harmless: mount(2) with no arguments fails. */
static void test_trigger_without_filter_fails_harmlessly(void **state)
{
	(void)state;
	assert_true(sandbox_test_violation() < 0);
}

static void child_socket_inet(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_attach = true };
	int fd;

	(void)arg;
	apply(&o);
	/* The vdpa job's socket works... */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	CHECK(fd >= 0);
	close(fd);
	/* ...a network socket does not. */
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(102);
}

static void test_network_socket_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_socket_inet, NULL, &out);
	expect_sigsys(&out, "socket");
}

static void child_netlink_without_attach(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring) };

	(void)arg;
	apply(&o);
	socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	_exit(102);
}

static void test_netlink_without_attach_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_netlink_without_attach, NULL, &out);
	expect_sigsys(&out, "socket");
}

static void child_exec_memory(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)arg;
	CHECK(p != MAP_FAILED);
	apply(&o);
	/* Even with live upgrade on: no anonymous executable memory. */
	if (arg)
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		mprotect(p, 4096, PROT_READ | PROT_EXEC);
	_exit(102);
}

static void test_executable_memory_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_exec_memory, NULL, &out);
	expect_sigsys(&out, "mprotect");
	run_child(child_exec_memory, &out, &out);
	expect_sigsys(&out, "mmap");
}

/*
 * The image: every byte of it the guest wrote.  Mapped executable it would
 * be code an attacker chose; the daemon's filter names the fds it holds
 * (image, state file, devices) and refuses that, even with live upgrade on
 * (whose loader maps its libraries executable).  A plain file still maps.
 */
static void child_exec_image(void *arg)
{
	char img_path[] = "/tmp/vdb-sandbox-XXXXXX", lib_path[] = "/tmp/vdb-sandbox-XXXXXX";
	int img_fd = mkstemp(img_path), lib_fd = mkstemp(lib_path);
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true,
				  .nr_no_exec_fds = 1, .no_exec_fds = { img_fd } };
	void *p;

	(void)arg;
	CHECK(img_fd >= 0 && ftruncate(img_fd, 4096) == 0);
	CHECK(lib_fd >= 0 && ftruncate(lib_fd, 4096) == 0);
	unlink(img_path);
	unlink(lib_path);
	apply(&o);
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, lib_fd, 0);
	CHECK(p != MAP_FAILED);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, img_fd, 0);
	CHECK(p != MAP_FAILED);
	/* The kernel reads the fd as an int: garbage above bit 31 must not get past. */
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE,
		(unsigned long)img_fd | (arg ? 1UL << 32 : 0), 0);
	fprintf(stderr, "the image was mapped executable\n");
	_exit(102);
}

static void test_executable_image_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_exec_image, NULL, &out);
	expect_sigsys(&out, "mmap");
	run_child(child_exec_image, &out, &out);
	expect_sigsys(&out, "mmap");
}

/*
 * A root daemon (no --user, as in the README's examples) under its sandbox:
 * seccomp lets openat() open files without O_CREAT, so only Landlock
 * keeps it from opening /proc/sys/kernel/core_pattern for writing (the
 * next crash of anything would run a program of its choice).  What
 * serving needs still opens.
 */
static char landlock_dir[] = "/tmp/vdb-landlock-XXXXXX";

static void child_root_opens(void *arg)
{
	char img[64], sdir[64], sfile[80], other[64];
	struct sandbox_path image = { img, SANDBOX_FS_READ | SANDBOX_FS_WRITE };
	struct sandbox_serving sv = { .backend_paths = &image, .nr_backend_paths = 1,
				      .state_dir = sdir, .exe = self_exe };
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };
	int fd;

	(void)arg;
	snprintf(img, sizeof(img), "%s/disk.img", landlock_dir);
	snprintf(sdir, sizeof(sdir), "%s/state", landlock_dir);
	snprintf(sfile, sizeof(sfile), "%s/d0.state", sdir);
	snprintf(other, sizeof(other), "%s/other", landlock_dir);
	CHECK(sandbox_landlock_serving(&sv) == 0);
	apply(&o);
	fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		fprintf(stderr, "core_pattern opened for writing\n");
		_exit(102);
	}
	CHECK(errno == EACCES);
	/* Neither anything else outside what serving needs, to read or write. */
	CHECK(open(other, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	CHECK(open("/etc/hostname", O_RDONLY | O_CLOEXEC) < 0 &&
	      (errno == EACCES || errno == ENOENT));
	/* The image, the state file, /proc to read: as before. */
	fd = open(img, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && pwrite(fd, "x", 1, 0) == 1);
	close(fd);
	fd = open(sfile, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
}

static void test_root_cannot_open_core_pattern(void **state)
{
	struct outcome out;
	char path[128], cmd[160];
	int fd;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (what a root daemon may open)\n");
		skip();
	}
	if (sandbox_landlock_abi() < 0) {
		fprintf(stderr, "skipped: this kernel has no Landlock\n");
		skip();
	}
	assert_non_null(mkdtemp(landlock_dir));
	snprintf(path, sizeof(path), "%s/state", landlock_dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/state/d0.state", landlock_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/disk.img", landlock_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && ftruncate(fd, 4096) == 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/other", landlock_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	run_child(child_root_opens, NULL, &out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", landlock_dir);
	assert_int_equal(system(cmd), 0);
	expect_exit0(&out);
}

/*
 * Record mode: a forbidden call still never runs, but fails with ENOSYS
 * instead of killing, and is named on stderr and in the record fd.
 */
static void child_record(void *arg)
{
	int pfd[2];
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true,
				  .is_recording = true };
	char sub[64], line[512];
	ssize_t n;

	CHECK(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
	snprintf(sub, sizeof(sub), "%s/sub", (const char *)arg);
	o.record_fd = pfd[1];
	apply(&o);
	CHECK(sandbox_seccomp_nr_recorded() == 0);
	errno = 0;
	CHECK(syscall(SYS_mkdir, sub, 0700) == -1 && errno == ENOSYS);
	CHECK(access(sub, F_OK) == -1 && errno == ENOENT);
	CHECK(sandbox_seccomp_nr_recorded() == 1);
	n = read(pfd[0], line, sizeof(line) - 1);
	CHECK(n > 0);
	line[n] = 0;
	CHECK(strstr(line, "seccomp: recorded forbidden system call mkdir (nr "));
	/* What is allowed is not recorded. */
	CHECK(getpid() > 0 && sandbox_seccomp_nr_recorded() == 1);
}

static void test_record_mode(void **state)
{
	char dir[] = "/tmp/vdb-sandbox-record-XXXXXX";
	struct outcome out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run_child(child_record, dir, &out);
	assert_int_equal(rmdir(dir), 0);
	expect_exit0(&out);
	assert_non_null(strstr(out.err, "recorded forbidden system call mkdir"));
}

static void child_create_file(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };

	(void)arg;
	apply(&o);
	open("/tmp/test_sandbox.must-not-exist", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	_exit(102);
}

static void test_creating_a_file_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_create_file, NULL, &out);
	expect_sigsys(&out, "openat");
	assert_int_equal(access("/tmp/test_sandbox.must-not-exist", F_OK), -1);
}

static void child_signal_other(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring) };
	pid_t parent = getppid();

	(void)arg;
	apply(&o);
	/* SIGABRT is allowed to our own threads only, not to the parent. */
	syscall(SYS_tgkill, parent, parent, SIGABRT);
	_exit(102);
}

static void test_signal_to_other_process_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_signal_other, NULL, &out);
	expect_sigsys(&out, "tgkill");
}

static void child_fork(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };

	(void)arg;
	apply(&o);
	/* A process, not a thread: glibc's fork() is clone without CLONE_THREAD. */
	syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	_exit(102);
}

static void test_fork_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_fork, NULL, &out);
	expect_sigsys(&out, "clone");
}

static void child_io_uring_refused(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_aio) };
	struct io_uring ring;

	(void)arg;
	apply(&o);
	/* The aio backend: io_uring's probe is told "unavailable", nothing dies. */
	CHECK(io_uring_queue_init(2, &ring, 0) == -ENOSYS);
}

static void test_other_backend_io_uring_refused(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_io_uring_refused, NULL, &out);
	expect_exit0(&out);
}

/* A backend that declared no system calls: no filter at all, and no guess. */
static void child_no_backend_syscalls(void *arg)
{
	struct sandbox_opts o = { .may_exec = true };

	(void)arg;
	CHECK(sandbox_seccomp_apply(&o) == -ENOENT);
	CHECK(!sandbox_seccomp_is_active());
}

static void test_backend_without_syscalls_is_refused(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_no_backend_syscalls, NULL, &out);
	expect_exit0(&out);
}

/* The calls a backend declares are allowed with it, and with it alone. */
static void child_block_ioctl(void *arg)
{
	const struct backend_ops *be = arg;
	struct sandbox_opts o = { SYSCALLS_OF(*be) };
	uint64_t bytes;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	apply(&o);
	/* An fd image's size: not a block device here, but the call is made. */
	CHECK(ioctl(fd, BLKGETSIZE64, &bytes) < 0 && errno == ENOTTY);
	fprintf(stderr, "BLKGETSIZE64 made\n");
}

static void child_tcp_socket(void *arg)
{
	const struct backend_ops *be = arg;
	struct sandbox_opts o = { SYSCALLS_OF(*be) };
	int fd;

	apply(&o);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 || errno == EAFNOSUPPORT);
	fprintf(stderr, "TCP socket made\n");
	/* Streams only: no datagrams, whatever the backend. */
	socket(AF_INET, SOCK_DGRAM, 0);
	_exit(102);
}

static void test_backend_declares_its_calls(void **state)
{
	const struct backend_ops *rbd = backend_find("rbd");
	struct outcome out;

	(void)state;
	run_child(child_block_ioctl, (void *)&backend_null, &out);
	expect_exit0(&out);
	assert_non_null(strstr(out.err, "BLKGETSIZE64 made"));
	run_child(child_tcp_socket, (void *)&backend_io_uring, &out);
	expect_sigsys(&out, "socket");
	assert_null(strstr(out.err, "TCP socket made"));
	if (!rbd) {
		fprintf(stderr, "no rbd backend in this build: its calls not checked\n");
		return;
	}
	run_child(child_block_ioctl, (void *)rbd, &out);
	expect_sigsys(&out, "ioctl");
	run_child(child_tcp_socket, (void *)rbd, &out);
	expect_sigsys(&out, "socket");
	assert_non_null(strstr(out.err, "TCP socket made"));
}

/*
 * A live upgrade: execve of a dynamically linked binary (this test) under the
 * inherited filter; the new image's loader and libc start, find the filter
 * active, keep it, and work.  The re-executed image runs exec_main().
 */
static void child_exec(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };
	char *argv[] = { self_exe, "--exec-child", NULL };

	(void)arg;
	apply(&o);
	execv(self_exe, argv);
	fprintf(stderr, "execv %s: %s\n", self_exe, strerror(errno));
	_exit(103);
}

static int exec_main(void)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring), .may_exec = true };
	pthread_t t;

	CHECK(sandbox_seccomp_is_active());
	CHECK(sandbox_seccomp_apply(&o) == 1);
	CHECK(pthread_create(&t, NULL, thread_fn, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	fprintf(stderr, "exec child: running under the inherited filter\n");
	fflush(stderr);
	/* The handler is installed again in the new image: the line still comes. */
	sandbox_test_violation();
	return 104;
}

static void test_reexec_under_filter(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_exec, NULL, &out);
	expect_sigsys(&out, "mount");
	assert_non_null(strstr(out.err, "exec child: running under the inherited filter"));
}

/*
 * The same for the real daemon binary, with every library it links: their
 * constructors run before main() installs the handler that names a refused
 * call, so a call of theirs the filter refuses kills a live upgrade without
 * a word (libselinux, pulled in through librbd's libdevmapper, statfs()s
 * /sys/fs/selinux).  --version runs them and exits.
 */
static void child_exec_daemon(void *arg)
{
	const struct backend_ops *be = arg;
	struct sandbox_opts o = { SYSCALLS_OF(*be), .may_exec = true };
	char *daemon = getenv("VDB_DAEMON");
	char *argv[] = { daemon, "--version", NULL };

	apply(&o);
	execv(daemon, argv);
	fprintf(stderr, "execv %s: %s\n", daemon, strerror(errno));
	_exit(103);
}

static void test_reexec_daemon_under_filter(void **state)
{
	static const char *const backends[] = { "io_uring", "aio", "null", "rbd" };
	struct outcome out;

	(void)state;
	if (!getenv("VDB_DAEMON"))
		skip();
#ifdef __SANITIZE_ADDRESS__
	/* ASan's runtime starts with calls of its own (not the daemon's) the filter refuses. */
	fprintf(stderr, "skipped: an ASan build of the daemon cannot start under the filter\n");
	skip();
#endif
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct backend_ops *be = backend_find(backends[i]);

		if (!be)
			continue;       /* not in this build */
		run_child(child_exec_daemon, (void *)be, &out);
		expect_exit0(&out);
	}
}

static void child_exec_forbidden(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring) };
	char *argv[] = { self_exe, "--exec-child", NULL };

	(void)arg;
	apply(&o);
	execv(self_exe, argv);
	_exit(103);
}

static void test_exec_without_upgrade_kills(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_exec_forbidden, NULL, &out);
	expect_sigsys(&out, "execve");
}

/* Seccomp_filters: in /proc/self/status: how many filters this process runs under. */
static int nr_filters(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * A service manager's filter (systemd's SystemCallFilter=: allow a list, kill
 * the rest) is active before the daemon starts.  It is not the daemon's own:
 * ours is stacked on it (one filter more), and only then is it "own".
 */
static void child_foreign_filter(void *arg)
{
	struct sandbox_opts o = { SYSCALLS_OF(backend_io_uring) };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int before;

	(void)arg;
	CHECK(!sandbox_seccomp_is_own());
	CHECK(ctx && seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kexec_load), 0) == 0);
	CHECK(seccomp_load(ctx) == 0);
	seccomp_release(ctx);
	CHECK(sandbox_seccomp_is_active());
	CHECK(!sandbox_seccomp_is_own());
	/* Without ours the probe is an ordinary failing fcntl. */
	CHECK(fcntl(-1, F_GETFD) < 0 && errno == EBADF);
	before = nr_filters();
	CHECK(before >= 1);
	CHECK(sandbox_seccomp_apply(&o) == 0);
	CHECK(sandbox_seccomp_is_own());
	CHECK(nr_filters() == before + 1);
	/* Applied again (a live upgrade's new image): kept, nothing stacked. */
	CHECK(sandbox_seccomp_apply(&o) == 1);
	CHECK(nr_filters() == before + 1);
	/* Ours is the one that answers what the foreign one allows. */
	sandbox_test_violation();
}

static void test_foreign_filter_is_not_ours(void **state)
{
	struct outcome out;

	(void)state;
	run_child(child_foreign_filter, NULL, &out);
	/* The foreign filter allows mount(2): ours refuses it and names it. */
	expect_sigsys(&out, "mount");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_calls_work),
		cmocka_unit_test(test_trigger_without_filter_fails_harmlessly),
		cmocka_unit_test(test_violation_in_older_thread_kills),
		cmocka_unit_test(test_network_socket_kills),
		cmocka_unit_test(test_netlink_without_attach_kills),
		cmocka_unit_test(test_executable_memory_kills),
		cmocka_unit_test(test_executable_image_kills),
		cmocka_unit_test(test_root_cannot_open_core_pattern),
		cmocka_unit_test(test_record_mode),
		cmocka_unit_test(test_creating_a_file_kills),
		cmocka_unit_test(test_fork_kills),
		cmocka_unit_test(test_signal_to_other_process_kills),
		cmocka_unit_test(test_other_backend_io_uring_refused),
		cmocka_unit_test(test_backend_without_syscalls_is_refused),
		cmocka_unit_test(test_backend_declares_its_calls),
		cmocka_unit_test(test_reexec_under_filter),
		cmocka_unit_test(test_exec_without_upgrade_kills),
		cmocka_unit_test(test_reexec_daemon_under_filter),
		cmocka_unit_test(test_foreign_filter_is_not_ours),
	};
	struct io_uring ring;

	if (argc == 2 && strcmp(argv[1], "--exec-child") == 0)
		return exec_main();
	self_exe = realpath("/proc/self/exe", NULL);
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
		printf("SKIP: this kernel has no seccomp (prctl PR_GET_SECCOMP: %s)\n",
		       strerror(errno));
		return 77;
	}
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) {
		printf("SKIP: this test already runs under a seccomp filter, which would "
		       "refuse what it checks\n");
		return 77;
	}
	if (io_uring_queue_init(2, &ring, 0) < 0) {
		printf("SKIP: io_uring is unavailable here; the allowlist's io_uring cases "
		       "cannot run\n");
		return 77;
	}
	io_uring_queue_exit(&ring);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
