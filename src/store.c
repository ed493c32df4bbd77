/*
 * store.c: the SQLite store, and the only file in mqttd that speaks SQL.
 *
 * The event loop never waits on the disk. Each store_*() call appends one
 * change to the newest pending batch (under a mutex held for a few
 * instructions) and returns that batch's sequence number. One writer
 * thread owns the write connection: it takes the oldest pending batch,
 * runs its changes with prepared statements inside one transaction,
 * commits, and wakes the loop, which releases the answers held for that
 * batch. While the writer commits, new changes gather in the next batch,
 * so a slow disk makes batches bigger, not the loop slower (group commit).
 *
 * A row inserted and deleted before its batch was taken is never written:
 * the insert and every later change of the same delivery are turned into
 * no-ops where they sit (a message delivered and acknowledged quickly
 * costs no SQL at all).
 *
 * Message bodies are shared: a body row is written with the first stored
 * row that refers to it, and the schema's triggers delete it with the
 * last. message->store_refs counts, on the loop's thread, the stored rows
 * made from that in-memory message, so that a body inserted and released
 * within one pending batch is not written either. Messages are
 * reference-counted by the loop only: a batch keeps its references and
 * the loop drops them after the commit.
 *
 * A second, read-only connection serves the loop's reads of long offline
 * queues (store_queue_load), which stay on disk until a session drains.
 *
 * Cases the durability contract does not spell out, decided by "what did
 * the client see?" (each has a test in tests/integration/test_durability.c,
 * test_crash_random.c or test_storage_failures.c):
 *  - One packet's changes commit together (store_unit_begin/end): a QoS 2
 *    "pubrec_sent" row never commits without the deliveries it routed,
 *    or a crash between two commits would turn the publisher's resend
 *    into a known duplicate that nobody receives.
 *  - A PUBLISH to a persistent session leaves only after its delivery row
 *    ("publish_sent", packet id) commits, so after a crash it is resent
 *    with the same packet id and DUP, never as a new message.
 *  - When a batch fails, the incoming QoS 2 ids it held are forgotten in
 *    memory too: the publisher, never having seen PUBREC, resends, and the
 *    resend is routed rather than answered as a duplicate.
 *  - A session's queue past what memory keeps is written to disk only and
 *    read back, in order, once the rows are committed.
 */
#include <sys/file.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "message.h"
#include "session.h"
#include "store.h"
#include "strmap.h"
#include "xmalloc.h"

/* The schema and its migrations: schema/NNN-name.sql, built into schema_sql.c. */
extern const char	*const store_migrations[];
extern const size_t	 store_migration_count;

enum op_type {
	OP_NOP = 0,
	OP_SESSION_PUT,
	OP_SESSION_OFFLINE,
	OP_SESSION_DEL,
	OP_SUB_PUT,
	OP_SUB_DEL,
	OP_MSG_PUT,
	OP_DELIVERY_INSERT,
	OP_DELIVERY_UPDATE,
	OP_DELIVERY_DEL,
	OP_INCOMING_PUT,
	OP_INCOMING_DEL,
	OP_RETAIN_PUT,
	OP_RETAIN_DEL,
	OP_COUNT
};

/* The statement each change runs, with the parameters op_bind() binds. */
static const char *const op_sql[OP_COUNT] = {
	[OP_SESSION_PUT] = "INSERT INTO sessions (client_id, protocol_level, "
	    "connected_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', "
	    "'now')) ON CONFLICT (client_id) DO UPDATE SET protocol_level = "
	    "?2, connected_at = excluded.connected_at",
	[OP_SESSION_OFFLINE] = "UPDATE sessions SET disconnected_at = "
	    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE client_id = ?1",
	[OP_SESSION_DEL] = "DELETE FROM sessions WHERE client_id = ?1",
	[OP_SUB_PUT] = "INSERT INTO subscriptions (client_id, filter, qos) "
	    "VALUES (?1, ?3, ?2) ON CONFLICT (client_id, filter) DO UPDATE "
	    "SET qos = ?2",
	[OP_SUB_DEL] = "DELETE FROM subscriptions WHERE client_id = ?1 AND "
	    "filter = ?3",
	[OP_MSG_PUT] = "INSERT INTO messages (id, topic, payload, qos, retain) "
	    "VALUES (?4, ?3, ?6, ?2, ?7)",
	[OP_DELIVERY_INSERT] = "INSERT INTO deliveries (id, client_id, "
	    "message_id, qos, retain, state, packet_id) VALUES (?4, ?1, ?5, "
	    "?2, ?7, ?8, ?9)",
	[OP_DELIVERY_UPDATE] = "UPDATE deliveries SET state = ?8, packet_id = "
	    "?9 WHERE id = ?4",
	[OP_DELIVERY_DEL] = "DELETE FROM deliveries WHERE id = ?4",
	[OP_INCOMING_PUT] = "INSERT OR IGNORE INTO incoming (client_id, "
	    "packet_id) VALUES (?1, ?9)",
	[OP_INCOMING_DEL] = "DELETE FROM incoming WHERE client_id = ?1 AND "
	    "packet_id = ?9",
	[OP_RETAIN_PUT] = "INSERT INTO retained (topic, message_id) VALUES "
	    "(?3, ?5) ON CONFLICT (topic) DO UPDATE SET message_id = ?5",
	[OP_RETAIN_DEL] = "DELETE FROM retained WHERE topic = ?3",
};

/* A batch's transaction, prepared once like the changes. */
enum txn { TXN_BEGIN, TXN_COMMIT, TXN_ROLLBACK, TXN_COUNT };
static const char *const txn_sql[TXN_COUNT] = {
	[TXN_BEGIN] = "BEGIN IMMEDIATE",
	[TXN_COMMIT] = "COMMIT",
	[TXN_ROLLBACK] = "ROLLBACK",
};

static const char *const state_names[] = {
	[DELIVERY_QUEUED] = "queued",
	[DELIVERY_PUBLISH_SENT] = "publish_sent",
	[DELIVERY_PUBREL_SENT] = "pubrel_sent",
};

/*
 * One change. Strings live in the batch's text arena (offsets, since the
 * arena may move as it grows).
 */
