/*
 * cli_commands.c: mqtt-cli's interactive commands and the session they
 * drive.
 *
 * Each command is one entry of cmd_table (name, alias, usage, one line of
 * help, exec function); cli_execute() splits the line (cli_args.c), finds
 * the entry and runs it. A command that needs the broker's answer
 * (connect, subscribe, unsubscribe, publish at QoS 1/2, disconnect)
 * returns CLI_WAIT: input pauses until the client library's callback ends
 * the wait with cli_done(). Ctrl-C ends any wait (cli_interrupt()).
 *
 * Every mistake a user can make gets one line saying what is wrong and
 * how the command is used; nothing a user types can crash mqtt-cli.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "cli_args.h"
#include "topic.h"
#include "utf8.h"
#include "xmalloc.h"

static enum cli_ret	cmd_connect(struct cli *, int, char **);
static enum cli_ret	cmd_subscribe(struct cli *, int, char **);
static enum cli_ret	cmd_unsubscribe(struct cli *, int, char **);
static enum cli_ret	cmd_publish(struct cli *, int, char **);
static enum cli_ret	cmd_disconnect(struct cli *, int, char **);
static enum cli_ret	cmd_status(struct cli *, int, char **);
static enum cli_ret	cmd_help(struct cli *, int, char **);
static enum cli_ret	cmd_quit(struct cli *, int, char **);

static const struct cli_cmd cmd_table[] = {
	{ "connect", NULL,
	  "[-u CLIENT_ID] [-h HOST] [-p PORT] [--user NAME] [--password PW] "
	  "[--clean|--persistent] [-k KEEPALIVE] [--will-topic T "
	  "--will-message M [--will-qos Q] [--will-retain]]",
	  "connect to a broker (default 127.0.0.1:1883)", cmd_connect },
	{ "subscribe", "sub", "[-q QOS] FILTER...",
	  "subscribe to topic filters and wait for messages", cmd_subscribe },
	{ "unsubscribe", "unsub", "FILTER...",
	  "unsubscribe from topic filters", cmd_unsubscribe },
	{ "publish", "pub", "[-q QOS] [-r] TOPIC MESSAGE",
	  "publish MESSAGE to TOPIC (-r: retained)", cmd_publish },
	{ "disconnect", NULL, "",
	  "disconnect from the broker", cmd_disconnect },
	{ "status", NULL, "",
	  "show the connection and the subscriptions", cmd_status },
	{ "help", "?", "[COMMAND]",
	  "list the commands, or show how one is used", cmd_help },
	{ "quit", "exit", "",
	  "disconnect and leave (Ctrl-D does the same)", cmd_quit },
};
#define NCMDS	(sizeof(cmd_table) / sizeof(cmd_table[0]))

static void	cli_done(struct cli *);
static void	cli_finish(struct cli *);

/* ===== Output ===== */

