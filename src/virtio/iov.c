// SPDX-License-Identifier: GPL-2.0-or-later
/* Copying to and from iovec lists. */
#include <string.h>

#include "virtio/iov.h"

size_t iov_to_buf(const struct iovec *iov, unsigned int nr, size_t skip,
		  void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < nr && done < len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned int nr, size_t skip,
		    const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < nr && done < len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((char *)iov[i].iov_base + skip, (const char *)buf + done, n);
		done += n;
		skip = 0;
	}
	return done;
}

void iov_memset(const struct iovec *iov, unsigned int nr, int c)
{
	for (unsigned int i = 0; i < nr; i++)
		memset(iov[i].iov_base, c, iov[i].iov_len);
}

void iov_advance(struct iovec **iov, unsigned int *nr, size_t bytes)
{
	while (*nr && bytes >= (*iov)->iov_len) {
		bytes -= (*iov)->iov_len;
		(*iov)++;
		(*nr)--;
	}
	if (*nr && bytes) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + bytes;
		(*iov)->iov_len -= bytes;
	}
}
