/*
 * pinholectl.c — the management client: sends one command to the ctl
 * process over its FIFO (protocol in ctl/server.c) and prints the answer,
 * as text or, with --json, as the result's JSON. Manual: pinholectl(8).
 *
 * Exit status: 0 ok, 1 the server answered with an error, 2 usage error,
 * 3 pinhole unreachable (no FIFO, nobody reading it, no or a malformed
 * answer), 130 interrupted. The reply FIFO is removed on every path.
 */
#include "ctl.h"
#include "../conf/conf.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

enum {
	EXIT_OK = 0,
	EXIT_ERROR_REPLY = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_INTERRUPTED = 130,
};

struct options {
	const char *conf_file;
	const char *fifo;
	bool json;
	int timeout_ms;
	int first_arg;       /* argv index of COMMAND */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pinholectl [-f FILE | -s FIFO] [--json] [-t TIMEOUT_MS] COMMAND [ARGS...]\n"
		"  -f, --config FILE   find the FIFO in this config file (ctl.fifo)\n"
		"  -s, --fifo FIFO     talk to this FIFO\n"
		"  -j, --json          print the result as JSON\n"
		"  -t, --timeout MS    wait at most MS milliseconds (default %d)\n"
		"  -V, --version       print the version\n"
		"Without -f or -s: ctl.fifo of %s if it exists, else %s.\n"
		"'pinholectl help' lists the commands.\n",
		CTL_DEFAULT_TIMEOUT_MS, CTL_DEFAULT_CONF, CTL_DEFAULT_FIFO);
}

/* -1 to go on, else the exit status. */
static int options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "fifo", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long ms;
	int c;

	*o = (struct options){ .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
	while ((c = getopt_long(argc, argv, "+f:s:jt:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->conf_file = optarg; break;
		case 's': o->fifo = optarg; break;
		case 'j': o->json = true; break;
		case 't':
			errno = 0;
			ms = strtol(optarg, &end, 10);
			if (errno || *end || ms < 1 || ms > 3600000) {
				fprintf(stderr, "pinholectl: -t wants 1..3600000 milliseconds, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			o->timeout_ms = (int)ms;
			break;
		case 'V': printf("pinholectl %s\n", PINHOLE_VERSION); return EXIT_OK;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (o->conf_file && o->fifo) {
		fprintf(stderr, "pinholectl: -f and -s exclude each other\n");
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	o->first_arg = optind;
	return -1;
}

/* ctl.fifo of file. A file with errors still gives its FIFO (or the
 * default) with a warning, so that 'reload' can report those errors. */
static int fifo_from_conf(const char *file, char *fifo, size_t cap)
{
	struct pinhole_conf *conf = malloc(sizeof(*conf));
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	int rc = 0;

	if (!conf || !errs) {
		fprintf(stderr, "pinholectl: out of memory\n");
		rc = -ENOMEM;
		goto out;
	}
	if (conf_load(file, conf, errs) < 0)
		fprintf(stderr, "pinholectl: warning: %.*s\n"
			"pinholectl: warning: %s has errors; trying FIFO %s (-s FIFO to choose)\n",
			(int)strcspn(errs->text, "\n"), errs->text, file, conf->ctl.fifo);
	snprintf(fifo, cap, "%s", conf->ctl.fifo);
out:
	free(conf);
	free(errs);
	return rc;
}

static int fifo_choose(const struct options *o, char *fifo, size_t cap)
{
	if (o->fifo) {
		snprintf(fifo, cap, "%s", o->fifo);
		return 0;
	}
	if (o->conf_file) {
		if (access(o->conf_file, R_OK) < 0) {
			fprintf(stderr, "pinholectl: %s: %s\n", o->conf_file, strerror(errno));
			return -errno;
		}
		return fifo_from_conf(o->conf_file, fifo, cap);
	}
	if (access(CTL_DEFAULT_CONF, F_OK) == 0)
		return fifo_from_conf(CTL_DEFAULT_CONF, fifo, cap);
	snprintf(fifo, cap, "%s", CTL_DEFAULT_FIFO);
	return 0;
}

static void signals_catch(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int reply_print(json_t *reply, bool as_json)
{
	json_t *result = json_object_get(reply, "result");
	char *text;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "pinholectl: %s\n",
			json_string_value(json_object_get(reply, "error")));
		return EXIT_ERROR_REPLY;
	}
	if (as_json) {
		text = json_dumps(result ? result : json_null(),
				  JSON_INDENT(2) | JSON_ENCODE_ANY);
		printf("%s\n", text ? text : "null");
		free(text);
	} else {
		ctl_render_text(result ? result : json_null(), stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "pinholectl: stdout: %s\n", strerror(errno));
		return EXIT_ERROR_REPLY;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	char fifo[PATH_MAX], err[8192];
	json_t *reply = NULL;
	struct options o;
	int rc;

	rc = options_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (fifo_choose(&o, fifo, sizeof(fifo)) < 0)
		return EXIT_USAGE;
	signals_catch();
	rc = ctl_request(fifo, argc - o.first_arg, argv + o.first_arg, o.timeout_ms,
			 &reply, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "pinholectl: %s\n", err);
		return rc == -EINTR || interrupted ? EXIT_INTERRUPTED : EXIT_UNREACHABLE;
	}
	rc = reply_print(reply, o.json);
	json_decref(reply);
	return rc;
}
