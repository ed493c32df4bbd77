/*
 * test_fd_exhaustion.c: mqttd out of file descriptors at accept time.
 *
 * The broker runs with a small soft RLIMIT_NOFILE, and good clients
 * connect until one is not answered. The kernel still completes that
 * client's handshake into the listen backlog, so the exhaustion is seen
 * from the broker's side: no CONNACK, and the log line "accept: Too many
 * open files". The broker then pauses accepting for a second at a time
 * (src/net.c) instead of spinning on a listener that stays readable.
 *
 * Checked: the broker keeps running and serving the clients it has, the
 * reason is one log line per pause, a store write made meanwhile commits,
 * and once a few clients leave it accepts again when its pause ends: the
 * client left in the backlog and a new one are both served. The SQLite
 * store took its descriptors at start-up, so a persistent session stored
 * before the exhaustion, and a message queued for it during, come back
 * after a restart.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define BROKER_NOFILE	64	/* enough for start-up and a few dozen clients */
#define MAX_CLIENTS	BROKER_NOFILE	/* cannot all fit: exhaustion is certain */
#define ROOM		5	/* clients closed to make room again */
#define PAUSE_MS	1000	/* src/net.c's pause after EMFILE */
/* The pause, then time for the broker to serve the connection. */
#define RESUME_MS	(PAUSE_MS + 2000)
#define EMFILE_LINE	"accept: Too many open files"

/* ===== Helpers ===== */

/* Fails the test unless the broker's process is running (not a zombie). */
static void
assert_broker_running(const struct harness_broker *b)
{
	char path[64], line[512], *p;
	FILE *f;

	assert_true(b->pid > 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* "pid (comm) S ...": the state follows the last ')'. */
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		fail_msg("%s: unreadable", path);
	if (p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		fail_msg("broker %d is not running: %s", (int)b->pid, line);
}

/* A copy of everything the broker has logged; the caller frees it. */
static char *
log_copy(struct harness_broker *b)
{
	char *s;

	pthread_mutex_lock(&b->lock);
	s = strdup(b->log != NULL ? b->log : "");
	pthread_mutex_unlock(&b->lock);
	assert_non_null(s);
	return s;
}

/*
 * Counts the broker's "accept: <error>" lines, failing the test unless
 * each is one whole line that ends with the reason: EMFILE_LINE.
 */
static int
accept_lines(struct harness_broker *b)
{
	char *log = log_copy(b), *line, *next;
	size_t len;
	int n = 0;

	for (line = log; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next == NULL)
			break;		/* a line still being written */
		*next++ = '\0';
		if (strstr(line, ": accept: ") == NULL)
			continue;
		len = strlen(line);
		if (len < strlen(EMFILE_LINE) ||
		    strcmp(line + len - strlen(EMFILE_LINE), EMFILE_LINE) != 0)
			fail_msg("accept line without the reason: '%s'", line);
		n++;
	}
	free(log);
	return n;
}

/*
 * Reads c's answer to its CONNECT, waiting up to ms. Returns true on a
 * CONNACK, which must accept c with session present 0 (a clean session,
 * [MQTT-3.2.2-1]); false if nothing came or the broker closed c, which
 * *closed then says.
 */
static bool
connack_within(struct tclient *c, int ms, bool *closed)
{
	struct tpacket p;
	char desc[256];

	*closed = false;
	switch (tclient_read_packet(c, &p, ms)) {
	case TREAD_OK:
		tpacket_describe(&p, desc, sizeof(desc));
		if (p.type != MQTT_CONNACK || p.len != 2 || p.body[0] != 0 ||
		    p.body[1] != 0)
			fail_msg("%s: expected CONNACK sp=0 rc=0, got %s",
			    c->name, desc);
		tpacket_free(&p);
		return true;
	case TREAD_CLOSED:
		*closed = true;
		return false;
	case TREAD_TIMEOUT:
		return false;
	case TREAD_ERROR:
		fail_msg("%s: read error waiting for CONNACK", c->name);
		break;
	}
	return false;
}

/* What a client that sent CONNECT got. */
enum answer {
	ANSWER_CONNACK,
	ANSWER_NONE,		/* left in the listen backlog */
	ANSWER_CLOSED
};

/* The line mqttd logs when it accepts c (the harness logs debug). */
static void
accepted_line(const struct tclient *c, char *buf, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char host[INET_ADDRSTRLEN];

	if (getsockname(c->fd, (struct sockaddr *)&sin, &sl) == -1 ||
	    inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host)) == NULL)
		fail_msg("%s: getsockname: %s", c->name, strerror(errno));
	snprintf(buf, len, "%s:%u: connection accepted", host,
	    (unsigned)ntohs(sin.sin_port));
}

/*
 * Waits for c's answer to its CONNECT. The broker logs each accept and
 * EMFILE_LINE in order, so once EMFILE_LINE is in the log, c either was
 * accepted before it (and its CONNACK is coming) or is not accepted.
 */
