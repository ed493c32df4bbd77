/*
 * client.h: an MQTT 3.1.1 client on a libevent event_base, for mqtt-cli,
 * the benchmark tool and the integration tests.
 *
 * Non-blocking and callback-driven: every call returns at once and the
 * outcome arrives through the callbacks of struct mqtt_client_cb, run from
 * the event loop. The library prints nothing; errors are values
 * (enum mqtt_client_err) with mqtt_client_strerror() for the one line a
 * program shows its user.
 *
 * What it does for its user:
 *   - CONNECT with clean session or persistent session, keep-alive, will,
 *     user name and password; a timeout for the CONNACK;
 *   - SUBSCRIBE, UNSUBSCRIBE with their acknowledgements;
 *   - PUBLISH at QoS 0, 1 and 2 with the full flows both ways: outgoing
 *     messages stay in flight until PUBACK or PUBREC/PUBREL/PUBCOMP,
 *     incoming QoS 2 messages are delivered once per packet id until
 *     their PUBREL [MQTT-4.3.3];
 *   - PINGREQ when the connection has been quiet for the keep-alive, and
 *     an end to the connection when no PINGRESP comes back in time;
 *   - a window of outstanding QoS 1/2 publishes (max_inflight): publishes
 *     beyond it wait in order until an acknowledgement frees a slot;
 *   - reconnect (automatic after a delay, or on request): when the
 *     broker says the session is present, unacknowledged PUBLISHes are
 *     resent with DUP and PUBRELs resent [MQTT-4.4.0-1]; when it is not,
 *     unacknowledged PUBLISHes are sent again as new messages.
 *
 * Buffers: a message handed to the message callback is a view into the
 * input buffer, valid during the callback only. An outgoing QoS 1/2
 * message is encoded once and that encoding is kept for resending.
 */
#ifndef MQTTD_CLIENT_H
#define MQTTD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct mqtt_client;

enum mqtt_client_err {
	MQTT_CLIENT_OK = 0,
	MQTT_CLIENT_ERR_RESOLVE,	/* host name not found */
	MQTT_CLIENT_ERR_CONNECT,	/* TCP connection failed (refused, unreachable) */
	MQTT_CLIENT_ERR_TIMEOUT,	/* no CONNACK within connect_timeout */
	MQTT_CLIENT_ERR_REFUSED,	/* CONNACK with a non-zero code (see connack_code) */
	MQTT_CLIENT_ERR_CLOSED,		/* the broker closed the connection */
	MQTT_CLIENT_ERR_KEEPALIVE,	/* no PINGRESP within the keep-alive */
	MQTT_CLIENT_ERR_PROTOCOL,	/* a malformed or unexpected packet */
	MQTT_CLIENT_ERR_IO,		/* a socket error */
	MQTT_CLIENT_ERR_STATE,		/* not connected (or already connecting) */
	MQTT_CLIENT_ERR_TOPIC,		/* bad topic name or filter */
	MQTT_CLIENT_ERR_QOS,		/* QoS not 0, 1 or 2 */
	MQTT_CLIENT_ERR_ARG,		/* another bad argument (e.g. empty client id with a persistent session) */
	MQTT_CLIENT_ERR_BUSY,		/* window and queue full, or no free packet id */
	MQTT_CLIENT_ERR_NOMEM
};

/* A message received; views valid during the message callback only. */
struct mqtt_message {
	const char	*topic;		/* not NUL-terminated */
	size_t		 topic_len;
	const uint8_t	*payload;
	size_t		 payload_len;
	uint8_t		 qos;
	bool		 retain;
	bool		 dup;
	uint16_t	 packet_id;	/* 0 at QoS 0 */
};

/*
 * What the client tells its user. Every member may be NULL. Callbacks
 * may call any mqtt_client_*() function, mqtt_client_free() included.
 */
struct mqtt_client_cb {
	/* CONNACK accepted; session_present as the broker said. */
	void	(*connected)(struct mqtt_client *, bool session_present, void *arg);
	/*
	 * The connection ended or could not be made. err says why:
	 * MQTT_CLIENT_OK after mqtt_client_disconnect(); connack_code is the
	 * broker's code for MQTT_CLIENT_ERR_REFUSED. reconnecting is true
	 * when the client will try again by itself after reconnect_delay.
	 */
	void	(*closed)(struct mqtt_client *, enum mqtt_client_err err,
		    uint8_t connack_code, bool reconnecting, void *arg);
	void	(*message)(struct mqtt_client *, const struct mqtt_message *,
		    void *arg);
	/* SUBACK: one granted QoS (or 0x80 for a failure) per filter. */
	void	(*subscribed)(struct mqtt_client *, uint16_t packet_id,
		    const uint8_t *granted, size_t count, void *arg);
	void	(*unsubscribed)(struct mqtt_client *, uint16_t packet_id,
		    void *arg);
	/*
	 * A QoS 1 or 2 publish is done: on PUBACK at QoS 1, on PUBCOMP at
	 * QoS 2 (or on a reconnect that finds the session gone after PUBREC).
	 * token is the one mqtt_client_publish() returned. A QoS 0 publish is
	 * done when the call returns; drained says when it has left.
	 */
	void	(*published)(struct mqtt_client *, uint64_t token, void *arg);
	/* The output buffer has been written out completely. */
	void	(*drained)(struct mqtt_client *, void *arg);
};

