/*
 * test_store.c: tests of src/store.c, the SQLite store (DESIGN.md, "The
 * durability contract" and "The schema").
 *
 * Each test gets a fresh directory from mkdtemp() under $TMPDIR (or /tmp)
 * holding the database, and removes it afterwards. The store is opened
 * without an event loop, so store_sync() is what waits for the writer
 * thread. What the store wrote is checked two ways: with a separate
 * sqlite3 connection that runs SQL on the file, as an operator would, and
 * by closing and reopening the store and recording what store_restore()
 * hands back.
 *
 * Two tricks make the writer thread's timing deterministic where a test
 * depends on it:
 *   - writer_block() holds SQLite's write lock on a second connection, so
 *     the writer sits in BEGIN IMMEDIATE on the batch it took (its busy
 *     timeout is 5 s) and every change made meanwhile stays in the next
 *     batch, still pending, until writer_release();
 *   - a commit failure is injected with RLIMIT_FSIZE: no write may go past
 *     the write-ahead log's current end, which SQLite sees as a write
 *     error, as on a full disk. (As root neither a read-only file nor a
 *     full file system can be had without mounting one.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "message.h"
#include "session.h"
#include "store.h"

#define ERRLEN		512
#define ROWS_MAX	4096
#define RECORD_MAX	16
#define NAME_MAX_LEN	64

struct fixture {
	char		 dir[256];
	struct config	 cfg;
	char		 rows[ROWS_MAX];	/* what query() read last */
};

/* ===== Fixture: a fresh directory and configuration per test ===== */

static int
setup(void **state)
{
	struct fixture	*fx;
	const char	*tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_store.XXXXXX", tmp);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	config_defaults(&fx->cfg);
	fx->cfg.sync = STORAGE_SYNC_OFF;
	snprintf(fx->cfg.db_path, sizeof(fx->cfg.db_path), "%s/mqttd.db",
	    fx->dir);
	*state = fx;
	return 0;
}

/* Removes the directory and what the test left in it (db, -wal, lock...). */
static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	struct dirent	*de;
	DIR		*dir;
	char		 path[512];

	if ((dir = opendir(fx->dir)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", fx->dir,
			    de->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ===== Helpers: the store ===== */

static struct store *
open_store(struct fixture *fx)
{
	struct store	*st;
	char		 err[ERRLEN] = "";

	st = store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err));
	if (st == NULL)
		fail_msg("store_open: %s", err);
	return st;
}

static struct session *
new_session(const char *client_id, uint8_t level)
{
	struct session	*s = session_new(client_id, strlen(client_id));

	s->clean = false;
	s->level = level;
	return s;
}

static struct message *
new_message(const char *topic, const char *payload, uint8_t qos, bool retain)
{
	return message_new(topic, strlen(topic), payload, strlen(payload), qos,
	    retain);
}

/* What the done callback saw. */
struct done_log {
	unsigned	 calls;
	uint64_t	 last_ok;	/* highest seq reported committed */
	uint64_t	 last_failed;	/* highest seq reported failed */
	unsigned	 failures;
};

static void
done_record(uint64_t seq, bool failed, void *arg)
{
	struct done_log	*dl = arg;

	dl->calls++;
	if (failed) {
		dl->failures++;
		dl->last_failed = seq;
	} else
		dl->last_ok = seq;
}

/* ===== Helpers: a separate sqlite3 connection on the file ===== */

