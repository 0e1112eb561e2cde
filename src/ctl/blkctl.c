// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blkctl: list the devices vduse-blkd daemons serve, show their
 * counters, resize them and set their log level, through each daemon's
 * control socket (ctl.h, ctl_proto.h).
 *
 * Like main.c for the daemon, this file parses the command line and runs
 * the command's row (command.h); cli.c and list.c print what the daemons
 * answer, client.c talks to a socket.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "ctl/command.h"
#include "config.h"
#include "ctl/proto.h"
#include "recovery/state.h"
#include "util.h"

/* The commands' lines of --help, from their rows (command.h). */
static void usage_commands(FILE *out)
{
	const struct ctl_command *c;

	for (size_t i = 0; (c = ctl_command_at(i)); i++) {
		char head[64];
		const char *line = c->help;

		if (!c->usage)
			continue;
		snprintf(head, sizeof(head), "%s%s%s", c->name, c->usage[0] ? " " : "", c->usage);
		for (bool is_first = true; line; is_first = false) {
			const char *nl = strchr(line, '\n');
			int len = nl ? (int)(nl - line) : (int)strlen(line);

			fprintf(out, "  %-22s  %.*s\n", is_first ? head : "", len, line);
			line = nl ? nl + 1 : NULL;
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: vduse-blkctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Talk to the vduse-blkd daemons of this host through their control sockets.\n"
"\n"
"Commands:\n");
	usage_commands(out);
	fprintf(out,
"\n"
"Options:\n"
"      --state-dir DIR     where the daemons keep NAME.sock (default %s)\n"
"  -j, --json              print JSON (list, stats)\n"
"  -w, --watch SECONDS     stats: print rates every SECONDS until interrupted\n"
"  -c, --count N           stats -w: stop after N intervals\n"
"      --shrink            resize: allow a size smaller than the device (its end is lost)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 on success, 1 on failure (no such device, the daemon is not\n"
"running or not responding, permission denied, refused), 2 on a command-line error.\n",
		VDB_STATE_DIR);
}

static int parse_uint(const char *opt, const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 86400) {
		cli_error("%s: '%s' is not a number from 1 to 86400", opt, s);
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "shrink", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct cli_opts o = { .state_dir = VDB_STATE_DIR };
	const struct ctl_command *cmd;
	int c, nr_args;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jw:c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			o.state_dir = optarg;
			break;
		case 'j':
			o.is_json = true;
			break;
		case 'w':
			if (parse_uint("--watch", optarg, &o.watch_s) < 0)
				goto usage;
			break;
		case 'c':
			if (parse_uint("--count", optarg, &o.count) < 0)
				goto usage;
			break;
		case 'S':
			o.is_shrink = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("vduse-blkctl %s\n", VDB_VERSION);
			return EXIT_OK;
		case ':':
			cli_error("option '%s' needs a value", argv[optind - 1]);
			goto usage;
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			goto usage;
		}
	}
	if (optind >= argc) {
		cli_error("a command is required: list, stats, resize or log-level");
		goto usage;
	}
	cmd = ctl_command_find(argv[optind]);
	nr_args = argc - optind - 1;
	if (!cmd || !cmd->usage)
		cli_error("unknown command '%s'", argv[optind]);
	else if ((unsigned int)nr_args != cmd->nr_args)
		cli_error("%s: wrong number of arguments", cmd->name);
	else
		return cmd->run(&o, argv + optind + 1);
usage:
	fprintf(stderr, "Try 'vduse-blkctl --help' for more information.\n");
	return EXIT_USAGE;
}
