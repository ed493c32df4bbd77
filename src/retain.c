/*
 * retain.c: the retained-message table (see retain.h).
 *
 * A trie with one node per topic level, so that a subscription with
 * wildcards visits only the branches its filter can reach: "a/+/c" looks
 * at the children of "a" and then one child each, never at every retained
 * topic. Nodes left with neither a message nor children are pruned.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "retain.h"
#include "siphash.h"
#include "strmap.h"
#include "xmalloc.h"

struct retain_node {
	struct retain_node	*parent;
	struct strmap		*children;	/* level -> node; NULL if none */
	struct message		*msg;		/* NULL if none here */
	size_t			 level_len;
	char			 level[];	/* key in the parent's map */
};

struct retain {
	struct retain_node	*root;
	size_t			 count;
	uint64_t		 key[2];	/* every node's children table */
};

static struct retain_node *
retain_node_new(struct retain_node *parent, const char *level, size_t len)
{
	struct retain_node	*n;

	n = xcalloc(1, sizeof(*n) + len + 1);
	n->parent = parent;
	n->level_len = len;
	memcpy(n->level, level, len);
	return n;
}

static void
retain_node_free_cb(const char *key, size_t len, void *value, void *arg)
{
	struct retain_node	*n = value;

	(void)key; (void)len; (void)arg;
	if (n->children != NULL) {
		strmap_foreach(n->children, retain_node_free_cb, NULL);
		strmap_free(n->children);
	}
	message_unref(n->msg);
	free(n);
}

struct retain *
retain_new(void)
{
	struct retain	*rt;

	rt = xcalloc(1, sizeof(*rt));
	siphash_key(rt->key);
	rt->root = retain_node_new(NULL, "", 0);
	return rt;
}

void
retain_free(struct retain *rt)
{
	if (rt == NULL)
		return;
	retain_node_free_cb(NULL, 0, rt->root, NULL);
	free(rt);
}

/* Length of the level starting at s (up to '/' or end). */
static size_t
level_len(const char *s, size_t len)
{
	const char	*slash;

	slash = memchr(s, '/', len);
	return slash ? (size_t)(slash - s) : len;
}

/* Walks (and with create, builds) the path of topic; NULL if absent. */
static struct retain_node *
retain_walk(struct retain *rt, const char *topic, size_t len, bool create)
{
	struct retain_node	*n = rt->root, *child;
	size_t			 pos = 0, l;

	for (;;) {
		l = level_len(topic + pos, len - pos);
		child = n->children ?
		    strmap_get(n->children, topic + pos, l) : NULL;
		if (child == NULL) {
			if (!create)
				return NULL;
			if (n->children == NULL)
				n->children = strmap_new_keyed(rt->key);
			child = retain_node_new(n, topic + pos, l);
			strmap_put(n->children, topic + pos, l, child);
		}
		n = child;
		pos += l;
		if (pos == len)
			return n;
		pos++;		/* the '/' */
	}
}

void
retain_set(struct retain *rt, struct message *msg)
{
	struct retain_node	*n;

	n = retain_walk(rt, msg->topic, msg->topic_len, true);
	if (n->msg == NULL)
		rt->count++;
	else
		message_unref(n->msg);
	n->msg = message_ref(msg);
}

struct message *
retain_get(struct retain *rt, const char *topic, size_t len)
{
	struct retain_node	*n;

	n = retain_walk(rt, topic, len, false);
	return n ? n->msg : NULL;
}

int
retain_clear(struct retain *rt, const char *topic, size_t len)
{
	struct retain_node	*n, *parent;

	if ((n = retain_walk(rt, topic, len, false)) == NULL || n->msg == NULL)
		return -1;
	message_unref(n->msg);
	n->msg = NULL;
	rt->count--;
	/* Prune the branch back to the first node still in use. */
	while (n != rt->root && n->msg == NULL &&
	    (n->children == NULL || strmap_count(n->children) == 0)) {
		parent = n->parent;
		strmap_del(parent->children, n->level, n->level_len);
		strmap_free(n->children);
		free(n);
		n = parent;
	}
	return 0;
}

size_t
retain_count(const struct retain *rt)
{
	return rt->count;
}

/* ===== Matching a filter against the trie ===== */

struct retain_match {
	const char	*filter;
	size_t		 len;
	retain_fn	*fn;
	void		*arg;
};

static void	retain_match_node(struct retain_match *m, struct retain_node *n,
		    size_t pos, bool first);

struct retain_each {
	struct retain_match	*m;
	size_t			 pos;
	bool			 first;
	bool			 subtree;	/* '#': everything below */
};

static void
retain_emit_subtree(struct retain_match *m, struct retain_node *n);

static void
retain_each_child(const char *key, size_t len, void *value, void *arg)
{
	struct retain_each	*e = arg;

	/* [MQTT-4.7.2-1] wildcards in the first level skip '$' topics */
	if (e->first && len > 0 && key[0] == '$')
		return;
	if (e->subtree)
		retain_emit_subtree(e->m, value);
	else
		retain_match_node(e->m, value, e->pos, false);
}

static void
retain_emit_subtree(struct retain_match *m, struct retain_node *n)
{
	struct retain_each	 e = { m, 0, false, true };

	if (n->msg != NULL)
		m->fn(n->msg, m->arg);
	if (n->children != NULL)
		strmap_foreach(n->children, retain_each_child, &e);
}

/*
 * Matches the filter from byte pos against the children of n. first is
 * true at the root, where the '$' rule applies. pos == len + 1 means the
 * filter is used up and n itself is the match.
 */
static void
retain_match_node(struct retain_match *m, struct retain_node *n, size_t pos,
    bool first)
{
	struct retain_node	*child;
	struct retain_each	 e;
	const char		*level;
	size_t			 l, next;

	if (pos > m->len) {
		if (n->msg != NULL)
			m->fn(n->msg, m->arg);
		return;
	}
	level = m->filter + pos;
	l = level_len(level, m->len - pos);
	next = pos + l + 1;
	if (l == 1 && level[0] == '#') {
		/* "a/#" also matches "a" itself [MQTT-4.7.1-2] */
		if (!first && n->msg != NULL)
			m->fn(n->msg, m->arg);
		e = (struct retain_each){ m, 0, first, true };
		if (n->children != NULL)
			strmap_foreach(n->children, retain_each_child, &e);
		return;
	}
	if (n->children == NULL)
		return;
	if (l == 1 && level[0] == '+') {
		e = (struct retain_each){ m, next, first, false };
		strmap_foreach(n->children, retain_each_child, &e);
		return;
	}
	if ((child = strmap_get(n->children, level, l)) != NULL)
		retain_match_node(m, child, next, false);
}

void
retain_match(struct retain *rt, const char *filter, size_t len, retain_fn *fn,
    void *arg)
{
	struct retain_match	 m = { filter, len, fn, arg };

	assert(len > 0);
	retain_match_node(&m, rt->root, 0, true);
}
