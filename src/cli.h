/*
 * cli.h: mqtt-cli's parts and what they share.
 *
 *   mqtt-cli.c       main(): chooses the interactive mode or a one-shot mode
 *   cli_commands.c   the interactive commands, one table entry each, and
 *                    the session the user drives with them (struct cli)
 *   cli_line.c       line input: libedit when configured, plain reads
 *                    otherwise; prints lines without garbling the one typed
 *   cli_oneshot.c    "mqtt-cli pub" and "mqtt-cli sub" for scripts
 *   cli_args.c       shell-like splitting of a command line (cli_args.h)
 *
 * The MQTT work is the client library's (client.h); these files only
 * parse what the user typed and print what happened.
 */
#ifndef MQTTD_CLI_H
#define MQTTD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define CLI_DEFAULT_HOST	"127.0.0.1"
#define CLI_DEFAULT_PORT	1883

struct event;
struct event_base;
struct cli_line;

/* What a command's exec function tells the dispatcher. */
enum cli_ret {
	CLI_DONE,		/* finished: read the next line */
	CLI_WAIT,		/* waiting for the broker: input paused until cli_done() */
	CLI_QUIT		/* leave mqtt-cli */
};

/* What the session is waiting for, if anything. */
enum cli_pending {
	PENDING_NONE,
	PENDING_CONNECT,
	PENDING_SUBSCRIBE,
	PENDING_UNSUBSCRIBE,
	PENDING_PUBLISH,
	PENDING_DISCONNECT
};

/* The interactive session: one connection at a time. */
struct cli {
	struct event_base	*base;
	struct cli_line		*line;
	struct event		*sigint;
	bool			 interactive;	/* stdin is a terminal */

	struct mqtt_client	*client;
	bool			 connected;
	char			*client_id;
	char			*host;
	uint16_t		 port;
	bool			 clean;
	uint16_t		 keep_alive;

	enum cli_pending	 pending;
	uint16_t		 pending_id;	/* SUBSCRIBE/UNSUBSCRIBE */
	uint64_t		 pending_token;	/* PUBLISH at QoS 1/2 */
	bool			 listening;	/* after subscribe, until Ctrl-C */
	bool			 quitting;	/* quit or EOF: leave once idle */
	char			**pending_filters; /* until SUBACK/UNSUBACK */
	bool			 failed;	/* the last command went wrong */
	int			 status;	/* exit status: 1 once a piped command failed */

	char			**subs;		/* filters subscribed, for status */
	uint8_t			*sub_qos;
	size_t			 nsubs;
};

/* A command of the interactive mode. */
struct cli_cmd {
	const char	*name;
	const char	*alias;
	const char	*usage;		/* arguments only */
	const char	*help;		/* one line */
	enum cli_ret	(*exec)(struct cli *, int argc, char **argv);
};

/* cli_commands.c */
void		 cli_init(struct cli *, struct event_base *, bool interactive);
void		 cli_free(struct cli *);
/* Runs one line typed by the user; returns what cli_ret says. */
enum cli_ret	 cli_execute(struct cli *, const char *line);
/* Follows up on what cli_execute() returned: resume input, wait or leave. */
void		 cli_after(struct cli *, enum cli_ret);
/* End of input: leaves as quit does, after a pending command. */
void		 cli_eof(struct cli *);
/* Ctrl-C: cancels a pending command or stops listening. */
void		 cli_interrupt(struct cli *);
/* The prompt for the current state ("> " or "client@host:port> "). */
const char	*cli_prompt(struct cli *);
/* Prints one line of output (printf-style) without garbling input. */
void		 cli_printf(struct cli *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Formats a received message as mqtt-cli shows it: ['TOPIC']: PAYLOAD. */
char		*cli_format_message(const struct mqtt_message *);
/* Parses a decimal number in [min, max]; false if s is not one. */
bool		 cli_parse_number(const char *s, long min, long max, long *out);

/* cli_line.c */
typedef void	 cli_line_fn(const char *line, void *arg);	/* NULL: EOF */
struct cli_line	*cli_line_new(struct event_base *, bool interactive,
		    cli_line_fn *fn, void *arg);
void		 cli_line_free(struct cli_line *);
/* Shows prompt and reads lines again (after a pause). */
void		 cli_line_resume(struct cli_line *, const char *prompt);
/* Stops reading lines until cli_line_resume(); hides the prompt. */
void		 cli_line_pause(struct cli_line *);
/* Prints text (a whole line, with its newline) above the line being typed. */
void		 cli_line_print(struct cli_line *, const char *text);
/* Ctrl-C at the prompt: drops what was typed, shows a fresh prompt. */
void		 cli_line_cancel(struct cli_line *);

/* cli_oneshot.c */
int		 cli_pub_main(int argc, char **argv);
int		 cli_sub_main(int argc, char **argv);

#endif /* MQTTD_CLI_H */