struct mqtt_client_options {
	const char	*host;			/* default "127.0.0.1" */
	uint16_t	 port;			/* default 1883 */
	const char	*client_id;		/* copied; "" lets the broker choose (clean only) */
	const char	*username;		/* NULL for none */
	const char	*password;		/* NULL for none */
	bool		 clean_session;
	uint16_t	 keep_alive;		/* seconds; 0 turns keep-alive off */
	unsigned	 connect_timeout;	/* seconds until CONNACK; 0 = 30 */
	unsigned	 reconnect_delay;	/* seconds; 0 = no automatic reconnect */
	unsigned	 max_inflight;		/* outgoing QoS 1/2 window; 0 = 32 */
	size_t		 max_queued;		/* waiting beyond the window; 0 = 10000 */
	bool		 will;
	const char	*will_topic;
	const void	*will_payload;
	size_t		 will_payload_len;
	uint8_t		 will_qos;
	bool		 will_retain;
};

/* A granted QoS in the subscribed callback that means "refused". */
#define MQTT_CLIENT_SUBACK_FAILURE	0x80

/* One filter of a SUBSCRIBE. */
struct mqtt_subscription {
	const char	*filter;		/* NUL-terminated */
	uint8_t		 qos;
};

/* Fills o with the defaults (127.0.0.1:1883, clean session, keep-alive 60). */
void		 mqtt_client_options_init(struct mqtt_client_options *o);

/*
 * Returns a client that runs on base, not yet connected. The options'
 * strings and will payload are copied; cb is copied. The caller owns the
 * client and frees it with mqtt_client_free(). NULL when out of memory.
 */
struct mqtt_client *mqtt_client_new(struct event_base *base,
		    const struct mqtt_client_options *opts,
		    const struct mqtt_client_cb *cb, void *arg);

/*
 * Closes the connection at once (no DISCONNECT: the will is published)
 * and releases everything. No callback runs. Safe inside a callback.
 */
void		 mqtt_client_free(struct mqtt_client *c);

/*
 * Starts connecting. The host is resolved before this returns (a numeric
 * address or a name in /etc/hosts is instant). MQTT_CLIENT_OK means the
 * outcome will come through connected or closed; an error means no
 * callback will run.
 */
enum mqtt_client_err mqtt_client_connect(struct mqtt_client *c);

/*
 * Sends DISCONNECT (the will is discarded [MQTT-3.14.4-3]) and closes once
 * it is written; closed then runs with MQTT_CLIENT_OK. Messages still in
 * flight stay with the client for a later reconnect of a persistent session.
 */
enum mqtt_client_err mqtt_client_disconnect(struct mqtt_client *c);

/*
 * Subscribes to count filters. *packet_id (if not NULL) is set to the id
 * that subscribed will report. Needs a connection.
 */
enum mqtt_client_err mqtt_client_subscribe(struct mqtt_client *c,
		    const struct mqtt_subscription *subs, size_t count,
		    uint16_t *packet_id);
enum mqtt_client_err mqtt_client_unsubscribe(struct mqtt_client *c,
		    const char *const *filters, size_t count,
		    uint16_t *packet_id);

/*
 * Publishes payload to topic (a topic name: no wildcards). At QoS 0 it
 * needs a connection; at QoS 1 and 2 the message is kept (copied) until
 * acknowledged, and may be queued while the client is connecting or
 * waiting to reconnect. *token (if not NULL) identifies the publish in
 * the published callback.
 */
enum mqtt_client_err mqtt_client_publish(struct mqtt_client *c,
		    const char *topic, const void *payload, size_t len,
		    uint8_t qos, bool retain, uint64_t *token);

bool		 mqtt_client_is_connected(const struct mqtt_client *c);
/* errno of the last socket error (for MQTT_CLIENT_ERR_CONNECT/IO), or 0. */
int		 mqtt_client_errno(const struct mqtt_client *c);
/* QoS 1/2 publishes not yet complete (in flight plus queued). */
size_t		 mqtt_client_pending(const struct mqtt_client *c);
/* Bytes waiting in the socket's output buffer. */
size_t		 mqtt_client_output_len(const struct mqtt_client *c);
const char	*mqtt_client_id(const struct mqtt_client *c);
const char	*mqtt_client_host(const struct mqtt_client *c);
uint16_t	 mqtt_client_port(const struct mqtt_client *c);

const char	*mqtt_client_strerror(enum mqtt_client_err err);
/* "bad user name or password" for a CONNACK return code. */
const char	*mqtt_connack_strerror(uint8_t code);

#endif /* MQTTD_CLIENT_H */
