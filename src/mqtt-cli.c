/*
 * mqtt-cli.c: main() of mqtt-cli, the MQTT client for people and scripts.
 *
 *   mqtt-cli              interactive: commands typed (or piped) one a line
 *   mqtt-cli pub ...      publish one message and leave (cli_oneshot.c)
 *   mqtt-cli sub ...      print messages until a count or a timeout
 *
 * main() owns the event base, the session (struct cli) and the line
 * input; it wires them together and handles Ctrl-C. The commands are in
 * cli_commands.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mqtt-cli                 interactive (type 'help')\n"
	    "       mqtt-cli pub [-h HOST] [-p PORT] -t TOPIC "
	    "(-m MSG | -f FILE | -s | -n) [-q QOS] [-r] [-i ID]\n"
	    "       mqtt-cli sub [-h HOST] [-p PORT] -t FILTER... [-q QOS] "
	    "[-C COUNT] [-W SECONDS] [-v] [-i ID] [--persistent]\n"
	    "See mqtt-cli(1).\n");
}

static void
on_line(const char *line, void *arg)
{
	struct cli	*cli = arg;

	if (line == NULL) {
		cli_eof(cli);
		return;
	}
	cli_after(cli, cli_execute(cli, line));
}

static void
on_sigint(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what;
	cli_interrupt(arg);
}

static int
interactive_main(void)
{
	struct event_base	*base;
	struct event		*sigint = NULL;
	struct cli		 cli;
	int			 status;

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "mqtt-cli: cannot start the event loop\n");
		return 1;
	}
	cli_init(&cli, base, isatty(STDIN_FILENO) == 1);
	cli.line = cli_line_new(base, cli.interactive, on_line, &cli);
	if (cli.interactive) {
		sigint = evsignal_new(base, SIGINT, on_sigint, &cli);
		evsignal_add(sigint, NULL);
	}
	cli_line_resume(cli.line, cli_prompt(&cli));
	event_base_dispatch(base);

	status = cli.status;
	cli_line_free(cli.line);
	cli.line = NULL;
	cli_free(&cli);
	if (sigint != NULL)
		event_free(sigint);
	event_base_free(base);
	return status;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return interactive_main();
	if (strcmp(argv[1], "pub") == 0)
		return cli_pub_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "sub") == 0)
		return cli_sub_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("mqtt-cli %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "mqtt-cli: unknown mode '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