static enum answer
answer_or_out(struct harness_broker *b, struct tclient *c)
{
	long long deadline = harness_now_ms() + HARNESS_TIMEOUT_MS;
	char accepted[96];
	bool closed;

	accepted_line(c, accepted, sizeof(accepted));
	while (harness_now_ms() < deadline) {
		if (connack_within(c, 10, &closed))
			return ANSWER_CONNACK;
		if (closed)
			return ANSWER_CLOSED;
		if (!harness_log_contains(b, EMFILE_LINE, 10))
			continue;
		if (harness_log_contains(b, accepted, 0)) {
			tclient_expect_connack(c, 0, 0);
			return ANSWER_CONNACK;
		}
		/* A close comes before the line (see connect_until_out). */
		if (connack_within(c, 0, &closed))
			fail_msg("%s: CONNACK, but not accepted before '%s'",
			    c->name, EMFILE_LINE);
		return closed ? ANSWER_CLOSED : ANSWER_NONE;
	}
	fail_msg("%s: neither CONNACK nor '%s' within %d ms", c->name,
	    EMFILE_LINE, HARNESS_TIMEOUT_MS);
	return ANSWER_CLOSED;
}

/*
 * Connects clean-session clients into c[] until the broker cannot accept
 * one more. Returns how many it accepted; *blocked is the client it did
 * not answer (still open, in the listen backlog), or NULL if it was
 * closed instead.
 *
 * Linux fails accept() with EMFILE before looking at the backlog, so the
 * line is logged as soon as the last descriptor is taken, often before
 * that client's CONNACK. Under valgrind the kernel has descriptors to
 * spare: the client that does not fit is accepted, closed by valgrind,
 * and only then is EMFILE logged.
 */
static size_t
connect_until_out(struct harness_broker *b, struct tclient **c,
    struct tclient **blocked)
{
	struct tconnect o = { .clean = true };
	struct tclient *t;
	enum answer a;
	char id[32];
	size_t n;

	for (n = 0; n < MAX_CLIENTS; n++) {
		snprintf(id, sizeof(id), "fd-%zu", n);
		t = tclient_open(b, id);
		o.client_id = id;
		/* Fails only if the broker closed t, which is read below. */
		(void)tclient_connect(t, &o);
		if ((a = answer_or_out(b, t)) == ANSWER_CONNACK) {
			c[n] = t;
			continue;
		}
		assert_true(harness_log_contains(b, EMFILE_LINE,
		    HARNESS_TIMEOUT_MS));
		*blocked = t;
		if (a == ANSWER_CLOSED) {
			tclient_close(t);
			*blocked = NULL;
		}
		return n;
	}
	fail_msg("%d clients accepted with RLIMIT_NOFILE %d", MAX_CLIENTS,
	    BROKER_NOFILE);
	return 0;
}

/* Fails the test if *blocked got a CONNACK; closes and clears it if the
 * broker closed it. */
static void
still_blocked(struct tclient **blocked)
{
	bool closed;

	if (*blocked == NULL)
		return;
	if (connack_within(*blocked, 0, &closed))
		fail_msg("%s: accepted while out of descriptors",
		    (*blocked)->name);
	if (closed) {
		tclient_close(*blocked);
		*blocked = NULL;
	}
}

/*
 * Waits for the broker's second try after its pause, which fails again
 * with the same line. The try needs a connection in the backlog: when
 * *blocked was closed, a new client is left there (or closed likewise).
 */
static void
still_out_after_pause(struct harness_broker *b, struct tclient **blocked)
{
	struct tconnect o = { .client_id = "fd-probe", .clean = true };

	still_blocked(blocked);
	if (*blocked == NULL) {
		*blocked = tclient_open(b, "fd-probe");
		(void)tclient_connect(*blocked, &o);
	}
	if (harness_log_count(b, EMFILE_LINE, 2, PAUSE_MS +
	    HARNESS_TIMEOUT_MS) < 2)
		fail_msg("no second '%s' within %d ms of the first",
		    EMFILE_LINE, PAUSE_MS + HARNESS_TIMEOUT_MS);
	still_blocked(blocked);
}

/* Opens a client that must get CONNACK within ms (clean session). */
static struct tclient *
connect_within(const struct harness_broker *b, const char *id, int ms)
{
	struct tconnect o = { .client_id = id, .clean = true };
	struct tclient *c = tclient_open(b, id);

	c->timeout_ms = ms;
	assert_int_equal(tclient_connect(c, &o), 0);
	tclient_expect_connack(c, 0, 0);
	c->timeout_ms = HARNESS_TIMEOUT_MS;
	return c;
}

/* [MQTT-4.3.2-2] A QoS 1 message from pub reaches sub, acknowledged. */
static void
qos1_round_trip(struct tclient *pub, struct tclient *sub, const char *topic,
    const char *payload)
{
	uint16_t id;

	tclient_pub(pub, topic, payload, 1, false);
	tclient_expect_publish(sub, topic, payload, 1, 0, 0, &id);
	tclient_ack_received(sub, 1, id);
}

/* ===== The test ===== */

/* [MQTT-3.1.2-4] Session state for the restart: a subscription. */
static void
store_keeper_session(const struct harness_broker *b)
{
	struct tclient *keeper = tclient_new(b, "fd-keeper", false, NULL);

	tclient_sub(keeper, "fd/keeper", 1, 1);
	tclient_bye(keeper);
}