struct op {
	uint8_t		 type;
	uint8_t		 qos;		/* also the protocol level */
	uint8_t		 state;
	bool		 retain;
	uint16_t	 packet_id;
	uint64_t	 id;		/* delivery or message id */
	uint64_t	 message_id;	/* a delivery's or retained row's body */
	size_t		 client, client_len;	/* client id in text */
	size_t		 name, name_len;	/* filter or topic in text */
	struct message	*msg;		/* OP_MSG_PUT: a reference */
	size_t		 prev;		/* earlier op of the same delivery, or SIZE_MAX */
};

struct batch {
	TAILQ_ENTRY(batch)	 entry;
	uint64_t		 seq;
	struct op		*ops;
	size_t			 nops, cap;
	size_t			 live;		/* ops not turned into OP_NOP */
	char			*text;
	size_t			 textlen, textcap;
	bool			 failed;
};
TAILQ_HEAD(batch_list, batch);

struct store {
	const struct config	*cfg;
	sqlite3			*db;		/* the writer's */
	sqlite3			*rdb;		/* the loop's, read-only */
	sqlite3_stmt		*queue_stmt;	/* on rdb */
	sqlite3_stmt		*stmts[OP_COUNT];
	sqlite3_stmt		*txn[TXN_COUNT];
	int			 lockfd;
	char			 lockpath[CONFIG_PATH_MAX + 8];

	pthread_t		 writer;
	bool			 writer_running;
	pthread_mutex_t		 lock;
	pthread_cond_t		 work;		/* writer: a batch is pending */
	pthread_cond_t		 synced;	/* store_sync(): a batch is done */
	struct batch_list	 pending;	/* oldest first; loop appends to the last */
	struct batch_list	 done;		/* committed, for the loop to free */
	uint64_t		 next_seq;	/* seq of the next new batch */
	uint64_t		 committed;	/* highest seq finished */
	/* Ops in pending batches; changed under lock, read without. */
	atomic_size_t		 npending;
	bool			 stopping;
	unsigned		 unit;		/* loop is adding one packet's changes */
	size_t			 unit_ops;	/* changes added in this unit */
	store_incoming_fn	*lost_fn;	/* an incoming id that did not commit */
	void			*lost_arg;

	sqlite3			*cdb;		/* the checkpointer's */
	pthread_t		 checkpointer;
	bool			 checkpointer_running;
	pthread_cond_t		 checkpoint;	/* checkpointer: the WAL is long */
	bool			 checkpoint_wanted;
	int			 wal_copied;	/* WAL frames the last one copied */
	bool			 checkpoint_failing;	/* checkpointer only */
	uint64_t		 checkpoints;	/* for the log */

	struct event		*wake;		/* writer -> loop */
	store_done_fn		*done_fn;
	void			*done_arg;

	uint64_t		 next_msg_id;	/* loop thread only */
	uint64_t		 next_delivery_id;
	uint64_t		 commits, committed_ops;	/* for the log */
	uint64_t		 sql_ns, commit_ns;	/* writer thread only */
};

/* ===== Opening: the lock, the schema ===== */

/*
 * One mqttd per database: an flock() on "<path>.lock", which also holds
 * the owner's pid for the message a second mqttd prints. (flock, not
 * fcntl: SQLite's own fcntl locks would be dropped by closing our fd.)
 */
/*
 * Takes the lock, waiting up to two seconds: a broker killed a moment ago
 * may still be tearing its threads down, and a restart loop should not
 * fail on that. Returns 0, or -1 when another mqttd really holds it.
 */
static int
store_lock_wait(int fd)
{
	struct timespec	 pause = { 0, 50 * 1000 * 1000 };
	int		 tries;

	for (tries = 0; tries < 40; tries++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -1;
		nanosleep(&pause, NULL);
	}
	return -1;
}

static int
store_lock(struct store *st, const char *path, char *err, size_t errlen)
{
	char	 pid[32] = "";
	ssize_t	 n;

	snprintf(st->lockpath, sizeof(st->lockpath), "%s.lock", path);
	st->lockfd = open(st->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lockfd == -1) {
		snprintf(err, errlen, "cannot open lock file %s: %s",
		    st->lockpath, strerror(errno));
		return -1;
	}
	if (store_lock_wait(st->lockfd) == -1) {
		n = pread(st->lockfd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "database %s is in use by another mqttd "
		    "(pid %s, lock file %s)", path, pid[0] ? pid : "unknown",
		    st->lockpath);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(st->lockfd, 0) == -1 ||
	    pwrite(st->lockfd, pid, strlen(pid), 0) == -1)
		log_warn("cannot write pid to %s", st->lockpath);
	return 0;
}

static int
exec_sql(struct store *st, const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->cfg->db_path,
		    msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
user_version(struct store *st, int *version, char *err, size_t errlen)
{
	sqlite3_stmt	*stmt;
	int		 rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*version = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
		return 0;
	}
	snprintf(err, errlen, "%s: cannot read the schema version: %s",
	    st->cfg->db_path, sqlite3_errmsg(st->db));
	sqlite3_finalize(stmt);
	return -1;
}

/*
 * Brings the schema to the newest version in one transaction: a new file
 * gets every migration, an older one the missing ones; a newer one is
 * refused (an older mqttd must not guess at a newer layout).
 */