static sqlite3 *
db_open(struct fixture *fx, int flags)
{
	sqlite3	*db = NULL;

	if (sqlite3_open_v2(fx->cfg.db_path, &db, flags, NULL) != SQLITE_OK)
		fail_msg("open %s: %s", fx->cfg.db_path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

/* Runs sql on the file through a new read-write connection. */
static void
file_exec(struct fixture *fx, const char *sql)
{
	sqlite3	*db;

	db = db_open(fx, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	db_exec(db, sql);
	sqlite3_close(db);
}

/*
 * Runs sql through a new read-only connection and returns its rows as
 * text, "a|b\n" per row, NULL as "NULL" (valid until the next query).
 */
static const char *
query(struct fixture *fx, const char *sql)
{
	sqlite3		*db = db_open(fx, SQLITE_OPEN_READONLY);
	sqlite3_stmt	*stmt = NULL;
	const char	*v;
	size_t		 len = 0;
	int		 rc, i;

	fx->rows[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(stmt); i++) {
			v = (const char *)sqlite3_column_text(stmt, i);
			len += (size_t)snprintf(fx->rows + len,
			    sizeof(fx->rows) - len, "%s%s", i ? "|" : "",
			    v ? v : "NULL");
			assert_true(len < sizeof(fx->rows));
		}
		len += (size_t)snprintf(fx->rows + len, sizeof(fx->rows) - len,
		    "\n");
		assert_true(len < sizeof(fx->rows));
	}
	if (rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return fx->rows;
}

/*
 * Makes the writer thread wait: takes SQLite's write lock on a second
 * connection, then queues session puts of s until one lands in a new
 * batch. That proves the writer has taken the earlier batch and is
 * waiting for the lock in it, so every change made before
 * writer_release() goes to the newest batch, which stays pending. Returns
 * the connection holding the lock; *seq is that newest batch.
 */
static sqlite3 *
writer_block(struct fixture *fx, struct store *st, const struct session *s,
    uint64_t *seq)
{
	sqlite3		*db = db_open(fx, SQLITE_OPEN_READWRITE);
	uint64_t	 first;
	int		 i;

	db_exec(db, "BEGIN IMMEDIATE");
	first = store_session_put(st, s);
	for (i = 0; i < 2000; i++) {
		if ((*seq = store_session_put(st, s)) != first)
			return db;
		usleep(1000);
	}
	fail_msg("the writer did not take batch %llu within 2 s",
	    (unsigned long long)first);
	return NULL;
}

static void
writer_release(sqlite3 *db)
{
	db_exec(db, "COMMIT");
	sqlite3_close(db);
}

/* ===== Helpers: recording what store_restore() hands back ===== */

struct record {
	size_t	 nsessions;
	struct {
		char	 client[NAME_MAX_LEN];
		uint8_t	 level;
	} sessions[RECORD_MAX];
	size_t	 nsubs;
	struct {
		char	 client[NAME_MAX_LEN];
		char	 filter[NAME_MAX_LEN];
		uint8_t	 qos;
	} subs[RECORD_MAX];
	size_t	 ndeliveries;
	size_t	 nbacklogs;
	struct {
		char	 client[NAME_MAX_LEN];
		size_t	 count;
	} backlogs[RECORD_MAX];
	struct rec_delivery {
		char			 client[NAME_MAX_LEN];
		uint64_t		 id;
		struct message		*msg;
		uint8_t			 qos;
		bool			 retain;
		enum delivery_state	 state;
		uint16_t		 packet_id;
	} deliveries[RECORD_MAX];
	size_t	 nincoming;
	struct {
		char	 client[NAME_MAX_LEN];
		uint16_t packet_id;
	} incoming[RECORD_MAX];
	size_t	 nretained;
	struct message *retained[RECORD_MAX];
};

static void
copy_name(char *dst, const char *src)
{
	assert_non_null(src);
	assert_true(strlen(src) < NAME_MAX_LEN);
	strcpy(dst, src);
}

static void
rec_session(void *arg, const char *client_id, uint8_t level)
{
	struct record	*r = arg;

	assert_true(r->nsessions < RECORD_MAX);
	copy_name(r->sessions[r->nsessions].client, client_id);
	r->sessions[r->nsessions++].level = level;
}

static void
rec_subscription(void *arg, const char *client_id, const char *filter,
    uint8_t qos)
{
	struct record	*r = arg;

	assert_true(r->nsubs < RECORD_MAX);
	copy_name(r->subs[r->nsubs].client, client_id);
	copy_name(r->subs[r->nsubs].filter, filter);
	r->subs[r->nsubs++].qos = qos;
}

static void
rec_delivery(void *arg, const char *client_id, uint64_t id,
    struct message *msg, uint8_t qos, bool retain, enum delivery_state state,
    uint16_t packet_id)
{
	struct record	*r = arg;
	size_t		 n = r->ndeliveries;

	assert_true(n < RECORD_MAX);
	copy_name(r->deliveries[n].client, client_id);
	r->deliveries[n].id = id;
	r->deliveries[n].msg = msg;
	r->deliveries[n].qos = qos;
	r->deliveries[n].retain = retain;
	r->deliveries[n].state = state;
	r->deliveries[n].packet_id = packet_id;
	r->ndeliveries++;
}

static void
rec_incoming(void *arg, const char *client_id, uint16_t packet_id)
{
	struct record	*r = arg;

	assert_true(r->nincoming < RECORD_MAX);
	copy_name(r->incoming[r->nincoming].client, client_id);
	r->incoming[r->nincoming++].packet_id = packet_id;
}

static void
rec_retained(void *arg, struct message *msg)
{
	struct record	*r = arg;

	assert_true(r->nretained < RECORD_MAX);
	r->retained[r->nretained++] = msg;
}

/* Queued deliveries stay on disk: restore only counts them. */
static void
rec_backlog(void *arg, const char *client_id, size_t count, size_t bytes)
{
	struct record	*r = arg;

	(void)bytes;
	assert_true(r->nbacklogs < RECORD_MAX);
	copy_name(r->backlogs[r->nbacklogs].client, client_id);
	r->backlogs[r->nbacklogs++].count = count;
}

static const struct store_restore recorder = {
	rec_session, rec_subscription, rec_delivery, rec_incoming,
	rec_retained, rec_backlog
};

struct queue_load {
	struct record	*r;
	const char	*client;
};

static void
rec_queued(void *arg, uint64_t id, struct message *msg, uint8_t qos,
    bool retain)
{
	struct queue_load	*ql = arg;

	rec_delivery(ql->r, ql->client, id, msg, qos, retain,
	    DELIVERY_QUEUED, 0);
}

static int
delivery_by_id(const void *a, const void *b)
{
	const struct rec_delivery *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Opens the store, restores everything into r, and closes it again. */
static void
restore_into(struct fixture *fx, struct record *r)
{
	struct store	*st;
	char		 err[ERRLEN] = "";

	struct queue_load	 ql;
	size_t			 i;

	memset(r, 0, sizeof(*r));
	st = open_store(fx);
	if (store_restore(st, &recorder, r, err, sizeof(err)) != 0)
		fail_msg("store_restore: %s", err);
	/* Read each counted queue back as a draining session would. */
	for (i = 0; i < r->nbacklogs; i++) {
		ql.r = r;
		ql.client = r->backlogs[i].client;
		assert_int_equal(store_queue_load(st, ql.client, 0,
		    r->backlogs[i].count, rec_queued, &ql),
		    (int)r->backlogs[i].count);
	}
	/* In flight and queued together, in the order they were stored. */
	qsort(r->deliveries, r->ndeliveries, sizeof(r->deliveries[0]),
	    delivery_by_id);
	store_close(st);
}

/* Drops the references the restore handed over. */
static void
record_free(struct record *r)
{
	size_t	 i;

	for (i = 0; i < r->ndeliveries; i++)
		message_unref(r->deliveries[i].msg);
	for (i = 0; i < r->nretained; i++)
		message_unref(r->retained[i]);
}

static void
assert_message(const struct message *msg, const char *topic,
    const char *payload, uint8_t qos, bool retain)
{
	assert_non_null(msg);
	assert_int_equal(msg->topic_len, strlen(topic));
	assert_memory_equal(msg->topic, topic, strlen(topic));
	assert_int_equal(msg->topic[msg->topic_len], '\0');
	assert_int_equal(msg->payload_len, strlen(payload));
	if (msg->payload_len > 0)
		assert_memory_equal(msg->payload, payload, msg->payload_len);
	assert_int_equal(msg->qos, qos);
	assert_int_equal(msg->retain, retain);
	assert_true(msg->store_id != 0);
}

/* ===== Every table: written, changed, read back ===== */

static void
test_every_table_is_written_and_read_back(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	struct message	*m1, *m2, *m3, *r1, *r2, *r3;
	struct delivery	*d1, *d2, *d3;
	struct record	 rec;
	uint64_t	 id2, id3;

	/* The one test at the default durability: fsync on each commit. */
	fx->cfg.sync = STORAGE_SYNC_FULL;
	st = open_store(fx);
	s = new_session("alice", 4);
	m1 = new_message("t/1", "one", 1, false);
	m2 = new_message("t/2", "two", 2, false);
	m3 = new_message("t/3", "", 1, false);	/* an empty payload */
	r1 = new_message("r/1", "old", 1, true);
	r3 = new_message("r/3", "gone", 0, true);
	d1 = delivery_new(m1, 1);
	d2 = delivery_new(m2, 2);
	d3 = delivery_new(m3, 1);

	/* First batch: one of each. */
	store_session_put(st, s);
	store_sub_put(st, s, "a/b", 3, 1);
	store_sub_put(st, s, "c/#", 3, 0);
	store_delivery_put(st, s, d1);
	store_delivery_put(st, s, d2);
	store_delivery_put(st, s, d3);
	store_incoming_put(st, s, 10);
	store_incoming_put(st, s, 11);
	store_retain_put(st, r1, NULL);
	store_retain_put(st, r3, NULL);
	store_sync(st);
	assert_int_equal(store_pending(st), 0);
	assert_true(d1->store_id != 0 && d1->store_id < d2->store_id &&
	    d2->store_id < d3->store_id);
	id2 = d2->store_id;
	id3 = d3->store_id;

	assert_string_equal(query(fx, "SELECT client_id, protocol_level, "
	    "connected_at IS NOT NULL FROM sessions"), "alice|4|1\n");
	assert_string_equal(query(fx, "SELECT client_id, filter, qos FROM "
	    "subscriptions ORDER BY filter"), "alice|a/b|1\nalice|c/#|0\n");
	assert_string_equal(query(fx, "SELECT d.client_id, d.qos, d.retain, "
	    "d.state, d.packet_id, m.topic, m.payload, typeof(m.payload) "
	    "FROM deliveries d JOIN messages m ON m.id = d.message_id "
	    "ORDER BY d.id"),
	    "alice|1|0|queued|NULL|t/1|one|blob\n"
	    "alice|2|0|queued|NULL|t/2|two|blob\n"
	    "alice|1|0|queued|NULL|t/3||blob\n");
	assert_string_equal(query(fx, "SELECT client_id, packet_id, state "
	    "FROM incoming ORDER BY packet_id"),
	    "alice|10|pubrec_sent\nalice|11|pubrec_sent\n");
	assert_string_equal(query(fx, "SELECT r.topic, m.payload, m.qos, "
	    "m.retain FROM retained r JOIN messages m ON m.id = r.message_id "
	    "ORDER BY r.topic"), "r/1|old|1|1\nr/3|gone|0|1\n");

	/* Second batch: replace, update, delete. */
	s->level = 5;
	store_session_put(st, s);
	store_sub_put(st, s, "a/b", 3, 2);
	store_sub_del(st, s, "c/#", 3);
	d1->state = DELIVERY_PUBLISH_SENT;
	d1->packet_id = 8;
	store_delivery_put(st, s, d1);
	d2->state = DELIVERY_PUBLISH_SENT;
	d2->packet_id = 7;
	store_delivery_put(st, s, d2);
	store_incoming_del(st, s, 10);
	r2 = new_message("r/1", "new", 2, true);
	store_retain_put(st, r2, r1);
	store_retain_del(st, r3);
	store_sync(st);
	assert_string_equal(query(fx, "SELECT state, packet_id FROM deliveries "
	    "ORDER BY id"), "publish_sent|8\npublish_sent|7\nqueued|NULL\n");
	assert_string_equal(query(fx, "SELECT client_id, protocol_level FROM "
	    "sessions"), "alice|5\n");
	assert_string_equal(query(fx, "SELECT filter, qos FROM subscriptions"),
	    "a/b|2\n");

	/* Third batch: PUBREC came for d2, PUBACK for d1. */
	d2->state = DELIVERY_PUBREL_SENT;
	store_delivery_put(st, s, d2);
	store_delivery_del(st, s, d1);
	store_sync(st);
	assert_int_equal(d1->store_id, 0);
	assert_string_equal(query(fx, "SELECT d.state, d.packet_id, m.topic "
	    "FROM deliveries d JOIN messages m ON m.id = d.message_id "
	    "ORDER BY d.id"), "pubrel_sent|7|t/2\nqueued|NULL|t/3\n");
	/* The bodies of d1, r1 and r3 went with their last row. */
	assert_string_equal(query(fx, "SELECT topic, payload FROM messages "
	    "ORDER BY id"), "t/2|two\nt/3|\nr/1|new\n");
	assert_string_equal(query(fx, "SELECT packet_id FROM incoming"),
	    "11\n");
	assert_string_equal(query(fx, "SELECT topic FROM retained"), "r/1\n");
	store_close(st);

	restore_into(fx, &rec);
	assert_int_equal(rec.nsessions, 1);
	assert_string_equal(rec.sessions[0].client, "alice");
	assert_int_equal(rec.sessions[0].level, 5);
	assert_int_equal(rec.nsubs, 1);
	assert_string_equal(rec.subs[0].client, "alice");
	assert_string_equal(rec.subs[0].filter, "a/b");
	assert_int_equal(rec.subs[0].qos, 2);
	assert_int_equal(rec.ndeliveries, 2);
	assert_string_equal(rec.deliveries[0].client, "alice");
	assert_int_equal(rec.deliveries[0].id, id2);
	assert_int_equal(rec.deliveries[0].qos, 2);
	assert_false(rec.deliveries[0].retain);
	assert_int_equal(rec.deliveries[0].state, DELIVERY_PUBREL_SENT);
	assert_int_equal(rec.deliveries[0].packet_id, 7);
	assert_message(rec.deliveries[0].msg, "t/2", "two", 2, false);
	assert_string_equal(rec.deliveries[1].client, "alice");
	assert_int_equal(rec.deliveries[1].id, id3);
	assert_int_equal(rec.deliveries[1].qos, 1);
	assert_int_equal(rec.deliveries[1].state, DELIVERY_QUEUED);
	assert_int_equal(rec.deliveries[1].packet_id, 0);
	assert_message(rec.deliveries[1].msg, "t/3", "", 1, false);
	assert_int_equal(rec.nincoming, 1);
	assert_string_equal(rec.incoming[0].client, "alice");
	assert_int_equal(rec.incoming[0].packet_id, 11);
	assert_int_equal(rec.nretained, 1);
	assert_message(rec.retained[0], "r/1", "new", 2, true);
	assert_int_equal(rec.retained[0]->store_refs, 1);
	record_free(&rec);

	delivery_free(d1);
	delivery_free(d2);
	delivery_free(d3);
	message_unref(m1);
	message_unref(m2);
	message_unref(m3);
	message_unref(r1);
	message_unref(r2);
	message_unref(r3);
	session_free(s);
}

/* Deliveries come back in the order they were inserted, across sessions. */
static void
test_deliveries_come_back_in_insertion_order(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*a, *b;
	struct message	*msg[6];
	struct delivery	*d[6];
	struct record	 rec;
	char		 topic[16];
	size_t		 i;

	st = open_store(fx);
	a = new_session("a", 4);
	b = new_session("b", 4);
	store_session_put(st, b);
	store_session_put(st, a);
	for (i = 0; i < 6; i++) {
		snprintf(topic, sizeof(topic), "t/%zu", i);
		msg[i] = new_message(topic, "x", 1, false);
		d[i] = delivery_new(msg[i], 1);
		store_delivery_put(st, i % 2 ? a : b, d[i]);
		if (i == 2)
			store_sync(st);	/* and across batches */
	}
	store_sync(st);
	store_close(st);

	restore_into(fx, &rec);
	assert_int_equal(rec.ndeliveries, 6);
	for (i = 0; i < 6; i++) {
		snprintf(topic, sizeof(topic), "t/%zu", i);
		assert_string_equal(rec.deliveries[i].client,
		    i % 2 ? "a" : "b");
		assert_int_equal(rec.deliveries[i].id, d[i]->store_id);
		assert_message(rec.deliveries[i].msg, topic, "x", 1, false);
	}
	record_free(&rec);
	for (i = 0; i < 6; i++) {
		delivery_free(d[i]);
		message_unref(msg[i]);
	}
	session_free(a);
	session_free(b);
}

/* ===== Message bodies are shared ===== */

static void
test_message_body_is_shared_by_deliveries_and_retained(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*a, *b;
	struct message	*m;
	struct delivery	*da, *db;
	struct record	 rec;

	st = open_store(fx);
	a = new_session("alice", 4);
	b = new_session("bob", 4);
	m = new_message("news", "hello", 2, true);
	da = delivery_new(m, 1);
	db = delivery_new(m, 2);
	store_session_put(st, a);
	store_session_put(st, b);
	store_delivery_put(st, a, da);
	store_delivery_put(st, b, db);
	store_retain_put(st, m, NULL);
	store_sync(st);

	assert_int_equal(m->store_refs, 3);
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "1\n");
	assert_string_equal(query(fx, "SELECT count(*), count(DISTINCT "
	    "message_id) FROM deliveries"), "2|1\n");
	assert_string_equal(query(fx, "SELECT count(*) FROM retained r JOIN "
	    "deliveries d ON d.message_id = r.message_id"), "2\n");
	store_close(st);

	/*
	 * Restored, the three rows name one body. (Queued deliveries are
	 * read back from disk as sessions drain, each with its own copy.)
	 */
	restore_into(fx, &rec);
	assert_int_equal(rec.ndeliveries, 2);
	assert_int_equal(rec.nretained, 1);
	assert_int_equal(rec.deliveries[0].msg->store_id,
	    rec.deliveries[1].msg->store_id);
	assert_int_equal(rec.deliveries[0].msg->store_id,
	    rec.retained[0]->store_id);
	assert_message(rec.retained[0], "news", "hello", 2, true);
	record_free(&rec);

	/* The body stays while any row needs it; the last one takes it. */
	st = open_store(fx);
	store_delivery_del(st, a, da);
	store_sync(st);
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "1\n");
	store_retain_del(st, m);
	store_sync(st);
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "1\n");
	store_delivery_del(st, b, db);
	store_sync(st);
	assert_int_equal(m->store_refs, 0);
	assert_string_equal(query(fx, "SELECT (SELECT count(*) FROM messages) "
	    "+ (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM "
	    "retained)"), "0\n");
	store_close(st);

	delivery_free(da);
	delivery_free(db);
	message_unref(m);
	session_free(a);
	session_free(b);
}

/* Two deliveries of one message, both deleted in a later batch. */
static void
test_deleting_every_delivery_deletes_the_body(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*a, *b;
	struct message	*m, *keep;
	struct delivery	*da, *db, *dk;

	st = open_store(fx);
	a = new_session("alice", 4);
	b = new_session("bob", 5);
	m = new_message("a/b", "payload", 1, false);
	keep = new_message("k", "kept", 1, false);
	da = delivery_new(m, 1);
	db = delivery_new(m, 1);
	dk = delivery_new(keep, 1);
	store_session_put(st, a);
	store_session_put(st, b);
	store_delivery_put(st, a, da);
	store_delivery_put(st, b, db);
	store_delivery_put(st, b, dk);
	store_sync(st);
	assert_string_equal(query(fx, "SELECT topic FROM messages ORDER BY id"),
	    "a/b\nk\n");

	store_delivery_del(st, a, da);
	store_delivery_del(st, b, db);
	store_sync(st);
	assert_int_equal(m->store_refs, 0);
	assert_int_equal(m->store_id, 0);
	assert_string_equal(query(fx, "SELECT topic FROM messages"), "k\n");
	assert_string_equal(query(fx, "SELECT client_id FROM deliveries"),
	    "bob\n");
	store_close(st);

	delivery_free(da);
	delivery_free(db);
	delivery_free(dk);
	message_unref(m);
	message_unref(keep);
	session_free(a);
	session_free(b);
}

/* ===== Changes that cancel out within one batch write nothing ===== */

/* An audit table filled by triggers: every row ever inserted. */
static void
install_audit(struct fixture *fx)
{
	file_exec(fx, "CREATE TABLE audit (what TEXT, id INTEGER);"
	    "CREATE TRIGGER audit_messages AFTER INSERT ON messages BEGIN "
	    "INSERT INTO audit VALUES ('message', NEW.id); END;"
	    "CREATE TRIGGER audit_deliveries AFTER INSERT ON deliveries BEGIN "
	    "INSERT INTO audit VALUES ('delivery', NEW.id); END;"
	    "CREATE TRIGGER audit_retained AFTER INSERT ON retained BEGIN "
	    "INSERT INTO audit VALUES ('retained', NEW.message_id); END;");
}

/*
 * DESIGN point 4: a delivery inserted and deleted (here also updated)
 * before its batch is taken is never written. writer_block() keeps the
 * batch pending throughout, so the elision is certain, not a race; the
 * audit triggers prove no row of the delivery or its body was ever
 * inserted, not just that none is left.
 */
static void
test_delivery_put_and_deleted_in_one_batch_writes_nothing(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	struct message	*m;
	struct delivery	*d;
	sqlite3		*hold;
	uint64_t	 seq;

	st = open_store(fx);
	s = new_session("alice", 4);
	store_session_put(st, s);
	store_sync(st);
	install_audit(fx);

	m = new_message("fast", "acked at once", 1, false);
	d = delivery_new(m, 1);
	hold = writer_block(fx, st, s, &seq);
	assert_int_equal(store_delivery_put(st, s, d), seq);
	d->state = DELIVERY_PUBLISH_SENT;
	d->packet_id = 1;
	assert_int_equal(store_delivery_put(st, s, d), seq);
	/* 0: nothing to wait for, the insert was taken back. */
	assert_int_equal(store_delivery_del(st, s, d), 0);
	assert_int_equal(d->store_id, 0);
	assert_int_equal(m->store_refs, 0);
	assert_int_equal(m->store_id, 0);
	writer_release(hold);
	store_sync(st);

	assert_int_equal(store_committed(st), seq);
	/* What was taken back is not counted as pending for ever. */
	assert_int_equal(store_pending(st), 0);
	assert_string_equal(query(fx, "SELECT count(*) FROM audit"), "0\n");
	assert_string_equal(query(fx, "SELECT (SELECT count(*) FROM messages) "
	    "+ (SELECT count(*) FROM deliveries)"), "0\n");
	store_close(st);

	delivery_free(d);
	message_unref(m);
	session_free(s);
}

/*
 * The same for the retained table: a retained message replaced, and
 * another set and cleared, before the batch is taken. The batch must
 * still commit, and leave only the newest retained message.
 */
static void
test_retained_replaced_within_one_batch_commits(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	struct message	*m1, *m2, *m3;
	struct delivery	*d3;
	struct done_log	 dl = { 0 };
	struct record	 rec;
	sqlite3		*hold;
	char		 err[ERRLEN] = "";
	uint64_t	 seq;

	st = store_open(&fx->cfg, NULL, done_record, &dl, err, sizeof(err));
	assert_non_null(st);
	s = new_session("alice", 4);
	store_session_put(st, s);
	store_sync(st);

	m1 = new_message("status", "online", 1, true);
	m2 = new_message("status", "offline", 1, true);
	m3 = new_message("other", "short-lived", 1, true);
	d3 = delivery_new(m3, 1);
	hold = writer_block(fx, st, s, &seq);
	assert_int_equal(store_retain_put(st, m1, NULL), seq);
	assert_int_equal(store_retain_put(st, m2, m1), seq);
	/* m3 is retained, sent to alice, cleared and acknowledged. */
	assert_int_equal(store_retain_put(st, m3, NULL), seq);
	assert_int_equal(store_delivery_put(st, s, d3), seq);
	assert_int_equal(store_retain_del(st, m3), seq);
	assert_int_equal(store_delivery_del(st, s, d3), 0);
	writer_release(hold);
	store_sync(st);

	assert_int_equal(dl.failures, 0);
	assert_int_equal(dl.last_ok, seq);
	assert_string_equal(query(fx, "SELECT r.topic, m.payload FROM retained "
	    "r JOIN messages m ON m.id = r.message_id"), "status|offline\n");
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "1\n");
	store_close(st);

	restore_into(fx, &rec);
	assert_int_equal(rec.nretained, 1);
	assert_message(rec.retained[0], "status", "offline", 1, true);
	assert_int_equal(rec.ndeliveries, 0);
	record_free(&rec);

	delivery_free(d3);
	message_unref(m1);
	message_unref(m2);
	message_unref(m3);
	session_free(s);
}

