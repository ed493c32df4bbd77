/*
 * message.h: an application message (topic, payload, QoS, retain) as the
 * broker holds it. One body is shared, by reference count, by every
 * delivery of it, by the retained table, and by a will in waiting.
 *
 * Pure code.
 */
#ifndef MQTTD_MESSAGE_H
#define MQTTD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct message {
	unsigned	 refs;
	uint64_t	 store_id;	/* the store's row for the body; 0 = none */
	unsigned	 store_refs;	/* stored deliveries and retained rows */
	uint64_t	 store_seq;	/* batch that inserts the row */
	size_t		 store_op;	/* its place in that batch */
	uint8_t		 qos;		/* as published */
	bool		 retain;	/* as published */
	uint16_t	 topic_len;
	size_t		 payload_len;
	char		*topic;		/* NUL-terminated, inside the same block */
	uint8_t		*payload;	/* inside the same block */
};

/* A new message with one reference; topic and payload are copied. */
struct message	*message_new(const char *topic, size_t topic_len,
		    const void *payload, size_t payload_len, uint8_t qos,
		    bool retain);
struct message	*message_ref(struct message *msg);
void		 message_unref(struct message *msg);

/* Bytes of topic and payload, as queue limits count them. */
size_t		 message_size(const struct message *msg);

#endif /* MQTTD_MESSAGE_H */
