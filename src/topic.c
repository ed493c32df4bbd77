/*
 * topic.c: MQTT topic names and filters [MQTT-4.7], shared subscription
 * syntax [MQTT-4.8.2], and the subscription tree the broker asks "who is
 * subscribed to this topic?" for every PUBLISH.
 *
 * Pure code: no sockets, no SQL, no sessions, no logging. Errors are
 * values (enum topic_err, or -1 from the tree when memory runs out); the
 * caller decides what to tell the client.
 *
 * Design of the tree (why it looks the way it does):
 *
 *  - One node per filter level. A node's literal children live in an
 *    open-addressing hash table keyed by the level bytes, so a level with
 *    100k children (one per client id, say) is still one probe away. The
 *    '+' and '#' children hang off their own pointers: matching always
 *    wants them and must not pay a lookup for them.
 *
 *  - Level hashes are SipHash-1-3 with a key drawn per tree at creation.
 *    Level strings come from clients; a fixed, public hash would let one
 *    client make every other client's subscribe (and every publish) walk
 *    a long probe chain.
 *
 *  - Matching allocates nothing and does not recurse: nodes know their
 *    parent, so the depth-first walk over '+' branches climbs back up the
 *    tree and recovers the name position by scanning back to the previous
 *    '/'. A name of 65535 levels costs time, never stack.
 *
 *  - A node's subscriptions are an array of (subscriber, value). Removal
 *    swaps the last entry into the hole. Above SUBS_IDX_MIN entries an
 *    optional index (subscriber -> position) makes add and remove O(1);
 *    the index is only an accelerator, so when it cannot be allocated the
 *    node falls back to a linear scan instead of failing the operation.
 *
 *  - Every operation that may allocate either completes or leaves the
 *    tree as it was (newly made, still empty nodes are pruned again).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "topic.h"

#define SHARE_PREFIX		"$share/"
#define SHARE_PREFIX_LEN	(sizeof(SHARE_PREFIX) - 1)

/* A node's subscriptions get an index once they are this many. */
#define SUBS_IDX_MIN		16

struct topic_sub {
	void		*subscriber;
	uint64_t	 value;
};

struct topic_node {
	struct topic_node	*parent;	/* NULL only for the root */
	struct topic_node	*plus;		/* the '+' child */
	struct topic_node	*hash;		/* the '#' child (a leaf) */

	/* Literal children: linear probing, NULL is a free slot. */
	struct topic_node	**kids;
	size_t			 kids_cap;	/* 0 or a power of two */
	size_t			 kids_len;

	struct topic_sub	*subs;
	size_t			 subs_len;
	size_t			 subs_cap;

	/* Optional index: position + 1 of a subscriber, 0 is free. */
	size_t			*subs_idx;
	size_t			 subs_idx_cap;	/* 0 or a power of two */

	uint64_t		 hashval;	/* of level, with the tree's key */
	size_t			 level_len;
	char			 level[];	/* not NUL-terminated */
};

struct topic_tree {
	struct topic_node	*root;
	size_t			 count;		/* subscriptions */
	size_t			 nodes;		/* including the root */
	uint64_t		 key[2];	/* SipHash key for level hashes */
};

/* ===== Validation ===== */

static enum topic_err	 topic_check(const char *, size_t,
			    const struct topic_limits *, bool);

static size_t
limits_max_len(const struct topic_limits *limits)
{
	if (limits == NULL || limits->max_len == 0 ||
	    limits->max_len > TOPIC_MAX_LEN)
		return TOPIC_MAX_LEN;
	return limits->max_len;
}

enum topic_err
topic_name_validate(const char *name, size_t len,
    const struct topic_limits *limits)
{
	return topic_check(name, len, limits, false);
}

bool
topic_is_sys(const char *name, size_t len)
{
	return len >= 4 && memcmp(name, "$SYS", 4) == 0 &&
	    (len == 4 || name[4] == '/');
}