/* ===== Text stays text ===== */

static void
test_topics_client_ids_and_filters_stay_text(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	struct message	*r1, *r2;
	struct delivery	*d;
	struct record	 rec;
	size_t		 i;

	st = open_store(fx);
	s = new_session("007", 4);
	r1 = new_message("007", "x", 1, true);
	r2 = new_message("1e5", "y", 1, true);
	d = delivery_new(r2, 1);
	store_session_put(st, s);
	store_sub_put(st, s, "1e5/+", 5, 1);
	store_retain_put(st, r1, NULL);
	store_retain_put(st, r2, NULL);
	store_delivery_put(st, s, d);
	store_incoming_put(st, s, 5);
	store_sync(st);

	assert_string_equal(query(fx, "SELECT client_id, typeof(client_id) "
	    "FROM sessions"), "007|text\n");
	assert_string_equal(query(fx, "SELECT client_id, typeof(client_id), "
	    "filter, typeof(filter) FROM subscriptions"),
	    "007|text|1e5/+|text\n");
	assert_string_equal(query(fx, "SELECT topic, typeof(topic) FROM "
	    "retained ORDER BY topic"), "007|text\n1e5|text\n");
	assert_string_equal(query(fx, "SELECT topic, typeof(topic) FROM "
	    "messages ORDER BY id"), "007|text\n1e5|text\n");
	assert_string_equal(query(fx, "SELECT client_id, typeof(client_id) "
	    "FROM deliveries"), "007|text\n");
	assert_string_equal(query(fx, "SELECT client_id, typeof(client_id) "
	    "FROM incoming"), "007|text\n");
	/* An operator's query by the text finds them. */
	assert_string_equal(query(fx, "SELECT count(*) FROM sessions WHERE "
	    "client_id = '007'"), "1\n");
	store_close(st);

	restore_into(fx, &rec);
	assert_int_equal(rec.nsessions, 1);
	assert_string_equal(rec.sessions[0].client, "007");
	assert_int_equal(rec.nsubs, 1);
	assert_string_equal(rec.subs[0].client, "007");
	assert_string_equal(rec.subs[0].filter, "1e5/+");
	assert_int_equal(rec.nretained, 2);
	for (i = 0; i < 2; i++) {
		if (strcmp(rec.retained[i]->topic, "007") == 0)
			assert_message(rec.retained[i], "007", "x", 1, true);
		else
			assert_message(rec.retained[i], "1e5", "y", 1, true);
	}
	assert_int_equal(rec.ndeliveries, 1);
	assert_string_equal(rec.deliveries[0].client, "007");
	assert_message(rec.deliveries[0].msg, "1e5", "y", 1, true);
	assert_int_equal(rec.nincoming, 1);
	assert_string_equal(rec.incoming[0].client, "007");
	record_free(&rec);

	delivery_free(d);
	message_unref(r1);
	message_unref(r2);
	session_free(s);
}