/* vsnprintf into a new string (the caller frees); NULL on error. */
static char *
format_new(const char *fmt, va_list ap)
{
	va_list	 aq;
	char	*s;
	int	 n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

void
cli_printf(struct cli *cli, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	text = format_new(fmt, ap);
	va_end(ap);
	if (text == NULL)
		return;
	if (cli->line != NULL)
		cli_line_print(cli->line, text);
	else
		fputs(text, stdout);
	free(text);
}

/* One line about a user's mistake: with the usage of cmd when given. */
static enum cli_ret
cli_error(struct cli *cli, const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum cli_ret
cli_error(struct cli *cli, const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	text = format_new(fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		cli_printf(cli, "%s: %s (usage: %s%s%s)\n", cmd->name,
		    text != NULL ? text : "error", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage);
	else
		cli_printf(cli, "%s\n", text != NULL ? text : "error");
	free(text);
	return CLI_DONE;
}

static bool
payload_printable(const uint8_t *p, size_t len)
{
	size_t	 i;

	if (!utf8_valid(p, len))
		return false;
	for (i = 0; i < len; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') ||
		    p[i] == 0x7f)
			return false;
	return true;
}

/* Longest binary payload shown in full; longer ones end with "...". */
#define HEX_SHOWN	64

char *
cli_format_message(const struct mqtt_message *m)
{
	char	*s, *p;
	size_t	 i, n, cap;

	n = m->payload_len < HEX_SHOWN ? m->payload_len : HEX_SHOWN;
	cap = m->topic_len + m->payload_len + 3 * n + 64;
	s = p = xmalloc(cap);
	p += snprintf(p, cap, "['%.*s']%s: ", (int)m->topic_len, m->topic,
	    m->retain ? " (retained)" : "");
	if (payload_printable(m->payload, m->payload_len)) {
		memcpy(p, m->payload, m->payload_len);
		p += m->payload_len;
	} else {
		p += sprintf(p, "[%zu bytes, hex]", m->payload_len);
		for (i = 0; i < n; i++)
			p += sprintf(p, " %02x", m->payload[i]);
		if (n < m->payload_len)
			p += sprintf(p, " ...");
	}
	*p++ = '\n';
	*p = '\0';
	return s;
}

const char *
cli_prompt(struct cli *cli)
{
	static char	 prompt[512];

	if (!cli->connected)
		return "> ";
	snprintf(prompt, sizeof(prompt), "%s@%s:%u> ", cli->client_id,
	    cli->host, cli->port);
	return prompt;
}

/* ===== The client library's callbacks ===== */

static void
subs_clear(struct cli *cli)
{
	size_t	 i;

	for (i = 0; i < cli->nsubs; i++)
		free(cli->subs[i]);
	free(cli->subs);
	free(cli->sub_qos);
	cli->subs = NULL;
	cli->sub_qos = NULL;
	cli->nsubs = 0;
}

static void
subs_remove(struct cli *cli, const char *filter)
{
	size_t	 i;

	for (i = 0; i < cli->nsubs; i++) {
		if (strcmp(cli->subs[i], filter) != 0)
			continue;
		free(cli->subs[i]);
		cli->subs[i] = cli->subs[cli->nsubs - 1];
		cli->sub_qos[i] = cli->sub_qos[cli->nsubs - 1];
		cli->nsubs--;
		return;
	}
}

static void
subs_add(struct cli *cli, const char *filter, uint8_t qos)
{
	subs_remove(cli, filter);
	cli->subs = xreallocarray(cli->subs, cli->nsubs + 1, sizeof(char *));
	cli->sub_qos = xreallocarray(cli->sub_qos, cli->nsubs + 1, 1);
	cli->subs[cli->nsubs] = xstrdup(filter);
	cli->sub_qos[cli->nsubs] = qos;
	cli->nsubs++;
}

static void
pending_filters_clear(struct cli *cli)
{
	cli_args_free(cli->pending_filters);
	cli->pending_filters = NULL;
}

static void
on_connected(struct mqtt_client *c, bool session_present, void *arg)
{
	struct cli	*cli = arg;

	(void)c;
	cli->connected = true;
	if (cli->pending != PENDING_CONNECT)
		return;
	cli_printf(cli, "Connected to the server!\n");
	if (session_present)
		cli_printf(cli, "The server kept the session: its subscriptions "
		    "and queued messages are back.\n");
	cli_done(cli);
}

static void
on_closed(struct mqtt_client *c, enum mqtt_client_err err, uint8_t code,
    bool reconnecting, void *arg)
{
	struct cli		*cli = arg;
	enum cli_pending	 was = cli->pending;
	bool			 was_listening = cli->listening;

	(void)reconnecting;
	if (err == MQTT_CLIENT_ERR_REFUSED)
		cli_printf(cli, "Connection refused by %s:%u: %s.\n", cli->host,
		    cli->port, mqtt_connack_strerror(code));
	else if (err != MQTT_CLIENT_OK)
		cli_printf(cli, "%s %s:%u: %s.\n", was == PENDING_CONNECT ?
		    "Cannot connect to" : "Connection lost with", cli->host,
		    cli->port, err == MQTT_CLIENT_ERR_CONNECT ||
		    err == MQTT_CLIENT_ERR_IO ? strerror(mqtt_client_errno(c)) :
		    mqtt_client_strerror(err));
	else
		cli_printf(cli, "Disconnected.\n");
	mqtt_client_free(c);
	cli->client = NULL;
	cli->connected = false;
	cli->listening = false;
	subs_clear(cli);
	pending_filters_clear(cli);
	if (err != MQTT_CLIENT_OK && !cli->interactive)
		cli->status = 1;
	if (was != PENDING_NONE || was_listening || cli->quitting)
		cli_done(cli);
	else if (cli->line != NULL && cli->interactive)
		cli_line_resume(cli->line, cli_prompt(cli));
}

static void
on_message(struct mqtt_client *c, const struct mqtt_message *m, void *arg)
{
	struct cli	*cli = arg;
	char		*text;

	(void)c;
	text = cli_format_message(m);
	cli_printf(cli, "%s", text);
	free(text);
}

static void
on_subscribed(struct mqtt_client *c, uint16_t id, const uint8_t *granted,
    size_t count, void *arg)
{
	struct cli	*cli = arg;
	size_t		 i;

	(void)c;
	if (cli->pending != PENDING_SUBSCRIBE || cli->pending_id != id)
		return;
	for (i = 0; i < count && cli->pending_filters[i] != NULL; i++) {
		if (granted[i] == MQTT_CLIENT_SUBACK_FAILURE)
			cli_printf(cli, "The server refused the subscription "
			    "to '%s'.\n", cli->pending_filters[i]);
		else
			subs_add(cli, cli->pending_filters[i], granted[i]);
	}
	pending_filters_clear(cli);
	cli_printf(cli, "Waiting on messages for subscribed topics...\n");
	if (cli->interactive) {
		cli_printf(cli, "To exit, press Ctrl-c.\n");
		cli->listening = true;
	}
	cli_done(cli);
}

static void
on_unsubscribed(struct mqtt_client *c, uint16_t id, void *arg)
{
	struct cli	*cli = arg;
	size_t		 i;

	(void)c;
	if (cli->pending != PENDING_UNSUBSCRIBE || cli->pending_id != id)
		return;
	for (i = 0; cli->pending_filters[i] != NULL; i++)
		subs_remove(cli, cli->pending_filters[i]);
	pending_filters_clear(cli);
	cli_printf(cli, "Unsubscribed.\n");
	cli_done(cli);
}

static void
on_published(struct mqtt_client *c, uint64_t token, void *arg)
{
	struct cli	*cli = arg;

	(void)c;
	if (cli->pending != PENDING_PUBLISH || cli->pending_token != token)
		return;
	cli_printf(cli, "Published.\n");
	cli_done(cli);
}

static const struct mqtt_client_cb cli_callbacks = {
	.connected = on_connected,
	.closed = on_closed,
	.message = on_message,
	.subscribed = on_subscribed,
	.unsubscribed = on_unsubscribed,
	.published = on_published,
};

/* ===== The session ===== */

void
cli_init(struct cli *cli, struct event_base *base, bool interactive)
{
	memset(cli, 0, sizeof(*cli));
	cli->base = base;
	cli->interactive = interactive;
}

void
cli_free(struct cli *cli)
{
	mqtt_client_free(cli->client);
	cli->client = NULL;
	subs_clear(cli);
	pending_filters_clear(cli);
	free(cli->client_id);
	free(cli->host);
}

/* A wait is over: read the next line, or keep listening, or leave. */
static void
cli_done(struct cli *cli)
{
	cli->pending = PENDING_NONE;
	if (cli->quitting) {
		cli_finish(cli);
		return;
	}
	if (cli->line == NULL)
		return;
	if (cli->listening && cli->interactive)
		cli_line_pause(cli->line);
	else
		cli_line_resume(cli->line, cli_prompt(cli));
}

/* quit or EOF: say goodbye to the broker, then leave the loop. */
static void
cli_finish(struct cli *cli)
{
	cli->quitting = true;
	if (cli->pending != PENDING_NONE)
		return;			/* cli_done() comes back here */
	if (cli->client != NULL && cli->connected &&
	    mqtt_client_disconnect(cli->client) == MQTT_CLIENT_OK) {
		cli->pending = PENDING_DISCONNECT;
		return;
	}
	event_base_loopexit(cli->base, NULL);
}

void
cli_interrupt(struct cli *cli)
{
	switch (cli->pending) {
	case PENDING_NONE:
		if (cli->listening) {
			cli->listening = false;
			cli_printf(cli, "\n");
			cli_done(cli);
		} else if (cli->line != NULL)
			cli_line_cancel(cli->line);
		return;
	case PENDING_CONNECT:
	case PENDING_DISCONNECT:
		mqtt_client_free(cli->client);
		cli->client = NULL;
		cli->connected = false;
		subs_clear(cli);
		cli_printf(cli, "\nCancelled.\n");
		break;
	case PENDING_SUBSCRIBE:
	case PENDING_UNSUBSCRIBE:
	case PENDING_PUBLISH:
		pending_filters_clear(cli);
		cli_printf(cli, "\nStopped waiting for the server's answer.\n");
		break;
	}
	cli->listening = false;
	cli_done(cli);
}

static const struct cli_cmd *
cmd_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmd_table[i].name, name) == 0 ||
		    (cmd_table[i].alias != NULL &&
		    strcmp(cmd_table[i].alias, name) == 0))
			return &cmd_table[i];
	return NULL;
}

