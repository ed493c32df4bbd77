/*
 * broker.h: the MQTT protocol state machine.
 *
 * The broker turns whole packets from a connection into changes of
 * sessions, subscriptions and retained messages, and into answers. It
 * never touches a socket: it reaches its connections only through the
 * struct broker_io callbacks, so it runs as well under a test or a fuzzer
 * as under libevent.
 */
#ifndef MQTTD_BROKER_H
#define MQTTD_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct client;
struct config;
struct store;

/*
 * What the broker asks of the transport. conn is the transport's handle
 * of one connection, given to broker_client_new().
 */
struct broker_io {
	/*
	 * Queue len bytes for the peer, in order. When hold is not 0 they
	 * (and everything queued after them) wait until the store has
	 * committed batch hold.
	 */
	void	(*send)(void *conn, const uint8_t *buf, size_t len,
		    uint64_t hold);
	/*
	 * Close after what is already released has been written. The
	 * broker forgets the client at once; the transport must not call
	 * the broker about this connection again.
	 */
	void	(*close)(void *conn);
	/* Bytes queued for the peer and not yet written. */
	size_t	(*pending)(void *conn);
	/*
	 * The CONNECT was accepted: stop the connect timer and watch the
	 * keep-alive instead (0: none) [MQTT-3.1.2-24].
	 */
	void	(*connected)(void *conn, unsigned keep_alive);
};

/* Counters for logs and, later, $SYS. */
struct broker_stats {
	uint64_t	 clients_connected;
	uint64_t	 msgs_received;
	uint64_t	 msgs_sent;
	uint64_t	 msgs_dropped;		/* queue limits, slow QoS 0 readers */
};

struct broker	*broker_new(const struct config *cfg, const struct broker_io *io,
		    struct store *st);
void		 broker_free(struct broker *b);

/* Reads the store back into memory; 0, or -1 with err filled. */
int		 broker_restore(struct broker *b, char *err, size_t errlen);

/* A new connection; peer names it in logs ("127.0.0.1:50312"). */
struct client	*broker_client_new(struct broker *b, void *conn, const char *peer);

/*
 * One whole packet (as framed by packet_frame()). Returns 0, or -1 when
 * the broker has closed the connection (io->close was called and the
 * client is gone): the caller must drop its pointer.
 */
int		 broker_client_packet(struct client *c, const uint8_t *buf,
		    size_t len);

/*
 * The connection ended without the broker asking (peer closed, I/O
 * error, keep-alive or connect timeout, malformed framing). Publishes the
 * will unless DISCONNECT came first, frees the client. reason is logged.
 */
void		 broker_client_lost(struct client *c, const char *reason);

/* The connection's output drained: send what waited for room. */
void		 broker_client_writable(struct client *c);

/* The store committed batches up to seq (read back waiting queues). */
void		 broker_store_done(struct broker *b, uint64_t seq);

/* Once a second: resend unacknowledged messages (-r, -m). */
void		 broker_tick(struct broker *b, uint64_t now);

/*
 * Clean shutdown: every client is closed, wills published only when the
 * configuration asks; sessions are kept for the store.
 */
void		 broker_shutdown(struct broker *b);

const struct broker_stats *broker_stats(const struct broker *b);
size_t		 broker_client_count(const struct broker *b);

#endif /* MQTTD_BROKER_H */