/* ===== Checkpoints ===== */

static off_t
file_size(const char *dir, const char *name)
{
	char		 path[512];
	struct stat	 sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/*
 * Under a steady stream of commits the WAL is copied back and reused: it
 * stays within a few times checkpoint_pages, and what it held reaches the
 * database file. Without checkpoints it would grow by a page or more per
 * commit, 600 and more here.
 */
static void
test_wal_is_checkpointed_and_reused_under_steady_commits(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	char		 id[64];
	off_t		 frame = 4096 + 24, wal_max = 0, wal, db_opened;
	int		 i;

	fx->cfg.checkpoint_pages = 8;
	st = open_store(fx);
	/* The schema alone makes the file a dozen pages long. */
	db_opened = file_size(fx->dir, "mqttd.db");
	for (i = 0; i < 600; i++) {
		snprintf(id, sizeof(id), "client-%04d-with-a-longer-identifier", i);
		s = new_session(id, 4);
		store_session_put(st, s);
		store_sync(st);
		session_free(s);
		wal = file_size(fx->dir, "mqttd.db-wal");
		if (wal > wal_max)
			wal_max = wal;
	}
	/* The writer's own fallback is at 4 x 8 frames; a commit adds a few. */
	assert_true(wal_max > 0);
	assert_true(wal_max <= (8 * 4 + 8) * frame + 32);
	/* The rows reached the file before the close's own checkpoint. */
	assert_true(file_size(fx->dir, "mqttd.db") >= db_opened + 8 * 4096);
	store_close(st);
	assert_string_equal(query(fx, "SELECT count(*) FROM sessions"),
	    "600\n");
}

/* ===== The schema: version, views, migrations ===== */

/* The schema and its migrations, as built into the store. */
extern const char	*const store_migrations[];
extern const size_t	 store_migration_count;

/* PRAGMA user_version of a file at the newest schema, as query() shows it. */
static const char *
latest_version(void)
{
	static char	 v[16];

	snprintf(v, sizeof(v), "%zu\n", store_migration_count);
	return v;
}

static void
test_new_database_gets_the_latest_version_and_operator_views(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*a, *b;
	struct message	*m1, *m2, *r1, *r2;
	struct delivery	*d1, *d2;

	st = open_store(fx);
	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	assert_string_equal(query(fx, "PRAGMA journal_mode"), "wal\n");
	assert_string_equal(query(fx, "SELECT type, name FROM sqlite_master "
	    "WHERE type IN ('table', 'view') ORDER BY type, name"),
	    "table|deliveries\ntable|incoming\ntable|messages\n"
	    "table|retained\ntable|sessions\ntable|subscriptions\n"
	    "view|inflight\nview|queue_depth\nview|retained_topics\n");

	a = new_session("alice", 4);
	b = new_session("bob", 4);
	m1 = new_message("t/queued", "12345", 1, false);
	m2 = new_message("t/sent", "abcd", 2, false);
	r1 = new_message("b/t", "bb", 1, true);
	r2 = new_message("a/t", "a", 0, true);
	d1 = delivery_new(m1, 1);
	d2 = delivery_new(m2, 2);
	store_session_put(st, a);
	store_session_put(st, b);
	store_delivery_put(st, a, d1);
	store_delivery_put(st, a, d2);
	d2->state = DELIVERY_PUBLISH_SENT;
	d2->packet_id = 3;
	store_delivery_put(st, a, d2);
	store_retain_put(st, r1, NULL);
	store_retain_put(st, r2, NULL);
	store_sync(st);

	assert_string_equal(query(fx, "SELECT client_id, packet_id, state, "
	    "qos, topic, bytes, received_at IS NOT NULL FROM inflight"),
	    "alice|3|publish_sent|2|t/sent|4|1\n");
	assert_string_equal(query(fx, "SELECT client_id, messages, bytes, "
	    "oldest IS NOT NULL FROM queue_depth ORDER BY client_id"),
	    "alice|2|9|1\nbob|0|0|0\n");
	assert_string_equal(query(fx, "SELECT topic, qos, bytes FROM "
	    "retained_topics"), "a/t|0|1\nb/t|1|2\n");
	store_close(st);

	delivery_free(d1);
	delivery_free(d2);
	message_unref(m1);
	message_unref(m2);
	message_unref(r1);
	message_unref(r2);
	session_free(a);
	session_free(b);
}

static void
test_newer_schema_is_refused(void **state)
{
	struct fixture	*fx = *state;
	char		 err[ERRLEN] = "";

	file_exec(fx, "CREATE TABLE sessions (x); PRAGMA user_version = 99");
	assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, fx->cfg.db_path));
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "99"));
	assert_null(strchr(err, '\n'));
	/* Left as it was. */
	assert_string_equal(query(fx, "PRAGMA user_version"), "99\n");
	assert_string_equal(query(fx, "SELECT name FROM sqlite_master"),
	    "sessions\n");
}