/*
 * A shared subscription "$share/<group>/<filter>" is checked in parts:
 * the group must be one non-empty level without wildcards [MQTT-4.8.2-1],
 * the inner filter must be present [MQTT-4.8.2-2] and valid. An invalid
 * inner filter reports its own error (TOPIC_ERR_HASH, ...), which tells
 * the user more than TOPIC_ERR_SHARE would. The inner filter must not be
 * a shared subscription itself. max_len applies to the whole
 * string (that is what travels in the packet); max_levels to the inner
 * filter (that is what the tree stores and matching walks).
 */
enum topic_err
topic_filter_validate(const char *filter, size_t len,
    const struct topic_limits *limits)
{
	const char	*group, *inner;
	size_t		 group_len, inner_len, i;

	if (len == 0)
		return TOPIC_ERR_EMPTY;
	if (len > limits_max_len(limits))
		return TOPIC_ERR_TOO_LONG;
	if (len < SHARE_PREFIX_LEN ||
	    memcmp(filter, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return topic_check(filter, len, limits, true);

	if (!topic_share_split(filter, len, &group, &group_len, &inner,
	    &inner_len))
		return TOPIC_ERR_SHARE;		/* no '/' after the group */
	if (group_len == 0)
		return TOPIC_ERR_SHARE;
	for (i = 0; i < group_len; i++)
		if (group[i] == '+' || group[i] == '#')
			return TOPIC_ERR_SHARE;
	if (inner_len == 0)
		return TOPIC_ERR_SHARE;
	/*
	 * A share of a share means nothing, and refusing it keeps the rule
	 * simple: the inner filter is one that would be valid on its own.
	 */
	if (inner_len >= SHARE_PREFIX_LEN &&
	    memcmp(inner, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0)
		return TOPIC_ERR_SHARE;
	return topic_check(inner, inner_len, limits, true);
}

/*
 * The checks names and filters share: length, depth, and where wildcards
 * may stand. One pass; the first fault in the string is the one reported,
 * except that depth is only judged once the whole string is seen to be
 * otherwise well formed.
 */
static enum topic_err
topic_check(const char *s, size_t len, const struct topic_limits *limits,
    bool filter)
{
	size_t	 i, levels = 1, start = 0;

	if (len == 0)
		return TOPIC_ERR_EMPTY;		/* [MQTT-4.7.3-1] */
	if (len > limits_max_len(limits))
		return TOPIC_ERR_TOO_LONG;
	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '/':
			levels++;
			start = i + 1;
			break;
		case '+':
			if (!filter)
				return TOPIC_ERR_WILDCARD;	/* [MQTT-4.7.1-1] */
			/* Alone in its level [MQTT-4.7.1-3]. */
			if (i != start || (i + 1 < len && s[i + 1] != '/'))
				return TOPIC_ERR_PLUS;
			break;
		case '#':
			if (!filter)
				return TOPIC_ERR_WILDCARD;	/* [MQTT-4.7.1-1] */
			/* Alone in its level and the last one [MQTT-4.7.1-2]. */
			if (i != start || i + 1 != len)
				return TOPIC_ERR_HASH;
			break;
		default:
			break;
		}
	}
	if (limits != NULL && limits->max_levels != 0 &&
	    levels > limits->max_levels)
		return TOPIC_ERR_TOO_DEEP;
	return TOPIC_OK;
}

bool
topic_share_split(const char *filter, size_t len, const char **group,
    size_t *group_len, const char **inner, size_t *inner_len)
{
	const char	*g, *slash;

	if (len < SHARE_PREFIX_LEN ||
	    memcmp(filter, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return false;
	g = filter + SHARE_PREFIX_LEN;
	if ((slash = memchr(g, '/', len - SHARE_PREFIX_LEN)) == NULL)
		return false;
	*group = g;
	*group_len = (size_t)(slash - g);
	*inner = slash + 1;
	*inner_len = len - SHARE_PREFIX_LEN - *group_len - 1;
	return true;
}

const char *
topic_strerror(enum topic_err err)
{
	static const char *const msgs[] = {
		[TOPIC_OK] = "valid",
		[TOPIC_ERR_EMPTY] = "topic is empty",
		[TOPIC_ERR_TOO_LONG] = "topic is too long",
		[TOPIC_ERR_TOO_DEEP] = "topic has too many levels",
		[TOPIC_ERR_WILDCARD] = "wildcard in a topic name",
		[TOPIC_ERR_HASH] = "'#' is not alone in the last level",
		[TOPIC_ERR_PLUS] = "'+' is not alone in its level",
		[TOPIC_ERR_SHARE] = "malformed $share/<group>/<filter>",
	};

	if ((size_t)err >= sizeof(msgs) / sizeof(msgs[0]) || msgs[err] == NULL)
		return "unknown topic error";
	return msgs[err];
}

/* ===== Matching one filter against one name ===== */

/* End (index of the '/' or len) of the level starting at pos. */
static inline size_t
level_end(const char *s, size_t pos, size_t len)
{
	const char	*slash;

	if (pos >= len)
		return len;
	slash = memchr(s + pos, '/', len - pos);
	return slash == NULL ? len : (size_t)(slash - s);
}

/*
 * Level positions run from 0 to len; a position of len + 1 means "every
 * level consumed". This keeps "a/" (levels "a" and "") apart from "a".
 */
bool
topic_match(const char *filter, size_t filter_len, const char *name,
    size_t name_len)
{
	size_t	 fp = 0, np = 0, fe, ne;

	/* [MQTT-4.7.2-1]: wildcards at the start never reach "$" topics. */
	if (name_len > 0 && name[0] == '$' && filter_len > 0 &&
	    (filter[0] == '+' || filter[0] == '#'))
		return false;

	for (;;) {
		if (fp > filter_len)
			return np > name_len;
		fe = level_end(filter, fp, filter_len);
		/* '#' takes the rest, including none: "a/#" matches "a". */
		if (fe - fp == 1 && filter[fp] == '#')
			return true;
		if (np > name_len)
			return false;
		ne = level_end(name, np, name_len);
		if (!(fe - fp == 1 && filter[fp] == '+') &&
		    (fe - fp != ne - np ||
		    memcmp(filter + fp, name + np, fe - fp) != 0))
			return false;
		fp = fe + 1;
		np = ne + 1;
	}
}

/* ===== Nodes: literal children ===== */

static struct topic_node *
node_new(struct topic_node *parent, const char *level, size_t len,
    uint64_t hashval)
{
	struct topic_node	*n;

	if ((n = calloc(1, sizeof(*n) + len)) == NULL)
		return NULL;
	n->parent = parent;
	n->hashval = hashval;
	n->level_len = len;
	if (len)
		memcpy(n->level, level, len);
	return n;
}

static void
node_free(struct topic_node *n)
{
	free(n->kids);
	free(n->subs);
	free(n->subs_idx);
	free(n);
}

static struct topic_node *
node_kid_find(const struct topic_node *n, const char *level, size_t len,
    uint64_t h)
{
	struct topic_node	*c;
	size_t			 i, mask;

	if (n->kids_len == 0)
		return NULL;
	mask = n->kids_cap - 1;
	for (i = h & mask; (c = n->kids[i]) != NULL; i = (i + 1) & mask)
		if (c->hashval == h && c->level_len == len &&
		    memcmp(c->level, level, len) == 0)
			return c;
	return NULL;
}

/* Puts c into a table known to have a free slot. */
static void
kids_put(struct topic_node **kids, size_t cap, struct topic_node *c)
{
	size_t	 i, mask = cap - 1;

	for (i = c->hashval & mask; kids[i] != NULL; i = (i + 1) & mask)
		;
	kids[i] = c;
}

/* Moves the children into a table of cap slots; -1 leaves n as it was. */
static int
node_kids_resize(struct topic_node *n, size_t cap)
{
	struct topic_node	**kids;
	size_t			 i;

	if ((kids = calloc(cap, sizeof(*kids))) == NULL)
		return -1;
	for (i = 0; i < n->kids_cap; i++)
		if (n->kids[i] != NULL)
			kids_put(kids, cap, n->kids[i]);
	free(n->kids);
	n->kids = kids;
	n->kids_cap = cap;
	return 0;
}

/* Adds c to n's children, keeping the load at most 3/4. */
static int
node_kid_add(struct topic_node *n, struct topic_node *c)
{
	if ((n->kids_len + 1) * 4 > n->kids_cap * 3) {
		if (n->kids_cap > SIZE_MAX / 2 / sizeof(*n->kids))
			return -1;
		if (node_kids_resize(n, n->kids_cap ? n->kids_cap * 2 : 4) == -1)
			return -1;
	}
	kids_put(n->kids, n->kids_cap, c);
	n->kids_len++;
	return 0;
}

/*
 * Removes c with backward-shift deletion, so no tombstones pile up in a
 * level whose children come and go (client ids). Shrinks a table that
 * has become mostly empty; failing to shrink costs memory only.
 */
static void
node_kid_del(struct topic_node *n, const struct topic_node *c)
{
	size_t	 i, j, home, mask = n->kids_cap - 1;

	for (i = c->hashval & mask; n->kids[i] != c; i = (i + 1) & mask)
		;
	for (j = i;;) {
		j = (j + 1) & mask;
		if (n->kids[j] == NULL)
			break;
		home = n->kids[j]->hashval & mask;
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		n->kids[i] = n->kids[j];
		i = j;
	}
	n->kids[i] = NULL;
	n->kids_len--;

	if (n->kids_len == 0) {
		free(n->kids);
		n->kids = NULL;
		n->kids_cap = 0;
	} else if (n->kids_cap > 16 && n->kids_len * 8 < n->kids_cap)
		(void)node_kids_resize(n, n->kids_cap / 2);
}

/* ===== Nodes: subscriptions ===== */

static inline size_t
ptr_hash(const void *p)
{
	uint64_t	 x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* Position of subscriber in n->subs, or SIZE_MAX. */
static size_t
node_sub_find(const struct topic_node *n, const void *subscriber)
{
	size_t	 i, p, mask;

	if (n->subs_idx == NULL) {
		for (i = 0; i < n->subs_len; i++)
			if (n->subs[i].subscriber == subscriber)
				return i;
		return SIZE_MAX;
	}
	mask = n->subs_idx_cap - 1;
	for (i = ptr_hash(subscriber) & mask; (p = n->subs_idx[i]) != 0;
	    i = (i + 1) & mask)
		if (n->subs[p - 1].subscriber == subscriber)
			return p - 1;
	return SIZE_MAX;
}

static void
idx_put(size_t *idx, size_t cap, const struct topic_sub *subs, size_t pos)
{
	size_t	 i, mask = cap - 1;

	for (i = ptr_hash(subs[pos].subscriber) & mask; idx[i] != 0;
	    i = (i + 1) & mask)
		;
	idx[i] = pos + 1;
}

/* Slot in the index that holds pos. */
static size_t
idx_slot(const struct topic_node *n, size_t pos)
{
	size_t	 i, mask = n->subs_idx_cap - 1;

	for (i = ptr_hash(n->subs[pos].subscriber) & mask;
	    n->subs_idx[i] != pos + 1; i = (i + 1) & mask)
		;
	return i;
}

/* Builds an index of cap slots for the first len subscriptions. */
static int
node_idx_build(struct topic_node *n, size_t len, size_t cap)
{
	size_t	*idx, i;

	if (cap > SIZE_MAX / sizeof(*idx) || (idx = calloc(cap,
	    sizeof(*idx))) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		idx_put(idx, cap, n->subs, i);
	free(n->subs_idx);
	n->subs_idx = idx;
	n->subs_idx_cap = cap;
	return 0;
}

/*
 * Keeps the index able to take one more entry at load <= 1/2. When it
 * cannot grow it is dropped: lookups fall back to a linear scan, slower
 * but correct, and the next add tries again.
 */
static void
node_idx_reserve(struct topic_node *n)
{
	size_t	 cap;

	if (n->subs_idx == NULL && n->subs_len + 1 < SUBS_IDX_MIN)
		return;
	if (n->subs_idx != NULL && (n->subs_len + 1) * 2 <= n->subs_idx_cap)
		return;
	cap = n->subs_idx_cap ? n->subs_idx_cap : SUBS_IDX_MIN;
	while (cap < (n->subs_len + 1) * 2 && cap <= SIZE_MAX / 4)
		cap *= 2;
	if (node_idx_build(n, n->subs_len, cap) == -1) {
		free(n->subs_idx);
		n->subs_idx = NULL;
		n->subs_idx_cap = 0;
	}
}

/* Appends (subscriber, value); -1 leaves n as it was. */
static int
node_sub_add(struct topic_node *n, void *subscriber, uint64_t value)
{
	struct topic_sub	*subs;
	size_t			 cap;

	if (n->subs_len == n->subs_cap) {
		cap = n->subs_cap ? n->subs_cap * 2 : 2;
		if (cap > SIZE_MAX / sizeof(*subs) ||
		    (subs = realloc(n->subs, cap * sizeof(*subs))) == NULL)
			return -1;
		n->subs = subs;
		n->subs_cap = cap;
	}
	node_idx_reserve(n);
	n->subs[n->subs_len].subscriber = subscriber;
	n->subs[n->subs_len].value = value;
	if (n->subs_idx != NULL)
		idx_put(n->subs_idx, n->subs_idx_cap, n->subs, n->subs_len);
	n->subs_len++;
	return 0;
}

/* Removes the subscription at pos by moving the last one into its place. */
static void
node_sub_del(struct topic_node *n, size_t pos)
{
	struct topic_sub	*subs;
	size_t			 last = n->subs_len - 1, i, j, home, mask;

	if (n->subs_idx != NULL) {
		/* Backward-shift deletion of pos, then renumber last. */
		mask = n->subs_idx_cap - 1;
		i = idx_slot(n, pos);
		for (j = i;;) {
			j = (j + 1) & mask;
			if (n->subs_idx[j] == 0)
				break;
			home = ptr_hash(n->subs[n->subs_idx[j] - 1].subscriber) &
			    mask;
			if (i <= j ? (i < home && home <= j) :
			    (i < home || home <= j))
				continue;
			n->subs_idx[i] = n->subs_idx[j];
			i = j;
		}
		n->subs_idx[i] = 0;
		if (pos != last)
			n->subs_idx[idx_slot(n, last)] = pos + 1;
	}
	n->subs[pos] = n->subs[last];
	n->subs_len--;

	if (n->subs_len == 0) {
		free(n->subs);
		free(n->subs_idx);
		n->subs = NULL;
		n->subs_idx = NULL;
		n->subs_cap = n->subs_idx_cap = 0;
		return;
	}
	/* Give memory back after a crowd has left; failure costs memory. */
	if (n->subs_idx != NULL && n->subs_len < SUBS_IDX_MIN / 2) {
		free(n->subs_idx);
		n->subs_idx = NULL;
		n->subs_idx_cap = 0;
	} else if (n->subs_idx != NULL && n->subs_idx_cap > 64 &&
	    n->subs_len * 8 < n->subs_idx_cap)
		(void)node_idx_build(n, n->subs_len, n->subs_idx_cap / 4);
	if (n->subs_cap > 16 && n->subs_len * 4 < n->subs_cap) {
		subs = realloc(n->subs, n->subs_cap / 2 * sizeof(*subs));
		if (subs != NULL) {
			n->subs = subs;
			n->subs_cap /= 2;
		}
	}
}

/* ===== The tree ===== */

struct topic_tree *
topic_tree_new(void)
{
	struct topic_tree	*tree;

	if ((tree = calloc(1, sizeof(*tree))) == NULL)
		return NULL;
	siphash_key(tree->key);
	if ((tree->root = node_new(NULL, NULL, 0, 0)) == NULL) {
		free(tree);
		return NULL;
	}
	tree->nodes = 1;
	return tree;
}

/*
 * Frees every node without recursion: descend to some child, detaching
 * it from its parent, until a node has none left; free it and go back up.
 * During teardown kids_cap counts the slots not yet looked at, so a wide
 * level is scanned once, not once per child.
 */
void
topic_tree_free(struct topic_tree *tree)
{
	struct topic_node	*n, *c, *p;

	if (tree == NULL)
		return;
	n = tree->root;
	while (n != NULL) {
		if ((c = n->plus) != NULL) {
			n->plus = NULL;
			n = c;
			continue;
		}
		if ((c = n->hash) != NULL) {
			n->hash = NULL;
			n = c;
			continue;
		}
		while (n->kids_cap > 0 && n->kids[n->kids_cap - 1] == NULL)
			n->kids_cap--;
		if (n->kids_cap > 0) {
			n = n->kids[--n->kids_cap];
			continue;
		}
		p = n->parent;
		node_free(n);
		n = p;
	}
	free(tree);
}

static inline bool
level_is(const char *level, size_t len, char c)
{
	return len == 1 && level[0] == c;
}

/* The child of n for one filter level, or NULL. */
static struct topic_node *
node_step(const struct topic_tree *tree, const struct topic_node *n,
    const char *level, size_t len)
{
	if (level_is(level, len, '+'))
		return n->plus;
	if (level_is(level, len, '#'))
		return n->hash;
	return node_kid_find(n, level, len, siphash13(tree->key, level, len));
}

static bool
node_is_empty(const struct topic_node *n)
{
	return n->subs_len == 0 && n->kids_len == 0 && n->plus == NULL &&
	    n->hash == NULL;
}

/* Frees n and its ancestors for as long as they hold nothing. */
static void
tree_prune(struct topic_tree *tree, struct topic_node *n)
{
	struct topic_node	*p;

	while (n != tree->root && node_is_empty(n)) {
		p = n->parent;
		if (p->plus == n)
			p->plus = NULL;
		else if (p->hash == n)
			p->hash = NULL;
		else
			node_kid_del(p, n);
		node_free(n);
		tree->nodes--;
		n = p;
	}
}

/* Makes the child of n for one filter level; NULL when out of memory. */
static struct topic_node *
node_make_kid(struct topic_tree *tree, struct topic_node *n,
    const char *level, size_t len)
{
	struct topic_node	*c;
	uint64_t		 h = 0;
	bool			 plus, hash;

	plus = level_is(level, len, '+');
	hash = level_is(level, len, '#');
	if (!plus && !hash)
		h = siphash13(tree->key, level, len);
	if ((c = node_new(n, level, len, h)) == NULL)
		return NULL;
	if (plus)
		n->plus = c;
	else if (hash)
		n->hash = c;
	else if (node_kid_add(n, c) == -1) {
		node_free(c);
		return NULL;
	}
	tree->nodes++;
	return c;
}

int
topic_tree_add(struct topic_tree *tree, const char *filter, size_t len,
    void *subscriber, uint64_t value, bool *replaced)
{
	struct topic_node	*n = tree->root, *c;
	size_t			 pos = 0, end, i;

	if (replaced != NULL)
		*replaced = false;
	while (pos <= len) {
		end = level_end(filter, pos, len);
		if ((c = node_step(tree, n, filter + pos, end - pos)) == NULL &&
		    (c = node_make_kid(tree, n, filter + pos, end - pos)) ==
		    NULL) {
			tree_prune(tree, n);
			return -1;
		}
		n = c;
		pos = end + 1;
	}

	if ((i = node_sub_find(n, subscriber)) != SIZE_MAX) {
		n->subs[i].value = value;
		if (replaced != NULL)
			*replaced = true;
		return 0;
	}
	if (node_sub_add(n, subscriber, value) == -1) {
		tree_prune(tree, n);
		return -1;
	}
	tree->count++;
	return 0;
}

int
topic_tree_remove(struct topic_tree *tree, const char *filter, size_t len,
    void *subscriber)
{
	struct topic_node	*n = tree->root;
	size_t			 pos = 0, end, i;

	while (pos <= len) {
		end = level_end(filter, pos, len);
		if ((n = node_step(tree, n, filter + pos, end - pos)) == NULL)
			return -1;
		pos = end + 1;
	}
	if ((i = node_sub_find(n, subscriber)) == SIZE_MAX)
		return -1;
	node_sub_del(n, i);
	tree->count--;
	tree_prune(tree, n);
	return 0;
}

static inline void
node_report(const struct topic_node *n, topic_match_fn *fn, void *arg)
{
	size_t	 i;

	for (i = 0; i < n->subs_len; i++)
		fn(n->subs[i].subscriber, n->subs[i].value, arg);
}

/*
 * Depth-first over the nodes that can match name. At node n, the levels
 * before pos are matched; pos == len + 1 means all of them are. From n
 * the walk reports n's '#' child (it matches whatever is left, and by
 * [MQTT-4.7.1-2] also the parent level itself), then goes down to the
 * literal child for the next level if there is one, else to the '+'
 * child. Coming back up from a literal child it tries the parent's '+'
 * child for the same level. No stack: the parent pointers are the stack,
 * and the position of a parent's level is found by scanning back to the
 * previous '/'.
 *
 * At the root, a name starting with '$' takes neither '+' nor '#'
 * [MQTT-4.7.2-1].
 */
void
topic_tree_match(const struct topic_tree *tree, const char *name,
    size_t len, topic_match_fn *fn, void *arg)
{
	const struct topic_node	*root = tree->root, *n = root, *c, *p;
	size_t			 pos = 0, end;
	bool			 dollar = len > 0 && name[0] == '$', wild;

	for (;;) {
		c = NULL;
		if (pos > len) {
			node_report(n, fn, arg);
			if (n->hash != NULL)
				node_report(n->hash, fn, arg);
		} else {
			wild = !(dollar && n == root);
			if (wild && n->hash != NULL)
				node_report(n->hash, fn, arg);
			end = level_end(name, pos, len);
			if (n->kids_len != 0)
				c = node_kid_find(n, name + pos, end - pos,
				    siphash13(tree->key, name + pos,
				    end - pos));
			if (c == NULL && wild)
				c = n->plus;
			if (c != NULL) {
				n = c;
				pos = end + 1;
				continue;
			}
		}

		/* Climb to the nearest unexplored '+' sibling. */
		for (;;) {
			if (n == root)
				return;
			p = n->parent;
			if (n != p->plus && p->plus != NULL &&
			    !(dollar && p == root)) {
				n = p->plus;	/* same level, same pos */
				break;
			}
			/* pos - 1 ends n's level; find where it starts. */
			pos--;
			while (pos > 0 && name[pos - 1] != '/')
				pos--;
			n = p;
		}
	}
}

size_t
topic_tree_count(const struct topic_tree *tree)
{
	return tree->count;
}

size_t
topic_tree_nodes(const struct topic_tree *tree)
{
	return tree->nodes;
}
