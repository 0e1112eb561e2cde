// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers over struct mem: ranges that may span several host mappings. */
#include <errno.h>
#include <string.h>

#include "virtio/mem.h"

int mem_to_iov(struct mem *m, uint64_t iova, uint64_t len, unsigned int perm,
	       struct iovec *iov, unsigned int *nr_iov, unsigned int max_iov)
{
	unsigned int n = *nr_iov;
	uint64_t end;

	if (__builtin_add_overflow(iova, len, &end))
		return -EFAULT;
	while (len) {
		uint64_t avail;
		int err = -EFAULT;
		void *p = m->ops->lookup(m, iova, perm, &avail, &err);

		if (!p)
			return err < 0 ? err : -EFAULT;
		if (!avail)
			return -EFAULT;
		if (n == max_iov)
			return -E2BIG;
		if (avail > len)
			avail = len;
		iov[n].iov_base = p;
		iov[n].iov_len = avail;
		n++;
		iova += avail;
		len -= avail;
	}
	*nr_iov = n;
	return 0;
}

int mem_read(struct mem *m, uint64_t iova, void *dst, uint64_t len)
{
	uint64_t end;
	char *out = dst;

	if (__builtin_add_overflow(iova, len, &end))
		return -EFAULT;
	while (len) {
		uint64_t avail;
		int err = -EFAULT;
		const void *p = m->ops->lookup(m, iova, MEM_READ, &avail, &err);

		if (!p)
			return err < 0 ? err : -EFAULT;
		if (!avail)
			return -EFAULT;
		if (avail > len)
			avail = len;
		memcpy(out, p, avail);
		out += avail;
		iova += avail;
		len -= avail;
	}
	return 0;
}

void *mem_map_contig(struct mem *m, uint64_t iova, uint64_t len,
		     unsigned int perm)
{
	uint64_t avail, end;
	int err;
	void *p;

	if (!len || __builtin_add_overflow(iova, len - 1, &end))
		return NULL;
	p = m->ops->lookup(m, iova, perm, &avail, &err);
	if (!p || avail < len)
		return NULL;
	return p;
}

int mem_pin(struct mem *m, const struct mem_range *ranges, unsigned int nr,
	    void **ret_host)
{
	uint64_t end;

	for (unsigned int i = 0; i < nr; i++)
		if (!ranges[i].len || __builtin_add_overflow(ranges[i].iova, ranges[i].len - 1, &end))
			return -EFAULT;
	if (m->ops->pin)
		return m->ops->pin(m, ranges, nr, ret_host);
	for (unsigned int i = 0; i < nr; i++) {
		ret_host[i] = mem_map_contig(m, ranges[i].iova, ranges[i].len, ranges[i].perm);
		if (!ret_host[i])
			return -EFAULT;
	}
	return 0;
}