/* Version 0: an empty file, or one never used. */
static void
test_version_0_file_is_upgraded(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	int		 fd;

	/* A file of zero bytes. */
	fd = open(fx->cfg.db_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd != -1);
	close(fd);
	st = open_store(fx);
	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	assert_string_equal(query(fx, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'deliveries'"), "1\n");
	store_close(st);

	/* A database at version 0 holding no table (created and dropped). */
	assert_int_equal(unlink(fx->cfg.db_path), 0);
	file_exec(fx, "CREATE TABLE t (x); DROP TABLE t");
	assert_string_equal(query(fx, "PRAGMA user_version"), "0\n");
	st = open_store(fx);
	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	assert_string_equal(query(fx, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'view'"), "3\n");
	store_close(st);

	/* Opening at the current version changes nothing. */
	st = open_store(fx);
	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	store_close(st);
}

/*
 * A file at schema version 1 keeps every row through the upgrade, and
 * what version 2 rebuilt (the deliveries table, its trigger, the views
 * on it, the retained triggers that name it) works as before: a bad
 * state is still refused, the last delivery or retained row of a body
 * still takes the body with it.
 */
static void
test_version_1_file_is_upgraded_with_its_rows(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	sqlite3		*db;

	file_exec(fx, store_migrations[0]);
	file_exec(fx, "PRAGMA user_version = 1;"
	    "INSERT INTO sessions (client_id, protocol_level) VALUES ('a', 4);"
	    "INSERT INTO messages (id, topic, payload, qos) VALUES "
	    "    (1, 't/1', 'x', 1), (2, 't/2', 'yy', 2), (3, 'r', 'z', 0);"
	    "INSERT INTO deliveries VALUES (1, 'a', 1, 1, 0, 'queued', NULL),"
	    "    (2, 'a', 2, 2, 0, 'publish_sent', 7);"
	    "INSERT INTO retained VALUES ('r', 3);");
	st = open_store(fx);
	store_close(st);

	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	assert_string_equal(query(fx, "SELECT id, client_id, message_id, qos, "
	    "retain, state, packet_id FROM deliveries ORDER BY id"),
	    "1|a|1|1|0|queued|NULL\n2|a|2|2|0|publish_sent|7\n");
	assert_string_equal(query(fx, "SELECT client_id, packet_id, state, "
	    "topic, bytes FROM inflight"), "a|7|publish_sent|t/2|2\n");
	assert_string_equal(query(fx, "SELECT client_id, messages, bytes "
	    "FROM queue_depth"), "a|2|3\n");
	assert_string_equal(query(fx, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'index' AND tbl_name = 'deliveries'"), "2\n");

	db = db_open(fx, SQLITE_OPEN_READWRITE);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO deliveries VALUES "
	    "(3, 'a', 1, 1, 0, 'lost', NULL)", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	db_exec(db, "DELETE FROM deliveries WHERE id = 2");
	assert_string_equal(query(fx, "SELECT id FROM messages"), "1\n3\n");
	db_exec(db, "DELETE FROM retained");
	sqlite3_close(db);
	assert_string_equal(query(fx, "SELECT id FROM messages"), "1\n");
}

/*
 * A migration that fails halfway leaves no trace: "retained_topics"
 * already exists as a table, so schema/001's last statement fails after
 * every table was created; all of it must be rolled back.
 */
static void
test_failed_migration_rolls_back(void **state)
{
	struct fixture	*fx = *state;
	char		 err[ERRLEN] = "";

	file_exec(fx, "CREATE TABLE retained_topics (x)");
	assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, fx->cfg.db_path));
	assert_non_null(strstr(err, "retained_topics"));
	assert_null(strchr(err, '\n'));
	assert_string_equal(query(fx, "PRAGMA user_version"), "0\n");
	assert_string_equal(query(fx, "SELECT type, name FROM sqlite_master"),
	    "table|retained_topics\n");

	/* And the lock was let go: the next attempt fails the same way. */
	err[0] = '\0';
	assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err)));
	assert_null(strstr(err, "in use"));
	assert_non_null(strstr(err, "retained_topics"));
}

/* ===== Start-up refusals ===== */

static void
test_second_open_is_refused_while_the_first_holds_the_lock(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st, *st2;
	char		 err[ERRLEN] = "", pid[32];

	st = open_store(fx);
	assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, fx->cfg.db_path));
	assert_non_null(strstr(err, "in use by another mqttd"));
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	assert_non_null(strstr(err, pid));
	assert_null(strchr(err, '\n'));

	/* The refused open did not disturb the first. */
	assert_string_equal(query(fx, "PRAGMA user_version"),
	    latest_version());
	store_close(st);

	st2 = open_store(fx);
	store_close(st2);
}

