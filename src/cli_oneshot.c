/*
 * cli_oneshot.c: "mqtt-cli pub" and "mqtt-cli sub", one-shot modes for
 * scripts with the options of mosquitto_pub and mosquitto_sub.
 *
 * Each runs one client on its own event loop until the work is done, the
 * broker refuses, the connection is lost or the -W timeout passes. Exit
 * status: 0 on success, 1 with one line on stderr on failure, 2 for a
 * usage error. Payloads are bytes: sub writes them out unchanged (binary
 * included), pub reads them from -m, a file or stdin unchanged.
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
#include "topic.h"
#include "xmalloc.h"

/* Most bytes read for a payload: what one PUBLISH can carry, and more. */
#define MAX_PAYLOAD_READ	((size_t)256 << 20)

/* State of one run of pub or sub. */
struct oneshot {
	struct event_base	*base;
	struct mqtt_client	*client;
	struct event		*timeout;
	const char		*mode;		/* "pub" or "sub" */
	struct mqtt_client_options o;
	unsigned		 wait_seconds;	/* -W; 0 = none */
	int			 status;
	bool			 done;

	/* pub */
	const char		*topic;
	uint8_t			*payload;
	size_t			 payload_len;
	bool			 retain;

	/* sub */
	char			**filters;
	size_t			 nfilters;
	uint8_t			 qos;
	long			 count;		/* -C; 0 = unlimited */
	long			 received;
	bool			 verbose;	/* -v: "TOPIC PAYLOAD" */
	bool			 no_newline;	/* -N */
	bool			 exit_after_sub; /* -E */
	bool			 debug;		/* -d: events on stderr */
};

