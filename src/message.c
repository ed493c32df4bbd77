/*
 * message.c: reference-counted message bodies (see message.h). A body is
 * one allocation: the struct, then the topic, then the payload.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "xmalloc.h"

struct message *
message_new(const char *topic, size_t topic_len, const void *payload,
    size_t payload_len, uint8_t qos, bool retain)
{
	struct message	*msg;

	assert(topic_len <= UINT16_MAX);
	msg = xmalloc(sizeof(*msg) + topic_len + 1 + payload_len);
	msg->refs = 1;
	msg->store_id = 0;
	msg->store_refs = 0;
	msg->store_seq = 0;
	msg->store_op = 0;
	msg->qos = qos;
	msg->retain = retain;
	msg->topic_len = (uint16_t)topic_len;
	msg->payload_len = payload_len;
	msg->topic = (char *)(msg + 1);
	memcpy(msg->topic, topic, topic_len);
	msg->topic[topic_len] = '\0';
	msg->payload = (uint8_t *)msg->topic + topic_len + 1;
	if (payload_len)
		memcpy(msg->payload, payload, payload_len);
	return msg;
}

struct message *
message_ref(struct message *msg)
{
	msg->refs++;
	return msg;
}

void
message_unref(struct message *msg)
{
	if (msg == NULL)
		return;
	assert(msg->refs > 0);
	if (--msg->refs == 0)
		free(msg);
}

size_t
message_size(const struct message *msg)
{
	return msg->topic_len + msg->payload_len;
}