static void
test_file_that_is_not_a_database_is_refused(void **state)
{
	struct fixture	*fx = *state;
	uint8_t		 junk[8192];
	uint32_t	 x = 2463534242u;
	char		 err[ERRLEN] = "";
	size_t		 i;
	int		 fd, attempt;

	/* xorshift32: not an SQLite header, and the same bytes each run. */
	for (i = 0; i < sizeof(junk); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		junk[i] = (uint8_t)x;
	}
	fd = open(fx->cfg.db_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);

	for (attempt = 0; attempt < 2; attempt++) {
		err[0] = '\0';
		assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err,
		    sizeof(err)));
		assert_non_null(strstr(err, fx->cfg.db_path));
		assert_non_null(strstr(err, "not a database"));
		assert_null(strchr(err, '\n'));
	}
}

static void
test_database_that_cannot_be_created_is_refused(void **state)
{
	struct fixture	*fx = *state;
	char		 err[ERRLEN] = "";

	snprintf(fx->cfg.db_path, sizeof(fx->cfg.db_path),
	    "%s/missing/mqttd.db", fx->dir);
	assert_null(store_open(&fx->cfg, NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, fx->cfg.db_path));
	assert_null(strchr(err, '\n'));
}

/* ===== A commit that fails ===== */

/*
 * DESIGN point 7: a batch that cannot be written (here: no write may go
 * past the write-ahead log's end, as on a full disk) is reported failed,
 * written not at all, logged, and the store goes on with later batches
 * once writes work again. store_sync() reaps finished batches on the
 * caller's thread, so the done callback runs there even without an event
 * base.
 */
