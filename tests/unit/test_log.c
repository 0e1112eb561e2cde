// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log.c: priority prefixes when stderr is the journal ($JOURNAL_STREAM),
 * plain lines otherwise, and the debug categories of --verbose.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* stderr redirected to a temporary file for one test. */
struct capture {
	FILE *file;
	int saved_fd;
	char stream[64];              /* "DEV:INO" of the file */
};

static int capture_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct stat st;

	c->file = tmpfile();
	if (!c->file || fstat(fileno(c->file), &st) < 0)
		return -1;
	snprintf(c->stream, sizeof(c->stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	fflush(stderr);
	c->saved_fd = dup(STDERR_FILENO);
	dup2(fileno(c->file), STDERR_FILENO);
	log_set_debug(0);
	log_set_level(LOG_INFO);
	*state = c;
	return 0;
}

static int capture_teardown(void **state)
{
	struct capture *c = *state;

	fflush(stderr);
	dup2(c->saved_fd, STDERR_FILENO);
	close(c->saved_fd);
	fclose(c->file);
	unsetenv("JOURNAL_STREAM");
	log_init();
	log_set_debug(0);
	log_set_level(LOG_INFO);
	free(c);
	return 0;
}

/* What was logged since the last call. */
static const char *captured(struct capture *c)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	rewind(c->file);
	n = fread(buf, 1, sizeof(buf) - 1, c->file);
	buf[n] = 0;
	ftruncate(fileno(c->file), 0);
	rewind(c->file);
	return buf;
}

static void log_all_levels(void)
{
	log_err("e %d", 1);
	log_warn("w");
	log_info("i");
	log_debug_cat(LOG_CAT_VDUSE, "d");
}

static void journal_gets_priorities(void **state)
{
	struct capture *c = *state;

	setenv("JOURNAL_STREAM", c->stream, 1);
	log_init();
	assert_true(log_is_journal());
	log_set_debug(LOG_CAT_VDUSE);
	log_all_levels();
	assert_string_equal(captured(c),
			    "<3>error: e 1\n<4>warning: w\n<6>info: i\n<7>debug: d\n");
}

static void plain_without_journal_stream(void **state)
{
	struct capture *c = *state;

	unsetenv("JOURNAL_STREAM");
	log_init();
	assert_false(log_is_journal());
	log_all_levels();
	assert_string_equal(captured(c),
			    "vduse-blkd: error: e 1\nvduse-blkd: warning: w\nvduse-blkd: info: i\n");
}

/* A journal stream inherited by a child whose stderr went elsewhere. */
static void plain_when_stream_is_another_file(void **state)
{
	struct capture *c = *state;
	char other[80];
	unsigned long long dev, ino;

	sscanf(c->stream, "%llu:%llu", &dev, &ino);
	snprintf(other, sizeof(other), "%llu:%llu", dev, ino + 1);
	setenv("JOURNAL_STREAM", other, 1);
	log_init();
	assert_false(log_is_journal());
	log_err("x");
	assert_string_equal(captured(c), "vduse-blkd: error: x\n");
}

static void plain_when_stream_is_malformed(void **state)
{
	struct capture *c = *state;
	static const char *const bad[] = { "", ":", "12", "12:", ":34", "a:b", "1:2:3" };
	char trailing[80];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		log_init();
		assert_false(log_is_journal());
	}
	snprintf(trailing, sizeof(trailing), "%sx", c->stream);
	setenv("JOURNAL_STREAM", trailing, 1);
	log_init();
	assert_false(log_is_journal());
	log_err("x");
	assert_string_equal(captured(c), "vduse-blkd: error: x\n");
}

static void debug_categories_filter(void **state)
{
	struct capture *c = *state;

	log_init();
	log_debug_cat(LOG_CAT_VDUSE, "off");
	assert_string_equal(captured(c), "");
	log_set_debug(LOG_CAT_VDPA | LOG_CAT_RECOVERY);
	assert_int_equal(log_max_level, LOG_DEBUG);
	log_debug_cat(LOG_CAT_VDUSE, "vduse");
	log_debug_cat(LOG_CAT_VDPA, "vdpa");
	log_debug_cat(LOG_CAT_RECOVERY, "recovery");
	assert_string_equal(captured(c), "vduse-blkd: debug: vdpa\nvduse-blkd: debug: recovery\n");
	/* Off again: back to info, and info still prints. */
	log_set_debug(0);
	assert_int_equal(log_max_level, LOG_INFO);
	log_debug_cat(LOG_CAT_VDPA, "vdpa");
	log_info("i");
	assert_string_equal(captured(c), "vduse-blkd: info: i\n");
}

/* What vduse-blkctl log-level calls: a level, debug meaning every category. */
static void set_level(void **state)
{
	struct capture *c = *state;

	log_init();
	log_set_level(LOG_DEBUG);
	assert_int_equal(log_debug_mask, LOG_CAT_ALL);
	log_debug_cat(LOG_CAT_CTL, "ctl");
	assert_string_equal(captured(c), "vduse-blkd: debug: ctl\n");
	/* Categories already chosen stay. */
	log_set_debug(LOG_CAT_VDUSE);
	log_set_level(LOG_DEBUG);
	assert_int_equal(log_debug_mask, LOG_CAT_VDUSE);
	log_set_level(LOG_WARN);
	assert_int_equal(log_debug_mask, 0);
	log_info("hidden");
	log_debug_cat(LOG_CAT_VDUSE, "hidden");
	log_warn("w");
	log_err("e");
	assert_string_equal(captured(c), "vduse-blkd: warning: w\nvduse-blkd: error: e\n");
	log_set_level(LOG_ERR);
	log_warn("hidden");
	assert_string_equal(captured(c), "");
}

static void parse_debug_lists(void **state)
{
	unsigned int mask = 12345;

	(void)state;
	assert_int_equal(log_parse_debug("all", &mask), 0);
	assert_int_equal(mask, LOG_CAT_ALL);
	assert_int_equal(log_parse_debug("vduse", &mask), 0);
	assert_int_equal(mask, LOG_CAT_VDUSE);
	assert_int_equal(log_parse_debug("vdpa,recovery,ctl", &mask), 0);
	assert_int_equal(mask, LOG_CAT_VDPA | LOG_CAT_RECOVERY | LOG_CAT_CTL);
	assert_int_equal(log_parse_debug("daemon,sandbox,trace", &mask), 0);
	assert_int_equal(mask, LOG_CAT_DAEMON | LOG_CAT_SANDBOX | LOG_CAT_TRACE);
	mask = 777;
	assert_int_equal(log_parse_debug("", &mask), -EINVAL);
	assert_int_equal(log_parse_debug(NULL, &mask), -EINVAL);
	assert_int_equal(log_parse_debug("bogus", &mask), -EINVAL);
	assert_int_equal(log_parse_debug("vduse,", &mask), -EINVAL);
	assert_int_equal(log_parse_debug(",vduse", &mask), -EINVAL);
	assert_int_equal(log_parse_debug("vduse,,vdpa", &mask), -EINVAL);
	assert_int_equal(log_parse_debug("vdus", &mask), -EINVAL);
	assert_int_equal(log_parse_debug("vdusee", &mask), -EINVAL);
	assert_int_equal(log_parse_debug("VDUSE", &mask), -EINVAL);
	assert_int_equal(mask, 777);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(journal_gets_priorities, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(plain_without_journal_stream, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(plain_when_stream_is_another_file, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(plain_when_stream_is_malformed, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(debug_categories_filter, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(set_level, capture_setup, capture_teardown),
		cmocka_unit_test(parse_debug_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