static int
store_migrate(struct store *st, char *err, size_t errlen)
{
	char	 sql[64];
	int	 version, latest = (int)store_migration_count;

	if (user_version(st, &version, err, errlen) == -1)
		return -1;
	if (version > latest) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "mqttd understands (%d): upgrade mqttd", st->cfg->db_path,
		    version, latest);
		return -1;
	}
	if (version == latest)
		return 0;
	if (exec_sql(st, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	for (; version < latest; version++) {
		if (exec_sql(st, store_migrations[version], err, errlen) == -1)
			goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", latest);
	if (exec_sql(st, sql, err, errlen) == -1 ||
	    exec_sql(st, "COMMIT", err, errlen) == -1)
		goto fail;
	log_info("%s: schema at version %d", st->cfg->db_path, latest);
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
store_configure(struct store *st, char *err, size_t errlen)
{
	static const char *const sync_pragma[] = {
		[STORAGE_SYNC_OFF] = "PRAGMA synchronous = OFF",
		[STORAGE_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
		[STORAGE_SYNC_FULL] = "PRAGMA synchronous = FULL",
	};
	char	 sql[64];

	sqlite3_busy_timeout(st->db, 5000);
	/* A database that is not one (or is damaged) fails here. */
	if (exec_sql(st, "PRAGMA journal_mode = WAL", err, errlen) == -1 ||
	    exec_sql(st, sync_pragma[st->cfg->sync], err, errlen) == -1 ||
	    exec_sql(st, "PRAGMA foreign_keys = ON", err, errlen) == -1)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %u",
	    st->cfg->checkpoint_pages);
	if (exec_sql(st, sql, err, errlen) == -1)
		return -1;
	if (st->cfg->sync == STORAGE_SYNC_OFF)
		log_warnx("storage: sync = off: acknowledged messages can be "
		    "lost on a crash; for tests and benchmarks only");
	return 0;
}

static int
prepare_one(struct store *st, const char *sql, sqlite3_stmt **stmt,
    char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    stmt, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: cannot prepare a statement: %s",
	    st->cfg->db_path, sqlite3_errmsg(st->db));
	return -1;
}

static int
store_prepare(struct store *st, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < OP_COUNT; i++)
		if (op_sql[i] != NULL &&
		    prepare_one(st, op_sql[i], &st->stmts[i], err, errlen) == -1)
			return -1;
	for (i = 0; i < TXN_COUNT; i++)
		if (prepare_one(st, txn_sql[i], &st->txn[i], err, errlen) == -1)
			return -1;
	return 0;
}

static uint64_t
max_id(struct store *st, const char *table)
{
	sqlite3_stmt	*stmt;
	char		 sql[64];
	uint64_t	 id = 0;

	snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) FROM %s", table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		id = (uint64_t)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return id;
}

