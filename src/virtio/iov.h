/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_IOV_H
#define VDB_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* iov_to_buf() - copy up to @len bytes starting @skip bytes into @iov; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int nr, size_t skip,
		  void *buf, size_t len);

/* iov_from_buf() - copy @buf into @iov starting @skip bytes in; returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned int nr, size_t skip,
		    const void *buf, size_t len);

/* iov_memset() - fill every byte of @iov with @c. */
void iov_memset(const struct iovec *iov, unsigned int nr, int c);

/**
 * iov_advance() - drop the first @bytes of an iovec list, in place
 * @iov: in: the list; out: points at the first iovec with data left
 * @nr: in/out: the number of iovecs
 * The first remaining iovec is adjusted to start where the bytes end.
 */
void iov_advance(struct iovec **iov, unsigned int *nr, size_t bytes);

#endif
