// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seccomp allowlist (see sandbox.h).  One table below says which system
 * call each part of the daemon needs after setup; nothing else runs.
 *
 * The list was measured, not only read: strace -f of the harness (queue
 * threads on io_uring and libaio), of the unit test, and the guest suites
 * run with the filter on (tests/vm), including a live upgrade's re-exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/vduse.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/syscalls.h"
#include "util.h"

/*
 * Which part of the daemon needs a rule: a rule applies when its group is
 * on.  The backend's own calls are not here: it declares them in its ops
 * (sandbox_opts.backend_syscalls).
 */
enum {
	G_CORE = 1 << 0,        /* always: control loop, queue threads, teardown */
	G_EXEC = 1 << 1,        /* live upgrade: execve and the new image's startup */
	G_ATTACH = 1 << 2,      /* vdpa netlink and sysfs (attach, detach) */
	G_NOTIFY = 1 << 3,      /* sd_notify over an AF_UNIX datagram socket */
	G_SANITIZER = 1 << 4,   /* a build with ASan or TSan: their runtime's own calls */
	/* Refused (an errno, not a kill) unless the backend declares the call. */
	G_UNLESS_BACKEND = 1 << 5,
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAS_SANITIZER 1
#endif
#endif

struct rule {
	unsigned int groups;
	struct sandbox_syscall sc;
};

#define ALLOW(g, name) { (g), SANDBOX_ALLOW(name) }
#define ALLOW_IF(g, name, ...) { (g), SANDBOX_ALLOW_IF(name, __VA_ARGS__) }
#define REFUSE(g, name, err) { (g), SANDBOX_REFUSE(name, err) }
#define REFUSE_IF(g, name, ...) { (g), SANDBOX_REFUSE_IF(name, __VA_ARGS__) }
#define EQ SANDBOX_EQ
#define EQ32 SANDBOX_EQ32
#define HAS_NONE SANDBOX_HAS_NONE
#define HAS_EXACTLY SANDBOX_HAS_EXACTLY

/* The marker: fcntl(-1, SECCOMP_MARKER_CMD) fails with this errno under our filter only. */
#define SECCOMP_MARKER_CMD 0x76646200      /* "vdb\0" */
#define SECCOMP_MARKER_ERRNO 4000          /* past every errno the kernel has */

/* O_TMPFILE without the O_DIRECTORY that glibc's O_TMPFILE includes (opendir needs that). */
#define O_TMPFILE_BIT 020000000

/* clone(2) flags that make a new namespace or a process rather than a thread. */
#define CLONE_THREAD_MASK (CLONE_THREAD | CLONE_VM | CLONE_NEWNS | CLONE_NEWCGROUP |        \
			   CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |        \
			   CLONE_NEWNET | CLONE_PTRACE | CLONE_UNTRACED)