static void
test_failed_commit_is_reported_and_later_batches_commit(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*s;
	struct message	*big, *small;
	struct delivery	*dbig, *dsmall;
	struct done_log	 dl = { 0 };
	struct record	 rec;
	struct rlimit	 old, lim;
	struct stat	 sb;
	void		(*oldsig)(int);
	char		 err[ERRLEN] = "", logpath[512];
	char		 wal[CONFIG_PATH_MAX + 8];
	char		 logtext[4096] = "";
	static char	 payload[65536];
	uint64_t	 seq_fail, seq_ok;
	ssize_t		 n;
	int		 fd;

	snprintf(logpath, sizeof(logpath), "%s/store.log", fx->dir);
	assert_int_equal(log_init(LOG_LEVEL_WARN, logpath), 0);
	st = store_open(&fx->cfg, NULL, done_record, &dl, err, sizeof(err));
	assert_non_null(st);
	s = new_session("alice", 4);
	store_session_put(st, s);
	store_sync(st);
	assert_int_equal(dl.failures, 0);

	memset(payload, 'p', sizeof(payload) - 1);
	big = new_message("big", payload, 1, false);
	dbig = delivery_new(big, 1);
	small = new_message("small", "s", 1, false);
	dsmall = delivery_new(small, 1);

	snprintf(wal, sizeof(wal), "%s-wal", fx->cfg.db_path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	seq_fail = store_delivery_put(st, s, dbig);
	store_sync(st);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);

	assert_int_equal(store_committed(st), seq_fail);
	assert_int_equal(store_pending(st), 0);
	assert_int_equal(dl.failures, 1);
	assert_int_equal(dl.last_failed, seq_fail);
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "0\n");

	/* Writes work again: the next batch commits. */
	seq_ok = store_delivery_put(st, s, dsmall);
	assert_true(seq_ok > seq_fail);
	store_sync(st);
	assert_int_equal(dl.failures, 1);
	assert_int_equal(dl.last_ok, seq_ok);
	store_close(st);
	log_init(LOG_LEVEL_ERROR, NULL);

	/* One warning line names the batch and says what was withheld. */
	fd = open(logpath, O_RDONLY);
	assert_true(fd != -1);
	n = read(fd, logtext, sizeof(logtext) - 1);
	close(fd);
	assert_true(n > 0);
	assert_non_null(strstr(logtext, "commit of batch"));
	assert_non_null(strstr(logtext, "failed"));
	assert_non_null(strstr(logtext, "withheld"));

	assert_string_equal(query(fx, "PRAGMA integrity_check"), "ok\n");
	restore_into(fx, &rec);
	assert_int_equal(rec.nsessions, 1);
	assert_int_equal(rec.ndeliveries, 1);
	assert_int_equal(rec.deliveries[0].id, dsmall->store_id);
	assert_message(rec.deliveries[0].msg, "small", "s", 1, false);
	record_free(&rec);

	delivery_free(dbig);
	delivery_free(dsmall);
	message_unref(big);
	message_unref(small);
	session_free(s);
}