/* The loop's own read-only connection, for offline queues. */
static int
store_open_reader(struct store *st, char *err, size_t errlen)
{
	static const char sql[] = "SELECT d.id, d.qos, d.retain, m.id, "
	    "m.topic, m.payload, m.qos, m.retain FROM deliveries d JOIN "
	    "messages m ON m.id = d.message_id WHERE d.client_id = ?1 AND "
	    "d.state = 'queued' AND d.id > ?2 ORDER BY d.id LIMIT ?3";

	if (sqlite3_open_v2(st->cfg->db_path, &st->rdb, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st->queue_stmt, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open a reader: %s",
		    st->cfg->db_path, st->rdb ? sqlite3_errmsg(st->rdb) :
		    "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(st->rdb, 5000);
	return 0;
}

static void	*store_writer_main(void *arg);
static void	 store_wake_cb(evutil_socket_t fd, short what, void *arg);
static int	 store_start_checkpointer(struct store *, char *, size_t);

struct store *
store_open(const struct config *cfg, struct event_base *base,
    store_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct store	*st;
	int		 rc;

	/*
	 * SQLite's allocation statistics take a global mutex on every
	 * malloc, and mqttd never reads them. This only takes effect before
	 * SQLite's first use (mqttd opens its store before any thread
	 * starts); afterwards SQLite refuses it and nothing changes.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);

	st = xcalloc(1, sizeof(*st));
	st->cfg = cfg;
	st->lockfd = -1;
	st->next_seq = 1;
	st->done_fn = done;
	st->done_arg = arg;
	TAILQ_INIT(&st->pending);
	TAILQ_INIT(&st->done);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->work, NULL);
	pthread_cond_init(&st->synced, NULL);
	pthread_cond_init(&st->checkpoint, NULL);

	if (store_lock(st, cfg->db_path, err, errlen) == -1)
		goto fail;
	rc = sqlite3_open_v2(cfg->db_path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s",
		    cfg->db_path, st->db ? sqlite3_errmsg(st->db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	if (store_configure(st, err, errlen) == -1 ||
	    store_migrate(st, err, errlen) == -1 ||
	    store_prepare(st, err, errlen) == -1)
		goto fail;
	st->next_msg_id = max_id(st, "messages") + 1;
	st->next_delivery_id = max_id(st, "deliveries") + 1;
	if (store_open_reader(st, err, errlen) == -1 ||
	    store_start_checkpointer(st, err, errlen) == -1)
		goto fail;

	if (base != NULL &&
	    (st->wake = event_new(base, -1, 0, store_wake_cb, st)) == NULL) {
		snprintf(err, errlen, "cannot create the store's wake event");
		goto fail;
	}
	if ((rc = pthread_create(&st->writer, NULL, store_writer_main, st))) {
		snprintf(err, errlen, "cannot start the writer thread: %s",
		    strerror(rc));
		goto fail;
	}
	st->writer_running = true;
	return st;
fail:
	store_close(st);
	return NULL;
}

/* ===== Batches (loop thread, under st->lock) ===== */

static void
batch_free(struct batch *b)
{
	size_t	 i;

	for (i = 0; i < b->nops; i++)
		message_unref(b->ops[i].msg);
	free(b->ops);
	free(b->text);
	free(b);
}

/* The batch new changes go to; a full one is left for the next. */
static struct batch *
batch_current(struct store *st)
{
	struct batch	*b = TAILQ_LAST(&st->pending, batch_list);

	/* A unit's changes stay in one batch, even past max_batch. */
	if (b == NULL || (b->nops >= st->cfg->max_batch &&
	    (st->unit == 0 || st->unit_ops == 0))) {
		b = xcalloc(1, sizeof(*b));
		b->seq = st->next_seq++;
		TAILQ_INSERT_TAIL(&st->pending, b, entry);
	}
	return b;
}

static size_t
batch_text(struct batch *b, const char *s, size_t len)
{
	size_t	 off = b->textlen;

	if (b->textlen + len > b->textcap) {
		b->textcap = b->textcap ? b->textcap * 2 : 4096;
		while (b->textcap < b->textlen + len)
			b->textcap *= 2;
		b->text = xreallocarray(b->text, b->textcap, 1);
	}
	memcpy(b->text + off, s, len);
	b->textlen += len;
	return off;
}

/* Appends an op to the current batch and returns it, lock held. */
static struct op *
op_add(struct store *st, struct batch **bp, enum op_type type,
    const struct session *s)
{
	struct batch	*b = batch_current(st);
	struct op	*op;

	if (b->nops == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->ops = xreallocarray(b->ops, b->cap, sizeof(*b->ops));
	}
	op = &b->ops[b->nops++];
	st->unit_ops++;
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->prev = SIZE_MAX;
	b->live++;
	if (s != NULL) {
		op->client = batch_text(b, s->client_id, s->client_id_len);
		op->client_len = s->client_id_len;
	}
	atomic_fetch_add_explicit(&st->npending, 1, memory_order_relaxed);
	*bp = b;
	return op;
}

/*
 * Wakes the writer for a change just added (lock held). Inside a unit
 * there is no point: the writer does not take the batch a unit is
 * filling, and the unit's end wakes it.
 */
static void
store_kick(struct store *st)
{
	if (st->unit == 0)
		pthread_cond_signal(&st->work);
}

/* ===== Changes (loop thread) ===== */

uint64_t
store_session_put(struct store *st, const struct session *s)
{
	struct batch	*b;
	struct op	*op;

	pthread_mutex_lock(&st->lock);
	op = op_add(st, &b, OP_SESSION_PUT, s);
	op->qos = s->level;
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

static uint64_t
store_session_op(struct store *st, enum op_type type, const struct session *s)
{
	struct batch	*b;

	pthread_mutex_lock(&st->lock);
	op_add(st, &b, type, s);
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

uint64_t
store_session_offline(struct store *st, const struct session *s)
{
	return store_session_op(st, OP_SESSION_OFFLINE, s);
}

uint64_t
store_session_del(struct store *st, const struct session *s)
{
	return store_session_op(st, OP_SESSION_DEL, s);
}

static uint64_t
store_sub_op(struct store *st, enum op_type type, const struct session *s,
    const char *filter, size_t len, uint8_t qos)
{
	struct batch	*b;
	struct op	*op;

	pthread_mutex_lock(&st->lock);
	op = op_add(st, &b, type, s);
	op->qos = qos;
	op->name = batch_text(b, filter, len);
	op->name_len = len;
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

uint64_t
store_sub_put(struct store *st, const struct session *s, const char *filter,
    size_t len, uint8_t qos)
{
	return store_sub_op(st, OP_SUB_PUT, s, filter, len, qos);
}

uint64_t
store_sub_del(struct store *st, const struct session *s, const char *filter,
    size_t len)
{
	return store_sub_op(st, OP_SUB_DEL, s, filter, len, 0);
}

/* Turns op i of pending batch b into a no-op (lock held). */
static void
op_cancel(struct store *st, struct batch *b, size_t i)
{
	b->ops[i].type = OP_NOP;
	b->live--;
	atomic_fetch_sub_explicit(&st->npending, 1, memory_order_relaxed);
}

/* True when batch seq is still pending and is the newest (lock held). */
static bool
in_current_batch(struct store *st, uint64_t seq)
{
	struct batch	*b = TAILQ_LAST(&st->pending, batch_list);

	return b != NULL && b->seq == seq;
}

/* A stored row now refers to msg: its body is written first if new. */
static void
msg_ref(struct store *st, struct message *msg)
{
	struct batch	*b;
	struct op	*op;

	if (msg->store_refs++ > 0)
		return;
	msg->store_id = st->next_msg_id++;
	op = op_add(st, &b, OP_MSG_PUT, NULL);
	op->id = msg->store_id;
	op->qos = msg->qos;
	op->retain = msg->retain;
	op->name = batch_text(b, msg->topic, msg->topic_len);
	op->name_len = msg->topic_len;
	op->msg = message_ref(msg);
	msg->store_seq = b->seq;
	msg->store_op = b->nops - 1;
}

/*
 * A stored row made from msg is gone. When it was the last: a body still
 * pending is not written at all; a written one is deleted by the
 * schema's triggers with that last row.
 */
static void
msg_unref(struct store *st, struct message *msg)
{
	struct batch	*b;
	size_t		 i;

	if (msg->store_refs == 0 || --msg->store_refs > 0)
		return;
	if (in_current_batch(st, msg->store_seq)) {
		b = TAILQ_LAST(&st->pending, batch_list);
		if (b->ops[msg->store_op].type == OP_MSG_PUT &&
		    b->ops[msg->store_op].id == msg->store_id) {
			/* Nothing written yet: neither the body nor what
			 * refers to it (a retained row replaced in the same
			 * batch). */
			for (i = msg->store_op; i < b->nops; i++) {
				if (b->ops[i].type != OP_NOP &&
				    (i == msg->store_op ||
				    b->ops[i].message_id == msg->store_id))
					op_cancel(st, b, i);
			}
		}
	}
	msg->store_id = 0;
}

uint64_t
store_delivery_put(struct store *st, const struct session *s,
    struct delivery *d)
{
	struct batch	*b;
	struct op	*op;
	bool		 insert = d->store_id == 0;
	size_t		 prev = SIZE_MAX;

	pthread_mutex_lock(&st->lock);
	if (insert)
		msg_ref(st, d->msg);
	if (!insert && in_current_batch(st, d->store_seq))
		prev = d->store_op;
	op = op_add(st, &b, insert ? OP_DELIVERY_INSERT : OP_DELIVERY_UPDATE, s);
	if (insert) {
		d->store_id = st->next_delivery_id++;
		d->store_new = true;
	} else if (prev == SIZE_MAX)
		d->store_new = false;
	op->id = d->store_id;
	op->message_id = d->msg->store_id;
	op->qos = d->qos;
	op->retain = d->retain;
	op->state = (uint8_t)d->state;
	op->packet_id = d->packet_id;
	op->prev = prev;
	d->store_seq = b->seq;
	d->store_op = b->nops - 1;
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

uint64_t
store_delivery_del(struct store *st, const struct session *s,
    struct delivery *d)
{
	struct batch	*b;
	struct op	*op;
	size_t		 i;
	uint64_t	 seq = 0;
	bool		 on_disk = true;

	if (d->store_id == 0)
		return 0;
	pthread_mutex_lock(&st->lock);
	if (in_current_batch(st, d->store_seq)) {
		/* Its changes still pending are moot now; if they include
		 * the insert, there is nothing to delete either. */
		b = TAILQ_LAST(&st->pending, batch_list);
		for (i = d->store_op; i != SIZE_MAX; i = b->ops[i].prev)
			op_cancel(st, b, i);
		on_disk = !d->store_new;
	}
	if (on_disk) {
		op = op_add(st, &b, OP_DELIVERY_DEL, s);
		op->id = d->store_id;
		seq = b->seq;
	}
	msg_unref(st, d->msg);
	d->store_id = 0;
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return seq;
}

static uint64_t
store_incoming_op(struct store *st, enum op_type type, const struct session *s,
    uint16_t packet_id)
{
	struct batch	*b;
	struct op	*op;

	pthread_mutex_lock(&st->lock);
	op = op_add(st, &b, type, s);
	op->packet_id = packet_id;
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

uint64_t
store_incoming_put(struct store *st, const struct session *s,
    uint16_t packet_id)
{
	return store_incoming_op(st, OP_INCOMING_PUT, s, packet_id);
}

uint64_t
store_incoming_del(struct store *st, const struct session *s,
    uint16_t packet_id)
{
	return store_incoming_op(st, OP_INCOMING_DEL, s, packet_id);
}

uint64_t
store_retain_put(struct store *st, struct message *msg, struct message *prev)
{
	struct batch	*b;
	struct op	*op;

	pthread_mutex_lock(&st->lock);
	msg_ref(st, msg);
	op = op_add(st, &b, OP_RETAIN_PUT, NULL);
	op->name = batch_text(b, msg->topic, msg->topic_len);
	op->name_len = msg->topic_len;
	op->message_id = msg->store_id;
	if (prev != NULL)
		msg_unref(st, prev);
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

uint64_t
store_retain_del(struct store *st, struct message *prev)
{
	struct batch	*b;
	struct op	*op;

	pthread_mutex_lock(&st->lock);
	op = op_add(st, &b, OP_RETAIN_DEL, NULL);
	op->name = batch_text(b, prev->topic, prev->topic_len);
	op->name_len = prev->topic_len;
	msg_unref(st, prev);
	store_kick(st);
	pthread_mutex_unlock(&st->lock);
	return b->seq;
}

/*
 * The changes made between store_unit_begin() and store_unit_end() (one
 * packet's) go into one batch, so they commit or fail together: a QoS 2
 * "pubrec_sent" row never commits without the deliveries it routed
 * (contract 2).
 */
void
store_unit_begin(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	if (st->unit++ == 0)
		st->unit_ops = 0;
	pthread_mutex_unlock(&st->lock);
}

void
store_unit_end(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	/* Most packets change nothing stored: no wake-up for those. */
	if (--st->unit == 0 && !TAILQ_EMPTY(&st->pending))
		store_kick(st);
	pthread_mutex_unlock(&st->lock);
}

void
store_on_lost_incoming(struct store *st, store_incoming_fn *fn, void *arg)
{
	st->lost_fn = fn;
	st->lost_arg = arg;
}

/*
 * A batch failed: the incoming QoS 2 ids it would have recorded are not
 * on disk, so memory must forget them too, or a resent PUBLISH would be
 * answered as a known duplicate and never routed (contract 7).
 */
static void
batch_report_lost(struct store *st, const struct batch *b)
{
	size_t	 i;

	for (i = 0; st->lost_fn != NULL && i < b->nops; i++) {
		if (b->ops[i].type == OP_INCOMING_PUT)
			st->lost_fn(st->lost_arg, b->text + b->ops[i].client,
			    b->ops[i].client_len, b->ops[i].packet_id);
	}
}

uint64_t
store_committed(struct store *st)
{
	uint64_t	 seq;

	pthread_mutex_lock(&st->lock);
	seq = st->committed;
	pthread_mutex_unlock(&st->lock);
	return seq;
}

uint64_t
store_last_seq(struct store *st)
{
	uint64_t	 seq;

	pthread_mutex_lock(&st->lock);
	seq = st->next_seq - 1;
	pthread_mutex_unlock(&st->lock);
	return seq;
}

/* Read once per packet by the loop: a hint for back-pressure, no lock. */
size_t
store_pending(struct store *st)
{
	return atomic_load_explicit(&st->npending, memory_order_relaxed);
}

/* ===== The writer thread ===== */

/*
 * Binds the parameters of op; each statement uses the ones it names, and
 * binds every one of them, so nothing is left from the op before.
 */
static int
op_bind(sqlite3_stmt *stmt, const struct batch *b, const struct op *op)
{
	int	 rc = SQLITE_OK, n = sqlite3_bind_parameter_count(stmt), i;

	for (i = 1; i <= n && rc == SQLITE_OK; i++) {
		switch (i) {
		case 1:
			rc = sqlite3_bind_text(stmt, 1, b->text + op->client,
			    (int)op->client_len, SQLITE_STATIC);
			break;
		case 2:
			rc = sqlite3_bind_int(stmt, 2, op->qos);
			break;
		case 3:
			rc = sqlite3_bind_text(stmt, 3, b->text + op->name,
			    (int)op->name_len, SQLITE_STATIC);
			break;
		case 4:
			rc = sqlite3_bind_int64(stmt, 4, (sqlite3_int64)op->id);
			break;
		case 5:
			rc = sqlite3_bind_int64(stmt, 5,
			    (sqlite3_int64)op->message_id);
			break;
		case 6:
			rc = sqlite3_bind_blob(stmt, 6, op->msg ?
			    op->msg->payload : NULL, op->msg ?
			    (int)op->msg->payload_len : 0, SQLITE_STATIC);
			if (rc == SQLITE_OK && op->msg &&
			    op->msg->payload_len == 0)
				rc = sqlite3_bind_zeroblob(stmt, 6, 0);
			break;
		case 7:
			rc = sqlite3_bind_int(stmt, 7, op->retain);
			break;
		case 8:
			rc = sqlite3_bind_text(stmt, 8, state_names[op->state],
			    -1, SQLITE_STATIC);
			break;
		case 9:
			if (op->packet_id == 0)
				rc = sqlite3_bind_null(stmt, 9);
			else
				rc = sqlite3_bind_int(stmt, 9, op->packet_id);
			break;
		}
	}
	return rc;
}

static uint64_t
monotonic_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs BEGIN, COMMIT or ROLLBACK; an SQLite result code, SQLITE_OK. */
static int
txn_step(struct store *st, enum txn which)
{
	int	 rc = sqlite3_step(st->txn[which]);

	sqlite3_reset(st->txn[which]);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs one batch in one transaction. Returns 0, or -1 (logged). */
static int
batch_commit(struct store *st, struct batch *b)
{
	sqlite3_stmt	*stmt;
	const char	*what = "BEGIN";
	size_t		 i;
	uint64_t	 t0 = monotonic_ns(), t1;
	int		 rc;

	rc = txn_step(st, TXN_BEGIN);
	for (i = 0; rc == SQLITE_OK && i < b->nops; i++) {
		if (b->ops[i].type == OP_NOP)
			continue;
		stmt = st->stmts[b->ops[i].type];
		what = op_sql[b->ops[i].type];
		if ((rc = op_bind(stmt, b, &b->ops[i])) == SQLITE_OK &&
		    (rc = sqlite3_step(stmt)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(stmt);
	}
	t1 = monotonic_ns();
	if (rc == SQLITE_OK) {
		what = "COMMIT";
		rc = txn_step(st, TXN_COMMIT);
	}
	st->sql_ns += t1 - t0;
	st->commit_ns += monotonic_ns() - t1;
	if (rc == SQLITE_OK)
		return 0;
	log_warnx("storage: commit of batch %llu (%zu changes) failed: %s "
	    "(in: %.40s...); its acknowledgements are withheld",
	    (unsigned long long)b->seq, b->nops, sqlite3_errmsg(st->db), what);
	txn_step(st, TXN_ROLLBACK);
	return -1;
}

static void *
store_writer_main(void *arg)
{
	struct store	*st = arg;
	struct batch	*b;
	int		 rv;

#ifdef __linux__
	prctl(PR_SET_NAME, "mqttd-store");	/* as top -H and perf show it */
#endif
	pthread_mutex_lock(&st->lock);
	for (;;) {
		/* The newest batch is not taken while a unit is filling it. */
		while ((TAILQ_EMPTY(&st->pending) || (st->unit > 0 &&
		    TAILQ_FIRST(&st->pending) == TAILQ_LAST(&st->pending,
		    batch_list))) && !st->stopping)
			pthread_cond_wait(&st->work, &st->lock);
		if ((b = TAILQ_FIRST(&st->pending)) == NULL)
			break;		/* stopping, and nothing left */
		TAILQ_REMOVE(&st->pending, b, entry);
		pthread_mutex_unlock(&st->lock);

		rv = batch_commit(st, b);

		pthread_mutex_lock(&st->lock);
		b->failed = rv == -1;
		atomic_fetch_sub_explicit(&st->npending, b->live,
		    memory_order_relaxed);
		st->committed = b->seq;
		st->commits++;
		st->committed_ops += b->nops;
		TAILQ_INSERT_TAIL(&st->done, b, entry);
		pthread_cond_broadcast(&st->synced);
		if (st->wake != NULL)
			event_active(st->wake, EV_READ, 0);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* ===== The checkpointer thread ===== */

/*
 * Copying the WAL back into the database file (a checkpoint) ends with an
 * fsync of the database file, megabytes at a time; done by the writer, as
 * SQLite's automatic checkpoint does, it stalls every acknowledgement
 * behind it. So the writer only says when the WAL has grown past
 * checkpoint_pages, and this thread, on its own connection, copies what
 * is committed while the writer goes on committing (a PASSIVE checkpoint
 * takes no lock the writer needs).
 *
 * The WAL is reused from its start only once everything in it has been
 * copied back; under a steady stream of commits this thread never quite
 * catches up, so past CHECKPOINT_INLINE times the threshold the writer
 * checkpoints itself, between two commits, and the copy it finds left is
 * short.
 */
#define CHECKPOINT_INLINE	4

static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store	*st = arg;
	unsigned	 limit = st->cfg->checkpoint_pages;
	int		 copied;

	if ((unsigned)pages >= limit * CHECKPOINT_INLINE) {
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&st->lock);
		st->wal_copied = 0;	/* the next commit starts it over */
		pthread_mutex_unlock(&st->lock);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&st->lock);
	/* Fewer frames than were copied: the WAL has started over. */
	copied = st->wal_copied <= pages ? st->wal_copied : 0;
	if ((unsigned)(pages - copied) >= limit && !st->checkpoint_wanted) {
		st->checkpoint_wanted = true;
		pthread_cond_signal(&st->checkpoint);
	}
	pthread_mutex_unlock(&st->lock);
	return SQLITE_OK;
}

/* Runs one checkpoint; a failure is logged when it starts and ends. */
static void
checkpoint_once(struct store *st)
{
	int	 rc, frames = 0, copied = 0;

	rc = sqlite3_wal_checkpoint_v2(st->cdb, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
	pthread_mutex_lock(&st->lock);
	st->wal_copied = rc == SQLITE_OK && copied > 0 ? copied : 0;
	pthread_mutex_unlock(&st->lock);
	if (rc == SQLITE_OK && st->checkpoint_failing)
		log_info("storage: checkpoints work again");
	else if (rc != SQLITE_OK && rc != SQLITE_BUSY &&
	    !st->checkpoint_failing)
		log_warnx("storage: checkpoint of %s failed: %s; the WAL "
		    "file grows until one works", st->cfg->db_path,
		    sqlite3_errmsg(st->cdb));
	if (rc != SQLITE_BUSY)
		st->checkpoint_failing = rc != SQLITE_OK;
}

static void *
store_checkpointer_main(void *arg)
{
	struct store	*st = arg;

#ifdef __linux__
	prctl(PR_SET_NAME, "mqttd-ckpt");
#endif
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (!st->checkpoint_wanted && !st->stopping)
			pthread_cond_wait(&st->checkpoint, &st->lock);
		if (st->stopping)
			break;
		st->checkpoint_wanted = false;
		pthread_mutex_unlock(&st->lock);
		checkpoint_once(st);
		pthread_mutex_lock(&st->lock);
		st->checkpoints++;
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/*
 * Opens the checkpointer's connection and starts it, and turns SQLite's
 * own automatic checkpoints off in favour of it; checkpoint_pages = 0
 * leaves checkpoints off altogether.
 */
static int
store_start_checkpointer(struct store *st, char *err, size_t errlen)
{
	int	 rc;

	if (st->cfg->checkpoint_pages == 0)
		return 0;
	if (sqlite3_open_v2(st->cfg->db_path, &st->cdb, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->cdb, st->cfg->sync == STORAGE_SYNC_OFF ?
	    "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open the checkpointer's "
		    "connection: %s", st->cfg->db_path, st->cdb ?
		    sqlite3_errmsg(st->cdb) : "out of memory");
		return -1;
	}
	if ((rc = pthread_create(&st->checkpointer, NULL,
	    store_checkpointer_main, st))) {
		snprintf(err, errlen, "cannot start the checkpointer thread: %s",
		    strerror(rc));
		return -1;
	}
	st->checkpointer_running = true;
	sqlite3_wal_hook(st->db, store_wal_hook, st);
	return 0;
}

/* Loop thread: frees finished batches and reports them. */
static void
store_reap(struct store *st)
{
	struct batch_list	 done;
	struct batch		*b;
	uint64_t		 ok = 0;

	pthread_mutex_lock(&st->lock);
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &st->done, entry);
	pthread_mutex_unlock(&st->lock);
	/* Report in order: what committed before a failure is released first. */
	while ((b = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, b, entry);
		if (b->failed) {
			if (ok != 0 && st->done_fn != NULL)
				st->done_fn(ok, false, st->done_arg);
			ok = 0;
			batch_report_lost(st, b);
			if (st->done_fn != NULL)
				st->done_fn(b->seq, true, st->done_arg);
		} else
			ok = b->seq;
		batch_free(b);
	}
	if (ok != 0 && st->done_fn != NULL)
		st->done_fn(ok, false, st->done_arg);
}

static void
store_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	store_reap(arg);
}

void
store_sync(struct store *st)
{
	uint64_t	 target;

	pthread_mutex_lock(&st->lock);
	target = st->next_seq - 1;
	if (!TAILQ_EMPTY(&st->pending))
		store_kick(st);
	while (st->committed < target && st->writer_running)
		pthread_cond_wait(&st->synced, &st->lock);
	pthread_mutex_unlock(&st->lock);
	store_reap(st);
}

void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->stopping = true;
	pthread_cond_signal(&st->checkpoint);
	pthread_mutex_unlock(&st->lock);
	if (st->checkpointer_running) {
		pthread_join(st->checkpointer, NULL);
		st->checkpointer_running = false;
	}
	if (st->writer_running) {
		pthread_mutex_lock(&st->lock);
		pthread_cond_signal(&st->work);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->writer, NULL);
		st->writer_running = false;
		if (st->commits > 0)
			log_info("storage: %llu commits, %.1f changes per "
			    "commit, %.3f ms per commit (%.3f ms of it in "
			    "COMMIT), %llu checkpoints beside them",
			    (unsigned long long)st->commits,
			    (double)st->committed_ops / (double)st->commits,
			    (double)(st->sql_ns + st->commit_ns) / 1e6 /
			    (double)st->commits,
			    (double)st->commit_ns / 1e6 / (double)st->commits,
			    (unsigned long long)st->checkpoints);
	}
	store_reap(st);
	for (i = 0; i < OP_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	for (i = 0; i < TXN_COUNT; i++)
		sqlite3_finalize(st->txn[i]);
	sqlite3_finalize(st->queue_stmt);
	if (st->rdb != NULL)
		sqlite3_close(st->rdb);
	if (st->cdb != NULL)
		sqlite3_close(st->cdb);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("%s: close: %s", st->cfg->db_path,
		    sqlite3_errmsg(st->db));
	if (st->wake != NULL)
		event_free(st->wake);
	if (st->lockfd != -1)
		close(st->lockfd);
	pthread_cond_destroy(&st->work);
	pthread_cond_destroy(&st->synced);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ===== Restore (start-up, before the writer has work) ===== */

struct restore_ctx {
	struct store			*st;
	const struct store_restore	*cb;
	void				*arg;
	struct strmap			*msgs;	/* id -> struct message */
};

static struct message *
restore_message(struct restore_ctx *rc, sqlite3_stmt *stmt, int col)
{
	struct message	*msg;
	uint64_t	 id = (uint64_t)sqlite3_column_int64(stmt, col);
	const char	*topic;
	const void	*payload;
	int		 topic_len, payload_len;

	if ((msg = strmap_get(rc->msgs, (const char *)&id, sizeof(id))) != NULL)
		return message_ref(msg);
	topic = (const char *)sqlite3_column_text(stmt, col + 1);
	topic_len = sqlite3_column_bytes(stmt, col + 1);
	payload = sqlite3_column_blob(stmt, col + 2);
	payload_len = sqlite3_column_bytes(stmt, col + 2);
	msg = message_new(topic ? topic : "", (size_t)topic_len, payload,
	    (size_t)payload_len, (uint8_t)sqlite3_column_int(stmt, col + 3),
	    sqlite3_column_int(stmt, col + 4) != 0);
	msg->store_id = id;
	/* The map keeps one reference until the restore ends. */
	strmap_put(rc->msgs, (const char *)&id, sizeof(id), msg);
	return message_ref(msg);
}

static enum delivery_state
state_from_name(const char *name)
{
	if (name != NULL && strcmp(name, "publish_sent") == 0)
		return DELIVERY_PUBLISH_SENT;
	if (name != NULL && strcmp(name, "pubrel_sent") == 0)
		return DELIVERY_PUBREL_SENT;
	return DELIVERY_QUEUED;
}

static void
restore_sessions(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	rc->cb->session(rc->arg, (const char *)sqlite3_column_text(stmt, 0),
	    (uint8_t)sqlite3_column_int(stmt, 1));
}

static void
restore_subscriptions(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	rc->cb->subscription(rc->arg,
	    (const char *)sqlite3_column_text(stmt, 0),
	    (const char *)sqlite3_column_text(stmt, 1),
	    (uint8_t)sqlite3_column_int(stmt, 2));
}

static void
restore_retained(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	struct message	*msg = restore_message(rc, stmt, 0);

	msg->store_refs++;
	rc->cb->retained(rc->arg, msg);
}

static void
restore_deliveries(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	struct message	*msg = restore_message(rc, stmt, 7);

	msg->store_refs++;
	rc->cb->delivery(rc->arg, (const char *)sqlite3_column_text(stmt, 0),
	    (uint64_t)sqlite3_column_int64(stmt, 1), msg,
	    (uint8_t)sqlite3_column_int(stmt, 2),
	    sqlite3_column_int(stmt, 3) != 0,
	    state_from_name((const char *)sqlite3_column_text(stmt, 4)),
	    (uint16_t)sqlite3_column_int(stmt, 5));
}

static void
restore_backlog(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	rc->cb->backlog(rc->arg, (const char *)sqlite3_column_text(stmt, 0),
	    (size_t)sqlite3_column_int64(stmt, 1),
	    (size_t)sqlite3_column_int64(stmt, 2));
}

static void
restore_incoming(struct restore_ctx *rc, sqlite3_stmt *stmt)
{
	rc->cb->incoming(rc->arg, (const char *)sqlite3_column_text(stmt, 0),
	    (uint16_t)sqlite3_column_int(stmt, 1));
}

static const struct {
	const char	*what;
	const char	*sql;
	void		(*row)(struct restore_ctx *, sqlite3_stmt *);
} restore_steps[] = {
	{ "sessions", "SELECT client_id, protocol_level FROM sessions",
	    restore_sessions },
	{ "subscriptions", "SELECT client_id, filter, qos FROM subscriptions",
	    restore_subscriptions },
	{ "retained messages", "SELECT m.id, m.topic, m.payload, m.qos, "
	    "m.retain FROM retained r JOIN messages m ON m.id = r.message_id",
	    restore_retained },
	/* In flight: every one; queued: only counted (contract point 8). */
	{ "deliveries", "SELECT d.client_id, d.id, d.qos, d.retain, d.state, "
	    "coalesce(d.packet_id, 0), NULL, m.id, m.topic, m.payload, m.qos, "
	    "m.retain FROM deliveries d JOIN messages m ON m.id = d.message_id "
	    "WHERE d.state <> 'queued' ORDER BY d.id", restore_deliveries },
	{ "offline queues", "SELECT d.client_id, count(*), "
	    "sum(length(m.topic) + length(m.payload)) FROM deliveries d "
	    "JOIN messages m ON m.id = d.message_id WHERE d.state = 'queued' "
	    "GROUP BY d.client_id", restore_backlog },
	{ "incoming QoS 2 ids", "SELECT client_id, packet_id FROM incoming",
	    restore_incoming },
};

static void
restore_drop_cb(const char *key, size_t len, void *value, void *arg)
{
	(void)key; (void)len; (void)arg;
	message_unref(value);
}

int
store_restore(struct store *st, const struct store_restore *cb, void *arg,
    char *err, size_t errlen)
{
	struct restore_ctx	 rc = { st, cb, arg, strmap_new() };
	sqlite3_stmt		*stmt = NULL;
	struct timespec		 t0, t1;
	size_t			 i, counts[6] = { 0 };
	int			 r = SQLITE_OK;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < sizeof(restore_steps) / sizeof(restore_steps[0]); i++) {
		r = sqlite3_prepare_v2(st->db, restore_steps[i].sql, -1, &stmt,
		    NULL);
		while (r == SQLITE_OK && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
			restore_steps[i].row(&rc, stmt);
			counts[i]++;
			r = SQLITE_OK;
		}
		sqlite3_finalize(stmt);
		if (r != SQLITE_DONE) {
			snprintf(err, errlen, "%s: cannot read %s back: %s",
			    st->cfg->db_path, restore_steps[i].what,
			    sqlite3_errmsg(st->db));
			break;
		}
	}
	strmap_foreach(rc.msgs, restore_drop_cb, NULL);
	strmap_free(rc.msgs);
	if (r != SQLITE_DONE)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("storage: restored %zu sessions, %zu subscriptions, %zu "
	    "retained, %zu in flight, %zu offline queues, %zu incoming QoS 2 "
	    "ids in %.3f s", counts[0], counts[1], counts[2], counts[3],
	    counts[4], counts[5],
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

/* ===== Offline queues, read back as sessions drain ===== */

int
store_queue_load(struct store *st, const char *client_id, uint64_t after_id,
    size_t limit, store_queue_fn *fn, void *arg)
{
	sqlite3_stmt	*stmt = st->queue_stmt;
	struct message	*msg;
	int		 rc, n = 0;

	sqlite3_reset(stmt);
	if (sqlite3_bind_text(stmt, 1, client_id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)after_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit) != SQLITE_OK) {
		log_warnx("storage: cannot read the queue of %s: %s", client_id,
		    sqlite3_errmsg(st->rdb));
		return -1;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		msg = message_new((const char *)sqlite3_column_text(stmt, 4),
		    (size_t)sqlite3_column_bytes(stmt, 4),
		    sqlite3_column_blob(stmt, 5),
		    (size_t)sqlite3_column_bytes(stmt, 5),
		    (uint8_t)sqlite3_column_int(stmt, 6),
		    sqlite3_column_int(stmt, 7) != 0);
		msg->store_id = (uint64_t)sqlite3_column_int64(stmt, 3);
		msg->store_refs = 1;
		fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), msg,
		    (uint8_t)sqlite3_column_int(stmt, 1),
		    sqlite3_column_int(stmt, 2) != 0);
		n++;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		log_warnx("storage: cannot read the queue of %s: %s", client_id,
		    sqlite3_errmsg(st->rdb));
		return -1;
	}
	return n;
}
