/*
 * fuzz_topic.c: libFuzzer target for src/topic.c.
 *
 * The input is lines: the first is a topic filter, the second a topic
 * name, the rest more filters. Any bytes may be in a line ('\n' only
 * separates). The target checks that:
 *
 *  - the validators never crash, a valid name is also a valid filter
 *    (names are filters without wildcards; a name "$share/..." may fail
 *    only as a malformed shared subscription) and matches itself;
 *  - a valid $share filter splits into a non-empty group and a valid
 *    inner filter;
 *  - for every valid filter, the tree built from all of them calls the
 *    filter's subscriber exactly when topic_match() says it matches;
 *  - re-adding a pair replaces it; removing every pair leaves the empty
 *    tree (count 0, one node), and removing again fails.
 *
 * Build: clang -std=c11 -D_DEFAULT_SOURCE -g -O1
 *     -fsanitize=fuzzer,address,undefined -I src tests/fuzz/fuzz_topic.c
 *     src/topic.c -o fuzz_topic
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

#define MAX_FILTERS	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct line {
	const char	*s;
	size_t		 len;
};

static char	 subscribers[MAX_FILTERS];
static size_t	 hits[MAX_FILTERS];

static void
on_match(void *subscriber, uint64_t value, void *arg)
{
	size_t	 i = (size_t)((char *)subscriber - subscribers);

	(void)arg;
	if (i >= MAX_FILTERS || value != i)
		abort();
	hits[i]++;
}

/* The part of a valid filter the tree and matching see. */
static void
filter_inner(struct line *f)
{
	const char	*group, *inner;
	size_t		 group_len, inner_len;

	if (topic_share_split(f->s, f->len, &group, &group_len, &inner,
	    &inner_len)) {
		/* The inner filter is valid on its own, and not shared. */
		if (group_len == 0 || inner_len == 0 ||
		    topic_filter_validate(inner, inner_len, NULL) != TOPIC_OK ||
		    topic_share_split(inner, inner_len, &group, &group_len,
		    &inner, &inner_len))
			abort();
		topic_share_split(f->s, f->len, &group, &group_len, &inner,
		    &inner_len);
		f->s = inner;
		f->len = inner_len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line		 lines[MAX_FILTERS + 1], name, *f;
	bool			 valid[MAX_FILTERS + 1], name_ok, replaced;
	struct topic_limits	 lim = { 0, 0 };
	struct topic_tree	*tree;
	enum topic_err		 err;
	const char		*p = (const char *)data, *nl;
	size_t			 nlines = 0, i, count = 0;

	while (nlines < MAX_FILTERS + 1) {
		nl = memchr(p, '\n', size - (size_t)(p - (const char *)data));
		lines[nlines].s = p;
		lines[nlines].len = nl ? (size_t)(nl - p) :
		    size - (size_t)(p - (const char *)data);
		nlines++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}

	/* Line 1 is the name; it is not one of the filters. */
	name.s = "";
	name.len = 0;
	if (nlines > 1) {
		name = lines[1];
		memmove(&lines[1], &lines[2], (nlines - 2) * sizeof(lines[0]));
		nlines--;
	}
	name_ok = topic_name_validate(name.s, name.len, NULL) == TOPIC_OK;
	if (name_ok) {
		/*
		 * A name is a filter without wildcards that matches itself,
		 * except that as a filter "$share/..." must be a shared
		 * subscription.
		 */
		err = topic_filter_validate(name.s, name.len, NULL);
		if (err != TOPIC_OK && (err != TOPIC_ERR_SHARE ||
		    name.len < 7 || memcmp(name.s, "$share/", 7) != 0))
			abort();
		if (!topic_match(name.s, name.len, name.s, name.len))
			abort();
	}
	/* Limits only ever add refusals. */
	lim.max_levels = 1 + (size % 4);
	lim.max_len = 1 + (size % 32);
	if (topic_name_validate(name.s, name.len, &lim) == TOPIC_OK && !name_ok)
		abort();

	for (i = 0; i < nlines; i++) {
		err = topic_filter_validate(lines[i].s, lines[i].len, NULL);
		if (topic_strerror(err) == NULL)
			abort();
		valid[i] = err == TOPIC_OK;
		if (topic_filter_validate(lines[i].s, lines[i].len, &lim) ==
		    TOPIC_OK && !valid[i])
			abort();
		if (valid[i])
			filter_inner(&lines[i]);
	}

	if ((tree = topic_tree_new()) == NULL)
		return 0;
	for (i = 0; i < nlines; i++) {
		if (!valid[i])
			continue;
		f = &lines[i];
		if (topic_tree_add(tree, f->s, f->len, &subscribers[i], i,
		    &replaced) != 0 || replaced)
			abort();
		count++;
	}
	if (nlines > 0 && valid[0]) {
		if (topic_tree_add(tree, lines[0].s, lines[0].len,
		    &subscribers[0], 0, &replaced) != 0 || !replaced)
			abort();
	}
	if (topic_tree_count(tree) != count)
		abort();

	if (name_ok) {
		memset(hits, 0, sizeof(hits));
		topic_tree_match(tree, name.s, name.len, on_match, NULL);
		for (i = 0; i < nlines; i++)
			if (hits[i] != (valid[i] && topic_match(lines[i].s,
			    lines[i].len, name.s, name.len)))
				abort();
	}

	/* Remove in an order the input picks: odd lines first, then even. */
	for (i = 1; i < nlines; i += 2)
		if (valid[i] && topic_tree_remove(tree, lines[i].s,
		    lines[i].len, &subscribers[i]) != 0)
			abort();
	for (i = 0; i < nlines; i += 2)
		if (valid[i] && topic_tree_remove(tree, lines[i].s,
		    lines[i].len, &subscribers[i]) != 0)
			abort();
	if (topic_tree_count(tree) != 0 || topic_tree_nodes(tree) != 1)
		abort();
	if (nlines > 0 && valid[0] && topic_tree_remove(tree, lines[0].s,
	    lines[0].len, &subscribers[0]) != -1)
		abort();
	topic_tree_free(tree);
	return 0;
}
