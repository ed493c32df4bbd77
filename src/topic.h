/*
 * topic.h: MQTT topic names and filters [MQTT-4.7], and the subscription
 * tree that answers "who is subscribed to this topic?".
 *
 * Pure code: no sockets, no SQL, no knowledge of sessions. The tree stores
 * opaque subscriber references chosen by its user (the broker).
 *
 * Topic names and filters are byte strings with a length (not necessarily
 * NUL-terminated); UTF-8 well-formedness is checked by the codec.
 */
#ifndef MQTTD_TOPIC_H
#define MQTTD_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPIC_MAX_LEN	65535u		/* a UTF-8 string's length limit */

enum topic_err {
	TOPIC_OK = 0,
	TOPIC_ERR_EMPTY,		/* zero length [MQTT-4.7.3-1] */
	TOPIC_ERR_TOO_LONG,		/* over max_len */
	TOPIC_ERR_TOO_DEEP,		/* more levels than max_levels */
	TOPIC_ERR_WILDCARD,		/* wildcard in a topic name [MQTT-4.7.1-1] */
	TOPIC_ERR_HASH,			/* '#' not last or not alone [MQTT-4.7.1-2] */
	TOPIC_ERR_PLUS,			/* '+' not alone in its level [MQTT-4.7.1-3] */
	TOPIC_ERR_SHARE		/* bad $share/<group>/<filter> [MQTT-4.8.2] */
};

/* Limits applied by the validators; 0 means "the protocol's own limit". */
struct topic_limits {
	size_t		 max_len;
	size_t		 max_levels;
};

/* Validates a topic name as used in PUBLISH (no wildcards). */
enum topic_err	 topic_name_validate(const char *name, size_t len,
		    const struct topic_limits *limits);

/* Validates a topic filter as used in SUBSCRIBE/UNSUBSCRIBE, including
 * the $share/<group>/<filter> form (group non-empty, no '+', '#' or '/'). */
enum topic_err	 topic_filter_validate(const char *filter, size_t len,
		    const struct topic_limits *limits);

/*
 * True for "$SYS" and names under "$SYS/": the broker's own topics, which
 * clients may read but not publish to.
 */
bool		 topic_is_sys(const char *name, size_t len);

/*
 * If filter is a shared subscription "$share/<group>/<filter>", sets
 * *group, *group_len and *inner, *inner_len to its parts and returns true.
 * Does not validate; call topic_filter_validate() first.
 */
bool		 topic_share_split(const char *filter, size_t len,
		    const char **group, size_t *group_len,
		    const char **inner, size_t *inner_len);

/*
 * True when topic name matches filter: '+' matches one whole level, '#'
 * the parent level and any number of child levels ("sport/#" matches
 * "sport"), and a filter starting with a wildcard never matches a name
 * starting with '$' [MQTT-4.7.2-1]. Both arguments must be valid.
 */
bool		 topic_match(const char *filter, size_t filter_len,
		    const char *name, size_t name_len);

const char	*topic_strerror(enum topic_err err);

/* ===== Subscription tree ===== */

/*
 * A trie with one node per topic level. A node holds the subscriptions of
 * the filter ending there; '+' and '#' are children of their own. Matching
 * a name walks the name's levels, so its cost grows with the levels and
 * the matching subscriptions, not with the number of subscriptions.
 *
 * Each subscription is the pair (filter, subscriber) with a 64-bit value
 * the user chooses (the broker packs QoS and options into it). The tree
 * owns its nodes and copies of the filter levels; it never dereferences a
 * subscriber.
 */
struct topic_tree;

typedef void	 topic_match_fn(void *subscriber, uint64_t value, void *arg);

/* Returns an empty tree, or NULL when out of memory. */
struct topic_tree *topic_tree_new(void);
void		 topic_tree_free(struct topic_tree *tree);

/*
 * Adds (filter, subscriber) with value, or replaces the value of an
 * existing pair (then *replaced is true). filter must be valid.
 * Returns 0, or -1 when out of memory (the tree is unchanged).
 */
int		 topic_tree_add(struct topic_tree *tree, const char *filter,
		    size_t len, void *subscriber, uint64_t value, bool *replaced);

/*
 * Removes (filter, subscriber) and prunes the nodes left empty.
 * Returns 0 when it was there, -1 when it was not.
 */
int		 topic_tree_remove(struct topic_tree *tree, const char *filter,
		    size_t len, void *subscriber);

/*
 * Calls fn(subscriber, value, arg) once for every subscription whose
 * filter matches name (a subscriber with overlapping filters is called
 * once per filter; the caller merges). fn must not change the tree.
 */
void		 topic_tree_match(const struct topic_tree *tree, const char *name,
		    size_t len, topic_match_fn *fn, void *arg);

/* Number of subscriptions and of nodes (nodes for tests of pruning). */
size_t		 topic_tree_count(const struct topic_tree *tree);
size_t		 topic_tree_nodes(const struct topic_tree *tree);

#endif /* MQTTD_TOPIC_H */
