// SPDX-License-Identifier: GPL-2.0-or-later
/* Dropping privileges after setup (see privileges.h). */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/privileges.h"

int privileges_lookup(const char *user, struct run_as *ret)
{
	const struct passwd *pw = getpwnam(user);
	unsigned long uid, gid;
	char *end;

	memset(ret, 0, sizeof(*ret));
	if (pw) {
		ret->uid = pw->pw_uid;
		ret->gid = pw->pw_gid;
		return 0;
	}
	errno = 0;
	uid = strtoul(user, &end, 10);
	if (errno || end == user || user[0] == '-')
		return -ENOENT;
	gid = uid;
	if (*end == ':') {
		const char *g = end + 1;

		gid = strtoul(g, &end, 10);
		if (errno || end == g || g[0] == '-')
			return -ENOENT;
	}
	if (*end || uid == 0 || uid >= (uid_t)-1 || gid >= (gid_t)-1)
		return -ENOENT;
	ret->uid = (uid_t)uid;
	ret->gid = (gid_t)gid;
	return 0;
}

/* This thread's capability sets: @keep in permitted, effective and inheritable. */
static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(keep >> (32 * i));
		data[i].permitted = data[i].effective;
		data[i].inheritable = data[i].effective;
	}
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int privileges_drop(const struct run_as *as)
{
	uint64_t keep = as->keeps_net_admin ? 1ULL << CAP_NET_ADMIN : 0;
	int r;

	if (getuid() != as->uid || geteuid() != as->uid || getgid() != as->gid) {
		/* Nothing outside @keep can come back, not even through an exec. */
		for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (!(keep & (1ULL << cap)))
				prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
		/* Keep the permitted set through the uid change, then narrow it. */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return -errno;
		/* glibc changes the ids of every thread; threads other than this lose all caps. */
		if (setgroups(1, &as->gid) < 0 || setresgid(as->gid, as->gid, as->gid) < 0 ||
		    setresuid(as->uid, as->uid, as->uid) < 0)
			return -errno;
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	r = set_caps(keep);
	if (r < 0)
		return r;
	/* An exec (live upgrade) keeps CAP_NET_ADMIN only as an ambient capability. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	if (keep && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) < 0)
		return -errno;
	/* Nothing executed from here on gains privileges (setuid bits, file caps). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
