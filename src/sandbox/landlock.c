// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Landlock: the file system a serving daemon may still open (see
 * sandbox.h).  seccomp says which system calls run; it cannot read a path,
 * so a root daemon under it could still open /proc/sys/kernel/core_pattern
 * for writing.  Landlock takes every file system right away but on the
 * hierarchies the caller names.
 *
 * Only the rights of file system access are handled (the kernel's ABI 1 to
 * 3: execute, read, write, list, remove, make, refer, truncate): sockets,
 * ioctls and signals are seccomp's.  A domain covers the thread that makes
 * it and every thread and process it starts, across execve; threads that
 * run already keep what they had (the caller restarts the queues).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#define FS_ABI1 (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |               \
		 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |                \
		 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |           \
		 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |               \
		 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |               \
		 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |             \
		 LANDLOCK_ACCESS_FS_MAKE_SYM)

/* What a right of this module means in Landlock's terms. */
static uint64_t fs_access(unsigned int rights)
{
	uint64_t a = 0;

	if (rights & SANDBOX_FS_READ)
		a |= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	if (rights & SANDBOX_FS_WRITE)
		a |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	if (rights & SANDBOX_FS_EXEC)
		a |= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE;
	if (rights & SANDBOX_FS_REMOVE)
		a |= LANDLOCK_ACCESS_FS_REMOVE_FILE;
	return a;
}

int sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

/* The parent directory of @path into @buf (for a file a library reads beside). */
static const char *dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	size_t len = slash == path ? 1 : (size_t)(slash - path);   /* "/x": "/" */

	if (!slash || len >= size)
		return NULL;
	memcpy(buf, path, len);
	buf[len] = 0;
	return buf;
}

/* One hierarchy; a file's rule may hold only a file's rights. */
static int add_path(int ruleset, const struct sandbox_path *p, uint64_t handled)
{
	struct landlock_path_beneath_attr attr = { .allowed_access = fs_access(p->rights) };
	_cleanup_close_ int fd = open(p->path, O_PATH | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;   /* nothing to allow */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		attr.allowed_access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				       LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	attr.allowed_access &= handled;
	attr.parent_fd = fd;
	if (!attr.allowed_access)
		return 0;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
		return -errno;
	return 0;
}

int sandbox_landlock_apply(const struct sandbox_path *paths, unsigned int nr)
{
	struct landlock_ruleset_attr rs = { .handled_access_fs = FS_ABI1 };
	_cleanup_close_ int ruleset = -1;
	int abi = sandbox_landlock_abi(), r;

	if (abi < 0)
		return abi == -EOPNOTSUPP || abi == -ENOSYS ? -EOPNOTSUPP : abi;
	if (abi >= 2)
		rs.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rs.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &rs, sizeof(rs), 0);
	if (ruleset < 0)
		return -errno;
	for (unsigned int i = 0; i < nr; i++) {
		struct sandbox_path p = paths[i];
		char dir[PATH_MAX];

		if (p.is_its_dir)
			p.path = dir_of(p.path, dir, sizeof(dir));
		if (!p.path)
			continue;
		r = add_path(ruleset, &p, rs.handled_access_fs);
		if (r < 0)
			return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return -errno;
	return 0;
}

int sandbox_landlock_serving(const struct sandbox_serving *s)
{
	char vdpa_dev[PATH_MAX], link[PATH_MAX];
	bool has_vdpa_dev = false;
	const struct sandbox_path core[] = {
		/* Serving: the state file, the devices (the image: the backend's paths, below). */
		{ s->state_dir, SANDBOX_FS_READ | SANDBOX_FS_WRITE | SANDBOX_FS_REMOVE },
		{ "/dev/vduse", SANDBOX_FS_READ | SANDBOX_FS_WRITE },
		/* Reading what the kernel says: boot id, sysfs attributes, /proc/self. */
		{ "/proc", SANDBOX_FS_READ },
		{ "/sys", SANDBOX_FS_READ },
		{ "/dev/null", SANDBOX_FS_READ | SANDBOX_FS_WRITE },
		{ "/dev/urandom", SANDBOX_FS_READ },
		/*
		 * A live upgrade: the binary, its loader and libraries, NSS for
		 * --user.  The binary's directory, not its file: an upgrade installs
		 * a new file (another inode) at that path.
		 */
		{ s->exe, SANDBOX_FS_EXEC, .is_its_dir = true },
		{ "/usr/lib", SANDBOX_FS_EXEC | SANDBOX_FS_READ },
		{ "/usr/lib64", SANDBOX_FS_EXEC | SANDBOX_FS_READ },
		{ "/usr/local/lib", SANDBOX_FS_EXEC | SANDBOX_FS_READ },
		{ "/lib", SANDBOX_FS_EXEC | SANDBOX_FS_READ },
		{ "/lib64", SANDBOX_FS_EXEC | SANDBOX_FS_READ },
		{ "/etc/ld.so.cache", SANDBOX_FS_READ },
		{ "/etc/ld.so.preload", SANDBOX_FS_READ },
		{ "/etc/nsswitch.conf", SANDBOX_FS_READ },
		{ "/etc/passwd", SANDBOX_FS_READ },
		{ "/etc/group", SANDBOX_FS_READ },
		{ "/etc/localtime", SANDBOX_FS_READ },
		/* --attach: binding to a bus driver at a live upgrade's attach. */
		{ s->is_attach ? "/sys/bus/vdpa" : NULL, SANDBOX_FS_READ | SANDBOX_FS_WRITE },
		{ s->extra_path, SANDBOX_FS_READ | SANDBOX_FS_WRITE },
	};
	struct sandbox_path paths[ARRAY_SIZE(core) + 1 + SANDBOX_MAX_BACKEND_PATHS];
	unsigned int n = ARRAY_SIZE(core);

	memcpy(paths, core, sizeof(core));
	/* Its attributes (driver_override) live where sysfs puts the device, not under the bus. */
	if (s->is_attach && s->dev_name &&
	    (size_t)snprintf(link, sizeof(link), "/sys/bus/vdpa/devices/%s", s->dev_name) <
		    sizeof(link))
		has_vdpa_dev = realpath(link, vdpa_dev) != NULL;
	paths[n++] = (struct sandbox_path){ has_vdpa_dev ? vdpa_dev : NULL,
					    SANDBOX_FS_READ | SANDBOX_FS_WRITE };
	/* The backend's image, and what its library reads. */
	for (unsigned int i = 0; i < s->nr_backend_paths && i < SANDBOX_MAX_BACKEND_PATHS; i++)
		paths[n++] = s->backend_paths[i];
	return sandbox_landlock_apply(paths, n);
}