static void
oneshot_fail(struct oneshot *os, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line on stderr, exit status 1, and the loop ends. */
static void
oneshot_fail(struct oneshot *os, const char *fmt, ...)
{
	va_list	 ap;

	if (os->status == 0) {
		fputs("mqtt-cli: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	os->status = 1;
	os->done = true;
	event_base_loopexit(os->base, NULL);
}

/* The work is done: say DISCONNECT; the loop ends when it is out. */
static void
oneshot_finish(struct oneshot *os)
{
	os->done = true;
	if (mqtt_client_disconnect(os->client) != MQTT_CLIENT_OK)
		event_base_loopexit(os->base, NULL);
}

static void
on_closed(struct mqtt_client *c, enum mqtt_client_err err, uint8_t code,
    bool reconnecting, void *arg)
{
	struct oneshot	*os = arg;

	(void)reconnecting;
	if (err == MQTT_CLIENT_OK) {
		event_base_loopexit(os->base, NULL);
		return;
	}
	if (err == MQTT_CLIENT_ERR_REFUSED)
		oneshot_fail(os, "connection refused by %s:%u: %s",
		    os->o.host, os->o.port, mqtt_connack_strerror(code));
	else if (err == MQTT_CLIENT_ERR_CONNECT || err == MQTT_CLIENT_ERR_IO)
		oneshot_fail(os, "cannot connect to %s:%u: %s", os->o.host,
		    os->o.port, strerror(mqtt_client_errno(c)));
	else
		oneshot_fail(os, "%s:%u: %s", os->o.host, os->o.port,
		    mqtt_client_strerror(err));
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct oneshot	*os = arg;

	(void)fd; (void)what;
	oneshot_fail(os, "timed out after %u seconds", os->wait_seconds);
}

/* ===== pub ===== */

static void
pub_connected(struct mqtt_client *c, bool session_present, void *arg)
{
	struct oneshot		*os = arg;
	enum mqtt_client_err	 err;

	(void)session_present;
	err = mqtt_client_publish(c, os->topic, os->payload, os->payload_len,
	    os->qos, os->retain, NULL);
	if (err != MQTT_CLIENT_OK) {
		oneshot_fail(os, "cannot publish: %s", err == MQTT_CLIENT_ERR_ARG ?
		    "message too large" : mqtt_client_strerror(err));
		return;
	}
	if (os->qos == 0)
		oneshot_finish(os);
}

static void
pub_published(struct mqtt_client *c, uint64_t token, void *arg)
{
	(void)c; (void)token;
	oneshot_finish(arg);
}

/* Reads all of f; NULL with errno set on a read error. */
static uint8_t *
read_all(FILE *f, size_t *lenp)
{
	uint8_t	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > MAX_PAYLOAD_READ) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*lenp = len;
	return buf;
}

/* ===== sub ===== */

static void
sub_connected(struct mqtt_client *c, bool session_present, void *arg)
{
	struct oneshot			*os = arg;
	struct mqtt_subscription	*subs;
	enum mqtt_client_err		 err;
	size_t				 i;

	if (os->debug)
		fprintf(stderr, "mqtt-cli: connected, session %s\n",
		    session_present ? "present" : "new");
	subs = xcalloc(os->nfilters, sizeof(*subs));
	for (i = 0; i < os->nfilters; i++) {
		subs[i].filter = os->filters[i];
		subs[i].qos = os->qos;
	}
	err = mqtt_client_subscribe(c, subs, os->nfilters, NULL);
	free(subs);
	if (err != MQTT_CLIENT_OK)
		oneshot_fail(os, "cannot subscribe: %s",
		    mqtt_client_strerror(err));
}

static void
sub_subscribed(struct mqtt_client *c, uint16_t id, const uint8_t *granted,
    size_t count, void *arg)
{
	struct oneshot	*os = arg;
	size_t		 i;

	(void)c; (void)id;
	for (i = 0; i < count && i < os->nfilters; i++)
		if (granted[i] == MQTT_CLIENT_SUBACK_FAILURE) {
			oneshot_fail(os, "the broker refused the subscription "
			    "to '%s'", os->filters[i]);
			return;
		}
	if (os->debug) {
		fprintf(stderr, "mqtt-cli: subscribed\n");
		fflush(stderr);
	}
	if (os->exit_after_sub)
		oneshot_finish(os);
}

static void
sub_message(struct mqtt_client *c, const struct mqtt_message *m, void *arg)
{
	struct oneshot	*os = arg;

	(void)c;
	if (os->done)
		return;
	if (os->verbose) {
		fwrite(m->topic, 1, m->topic_len, stdout);
		fputc(' ', stdout);
	}
	fwrite(m->payload, 1, m->payload_len, stdout);
	if (!os->no_newline)
		fputc('\n', stdout);
	fflush(stdout);
	if (os->count > 0 && ++os->received >= os->count)
		oneshot_finish(os);
}

/* ===== Common options and the run ===== */

static int
usage_error(const char *mode, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line about a usage mistake; returns the exit status 2. */
static int
usage_error(const char *mode, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "mqtt-cli %s: ", mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see mqtt-cli --help)\n");
	return 2;
}

/*
 * Parses an option common to pub and sub into os. Returns 1 when it was
 * one, 0 when not, -1 (with one line printed) when its value is bad.
 */
static int
common_option(struct oneshot *os, int ch, const char *arg)
{
	long	 v;

	switch (ch) {
	case 'h':
		os->o.host = arg;
		return 1;
	case 'p':
		if (!cli_parse_number(arg, 1, 65535, &v))
			return usage_error(os->mode, "bad port '%s'", arg), -1;
		os->o.port = (uint16_t)v;
		return 1;
	case 'i':
		os->o.client_id = arg;
		return 1;
	case 'u':
		os->o.username = arg;
		return 1;
	case 'P':
		os->o.password = arg;
		return 1;
	case 'k':
		if (!cli_parse_number(arg, 0, 65535, &v))
			return usage_error(os->mode, "bad keep-alive '%s'", arg),
			    -1;
		os->o.keep_alive = (uint16_t)v;
		return 1;
	case 'q':
		if (!cli_parse_number(arg, 0, 2, &v))
			return usage_error(os->mode, "QoS must be 0, 1 or 2, "
			    "not '%s'", arg), -1;
		os->qos = (uint8_t)v;
		return 1;
	case 'W':
		if (!cli_parse_number(arg, 1, 86400 * 365, &v))
			return usage_error(os->mode, "bad timeout '%s'", arg),
			    -1;
		os->wait_seconds = (unsigned)v;
		return 1;
	}
	return 0;
}

static void
oneshot_init(struct oneshot *os, const char *mode, char *idbuf, size_t idlen)
{
	memset(os, 0, sizeof(*os));
	os->mode = mode;
	mqtt_client_options_init(&os->o);
	snprintf(idbuf, idlen, "mqtt-cli-%s-%ld", mode, (long)getpid());
	os->o.client_id = idbuf;
	os->o.host = CLI_DEFAULT_HOST;
	os->o.port = CLI_DEFAULT_PORT;
	os->o.connect_timeout = 10;
}

static int
oneshot_run(struct oneshot *os, const struct mqtt_client_cb *cb)
{
	enum mqtt_client_err	 err;
	struct timeval		 tv;

	if ((os->base = event_base_new()) == NULL) {
		fprintf(stderr, "mqtt-cli: cannot start the event loop\n");
		return 1;
	}
	if (os->wait_seconds > 0) {
		os->o.connect_timeout = os->wait_seconds;
		os->timeout = evtimer_new(os->base, on_timeout, os);
		tv.tv_sec = os->wait_seconds;
		tv.tv_usec = 0;
		evtimer_add(os->timeout, &tv);
	}
	os->client = mqtt_client_new(os->base, &os->o, cb, os);
	if (os->client == NULL)
		oneshot_fail(os, "out of memory");
	else if ((err = mqtt_client_connect(os->client)) != MQTT_CLIENT_OK)
		oneshot_fail(os, "cannot connect to %s:%u: %s", os->o.host,
		    os->o.port, err == MQTT_CLIENT_ERR_CONNECT ?
		    strerror(mqtt_client_errno(os->client)) :
		    mqtt_client_strerror(err));
	else
		event_base_dispatch(os->base);
	mqtt_client_free(os->client);
	if (os->timeout != NULL)
		event_free(os->timeout);
	event_base_free(os->base);
	return os->status;
}

enum { OPT_HELP = 256, OPT_PERSISTENT };

static const struct option pub_options[] = {
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

int
cli_pub_main(int argc, char **argv)
{
	static const struct mqtt_client_cb cb = {
		.connected = pub_connected,
		.closed = on_closed,
		.published = pub_published,
	};
	struct oneshot	 os;
	char		 idbuf[64];
	const char	*message = NULL, *file = NULL;
	bool		 from_stdin = false, null_message = false;
	FILE		*f;
	int		 ch, r, sources, status;

	oneshot_init(&os, "pub", idbuf, sizeof(idbuf));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h:p:i:u:P:k:q:W:t:m:f:snr",
	    pub_options, NULL)) != -1) {
		if ((r = common_option(&os, ch, optarg)) == -1)
			return 2;
		if (r == 1)
			continue;
		switch (ch) {
		case 't':
			os.topic = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			from_stdin = true;
			break;
		case 'n':
			null_message = true;
			break;
		case 'r':
			os.retain = true;
			break;
		case OPT_HELP:
			printf("usage: mqtt-cli pub [-h HOST] [-p PORT] -t TOPIC "
			    "(-m MSG | -f FILE | -s | -n) [-q QOS] [-r] [-i ID] "
			    "[-u USER [-P PASSWORD]] [-k KEEPALIVE] "
			    "[-W SECONDS]\n");
			return 0;
		default:
			return usage_error("pub", "unknown option or missing "
			    "value in '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("pub", "unexpected argument '%s'",
		    argv[optind]);
	if (os.topic == NULL)
		return usage_error("pub", "%s", "-t TOPIC is required");
	if (topic_name_validate(os.topic, strlen(os.topic), NULL) != TOPIC_OK)
		return usage_error("pub", "'%s' is not a topic name to publish "
		    "to (no '+' or '#', not empty)", os.topic);
	sources = (message != NULL) + (file != NULL) + from_stdin +
	    null_message;
	if (sources != 1)
		return usage_error("pub", "%s", "give exactly one of -m MSG, "
		    "-f FILE, -s or -n");
	if (os.o.password != NULL && os.o.username == NULL)
		return usage_error("pub", "%s", "-P needs -u");

	if (message != NULL) {
		os.payload = (uint8_t *)xstrdup(message);
		os.payload_len = strlen(message);
	} else if (file != NULL) {
		if ((f = fopen(file, "rb")) == NULL) {
			fprintf(stderr, "mqtt-cli: %s: %s\n", file,
			    strerror(errno));
			return 1;
		}
		os.payload = read_all(f, &os.payload_len);
		if (os.payload == NULL)
			fprintf(stderr, "mqtt-cli: %s: %s\n", file,
			    strerror(errno));
		fclose(f);
		if (os.payload == NULL)
			return 1;
	} else if (from_stdin) {
		if ((os.payload = read_all(stdin, &os.payload_len)) == NULL) {
			fprintf(stderr, "mqtt-cli: stdin: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	status = oneshot_run(&os, &cb);
	free(os.payload);
	return status;
}

static const struct option sub_options[] = {
	{ "help", no_argument, NULL, OPT_HELP },
	{ "persistent", no_argument, NULL, OPT_PERSISTENT },
	{ NULL, 0, NULL, 0 }
};

/* Parses sub's command line into os: -1 to run, else the exit status. */
static int
sub_parse(struct oneshot *os, int argc, char **argv)
{
	bool	 id_given = false;
	long	 v;
	int	 ch, r;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h:p:i:u:P:k:q:W:t:C:cvNEd",
	    sub_options, NULL)) != -1) {
		if ((r = common_option(os, ch, optarg)) == -1)
			return 2;
		if (r == 1) {
			id_given |= ch == 'i';
			continue;
		}
		switch (ch) {
		case 't':
			if (topic_filter_validate(optarg, strlen(optarg),
			    NULL) != TOPIC_OK)
				return usage_error("sub", "'%s' is not a valid "
				    "topic filter", optarg);
			os->filters[os->nfilters++] = optarg;
			break;
		case 'C':
			if (!cli_parse_number(optarg, 1, 1L << 30, &v))
				return usage_error("sub", "bad count '%s'",
				    optarg);
			os->count = v;
			break;
		case 'c':
		case OPT_PERSISTENT:
			os->o.clean_session = false;
			break;
		case 'v':
			os->verbose = true;
			break;
		case 'N':
			os->no_newline = true;
			break;
		case 'E':
			os->exit_after_sub = true;
			break;
		case 'd':
			os->debug = true;
			break;
		case OPT_HELP:
			printf("usage: mqtt-cli sub [-h HOST] [-p PORT] -t "
			    "FILTER... [-q QOS] [-C COUNT] [-W SECONDS] [-v] "
			    "[-N] [-E] [-d] [-i ID] [--persistent] [-u USER "
			    "[-P PASSWORD]] [-k KEEPALIVE]\n");
			return 0;
		default:
			return usage_error("sub", "unknown option or missing "
			    "value in '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("sub", "unexpected argument '%s'",
		    argv[optind]);
	if (os->nfilters == 0)
		return usage_error("sub", "%s", "-t FILTER is required");
	if (!os->o.clean_session && !id_given)
		return usage_error("sub", "%s", "--persistent needs -i ID "
		    "(the session is found by its client id)");
	if (os->o.password != NULL && os->o.username == NULL)
		return usage_error("sub", "%s", "-P needs -u");
	return -1;
}

int
cli_sub_main(int argc, char **argv)
{
	static const struct mqtt_client_cb cb = {
		.connected = sub_connected,
		.closed = on_closed,
		.subscribed = sub_subscribed,
		.message = sub_message,
	};
	struct oneshot	 os;
	char		 idbuf[64];
	int		 status;

	oneshot_init(&os, "sub", idbuf, sizeof(idbuf));
	os.filters = xcalloc((size_t)argc + 1, sizeof(char *));
	if ((status = sub_parse(&os, argc, argv)) == -1)
		status = oneshot_run(&os, &cb);
	free(os.filters);
	return status;
}
