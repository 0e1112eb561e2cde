// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A queue's ring, before it serves: created disabled, given the image and
 * the kick eventfd as its only (fixed) files, restricted to the opcodes
 * and SQE flags io_uring.c uses, and only then enabled (see io_uring.c).
 */
#include <errno.h>
#include <liburing.h>
#include <string.h>

#include "backends/io_uring/io_uring.h"
#include "log.h"

/* Every opcode io_uring.c queues, and nothing else. */
static const uint8_t allowed_ops[] = {
	IORING_OP_READV,       /* READ */
	IORING_OP_WRITEV,      /* WRITE */
	IORING_OP_WRITE,       /* WRITE_ZEROES from the zero buffer */
	IORING_OP_FSYNC,       /* FLUSH (IORING_FSYNC_DATASYNC) */
	IORING_OP_FALLOCATE,   /* DISCARD, WRITE_ZEROES */
	IORING_OP_READ,        /* the kick eventfd */
};

/* Restrict the disabled ring to allowed_ops on fixed files; no register op after enabling. */
static int ring_restrict(struct io_uring *ring)
{
	struct io_uring_restriction res[sizeof(allowed_ops) + 2];
	unsigned int n = 0;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < sizeof(allowed_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = allowed_ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_IO_LINK;   /* punch, then allocate (prep_write_zeroes) */
	/*
	 * Debian's liburing 2.3 declares io_uring_register_restrictions() and
	 * io_uring_enable_rings() but does not export them: the raw call, which
	 * returns -errno like them.
	 */
	return io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
}

static bool is_unsupported(int r)
{
	return r == -EINVAL || r == -EOPNOTSUPP;
}

/* Say once per process that rings go unrestricted, and why. */
static void warn_unrestricted(const char *what, int r)
{
	static bool has_warned;

	if (!__atomic_exchange_n(&has_warned, true, __ATOMIC_RELAXED))
		log_warn("io_uring: %s: %s; rings run without restrictions", what, strerror(-r));
}

int uring_ring_setup(struct io_uring *ring, int image_fd, int kick_fd, unsigned int entries)
{
	const int files[] = { [FILE_IMAGE] = image_fd, [FILE_KICK] = kick_fd };
	/* Only this queue's thread touches the ring: let the kernel know. */
	const unsigned int single = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	const unsigned int tries[] = { single | IORING_SETUP_R_DISABLED, IORING_SETUP_R_DISABLED, 0 };
	struct io_uring_params p;
	unsigned int i;
	int r = -EINVAL;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]) && r == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i];
		r = io_uring_queue_init_params(entries, ring, &p);
	}
	if (r < 0)
		return r;
	r = io_uring_register_files(ring, files, 2);
	if (r < 0)
		goto fail;
	if (!(p.flags & IORING_SETUP_R_DISABLED)) {
		warn_unrestricted("no disabled rings (IORING_SETUP_R_DISABLED)", -EINVAL);
		return 0;
	}
	r = ring_restrict(ring);
	if (r < 0 && !is_unsupported(r))
		goto fail;
	if (r < 0)
		warn_unrestricted("registering restrictions", r);
	r = io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (r < 0)
		goto fail;
	return 0;
fail:
	io_uring_queue_exit(ring);
	return r;
}

int uring_probe(void)
{
	struct io_uring ring;
	int r = io_uring_queue_init(2, &ring, 0);

	if (r == 0)
		io_uring_queue_exit(&ring);
	return r;
}
