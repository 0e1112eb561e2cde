// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The live upgrade's handover (src/recovery/upgrade.c): what the
 * environment hands the new image is parsed strictly, and each fd must be
 * what it claims to be.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "recovery/upgrade.h"

static void test_node_must_be_the_device(void **state)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int pfd[2];

	(void)state;
	assert_true(null_fd >= 0 && zero_fd >= 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(upgrade_check_node(null_fd, "/dev/null"), 0);
	assert_int_equal(upgrade_check_node(-1, "/dev/null"), 0);
	/* Another device, a pipe, a regular file: not the node. */
	assert_int_equal(upgrade_check_node(zero_fd, "/dev/null"), -ENODEV);
	assert_int_equal(upgrade_check_node(pfd[0], "/dev/null"), -ENODEV);
	assert_int_equal(upgrade_check_node(null_fd, "/proc/self/status"), -ENODEV);
	assert_int_equal(upgrade_check_node(null_fd, "/nonexistent/vduse/x"), -ENOENT);
	close(null_fd);
	close(zero_fd);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_handover_is_parsed_strictly(void **state)
{
	struct handover h;
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd > 2);
	unsetenv(UPGRADE_ENV);
	assert_false(upgrade_take_handover(&h));
	assert_int_equal(h.dev_fd, -1);
	/* Stdio, garbage, a field short: nothing is taken. */
	setenv(UPGRADE_ENV, "1,2,3,4,5", 1);
	assert_false(upgrade_take_handover(&h));
	setenv(UPGRADE_ENV, "x", 1);
	assert_false(upgrade_take_handover(&h));
	setenv(UPGRADE_ENV, "7,8", 1);
	assert_false(upgrade_take_handover(&h));
	assert_null(getenv(UPGRADE_ENV));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_must_be_the_device),
		cmocka_unit_test(test_handover_is_parsed_strictly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