enum cli_ret
cli_execute(struct cli *cli, const char *line)
{
	const struct cli_cmd	*cmd;
	enum cli_args_err	 err;
	enum cli_ret		 ret;
	char			**argv;
	int			 argc;

	if ((err = cli_args_split(line, &argc, &argv)) != CLI_ARGS_OK) {
		cli_error(cli, NULL, "Cannot read that line: %s.",
		    cli_args_strerror(err));
		if (!cli->interactive)
			cli->status = 1;
		return CLI_DONE;
	}
	if (argc == 0) {
		cli_args_free(argv);
		return CLI_DONE;
	}
	if ((cmd = cmd_find(argv[0])) == NULL) {
		cli_error(cli, NULL, "Unknown command '%s'. Type 'help' for the "
		    "list of commands.", argv[0]);
		cli_args_free(argv);
		if (!cli->interactive)
			cli->status = 1;
		return CLI_DONE;
	}
	cli->failed = false;
	ret = cmd->exec(cli, argc, argv);
	if (cli->failed && !cli->interactive)
		cli->status = 1;
	cli_args_free(argv);
	return ret;
}

/* ===== Argument helpers ===== */

bool
cli_parse_number(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	if (*s == '\0')
		return false;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_qos(const char *s, uint8_t *qos)
{
	long	 v;

	if (!cli_parse_number(s, 0, 2, &v))
		return false;
	*qos = (uint8_t)v;
	return true;
}

/*
 * Starts option parsing of a command's argv. Options come before the
 * operands (a MESSAGE may start with '-'); "--" ends them.
 */
static void
opts_reset(void)
{
	optind = 0;
	opterr = 0;
}

/* One line about the option getopt_long() did not accept. */
static enum cli_ret
bad_option(struct cli *cli, const struct cli_cmd *cmd, char **argv)
{
	cli->failed = true;
	if (optopt != 0 && strchr("hpukq", optopt) != NULL &&
	    argv[optind - 1][0] == '-' && argv[optind - 1][1] == optopt &&
	    argv[optind - 1][2] == '\0')
		return cli_error(cli, cmd, "option -%c needs a value", optopt);
	if (optopt != 0)
		return cli_error(cli, cmd, "unknown option -%c", optopt);
	return cli_error(cli, cmd, "unknown option %s", argv[optind - 1]);
}

static enum cli_ret
fail(struct cli *cli, const struct cli_cmd *cmd, const char *what)
{
	cli->failed = true;
	return cli_error(cli, cmd, "%s", what);
}

static enum cli_ret
not_connected(struct cli *cli, const struct cli_cmd *cmd)
{
	cli->failed = true;
	return cli_error(cli, NULL, "%s: not connected; use 'connect' first.",
	    cmd->name);
}

/* ===== connect ===== */

enum {
	OPT_USER = 256, OPT_PASSWORD, OPT_CLEAN, OPT_PERSISTENT,
	OPT_WILL_TOPIC, OPT_WILL_MESSAGE, OPT_WILL_QOS, OPT_WILL_RETAIN
};

static const struct option connect_options[] = {
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "clean", no_argument, NULL, OPT_CLEAN },
	{ "persistent", no_argument, NULL, OPT_PERSISTENT },
	{ "will-topic", required_argument, NULL, OPT_WILL_TOPIC },
	{ "will-message", required_argument, NULL, OPT_WILL_MESSAGE },
	{ "will-qos", required_argument, NULL, OPT_WILL_QOS },
	{ "will-retain", no_argument, NULL, OPT_WILL_RETAIN },
	{ NULL, 0, NULL, 0 }
};

