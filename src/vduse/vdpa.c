// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa bus attach/detach over generic netlink (libnl-genl-3), and bus
 * driver selection through sysfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vdpa.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vduse/vdpa.h"

#define SYSFS_VDPA "/sys/bus/vdpa"

const char *vdpa_driver_name(enum vdpa_bus_driver drv)
{
	return drv == VDPA_DRIVER_VHOST ? "vhost_vdpa" : "virtio_vdpa";
}

/* The kernel's errno from the ACK, not libnl's lossy translation of it. */
static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	(void)nla;
	*(int *)arg = err->error;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

static int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOACCESS:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int vdpa_cmd(uint8_t cmd, const char *name)
{
	struct nl_sock *sk = NULL;
	struct nl_msg *msg = NULL;
	struct nl_cb *cb = NULL;
	int family, r, result = 1;

	sk = nl_socket_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	msg = nlmsg_alloc();
	if (!sk || !cb || !msg) {
		r = -ENOMEM;
		goto out;
	}
	r = genl_connect(sk);
	if (r < 0) {
		r = nl_to_errno(r);
		goto out;
	}
	family = genl_ctrl_resolve(sk, VDPA_GENL_NAME);
	if (family < 0) {
		r = -ENOENT;   /* the vdpa module registers the family */
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST | NLM_F_ACK,
			 cmd, VDPA_GENL_VERSION) ||
	    (cmd == VDPA_CMD_DEV_NEW && nla_put_string(msg, VDPA_ATTR_MGMTDEV_DEV_NAME, "vduse")) ||
	    nla_put_string(msg, VDPA_ATTR_DEV_NAME, name)) {
		r = -EMSGSIZE;
		goto out;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &result);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &result);
	r = nl_send_auto(sk, msg);
	if (r < 0) {
		r = nl_to_errno(r);
		goto out;
	}
	while (result > 0) {
		r = nl_recvmsgs(sk, cb);
		if (r < 0 && result > 0) {
			r = nl_to_errno(r);
			goto out;
		}
	}
	r = result;
out:
	nlmsg_free(msg);
	nl_cb_put(cb);
	nl_socket_free(sk);
	return r;
}

int vdpa_dev_add(const char *name)
{
	return vdpa_cmd(VDPA_CMD_DEV_NEW, name);
}

int vdpa_dev_del(const char *name)
{
	return vdpa_cmd(VDPA_CMD_DEV_DEL, name);
}

static int write_sysfs(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		return -errno;
	return 0;
}

/* The bus driver @name is bound to, in @buf ("" when none). */
static int bound_driver(const char *name, char *buf, size_t len)
{
	char path[512], target[256];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof(path), SYSFS_VDPA "/devices/%s/driver", name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		buf[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : target);
	return 0;
}

int vdpa_dev_is_attached(const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), SYSFS_VDPA "/devices/%s", name);
	return stat(path, &st) == 0;
}

int vdpa_dev_bind(const char *name, enum vdpa_bus_driver drv)
{
	const char *want = vdpa_driver_name(drv);
	char path[512], cur[256];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), SYSFS_VDPA "/drivers/%s", want);
	if (stat(path, &st) < 0)
		return -ENOENT;
	r = bound_driver(name, cur, sizeof(cur));
	if (r < 0)
		return r;
	if (strcmp(cur, want) == 0)
		return 0;
	snprintf(path, sizeof(path), SYSFS_VDPA "/devices/%s/driver_override", name);
	r = write_sysfs(path, want);
	if (r < 0)
		return r;
	if (cur[0]) {
		snprintf(path, sizeof(path), SYSFS_VDPA "/drivers/%s/unbind", cur);
		r = write_sysfs(path, name);
		if (r < 0)
			return r;
	}
	r = write_sysfs(SYSFS_VDPA "/drivers_probe", name);
	if (r < 0)
		return r;
	r = bound_driver(name, cur, sizeof(cur));
	if (r < 0)
		return r;
	return strcmp(cur, want) == 0 ? 0 : -ENXIO;
}

/* First entry of @dir whose name starts with @prefix, into @buf. */
static bool find_entry(const char *dir, const char *prefix, char *buf, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(buf, len, "%s", e->d_name);
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

static bool find_node(const char *name, enum vdpa_bus_driver drv, char *buf, size_t len)
{
	char dir[512], entry[256], sub[300];
	struct stat st;

	snprintf(dir, sizeof(dir), SYSFS_VDPA "/devices/%s", name);
	if (drv == VDPA_DRIVER_VHOST) {
		if (!find_entry(dir, "vhost-vdpa-", entry, sizeof(entry)))
			return false;
	} else {
		if (!find_entry(dir, "virtio", sub, sizeof(sub)))
			return false;
		snprintf(dir, sizeof(dir), SYSFS_VDPA "/devices/%s/%s/block", name, sub);
		if (!find_entry(dir, "vd", entry, sizeof(entry)))
			return false;
	}
	snprintf(buf, len, "/dev/%s", entry);
	return stat(buf, &st) == 0;
}

int vdpa_dev_node(const char *name, enum vdpa_bus_driver drv, char *buf, size_t len,
		  int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (find_node(name, drv, buf, len))
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}