/*
 * A batch is one transaction: when one of its statements fails (a
 * trigger refuses the delivery), the session row of the same batch is
 * not written either.
 */
static void
test_failed_statement_rolls_back_the_whole_batch(void **state)
{
	struct fixture	*fx = *state;
	struct store	*st;
	struct session	*a, *b;
	struct message	*m;
	struct delivery	*d;
	struct done_log	 dl = { 0 };
	sqlite3		*hold;
	char		 err[ERRLEN] = "";
	uint64_t	 seq;

	st = store_open(&fx->cfg, NULL, done_record, &dl, err, sizeof(err));
	assert_non_null(st);
	a = new_session("alice", 4);
	b = new_session("bob", 4);
	store_session_put(st, a);
	store_sync(st);
	file_exec(fx, "CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
	    "WHEN NEW.client_id = 'bob' BEGIN SELECT RAISE(ABORT, 'refused'); "
	    "END");

	m = new_message("t", "x", 1, false);
	d = delivery_new(m, 1);
	/* Both changes in one batch, whatever the writer's timing. */
	hold = writer_block(fx, st, a, &seq);
	assert_int_equal(store_session_put(st, b), seq);
	assert_int_equal(store_delivery_put(st, b, d), seq);
	writer_release(hold);
	store_sync(st);
	assert_int_equal(dl.failures, 1);
	assert_int_equal(dl.last_failed, seq);
	assert_string_equal(query(fx, "SELECT client_id FROM sessions"),
	    "alice\n");
	assert_string_equal(query(fx, "SELECT count(*) FROM messages"), "0\n");
	store_close(st);

	delivery_free(d);
	message_unref(m);
	session_free(a);
	session_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_every_table_is_written_and_read_back),
		T(test_deliveries_come_back_in_insertion_order),
		T(test_message_body_is_shared_by_deliveries_and_retained),
		T(test_deleting_every_delivery_deletes_the_body),
		T(test_delivery_put_and_deleted_in_one_batch_writes_nothing),
		T(test_retained_replaced_within_one_batch_commits),
		T(test_topics_client_ids_and_filters_stay_text),
		T(test_new_database_gets_the_latest_version_and_operator_views),
		T(test_newer_schema_is_refused),
		T(test_wal_is_checkpointed_and_reused_under_steady_commits),
		T(test_version_0_file_is_upgraded),
		T(test_version_1_file_is_upgraded_with_its_rows),
		T(test_failed_migration_rolls_back),
		T(test_second_open_is_refused_while_the_first_holds_the_lock),
		T(test_file_that_is_not_a_database_is_refused),
		T(test_database_that_cannot_be_created_is_refused),
		T(test_failed_commit_is_reported_and_later_batches_commit),
		T(test_failed_statement_rolls_back_the_whole_batch),
#undef T
	};

	/* The store's info lines and "sync = off" warnings are noise here. */
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