static const struct rule rules[] = {
	/*
	 * Threads and memory: glibc's pthread_create() (queue threads at
	 * DRIVER_OK, the vdpa job), malloc, thread exit.  clone3 passes its
	 * flags in memory seccomp cannot read: refuse it with ENOSYS, glibc then
	 * falls back to clone, whose flags must make a thread in our namespaces.
	 */
	ALLOW_IF(G_CORE, clone, 1, HAS_EXACTLY(0, CLONE_THREAD_MASK, CLONE_THREAD | CLONE_VM)),
	REFUSE(G_CORE, clone3, ENOSYS),
	ALLOW(G_CORE, set_robust_list),
	ALLOW(G_CORE, rseq),
	ALLOW(G_CORE, futex),
	ALLOW(G_CORE, exit),
	ALLOW(G_CORE, exit_group),
	ALLOW(G_CORE, sched_yield),
	ALLOW(G_CORE, sched_getaffinity),
	ALLOW(G_CORE, brk),
	ALLOW(G_CORE, munmap),
	ALLOW(G_CORE, mremap),
	ALLOW(G_CORE, madvise),
	/*
	 * No new executable memory: mprotect never adds PROT_EXEC, mmap only a
	 * file's (with live upgrade), and never one of the daemon's data fds
	 * (load_no_exec_filter()).
	 */
	ALLOW_IF(G_CORE, mprotect, 1, HAS_NONE(2, PROT_EXEC)),
	ALLOW_IF(G_CORE, mmap, 1, HAS_NONE(2, PROT_EXEC)),
	/* Thread names (pthread_setname_np on itself); the re-exec asks whether it is filtered. */
	ALLOW_IF(G_CORE, prctl, 1, EQ32(0, PR_SET_NAME)),
	ALLOW_IF(G_CORE, prctl, 1, EQ32(0, PR_GET_SECCOMP)),
	/* Each queue thread sets no_new_privs for itself (it can only take privileges away). */
	ALLOW_IF(G_CORE, prctl, 1, EQ32(0, PR_SET_NO_NEW_PRIVS)),
	/* Reading a limit (glibc reads RLIMIT_STACK, liburing RLIMIT_NOFILE), never setting one. */
	ALLOW_IF(G_CORE, prlimit64, 2, EQ(0, 0), EQ(2, 0)),
	ALLOW(G_CORE, getpid),
	ALLOW(G_CORE, gettid),

	/* Signals: the control loop's signalfd, the SIGSYS handler of this file re-raising. */
	ALLOW(G_CORE, rt_sigprocmask),
	ALLOW(G_CORE, rt_sigaction),
	ALLOW(G_CORE, rt_sigreturn),
	ALLOW(G_CORE, restart_syscall),
	ALLOW(G_CORE, signalfd4),
	/* To this process only (its pid, kept across a re-exec): see add_rule(). */
	ALLOW_IF(G_CORE, tgkill, 1, EQ32(2, SIGSYS)),
	ALLOW_IF(G_CORE, tgkill, 1, EQ32(2, SIGABRT)),   /* abort() */

	/* Time: log rate limits, the heartbeat, waits for queues and the vdpa job. */
	ALLOW(G_CORE, clock_gettime),
	ALLOW(G_CORE, gettimeofday),
	ALLOW(G_CORE, nanosleep),
	ALLOW(G_CORE, clock_nanosleep),

	/*
	 * I/O on fds the daemon holds: /dev/vduse/NAME messages, eventfds (kick,
	 * done, quiet, the job's), the signalfd, the image (reads and writes,
	 * flushes; what only an fd image needs, fallocate and the block device's
	 * ioctls, its backends declare), logs to stderr, the state file.
	 */
	ALLOW(G_CORE, read),
	ALLOW(G_CORE, write),
	ALLOW(G_CORE, readv),
	ALLOW(G_CORE, writev),
	ALLOW(G_CORE, pread64),
	ALLOW(G_CORE, pwrite64),
	ALLOW(G_CORE, preadv),
	ALLOW(G_CORE, pwritev),
	ALLOW(G_CORE, preadv2),
	ALLOW(G_CORE, pwritev2),
	ALLOW(G_CORE, lseek),
	ALLOW(G_CORE, fdatasync),
	ALLOW(G_CORE, fsync),
	ALLOW(G_CORE, eventfd2),
	ALLOW(G_CORE, poll),
	ALLOW(G_CORE, ppoll),
	ALLOW(G_CORE, close),
	ALLOW(G_CORE, fstat),
	ALLOW(G_CORE, newfstatat),
	ALLOW(G_CORE, statx),
	ALLOW_IF(G_CORE, fcntl, 1, EQ32(1, F_GETFD)),
	ALLOW_IF(G_CORE, fcntl, 1, EQ32(1, F_SETFD)),
	ALLOW_IF(G_CORE, fcntl, 1, EQ32(1, F_GETFL)),
	/*
	 * The marker of this filter (sandbox_seccomp_is_own()): a command no
	 * fcntl knows, answered with an errno no system call returns.  Without
	 * this filter the call fails with EBADF; a service manager's filter
	 * (systemd's SystemCallFilter=) allows fcntl or kills, never this.
	 */
	REFUSE_IF(G_CORE, fcntl, SECCOMP_MARKER_ERRNO, 1, EQ32(1, SECCOMP_MARKER_CMD)),
	/*
	 * Opening files: teardown opens /dev/vduse/control, attaching reads and
	 * writes sysfs, a re-exec opens its libraries, the image, boot_id.  No
	 * file is created after setup (the state file exists and is handed over).
	 */
	ALLOW_IF(G_CORE, openat, 1, HAS_NONE(2, O_CREAT | O_TMPFILE_BIT)),
	ALLOW(G_CORE, readlink),
	/* A live upgrade's new image describes the device again: realpath() of a relative --image. */
	ALLOW(G_CORE, getcwd),
	ALLOW(G_CORE, getdents64),
	/* Teardown removes the state file of a device it destroyed, and the control socket. */
	ALLOW(G_CORE, unlink),
	/*
	 * The control socket (src/ctl/): clients of the listening socket made
	 * before the filter, replies sent without SIGPIPE; a resize grows the
	 * image file (and a re-exec's new image sizes its state file).
	 */
	ALLOW(G_CORE, accept4),
	ALLOW(G_CORE, sendto),
	ALLOW(G_CORE, ftruncate),

	/*
	 * ioctl by request number, whatever the fd: VDUSE on /dev/vduse/NAME
	 * and control, TCGETS from stdio.
	 */
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_VQ_INJECT_IRQ)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_IOTLB_GET_FD)),
	/* --direct: the bounce buffer in our own memory (umem.c) */
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_IOTLB_GET_INFO)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_IOTLB_REG_UMEM)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_IOTLB_DEREG_UMEM)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_VQ_SETUP_KICKFD)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_VQ_GET_INFO)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_DEV_GET_FEATURES)),
	/* A resize: the new capacity in the config space, then the driver told. */
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_DEV_SET_CONFIG)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_DEV_INJECT_CONFIG_IRQ)),
	/* Teardown: /dev/vduse/control, opened (API version set again) to destroy. */
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_GET_API_VERSION)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_SET_API_VERSION)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, VDUSE_DESTROY_DEV)),
	ALLOW_IF(G_CORE, ioctl, 1, EQ32(1, TCGETS)),

	/*
	 * A backend other than io_uring: a re-exec's probe (choose_backend())
	 * learns that io_uring is unavailable, instead of dying of it.
	 */
	REFUSE(G_UNLESS_BACKEND, io_uring_setup, ENOSYS),

	/*
	 * Live upgrade: execve of the installed binary (the pid and this filter
	 * stay), then the new image's dynamic loader and setup up to the point
	 * it would apply the sandbox itself: executable mappings of its files,
	 * its TLS, flock of the handed-over state file.
	 */
	ALLOW(G_EXEC, execve),
	ALLOW_IF(G_EXEC, mmap, 1, HAS_NONE(3, MAP_ANONYMOUS)),
	ALLOW(G_EXEC, arch_prctl),
	ALLOW(G_EXEC, set_tid_address),
	ALLOW(G_EXEC, access),
	ALLOW(G_EXEC, faccessat2),
	ALLOW(G_EXEC, getrandom),
	ALLOW(G_EXEC, uname),
	/*
	 * Library constructors, before main() can name a refused call:
	 * libselinux (through librbd's libdevmapper) statfs()s /sys/fs/selinux.
	 */
	ALLOW(G_EXEC, statfs),
	/* The new image adopts the image's fd: image_adopt() asks its file system (tmpfs?). */
	ALLOW(G_EXEC, fstatfs),
	ALLOW(G_EXEC, flock),

	ALLOW(G_EXEC, getuid),
	ALLOW(G_EXEC, geteuid),
	ALLOW(G_EXEC, getgid),
	ALLOW(G_EXEC, getegid),

	/*
	 * vdpa attach and detach: generic netlink ("vdpa" family) through libnl,
	 * sysfs reads and writes through openat (above).
	 */
	ALLOW_IF(G_ATTACH, socket, 2, EQ32(0, AF_NETLINK), EQ32(2, NETLINK_GENERIC)),
	ALLOW(G_ATTACH, bind),
	ALLOW(G_ATTACH, getsockname),
	ALLOW(G_ATTACH, setsockopt),
	ALLOW(G_ATTACH, getsockopt),
	ALLOW(G_ATTACH, sendmsg),
	ALLOW(G_ATTACH, recvmsg),
	ALLOW(G_ATTACH, sendto),
	ALLOW(G_ATTACH, recvfrom),

	/*
	 * Sanitizer runtimes (test builds): raw open(2) at a re-exec's start
	 * (TSan creates its /tmp/tsan.rodata.PID), an alternate signal stack per thread, no core dumps (RLIMIT_CORE).
	 */
	ALLOW_IF(G_SANITIZER, prlimit64, 2, EQ(0, 0), EQ32(1, RLIMIT_CORE)),
	ALLOW(G_SANITIZER, open),
	ALLOW(G_SANITIZER, sigaltstack),
	/* ASan asks at a thread's start (librbd's threads, made after the filter). */
	ALLOW_IF(G_SANITIZER, prctl, 1, EQ32(0, PR_GET_DUMPABLE)),

	/* sd_notify(): READY=1, RELOADING=1 to $NOTIFY_SOCKET. */
	ALLOW_IF(G_NOTIFY, socket, 1, EQ32(0, AF_UNIX)),
	ALLOW(G_NOTIFY, connect),
	ALLOW(G_NOTIFY, sendmsg),
	ALLOW(G_NOTIFY, sendto),
};

