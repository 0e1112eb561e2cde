// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa bus helpers on a machine without the vdpa module (this project's
 * build hosts): each failure maps to the errno the daemon explains.  Skips
 * where the module is loaded, since then the calls would act for real.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vduse/vdpa.h"

static bool has_vdpa(void)
{
	struct stat st;

	return stat("/sys/bus/vdpa", &st) == 0;
}

static void test_add_without_family_is_enoent(void **state)
{
	(void)state;
	if (has_vdpa())
		skip();
	/* genl_ctrl_resolve("vdpa") fails: the message says to load the module. */
	assert_int_equal(vdpa_dev_add("vdb-unit-test"), -ENOENT);
	assert_int_equal(vdpa_dev_del("vdb-unit-test"), -ENOENT);
}

static void test_bind_without_driver_is_enoent(void **state)
{
	(void)state;
	if (has_vdpa())
		skip();
	assert_int_equal(vdpa_dev_bind("vdb-unit-test", VDPA_DRIVER_VIRTIO), -ENOENT);
	assert_int_equal(vdpa_dev_bind("vdb-unit-test", VDPA_DRIVER_VHOST), -ENOENT);
}

static void test_node_of_absent_device_times_out(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(vdpa_dev_node("vdb-no-such-device", VDPA_DRIVER_VIRTIO, buf,
				       sizeof(buf), 50), -ETIMEDOUT);
	assert_false(vdpa_dev_is_attached("vdb-no-such-device"));
}

static void test_driver_names(void **state)
{
	(void)state;
	assert_string_equal(vdpa_driver_name(VDPA_DRIVER_VIRTIO), "virtio_vdpa");
	assert_string_equal(vdpa_driver_name(VDPA_DRIVER_VHOST), "vhost_vdpa");
}

static void test_attach_job_reports_the_failing_step(void **state)
{
	struct vdpa_job job = { .done_fd = -1 };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	uint64_t v;

	(void)state;
	if (has_vdpa())
		skip();
	assert_int_equal(vdpa_job_attach(&job, "vdb-unit-test", VDPA_DRIVER_VIRTIO), 0);
	/* The job signals its eventfd when done. */
	for (int i = 0; i < 500 && read(job.done_fd, &v, sizeof(v)) != sizeof(v); i++)
		nanosleep(&ts, NULL);
	assert_int_equal(vdpa_job_finish(&job), -ENOENT);
	assert_int_equal(job.step, VDPA_STEP_ADD);
	assert_false(job.is_running);
	/* Finishing twice is harmless. */
	assert_int_equal(vdpa_job_finish(&job), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_without_family_is_enoent),
		cmocka_unit_test(test_bind_without_driver_is_enoent),
		cmocka_unit_test(test_node_of_absent_device_times_out),
		cmocka_unit_test(test_driver_names),
		cmocka_unit_test(test_attach_job_reports_the_failing_step),
	};

	return cmocka_run_group_tests_name("vdpa", tests, NULL, NULL);
}
