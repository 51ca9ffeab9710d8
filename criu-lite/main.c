// SPDX-License-Identifier: GPL-2.0-only
/* criu-lite: command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crtools.h"
#include "log.h"

struct opts opts;

static void usage(FILE *f)
{
	fprintf(f,
"Usage:\n"
"  criu-lite dump    -t PID -D DIR [--leave-running] [-j] [-v[N]] [-o LOG]\n"
"                    [--prev-images-dir PREV --track-mem]\n"
"                    [--page-server --address A --port N]\n"
"  criu-lite pre-dump -t PID -D DIR [--prev-images-dir PREV]\n"
"                    [--page-server --address A --port N]\n"
"  criu-lite restore -D DIR [-d] [-j] [--pidns] [--cold-mark=MODE] [--lazy-pages]\n"
"                    [--lazy-socket SOCKET] [-v[N]] [-o LOG]\n"
"                    [--pidfd-store=SOCKET [--pidfd-rights=LIST] [--pidfd-allow-full]]\n"
"  criu-lite page-server -D DIR --port N [--address A]\n"
"  criu-lite lazy-pages -D DIR --lazy-socket SOCKET [-v[N]] [-o LOG]\n"
"  criu-lite check   [--all] [--feature NAME]\n"
"  criu-lite show    DIR|FILE [--json]\n"
"\n"
"Options:\n"
"  -t, --tree PID        the process to dump\n"
"  -D, --images-dir DIR  where images are written and read\n"
"  -R, --leave-running   dump: let the process run on after the dump\n"
"  -d, --restore-detached  restore: exit once the process runs\n"
"  -j, --shell-job       the root's session and process group are outside the\n"
"                        tree (a job of a shell): restore puts it in ours,\n"
"                        on our terminal\n"
"      --pidns           restore: into a fresh PID namespace, under a PID-1 helper\n"
"      --prev-images-dir PREV  dump, pre-dump: only pages written since the\n"
"                        dump in PREV (relative to DIR, or absolute)\n"
"      --track-mem       dump: use (and with -R keep) write tracking\n"
"      --cold-mark=MODE  off, cold, pageout or auto (default): restore: how\n"
"                        pages cold at dump are marked again; dump: off\n"
"                        records no temperature\n"
"      --lazy-pages      restore: private anonymous memory comes in on demand\n"
"                        (userfaultfd) and in the background: runs at once\n"
"      --lazy-socket SOCKET  lazy-pages: listen there for the restore to\n"
"                        serve; restore --lazy-pages: use that daemon\n"
"                        instead of starting one (@NAME: abstract)\n"
"      --pidfd-store=SOCKET  restore: hand a pidfd per restored process to\n"
"                        the supervisor listening on unix socket SOCKET\n"
"                        (@NAME: abstract)\n"
"      --pidfd-rights=LIST  what those pidfds may do: info, wait, signal,\n"
"                        getfd, madvise, setns, all (default: wait,info)\n"
"      --pidfd-allow-full  where the kernel can't narrow a pidfd, hand out\n"
"                        full ones (with a warning) instead of refusing\n"
"      --page-server     dump, pre-dump: send the images to the page server\n"
"                        at --address A, --port N (DIR keeps all but pages)\n"
"      --address A       page-server: listen on A (default: any)\n"
"      --port N          page-server: listen on port N (0: a free one,\n"
"                        printed on stdout)\n"
"  -v[N], --verbosity    1 errors, 2 warnings (default), 3 info, 4 debug\n"
"  -o, --log-file LOG    write the log (at the -v level) to LOG\n"
"      --all             check: also probe features restore does not need\n"
"      --feature NAME    check: probe one feature, exit 0 if present\n"
"      --json            show: JSON instead of text\n"
"  -h, --help            this text\n"
"See criu-lite(8).\n");
}

static int parse_cold_mark(const char *arg)
{
	static const char *const names[] = {
		[COLD_MARK_AUTO] = "auto", [COLD_MARK_OFF] = "off",
		[COLD_MARK_COLD] = "cold", [COLD_MARK_PAGEOUT] = "pageout",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(arg, names[i])) {
			opts.cold_mark = i;
			return 0;
		}
	fprintf(stderr, "Error: --cold-mark takes off, cold, pageout or auto, not \"%s\"\n",
		arg);
	return -1;
}

/* --page-server, --address and --port: where each belongs */
static int check_page_server_opts(const char *cmd)
{
	int dumping = !strcmp(cmd, "dump") || !strcmp(cmd, "pre-dump");

	if (opts.page_server && !dumping) {
		pr_err("--page-server is for dump and pre-dump\n");
		return -1;
	}
	if (!strcmp(cmd, "page-server"))
		return 0;
	if (!opts.page_server && (opts.ps_addr || opts.ps_port >= 0)) {
		pr_err("--address and --port are for page-server, and for dump and pre-dump with --page-server\n");
		return -1;
	}
	if (opts.page_server && (!opts.ps_addr || opts.ps_port <= 0)) {
		pr_err("--page-server needs the server's --address A and --port N\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "tree", required_argument, NULL, 't' },
		{ "images-dir", required_argument, NULL, 'D' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "restore-detached", no_argument, NULL, 'd' },
		{ "verbosity", optional_argument, NULL, 'v' },
		{ "log-file", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 1 },
		{ "feature", required_argument, NULL, 2 },
		{ "json", no_argument, NULL, 3 },
		{ "cold-mark", required_argument, NULL, 4 },
		{ "pidns", no_argument, NULL, 5 },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "prev-images-dir", required_argument, NULL, 6 },
		{ "track-mem", no_argument, NULL, 7 },
		{ "pidfd-store", required_argument, NULL, 8 },
		{ "pidfd-rights", required_argument, NULL, 9 },
		{ "pidfd-allow-full", no_argument, NULL, 10 },
		{ "page-server", no_argument, NULL, 11 },
		{ "address", required_argument, NULL, 12 },
		{ "port", required_argument, NULL, 13 },
		{ "lazy-pages", no_argument, NULL, 14 },
		{ "lazy-socket", required_argument, NULL, 15 },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *cmd;
	char *end;
	int c, ret;

	opts.argv = argv;
	opts.verbosity = LOG_WARN;
	opts.ps_port = -1;
	while ((c = getopt_long(argc, argv, "t:D:Rdjv::o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opts.pid = strtol(optarg, &end, 10);
			if (*end || opts.pid <= 0) {
				fprintf(stderr, "Error: -t needs a PID, not \"%s\"\n",
					optarg);
				return 1;
			}
			break;
		case 'D':
			opts.dir = optarg;
			break;
		case 'R':
			opts.leave_running = 1;
			break;
		case 'd':
			opts.detach = 1;
			break;
		case 'v':
			if (!optarg)
				opts.verbosity++;
			else if (optarg[0] == 'v')
				opts.verbosity += strlen(optarg) + 1;
			else
				opts.verbosity = atoi(optarg);
			break;
		case 'o':
			opts.log_file = optarg;
			break;
		case 1:
			opts.check_all = 1;
			break;
		case 2:
			opts.feature = optarg;
			break;
		case 3:
			opts.json = 1;
			break;
		case 4:
			if (parse_cold_mark(optarg))
				return 1;
			break;
		case 'j':
			opts.shell_job = 1;
			break;
		case 5:
			opts.pidns = 1;
			break;
		case 6:
			opts.prev_dir = optarg;
			break;
		case 7:
			opts.track_mem = 1;
			break;
		case 8:
			opts.pidfd_store = optarg;
			break;
		case 9:
			if (pidfd_store_parse_rights(optarg, &opts.pidfd_rights))
				return 1;
			opts.pidfd_rights_set = 1;
			break;
		case 10:
			opts.pidfd_allow_full = 1;
			break;
		case 11:
			opts.page_server = 1;
			break;
		case 12:
			opts.ps_addr = optarg;
			break;
		case 13:
			opts.ps_port = strtol(optarg, &end, 10);
			if (*end || !*optarg || opts.ps_port < 0 ||
			    opts.ps_port > 65535) {
				fprintf(stderr, "Error: --port needs a TCP port, 0 to 65535, not \"%s\"\n",
					optarg);
				return 1;
			}
			break;
		case 14:
			opts.lazy_pages = 1;
			break;
		case 15:
			opts.lazy_socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	cmd = argv[optind++];
	log_set_level(opts.verbosity);
	if (opts.log_file && log_set_file(opts.log_file)) {
		perror(opts.log_file);
		return 1;
	}

	if ((opts.pidfd_store || opts.pidfd_rights_set ||
	     opts.pidfd_allow_full) && strcmp(cmd, "restore")) {
		pr_err("--pidfd-store, --pidfd-rights and --pidfd-allow-full are for restore\n");
		return 1;
	}
	if (opts.lazy_pages && strcmp(cmd, "restore")) {
		pr_err("--lazy-pages is for restore\n");
		return 1;
	}
	if (opts.lazy_socket && !opts.lazy_pages && strcmp(cmd, "lazy-pages")) {
		pr_err("--lazy-socket is for lazy-pages and restore --lazy-pages\n");
		return 1;
	}
	if ((opts.pidfd_rights_set || opts.pidfd_allow_full) &&
	    !opts.pidfd_store) {
		pr_err("--pidfd-rights and --pidfd-allow-full need --pidfd-store=SOCKET\n");
		return 1;
	}
	if (check_page_server_opts(cmd))
		return 1;
	if (!strcmp(cmd, "page-server")) {
		ret = opts.dir ? cr_page_server() : 1;
		if (!opts.dir)
			pr_err("page-server needs a directory to write the images into: -D DIR\n");
	} else if (!strcmp(cmd, "lazy-pages")) {
		if (!opts.dir) {
			pr_err("lazy-pages needs an images directory: -D DIR\n");
			return 1;
		}
		ret = cr_lazy_pages();
	} else if (!strcmp(cmd, "dump") || !strcmp(cmd, "restore") ||
		   !strcmp(cmd, "pre-dump")) {
		if (!opts.dir) {
			pr_err("%s needs an images directory: -D DIR\n", cmd);
			return 1;
		}
		if (cmd[0] == 'd' && opts.prev_dir && !opts.track_mem) {
			pr_err("dump --prev-images-dir needs --track-mem: only the tracker knows what was written since\n");
			return 1;
		}
		if (cmd[0] == 'p' && opts.leave_running) {
			pr_err("pre-dump always leaves the tree running: drop --leave-running\n");
			return 1;
		}
		/* refused, or no supervisor: before anything is restored */
		if (cmd[0] == 'r' && opts.pidfd_store && pidfd_store_open()) {
			pidfd_store_close();
			return 1;
		}
		ret = cmd[0] == 'd' ? cr_dump() :
		      cmd[0] == 'p' ? cr_pre_dump() : cr_restore();
		pidfd_store_close();
	} else if (!strcmp(cmd, "check")) {
		ret = cr_check();
	} else if (!strcmp(cmd, "show")) {
		if (optind >= argc && !opts.dir) {
			pr_err("show needs a directory or an image file\n");
			return 1;
		}
		ret = cr_show(optind < argc ? argv[optind] : opts.dir);
	} else {
		fprintf(stderr, "Error: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 1;
	}
	log_close();
	return ret;
}