/*
 * Names of the calls for the SIGSYS handler, resolved when the filter is
 * installed: the handler may run in any thread at any instruction, where
 * malloc (which libseccomp's resolver uses) is not safe.
 */
#define MAX_NAMED_NR 512
static char *syscall_names[MAX_NAMED_NR];

/*
 * Record mode (sandbox_opts.is_recording): the handler's state, set before the
 * filter.  Atomic: threads that each install a filter (tests) set it alike.
 */
static int is_recording;
static int record_fd = -1;
static unsigned long nr_recorded;        /* atomic */

static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	while (*s && pos < cap)
		buf[pos++] = *s++;
	return pos;
}

static size_t put_uint(char *buf, size_t pos, size_t cap, unsigned long v, unsigned int base)
{
	char digits[24];
	size_t n = 0;

	if (base == 16)
		pos = put_str(buf, pos, cap, "0x");
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && pos < cap)
		buf[pos++] = digits[--n];
	return pos;
}

/*
 * Async-signal-safe: builds the line by hand, one write(2), then dies of
 * SIGSYS; in record mode the call fails with ENOSYS instead, and the line
 * goes to the record fd too.
 */
static void on_sigsys(int sig, siginfo_t *si, void *ucontext)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int saved_errno = errno;
	char line[240];
	size_t n = 0, cap = sizeof(line) - 1;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < MAX_NAMED_NR && syscall_names[nr] ?
		syscall_names[nr] : "(unknown)";
