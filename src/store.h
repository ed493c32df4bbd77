/*
 * store.h: where the broker's durable state goes (DESIGN.md, "The
 * durability contract").
 *
 * Every change to a persistent session, its subscriptions, its deliveries
 * and incoming QoS 2 ids, and to the retained table, is one call here,
 * made on the event loop's thread. The call only appends the change to
 * the current batch and returns the batch's sequence number; a writer
 * thread commits each batch in one transaction and then reports the
 * number committed. An answer that acknowledges a change is held until
 * its batch is committed (point 1); a batch that fails to commit is
 * reported as failed and its answers are never sent (point 7).
 *
 * The broker calls the store only for what must persist (point 4): never
 * for clean sessions, never for QoS 0.
 */
#ifndef MQTTD_STORE_H
#define MQTTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

struct config;
struct event_base;
struct message;
struct store;

/*
 * Called on the loop's thread after the writer finished batches up to
 * seq. failed is true when the last of them could not be committed.
 */
typedef void	 store_done_fn(uint64_t seq, bool failed, void *arg);

/*
 * What the store hands back at start-up, before any listener opens. The
 * message given to delivery and retained has one reference, which the
 * callee takes.
 */
struct store_restore {
	void	(*session)(void *arg, const char *client_id, uint8_t level);
	void	(*subscription)(void *arg, const char *client_id,
		    const char *filter, uint8_t qos);
	void	(*delivery)(void *arg, const char *client_id, uint64_t id,
		    struct message *msg, uint8_t qos, bool retain,
		    enum delivery_state state, uint16_t packet_id);
	void	(*incoming)(void *arg, const char *client_id,
		    uint16_t packet_id);
	void	(*retained)(void *arg, struct message *msg);
	/* Queued deliveries stay on disk: only their count and bytes. */
	void	(*backlog)(void *arg, const char *client_id, size_t count,
		    size_t bytes);
};

/*
 * Opens (creating or upgrading) the database the configuration names and
 * takes its lock. With base, done is called on base's thread after each
 * commit; without (tests), use store_sync(). NULL with one line in err:
 * locked by another mqttd, corrupt, newer schema, cannot create.
 */
struct store	*store_open(const struct config *cfg, struct event_base *base,
		    store_done_fn *done, void *arg, char *err, size_t errlen);

/* Commits what is queued, stops the writer, closes the database. */
void		 store_close(struct store *st);

/* Reads everything back; 0, or -1 with err filled. */
int		 store_restore(struct store *st, const struct store_restore *cb,
		    void *arg, char *err, size_t errlen);

/*
 * Reads up to limit queued deliveries of client_id with ids above
 * after_id, oldest first, from what is committed; fn gets each (the
 * message with one reference, which fn takes). Returns the number read,
 * or -1 (logged). Runs on the loop's thread: a short indexed read.
 */
typedef void	 store_queue_fn(void *arg, uint64_t id, struct message *msg,
		    uint8_t qos, bool retain);
int		 store_queue_load(struct store *st, const char *client_id,
		    uint64_t after_id, size_t limit, store_queue_fn *fn, void *arg);

/*
 * Brackets the changes of one packet so that they commit, or fail,
 * together. Units may nest; the writer waits for the outermost end.
 */
void		 store_unit_begin(struct store *st);
void		 store_unit_end(struct store *st);

/*
 * fn is called (loop thread) for every incoming QoS 2 id whose batch
 * failed to commit, so that memory does not keep what the disk lost.
 */
typedef void	 store_incoming_fn(void *arg, const char *client_id,
		    size_t len, uint16_t packet_id);
void		 store_on_lost_incoming(struct store *st, store_incoming_fn *fn,
		    void *arg);

/* Blocks until every change queued so far is committed (or failed). */
void		 store_sync(struct store *st);

/* The highest batch committed, and changes queued but not committed. */
uint64_t	 store_committed(struct store *st);
/* The newest batch holding a change queued so far (committed or not). */
uint64_t	 store_last_seq(struct store *st);
size_t		 store_pending(struct store *st);

uint64_t	 store_session_put(struct store *st, const struct session *s);
/* The session's client went away (for disconnected_at). */
uint64_t	 store_session_offline(struct store *st, const struct session *s);
uint64_t	 store_session_del(struct store *st, const struct session *s);
uint64_t	 store_sub_put(struct store *st, const struct session *s,
		    const char *filter, size_t len, uint8_t qos);
uint64_t	 store_sub_del(struct store *st, const struct session *s,
		    const char *filter, size_t len);
/* Inserts d (giving it a store id) or records its new state. */
uint64_t	 store_delivery_put(struct store *st, const struct session *s,
		    struct delivery *d);
uint64_t	 store_delivery_del(struct store *st, const struct session *s,
		    struct delivery *d);
uint64_t	 store_incoming_put(struct store *st, const struct session *s,
		    uint16_t packet_id);
uint64_t	 store_incoming_del(struct store *st, const struct session *s,
		    uint16_t packet_id);
/* msg becomes retained for its topic, replacing prev (NULL if none). */
uint64_t	 store_retain_put(struct store *st, struct message *msg,
		    struct message *prev);
/* The retained message prev is cleared. */
uint64_t	 store_retain_del(struct store *st, struct message *prev);

#endif /* MQTTD_STORE_H */