/*
 * While out of descriptors: the n clients connected are served, a store
 * write commits, and the broker retries after its pause.
 */
static void
served_while_out(struct harness_broker *b, struct tclient **c, size_t n,
    struct tclient **blocked)
{
	size_t i;

	assert_broker_running(b);
	tclient_sub(c[0], "fd/during", 1, 1);
	qos1_round_trip(c[1], c[0], "fd/during", "while-out");
	/*
	 * [MQTT-3.1.2-5] Stored for the offline session; its PUBACK waits
	 * for the commit (DESIGN contract 1), so the store wrote it.
	 */
	tclient_pub(c[1], "fd/keeper", "queued-while-out", 1, false);
	for (i = 0; i < n; i++)
		tclient_sync(c[i]);
	still_out_after_pause(b, blocked);
	tclient_sync(c[0]);
	assert_broker_running(b);
}

/*
 * Once ROOM clients have left, the backlogged client and a new one get
 * CONNACK within RESUME_MS and publish to c[0]. Returns the new number
 * of clients in c[].
 */
static size_t
served_after_room(const struct harness_broker *b, struct tclient **c,
    size_t n, struct tclient *blocked)
{
	struct tclient *late;
	long long room_at, served_at;
	size_t i;

	/* tclient_bye() returns once the broker has closed its end. */
	for (i = n - ROOM; i < n; i++)
		tclient_bye(c[i]);
	room_at = harness_now_ms();
	if (blocked != NULL) {
		blocked->timeout_ms = RESUME_MS;
		tclient_expect_connack(blocked, 0, 0);
		blocked->timeout_ms = HARNESS_TIMEOUT_MS;
	}
	late = connect_within(b, "fd-late", RESUME_MS);
	served_at = harness_now_ms();
	print_message("served again %lld ms after room was made\n",
	    served_at - room_at);
	if (served_at - room_at > RESUME_MS)
		fail_msg("served again only %lld ms after room was made",
		    served_at - room_at);
	qos1_round_trip(late, c[0], "fd/during", "after-room");
	tclient_bye(late);
	if (blocked != NULL) {
		qos1_round_trip(blocked, c[0], "fd/during", "from-backlog");
		tclient_bye(blocked);
	}
	return n - ROOM;
}

/* One line per pause, not one per readable event, since start. */
static void
one_line_per_pause(struct harness_broker *b, long long start)
{
	long long ms = harness_now_ms() - start;
	int lines = accept_lines(b);

	print_message("%d '%s' lines in %lld ms\n", lines, EMFILE_LINE, ms);
	assert_true(lines >= 2);
	if (lines > ms / PAUSE_MS + 2)
		fail_msg("%d '%s' lines in %lld ms: accept() was retried "
		    "without the pause", lines, EMFILE_LINE, ms);
}

/*
 * [MQTT-3.2.2-2] [MQTT-3.1.2-4] [MQTT-3.1.2-5] After a restart the
 * session from before the exhaustion is present, with its subscription
 * and the message queued while the broker was out of descriptors.
 */
static void
keeper_session_back(struct harness_broker *b)
{
	struct tclient *keeper, *pub;
	int present = 0;
	uint16_t id;

	assert_int_equal(harness_broker_restart(b), 0);
	keeper = tclient_new(b, "fd-keeper", false, &present);
	assert_int_equal(present, 1);
	tclient_expect_publish(keeper, "fd/keeper", "queued-while-out", 1, 0,
	    0, &id);
	tclient_ack_received(keeper, 1, id);
	pub = tclient_new(b, "fd-after", true, NULL);
	qos1_round_trip(pub, keeper, "fd/keeper", "after-restart");
	tclient_bye(pub);
	tclient_bye(keeper);
}

/*
 * Out of descriptors at accept time: the broker keeps serving the clients
 * it has, says why in one line per one-second pause, and accepts again,
 * the backlogged client first, once some descriptors are free; a store
 * write made meanwhile and the session state from before survive a
 * restart.
 */
static void
test_out_of_descriptors_at_accept(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c[MAX_CLIENTS], *blocked = NULL;
	long long start;
	size_t n, i;

	harness_mqttd_only("the accept pause and its log line are mqttd's");
	store_keeper_session(b);
	start = harness_now_ms();
	n = connect_until_out(b, c, &blocked);
	print_message("%zu clients accepted with RLIMIT_NOFILE %d\n", n,
	    BROKER_NOFILE);
	assert_true(n > ROOM);
	served_while_out(b, c, n, &blocked);
	n = served_after_room(b, c, n, blocked);
	one_line_per_pause(b, start);
	for (i = 0; i < n; i++)
		tclient_bye(c[i]);
	/* Exit status 0: no crash, and under valgrind no error or leak. */
	assert_int_equal(harness_broker_stop(b), 0);
	keeper_session_back(b);
}

int
main(void)
{
	static struct harness_opts opts = { .broker_nofile = BROKER_NOFILE };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(
		    test_out_of_descriptors_at_accept,
		    harness_setup_broker_opts, harness_teardown_broker, &opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