#ifdef __x86_64__
	bool is_record = __atomic_load_n(&is_recording, __ATOMIC_RELAXED);
	int rec_fd = __atomic_load_n(&record_fd, __ATOMIC_RELAXED);
#else
	bool is_record = false;   /* where the return register is, is known for x86-64 only */
#endif

	n = put_str(line, n, cap, is_record ?
		    "vduse-blkd: warning: seccomp: recorded forbidden system call " :
		    "vduse-blkd: error: seccomp: forbidden system call ");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, " (nr ");
	n = put_uint(line, n, cap, (unsigned long)(unsigned int)nr, 10);
#ifdef __x86_64__
	/* The first three arguments say which ioctl, socket family, flags. */
	{
		const ucontext_t *uc = ucontext;
		static const int regs[] = { REG_RDI, REG_RSI, REG_RDX };

		n = put_str(line, n, cap, ", args");
		for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
			n = put_str(line, n, cap, " ");
			n = put_uint(line, n, cap, (unsigned long)uc->uc_mcontext.gregs[regs[i]], 16);
		}
	}
#endif
	n = put_str(line, n, cap, ", thread ");
	n = put_uint(line, n, cap, (unsigned long)syscall(SYS_gettid), 10);
	n = put_str(line, n, cap, is_record ? "); it fails with ENOSYS" : "); exiting");
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
#ifdef __x86_64__
	if (is_record) {
		ucontext_t *uc = ucontext;

		if (rec_fd >= 0)
			(void)!write(rec_fd, line, n);
		__atomic_add_fetch(&nr_recorded, 1, __ATOMIC_RELAXED);
		/* The kernel skipped the call: its result is what the handler leaves in rax. */
		uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
		errno = saved_errno;
		return;
	}
#endif
	/* Blocked while this handler runs: delivered, with the default action, as it returns. */
	sigaction(sig, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
	errno = saved_errno;
}