static enum cli_ret
cmd_connect(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd		*cmd = cmd_find("connect");
	struct mqtt_client_options	 o;
	enum mqtt_client_err		 err;
	const char			*will_message = NULL;
	char				 idbuf[64];
	long				 v;
	int				 ch;

	if (cli->client != NULL)
		return fail(cli, cmd, cli->connected ?
		    "already connected; use 'disconnect' first" :
		    "already connecting");
	mqtt_client_options_init(&o);
	snprintf(idbuf, sizeof(idbuf), "mqtt-cli-%ld", (long)getpid());
	o.client_id = idbuf;
	o.host = CLI_DEFAULT_HOST;
	o.port = CLI_DEFAULT_PORT;
	o.connect_timeout = 10;
	opts_reset();
	while ((ch = getopt_long(argc, argv, "+u:h:p:k:", connect_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'u':
			o.client_id = optarg;
			break;
		case 'h':
			o.host = optarg;
			break;
		case 'p':
			if (!cli_parse_number(optarg, 1, 65535, &v))
				return fail(cli, cmd, "the port must be a number "
				    "from 1 to 65535");
			o.port = (uint16_t)v;
			break;
		case 'k':
			if (!cli_parse_number(optarg, 0, 65535, &v))
				return fail(cli, cmd, "the keep-alive must be a "
				    "number of seconds from 0 to 65535");
			o.keep_alive = (uint16_t)v;
			break;
		case OPT_USER:
			o.username = optarg;
			break;
		case OPT_PASSWORD:
			o.password = optarg;
			break;
		case OPT_CLEAN:
			o.clean_session = true;
			break;
		case OPT_PERSISTENT:
			o.clean_session = false;
			break;
		case OPT_WILL_TOPIC:
			o.will = true;
			o.will_topic = optarg;
			break;
		case OPT_WILL_MESSAGE:
			will_message = optarg;
			break;
		case OPT_WILL_QOS:
			if (!parse_qos(optarg, &o.will_qos))
				return fail(cli, cmd, "QoS must be 0, 1 or 2");
			break;
		case OPT_WILL_RETAIN:
			o.will_retain = true;
			break;
		default:
			return bad_option(cli, cmd, argv);
		}
	}
	if (optind < argc)
		return fail(cli, cmd, "unexpected argument");
	if (o.password != NULL && o.username == NULL)
		return fail(cli, cmd, "--password needs --user");
	if (!o.will && (will_message != NULL || o.will_qos != 0 ||
	    o.will_retain))
		return fail(cli, cmd, "a will needs --will-topic");
	if (o.will) {
		if (topic_name_validate(o.will_topic, strlen(o.will_topic),
		    NULL) != TOPIC_OK)
			return fail(cli, cmd, "the will topic must be a topic "
			    "name without '+' or '#'");
		o.will_payload = will_message != NULL ? will_message : "";
		o.will_payload_len = strlen(o.will_payload);
	}
	if (!o.clean_session && *o.client_id == '\0')
		return fail(cli, cmd, "a persistent session needs a client id");

	cli->client = mqtt_client_new(cli->base, &o, &cli_callbacks, cli);
	if (cli->client == NULL)
		return fail(cli, cmd, "out of memory");
	if ((err = mqtt_client_connect(cli->client)) != MQTT_CLIENT_OK) {
		errno = mqtt_client_errno(cli->client);
		mqtt_client_free(cli->client);
		cli->client = NULL;
		cli->failed = true;
		return cli_error(cli, NULL, "Cannot connect to %s:%u: %s.",
		    o.host, o.port, err == MQTT_CLIENT_ERR_CONNECT ?
		    strerror(errno) : mqtt_client_strerror(err));
	}
	free(cli->client_id);
	free(cli->host);
	cli->client_id = xstrdup(o.client_id);
	cli->host = xstrdup(o.host);
	cli->port = o.port;
	cli->clean = o.clean_session;
	cli->keep_alive = o.keep_alive;
	cli->pending = PENDING_CONNECT;
	return CLI_WAIT;
}

/* ===== subscribe, unsubscribe ===== */

/*
 * The FILTER... operands after the options: their number, or 0 after one
 * line about what is wrong (none, an invalid filter, not connected).
 */
static int
filter_operands(struct cli *cli, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	char		**filters = argv + optind;
	enum topic_err	 err;
	int		 i, n = argc - optind;

	if (n == 0) {
		fail(cli, cmd, "which topics?");
		return 0;
	}
	for (i = 0; i < n; i++) {
		err = topic_filter_validate(filters[i], strlen(filters[i]),
		    NULL);
		if (err == TOPIC_OK && !utf8_valid((uint8_t *)filters[i],
		    strlen(filters[i])))
			err = TOPIC_ERR_EMPTY;
		if (err != TOPIC_OK) {
			cli->failed = true;
			cli_error(cli, cmd, "'%s' is not a valid topic filter: "
			    "%s", filters[i], topic_strerror(err));
			return 0;
		}
	}
	if (!cli->connected) {
		not_connected(cli, cmd);
		return 0;
	}
	return n;
}

/*
 * After the request for n filters went out (err): keeps a copy of the
 * filters and waits for the broker's answer.
 */
static enum cli_ret
filters_sent(struct cli *cli, const struct cli_cmd *cmd,
    enum mqtt_client_err err, int n, char **filters, enum cli_pending pending)
{
	int	 i;

	if (err != MQTT_CLIENT_OK)
		return fail(cli, cmd, mqtt_client_strerror(err));
	pending_filters_clear(cli);
	cli->pending_filters = xcalloc((size_t)n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		cli->pending_filters[i] = xstrdup(filters[i]);
	cli->pending = pending;
	return CLI_WAIT;
}

static enum cli_ret
cmd_subscribe(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd		*cmd = cmd_find("subscribe");
	struct mqtt_subscription	*subs;
	enum mqtt_client_err		 err;
	uint8_t				 qos = 0;
	int				 ch, i, n;

	opts_reset();
	while ((ch = getopt_long(argc, argv, "+q:", NULL, NULL)) != -1) {
		if (ch != 'q')
			return bad_option(cli, cmd, argv);
		if (!parse_qos(optarg, &qos))
			return fail(cli, cmd, "QoS must be 0, 1 or 2");
	}
	if ((n = filter_operands(cli, cmd, argc, argv)) == 0)
		return CLI_DONE;
	subs = xcalloc((size_t)n, sizeof(*subs));
	for (i = 0; i < n; i++) {
		subs[i].filter = argv[optind + i];
		subs[i].qos = qos;
	}
	err = mqtt_client_subscribe(cli->client, subs, (size_t)n,
	    &cli->pending_id);
	free(subs);
	return filters_sent(cli, cmd, err, n, argv + optind, PENDING_SUBSCRIBE);
}

static enum cli_ret
cmd_unsubscribe(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd	*cmd = cmd_find("unsubscribe");
	enum mqtt_client_err	 err;
	int			 n;

	opts_reset();
	if (getopt_long(argc, argv, "+", NULL, NULL) != -1)
		return bad_option(cli, cmd, argv);
	if ((n = filter_operands(cli, cmd, argc, argv)) == 0)
		return CLI_DONE;
	err = mqtt_client_unsubscribe(cli->client,
	    (const char *const *)(argv + optind), (size_t)n, &cli->pending_id);
	return filters_sent(cli, cmd, err, n, argv + optind,
	    PENDING_UNSUBSCRIBE);
}

/* ===== publish ===== */

static enum cli_ret
cmd_publish(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd	*cmd = cmd_find("publish");
	enum mqtt_client_err	 err;
	enum topic_err		 terr;
	const char		*topic, *message;
	uint8_t			 qos = 0;
	bool			 retain = false;
	int			 ch;

	opts_reset();
	while ((ch = getopt_long(argc, argv, "+q:r", NULL, NULL)) != -1) {
		switch (ch) {
		case 'q':
			if (!parse_qos(optarg, &qos))
				return fail(cli, cmd, "QoS must be 0, 1 or 2");
			break;
		case 'r':
			retain = true;
			break;
		default:
			return bad_option(cli, cmd, argv);
		}
	}
	if (argc - optind != 2)
		return fail(cli, cmd, argc - optind < 2 ?
		    "a topic and a message are needed (quote a message "
		    "with spaces)" : "too many arguments (quote a message "
		    "with spaces)");
	topic = argv[optind];
	message = argv[optind + 1];
	terr = topic_name_validate(topic, strlen(topic), NULL);
	if (terr == TOPIC_ERR_WILDCARD)
		return fail(cli, cmd, "a topic to publish to cannot contain "
		    "the wildcards '+' or '#'");
	if (terr != TOPIC_OK) {
		cli->failed = true;
		return cli_error(cli, cmd, "'%s' is not a valid topic: %s",
		    topic, topic_strerror(terr));
	}
	if (!cli->connected)
		return not_connected(cli, cmd);
	err = mqtt_client_publish(cli->client, topic, message,
	    strlen(message), qos, retain, &cli->pending_token);
	if (err != MQTT_CLIENT_OK)
		return fail(cli, cmd, mqtt_client_strerror(err));
	if (qos == 0) {
		cli_printf(cli, "Published.\n");
		return CLI_DONE;
	}
	cli->pending = PENDING_PUBLISH;
	return CLI_WAIT;
}

/* ===== disconnect, status, help, quit ===== */

static enum cli_ret
cmd_disconnect(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd	*cmd = cmd_find("disconnect");

	(void)argv;
	if (argc > 1)
		return fail(cli, cmd, "no arguments expected");
	if (!cli->connected)
		return not_connected(cli, cmd);
	if (mqtt_client_disconnect(cli->client) != MQTT_CLIENT_OK)
		return fail(cli, cmd, "not connected");
	cli->pending = PENDING_DISCONNECT;
	return CLI_WAIT;
}

static enum cli_ret
cmd_status(struct cli *cli, int argc, char **argv)
{
	size_t	 i;

	(void)argc; (void)argv;
	if (!cli->connected) {
		cli_printf(cli, "Not connected.\n");
		return CLI_DONE;
	}
	cli_printf(cli, "Connected to %s:%u as '%s', %s session, keep-alive "
	    "%us.\n", cli->host, cli->port, cli->client_id,
	    cli->clean ? "clean" : "persistent", cli->keep_alive);
	if (cli->nsubs == 0)
		cli_printf(cli, "No subscriptions made from this prompt.\n");
	for (i = 0; i < cli->nsubs; i++)
		cli_printf(cli, "Subscribed to '%s' at QoS %u.\n", cli->subs[i],
		    cli->sub_qos[i]);
	if (mqtt_client_pending(cli->client) > 0)
		cli_printf(cli, "%zu messages waiting for the server.\n",
		    mqtt_client_pending(cli->client));
	return CLI_DONE;
}

static enum cli_ret
cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct cli_cmd	*cmd;
	size_t			 i;

	if (argc > 1) {
		if ((cmd = cmd_find(argv[1])) == NULL) {
			cli->failed = true;
			return cli_error(cli, NULL, "help: no such command '%s'; "
			    "type 'help' for the list of commands", argv[1]);
		}
		cli_printf(cli, "usage: %s%s%s\n  %s\n", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage, cmd->help);
		return CLI_DONE;
	}
	cli_printf(cli, "Commands:\n");
	for (i = 0; i < NCMDS; i++)
		cli_printf(cli, "  %-12s %s\n", cmd_table[i].name,
		    cmd_table[i].help);
	cli_printf(cli, "Type 'help COMMAND' for its options.\n");
	return CLI_DONE;
}

static enum cli_ret
cmd_quit(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	return CLI_QUIT;
}

/* ===== Line handling ===== */

/* Called by the dispatcher in mqtt-cli.c with what cli_execute() said. */
void
cli_after(struct cli *cli, enum cli_ret ret)
{
	switch (ret) {
	case CLI_DONE:
		cli_done(cli);
		break;
	case CLI_WAIT:
		cli_line_pause(cli->line);
		break;
	case CLI_QUIT:
		cli_line_pause(cli->line);
		cli_finish(cli);
		break;
	}
}

/* EOF on input: leave as quit does, once pending work is done. */
void
cli_eof(struct cli *cli)
{
	cli_line_pause(cli->line);
	cli_finish(cli);
}
