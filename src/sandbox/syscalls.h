/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_SANDBOX_SYSCALLS_H
#define VDB_SANDBOX_SYSCALLS_H

/*
 * A part of the daemon declares the system calls it makes once the device
 * serves, as rows of struct sandbox_syscall: a backend in its ops
 * (backends/backend.h), the daemon's own parts in seccomp.c's table.  The
 * seccomp filter allows what the rows say and nothing else (sandbox.h).
 *
 *	static const struct sandbox_syscall my_syscalls[] = {
 *		SANDBOX_ALLOW(io_setup),
 *		SANDBOX_ALLOW_IF(socket, 1, SANDBOX_EQ32(0, AF_INET)),
 *	};
 */

#include <seccomp.h>
#include <stdint.h>

#define SANDBOX_MAX_ARGS 3

/* A call allowed, or refused with an errno; maybe only for some arguments. */
struct sandbox_syscall {
	int nr;                 /* SCMP_SYS(name) */
	uint32_t action;        /* SCMP_ACT_ALLOW or an SCMP_ACT_ERRNO() */
	unsigned int nr_args;   /* all comparisons must hold (AND); rows for one call are ORed */
	struct scmp_arg_cmp args[SANDBOX_MAX_ARGS];
};

#define SANDBOX_ALLOW(name) { SCMP_SYS(name), SCMP_ACT_ALLOW, 0, { { 0 } } }
#define SANDBOX_ALLOW_IF(name, n, ...) { SCMP_SYS(name), SCMP_ACT_ALLOW, (n), { __VA_ARGS__ } }
#define SANDBOX_REFUSE(name, err) { SCMP_SYS(name), SCMP_ACT_ERRNO(err), 0, { { 0 } } }
#define SANDBOX_REFUSE_IF(name, err, n, ...) \
	{ SCMP_SYS(name), SCMP_ACT_ERRNO(err), (n), { __VA_ARGS__ } }

/* Comparisons of argument @arg (0-based). */
#define SANDBOX_EQ(arg, v) { (arg), SCMP_CMP_EQ, (scmp_datum_t)(v), 0 }
/* The low 32 bits only: the kernel reads an int or unsigned int from that register. */
#define SANDBOX_EQ32(arg, v) \
	{ (arg), SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t)(uint32_t)(v) }
#define SANDBOX_HAS_NONE(arg, bits) { (arg), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(bits), 0 }
#define SANDBOX_HAS_EXACTLY(arg, mask, v) { (arg), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(mask), (v) }

#endif