static void resolve_names_once(void)
{
	for (int nr = 0; nr < MAX_NAMED_NR; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

/* Once per process: threads that each install a filter of their own may race here. */
static void resolve_names(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, resolve_names_once);
}

static unsigned int groups_of(const struct sandbox_opts *o)
{
	unsigned int g = G_CORE | G_UNLESS_BACKEND;

	if (o->may_exec)
		g |= G_EXEC;
	if (o->may_attach)
		g |= G_ATTACH;
	if (o->may_notify)
		g |= G_NOTIFY;
#ifdef HAS_SANITIZER
	g |= G_SANITIZER;
#endif
	return g;
}

static int add_rule(scmp_filter_ctx ctx, struct sandbox_syscall sc)
{
	/* Signals go to our own threads: tgkill's tgid is this pid. */
	if (sc.nr == SCMP_SYS(tgkill) && sc.nr_args < SANDBOX_MAX_ARGS)
		sc.args[sc.nr_args++] = (struct scmp_arg_cmp)EQ32(0, getpid());
	return seccomp_rule_add_array(ctx, sc.action, sc.nr, sc.nr_args, sc.args);
}

static bool backend_declares(const struct sandbox_opts *o, int nr)
{
	for (unsigned int i = 0; i < o->nr_backend_syscalls; i++)
		if (o->backend_syscalls[i].nr == nr)
			return true;
	return false;
}

/* The backend's calls, then those of the parts @o says are on. */
static int add_rules(scmp_filter_ctx ctx, const struct sandbox_opts *o)
{
	unsigned int groups = groups_of(o);
	int r;

	for (unsigned int i = 0; i < o->nr_backend_syscalls; i++) {
		r = add_rule(ctx, o->backend_syscalls[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		if (!(rules[i].groups & groups))
			continue;
		if (rules[i].groups == G_UNLESS_BACKEND && backend_declares(o, rules[i].sc.nr))
			continue;
		r = add_rule(ctx, rules[i].sc);
		if (r < 0)
			return r;
	}
	return 0;
}

bool sandbox_seccomp_is_active(void)
{
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2;
}

/* The attributes both filters share: no other ABI, no_new_privs, every thread. */
static int set_attrs(scmp_filter_ctx ctx, const struct sandbox_opts *o)
{
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);

	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r == 0 && !o->is_this_thread_only)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	return r;
}

unsigned long sandbox_seccomp_nr_recorded(void)
{
	return __atomic_load_n(&nr_recorded, __ATOMIC_RELAXED);
}

/*
 * A second filter, loaded before the allowlist (which refuses seccomp(2)):
 * it allows everything but mapping one of the daemon's data fds
 * executable.  The allowlist must let a live upgrade's loader map its
 * libraries so, and one filter's rules cannot say "any fd but these" (only
 * one comparison per argument); a stack of two can, since the strictest
 * action of all filters wins.  The fd is compared as the kernel reads it,
 * the low 32 bits.
 */
static int load_no_exec_filter(const struct sandbox_opts *o)
{
	scmp_filter_ctx ctx;
	int r;

	if (!o->nr_no_exec_fds)
		return 0;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	r = set_attrs(ctx, o);
	for (unsigned int i = 0; r == 0 && i < o->nr_no_exec_fds && i < SANDBOX_MAX_NO_EXEC_FDS;
	     i++) {
		if (o->no_exec_fds[i] < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(mmap), 2,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC),
				     SCMP_A4(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					     (scmp_datum_t)(uint32_t)o->no_exec_fds[i]));
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r > 0 ? -r : r;
}

bool sandbox_seccomp_is_own(void)
{
	int saved_errno = errno;
	bool is_own = fcntl(-1, SECCOMP_MARKER_CMD, 0) < 0 && errno == SECCOMP_MARKER_ERRNO;

	errno = saved_errno;
	return is_own;
}

int sandbox_seccomp_catch_sigsys(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	resolve_names();
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

int sandbox_seccomp_apply(const struct sandbox_opts *o)
{
	scmp_filter_ctx ctx;
	int r;

	r = sandbox_seccomp_catch_sigsys();
	if (r < 0)
		return r;
	__atomic_store_n(&record_fd, o->is_recording && o->record_fd > STDERR_FILENO ?
			 o->record_fd : -1, __ATOMIC_RELAXED);
	__atomic_store_n(&is_recording, o->is_recording, __ATOMIC_RELAXED);
	/*
	 * Ours already (a live upgrade's new image): keep it.  A filter of anybody
	 * else (systemd's SystemCallFilter=) is not ours: stack ours on it.
	 */
	if (!o->is_this_thread_only && sandbox_seccomp_is_own())
		return 1;
	/* A backend that declared nothing cannot be told from one that forgot. */
	if (!o->backend_syscalls)
		return -ENOENT;
	r = load_no_exec_filter(o);
	if (r < 0)
		return r;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	r = set_attrs(ctx, o);
	/*
	 * No SCMP_FLTATR_CTL_LOG: it would audit-log every refusal, including the
	 * clone3 ENOSYS of each thread created, not only the violations.
	 */
	if (r == 0)
		r = add_rules(ctx, o);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r > 0 ? -r : r;
}

#ifdef VDB_TEST_HOOKS
int sandbox_test_violation(void)
{
	return syscall(SYS_mount, NULL, NULL, NULL, 0, NULL) < 0 ? -errno : 0;
}
#endif
