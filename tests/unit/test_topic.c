/*
 * test_topic.c: tests for src/topic.c — validation of names and filters,
 * $share syntax, matching (every example of MQTT 3.1.1 and 5.0 section
 * 4.7, each row saying where it comes from) and the subscription tree.
 *
 * The tree's out-of-memory paths are proved by compiling topic.c into
 * this file with calloc and realloc (all it allocates with) routed
 * through a counter that can make the n-th allocation fail. The library's own topic.o is then
 * not linked (nothing else in the test needs it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===== Allocation fault injection ===== */

/* 0: never fail. n > 0: the n-th allocation from now fails. */
static unsigned long	 fail_countdown;
static unsigned long	 fail_hits;

static bool
fail_now(void)
{
	if (fail_countdown == 0)
		return false;
	if (--fail_countdown == 0) {
		fail_hits++;
		return true;
	}
	return false;
}

static void *
fail_calloc(size_t nmemb, size_t size)
{
	return fail_now() ? NULL : calloc(nmemb, size);
}

static void *
fail_realloc(void *p, size_t size)
{
	return fail_now() ? NULL : realloc(p, size);
}

#define calloc	fail_calloc
#define realloc	fail_realloc
#include "topic.c"
#undef calloc
#undef realloc

/* ===== Helpers ===== */

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Distinct subscriber addresses; the tree never dereferences them. */
#define NSUBS		100000
static char		 subscribers[NSUBS];
#define SUB(i)		((void *)&subscribers[(i)])
#define SUB_INDEX(p)	((size_t)((char *)(p) - subscribers))

struct calls {
	size_t		 n;
	size_t		 per_sub[NSUBS];	/* calls per subscriber index */
	uint64_t	 last_value[NSUBS];
	size_t		 touched[NSUBS];	/* indices with per_sub != 0 */
	size_t		 ntouched;
};

static struct calls	 calls;

static void
record(void *subscriber, uint64_t value, void *arg)
{
	struct calls	*c = arg;
	size_t		 i = SUB_INDEX(subscriber);

	assert_true(i < NSUBS);
	c->n++;
	if (c->per_sub[i]++ == 0)
		c->touched[c->ntouched++] = i;
	c->last_value[i] = value;
}

static void
count_only(void *subscriber, uint64_t value, void *arg)
{
	(void)subscriber;
	(void)value;
	(*(size_t *)arg)++;
}

/* Forgets the calls recorded so far (cheaply: the arrays are large). */
static void
calls_reset(void)
{
	size_t	 i;

	for (i = 0; i < calls.ntouched; i++) {
		calls.per_sub[calls.touched[i]] = 0;
		calls.last_value[calls.touched[i]] = 0;
	}
	calls.ntouched = 0;
	calls.n = 0;
}

/* Matches name against tree into the global calls; returns the total. */
static size_t
match(struct topic_tree *tree, const char *name)
{
	calls_reset();
	topic_tree_match(tree, name, strlen(name), record, &calls);
	return calls.n;
}

static int
add(struct topic_tree *tree, const char *filter, size_t sub, uint64_t value)
{
	bool	 replaced;

	return topic_tree_add(tree, filter, strlen(filter), SUB(sub), value,
	    &replaced);
}

static int
del(struct topic_tree *tree, const char *filter, size_t sub)
{
	return topic_tree_remove(tree, filter, strlen(filter), SUB(sub));
}

static enum topic_err
name_err(const char *s)
{
	return topic_name_validate(s, strlen(s), NULL);
}

static enum topic_err
filter_err(const char *s)
{
	return topic_filter_validate(s, strlen(s), NULL);
}

/* Deterministic generator for the randomised tests (xorshift64*). */
static uint64_t	 rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ===== The matching table ===== */

#define S311	"MQTT 3.1.1 "
#define S50	"MQTT 5.0 "

static const struct match_row {
	const char	*filter;
	const char	*name;
	bool		 match;
	const char	*source;
} match_rows[] = {
	/* Multi-level wildcard: 3.1.1 4.7.1.2, 5.0 4.7.1.2. */
	{ "sport/tennis/player1/#", "sport/tennis/player1", true,
	    S311 "4.7.1.2, " S50 "4.7.1.2" },
	{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", true,
	    S311 "4.7.1.2, " S50 "4.7.1.2" },
	{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon",
	    true, S311 "4.7.1.2, " S50 "4.7.1.2" },
	{ "sport/#", "sport", true,
	    S311 "4.7.1.2, " S50 "4.7.1.2: also matches the singular sport" },
	{ "#", "sport/tennis/player1", true,
	    S311 "4.7.1.2, " S50 "4.7.1.2: # receives every message" },
	{ "sport/tennis/#", "sport/tennis/player1", true,
	    S311 "4.7.1.2, " S50 "4.7.1.2: sport/tennis/# is valid" },
	/* Single-level wildcard: 3.1.1 4.7.1.3, 5.0 4.7.1.3. */
	{ "sport/tennis/+", "sport/tennis/player1", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3" },
	{ "sport/tennis/+", "sport/tennis/player2", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3" },
	{ "sport/tennis/+", "sport/tennis/player1/ranking", false,
	    S311 "4.7.1.3, " S50 "4.7.1.3" },
	{ "sport/+", "sport", false,
	    S311 "4.7.1.3, " S50 "4.7.1.3: sport/+ does not match sport" },
	{ "sport/+", "sport/", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3: sport/+ matches sport/" },
	{ "+", "sport", true, S311 "4.7.1.3, " S50 "4.7.1.3: + is valid" },
	{ "+/tennis/#", "sport/tennis/player1", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3: +/tennis/# is valid" },
	{ "sport/+/player1", "sport/tennis/player1", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3: sport/+/player1 is valid" },
	{ "+/+", "/finance", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3: /finance matches +/+" },
	{ "/+", "/finance", true,
	    S311 "4.7.1.3, " S50 "4.7.1.3: /finance matches /+" },
	{ "+", "/finance", false,
	    S311 "4.7.1.3, " S50 "4.7.1.3: /finance does not match +" },
	/* Topics beginning with $: 3.1.1 4.7.2, 5.0 4.7.2. */
	{ "#", "$SYS/monitor/Clients", false,
	    S311 "4.7.2, " S50 "4.7.2: # gets nothing starting with $" },
	{ "+/monitor/Clients", "$SYS/monitor/Clients", false,
	    S311 "4.7.2, " S50 "4.7.2" },
	{ "$SYS/#", "$SYS/monitor/Clients", true,
	    S311 "4.7.2, " S50 "4.7.2" },
	{ "$SYS/monitor/+", "$SYS/monitor/Clients", true,
	    S311 "4.7.2, " S50 "4.7.2" },
	/* Topic semantic and usage: 3.1.1 4.7.3, 5.0 4.7.3. */
	{ "ACCOUNTS", "Accounts", false,
	    S311 "4.7.3, " S50 "4.7.3: case sensitive" },
	{ "Accounts", "ACCOUNTS", false,
	    S311 "4.7.3, " S50 "4.7.3: case sensitive" },
	{ "Accounts payable", "Accounts payable", true,
	    S311 "4.7.3, " S50 "4.7.3: may include the space character" },
	{ "/finance", "finance", false,
	    S311 "4.7.3, " S50 "4.7.3: a leading / makes a distinct topic" },
	{ "finance", "/finance", false,
	    S311 "4.7.3, " S50 "4.7.3: a leading / makes a distinct topic" },
	{ "finance/", "finance", false,
	    S311 "4.7.3, " S50 "4.7.3: a trailing / makes a distinct topic" },
	{ "/", "/", true,
	    S311 "4.7.3, " S50 "4.7.3: a topic of only / is valid" },
	{ "caf\xc3\xa9", "cafe\xcc\x81", false,
	    "[MQTT-4.7.3-4] no normalisation when matching" },
	/* [MQTT-4.7.2-1] beyond the spec's own examples. */
	{ "#", "$SYS", false, "[MQTT-4.7.2-1]" },
	{ "+", "$SYS", false, "[MQTT-4.7.2-1]" },
	{ "+/#", "$SYS/broker", false, "[MQTT-4.7.2-1]" },
	{ "+/+/+", "$a/b/c", false, "[MQTT-4.7.2-1]" },
	{ "#", "$", false, "[MQTT-4.7.2-1]" },
	{ "$SYS/#", "$SYS", true,
	    "[MQTT-4.7.1-2] # includes the parent, also under $" },
	{ "$SYS", "$SYS", true, "4.7.2: $ topics match literal filters" },
	{ "+/$SYS/#", "x/$SYS/a", true,
	    "[MQTT-4.7.2-1] only a leading $ is special" },
	{ "+/#", "a/$b", true, "[MQTT-4.7.2-1] only a leading $ is special" },
	/* '#' ([MQTT-4.7.1-2]: the parent and any number of children). */
	{ "#", "a", true, "4.7.1.2: # matches any level count" },
	{ "#", "a/b/c/d", true, "4.7.1.2: # matches any level count" },
	{ "#", "/", true, "4.7.1.2: # matches empty levels" },
	{ "#", "/a", true, "4.7.1.2: # matches a leading empty level" },
	{ "a/#", "a", true, "4.7.1.2: parent level" },
	{ "a/#", "a/", true, "4.7.1.2: one empty child level" },
	{ "a/#", "ab", false, "4.7.1.2: # is a whole level" },
	{ "a/#", "b/a", false, "4.7.1.2: prefix must match" },
	{ "/#", "/a", true, "4.7.1.2 with a leading empty level" },
	{ "/#", "/", true, "4.7.1.2 with a leading empty level" },
	{ "/#", "a", false, "4.7.1.2 with a leading empty level" },
	{ "a/b/#", "a/b/c/d/e", true, "4.7.1.2: many child levels" },
	{ "+/#", "a", true, "4.7.1.2, 4.7.1.3: + then # on its parent" },
	{ "sport/tennis/player1/#", "sport/tennis/player2", false,
	    "4.7.1.2: levels before # must match" },
	/* '+' ([MQTT-4.7.1-3]: exactly one level, possibly empty). */
	{ "a/+", "a", false, "4.7.1.3: + needs a level" },
	{ "a/+", "a/", true, "4.7.1.3: + matches an empty level" },
	{ "a/+/b", "a//b", true, "4.7.1.3: + matches an empty level" },
	{ "a/+/b", "a/b", false, "4.7.1.3: + is one level, not zero" },
	{ "+/+", "a", false, "4.7.1.3: one level per +" },
	{ "+/+", "/", true, "4.7.1.3: / is two empty levels" },
	{ "+", "a/b", false, "4.7.1.3: + does not cross /" },
	{ "+/+/+", "a/b/c", true, "4.7.1.3" },
	{ "+/b/+", "a/b/c", true, "4.7.1.3" },
	{ "+/b/+", "a/x/c", false, "4.7.1.3" },
	{ "a/b/+", "a/b/", true, "4.7.1.3: trailing empty level" },
	{ "+/monitor/Clients", "x/monitor/Clients", true, "4.7.1.3" },
	{ "$SYS/monitor/+", "$SYS/monitor/Clients/x", false, "4.7.1.3" },
	/* Literal levels. */
	{ "a", "a", true, "4.7: literal" },
	{ "a//b", "a//b", true, "4.7.3: empty levels are levels" },
	{ "a/b", "a/b/", false, "4.7.3: trailing / is distinct" },
	{ "a/b/", "a/b", false, "4.7.3: trailing / is distinct" },
	{ "a/b/c", "a/b", false, "4.7: all levels must match" },
	{ "a/b", "a/b/c", false, "4.7: all levels must match" },
	{ "A/#", "a/b", false, "4.7.3: case sensitive" },
};

static void
test_match_table_rows_are_valid(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(match_rows); i++) {
		const struct match_row	*r = &match_rows[i];

		if (filter_err(r->filter) != TOPIC_OK ||
		    name_err(r->name) != TOPIC_OK)
			fail_msg("row %zu (%s): invalid input", i, r->source);
	}
}

static void
test_match_agrees_with_spec_examples(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(match_rows); i++) {
		const struct match_row	*r = &match_rows[i];

		if (topic_match(r->filter, strlen(r->filter), r->name,
		    strlen(r->name)) != r->match)
			fail_msg("row %zu: \"%s\" vs \"%s\" should %smatch (%s)",
			    i, r->filter, r->name, r->match ? "" : "not ",
			    r->source);
	}
}

static void
test_tree_agrees_with_spec_examples(void **state)
{
	struct topic_tree	*tree;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < NELEM(match_rows); i++) {
		const struct match_row	*r = &match_rows[i];

		assert_non_null(tree = topic_tree_new());
		assert_int_equal(add(tree, r->filter, 0, 7), 0);
		n = match(tree, r->name);
		if (n != (r->match ? 1u : 0u))
			fail_msg("row %zu: tree \"%s\" vs \"%s\" called %zu "
			    "times (%s)", i, r->filter, r->name, n, r->source);
		topic_tree_free(tree);
	}
}

static void
test_match_table_has_sixty_rows(void **state)
{
	(void)state;
	assert_true(NELEM(match_rows) >= 60);
}

/* ===== Validation of topic names ===== */

static void
test_name_valid_examples(void **state)
{
	const char	*ok[] = { "sport/tennis/player1", "/", "/finance",
	    "finance/", "a//b", "Accounts payable", "$SYS/monitor/Clients",
	    "$share/g/x", "caf\xc3\xa9" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(ok); i++)
		assert_int_equal(name_err(ok[i]), TOPIC_OK);
}

static void
test_name_empty_is_rejected(void **state)
{
	(void)state;
	/* [MQTT-4.7.3-1] */
	assert_int_equal(topic_name_validate("", 0, NULL), TOPIC_ERR_EMPTY);
}

static void
test_name_with_wildcard_is_rejected(void **state)
{
	const char	*bad[] = { "+", "#", "sport/+", "sport/#", "a+b",
	    "a#b", "+/a", "#/a", "$SYS/#" };
	size_t		 i;

	(void)state;
	/* [MQTT-4.7.1-1] */
	for (i = 0; i < NELEM(bad); i++)
		assert_int_equal(name_err(bad[i]), TOPIC_ERR_WILDCARD);
}

static void
test_name_over_65535_bytes_is_rejected(void **state)
{
	struct topic_limits	 lim = { 0, 0 };
	char			*s;

	(void)state;
	/* [MQTT-4.7.3-3] */
	assert_non_null(s = malloc(TOPIC_MAX_LEN + 1));
	memset(s, 'a', TOPIC_MAX_LEN + 1);
	assert_int_equal(topic_name_validate(s, TOPIC_MAX_LEN, NULL),
	    TOPIC_OK);
	assert_int_equal(topic_name_validate(s, TOPIC_MAX_LEN + 1, NULL),
	    TOPIC_ERR_TOO_LONG);
	assert_int_equal(topic_filter_validate(s, TOPIC_MAX_LEN + 1, NULL),
	    TOPIC_ERR_TOO_LONG);
	/* A configured limit above the protocol's is the protocol's. */
	lim.max_len = TOPIC_MAX_LEN * 2;
	assert_int_equal(topic_name_validate(s, TOPIC_MAX_LEN + 1, &lim),
	    TOPIC_ERR_TOO_LONG);
	free(s);
}

static void
test_name_limits_apply_and_zero_means_protocol(void **state)
{
	struct topic_limits	 lim = { 5, 3 };
	struct topic_limits	 none = { 0, 0 };

	(void)state;
	assert_int_equal(topic_name_validate("abcde", 5, &lim), TOPIC_OK);
	assert_int_equal(topic_name_validate("abcdef", 6, &lim),
	    TOPIC_ERR_TOO_LONG);
	/* Levels are the '/' count plus one, empty ones included. */
	assert_int_equal(topic_name_validate("a//", 3, &lim), TOPIC_OK);
	assert_int_equal(topic_name_validate("a/b/c", 5, &lim), TOPIC_OK);
	lim.max_len = 0;
	assert_int_equal(topic_name_validate("a/b/c/d", 7, &lim),
	    TOPIC_ERR_TOO_DEEP);
	assert_int_equal(topic_name_validate("///", 3, &lim),
	    TOPIC_ERR_TOO_DEEP);
	assert_int_equal(topic_name_validate("a/b/c/d/e/f/g/h", 15, &none),
	    TOPIC_OK);
}

/* ===== Validation of topic filters ===== */

static void
test_filter_valid_examples(void **state)
{
	/* 3.1.1 and 5.0 4.7.1.2, 4.7.1.3: the filters called valid. */
	const char	*ok[] = { "#", "sport/tennis/#", "+", "+/tennis/#",
	    "sport/+/player1", "sport/tennis/player1/#", "+/+", "/+", "/",
	    "$SYS/#", "$SYS/monitor/+", "a//b", "/#", "+/#", "a/+/+/#",
	    "$share", "$shared/x", "$SHARE/g" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(ok); i++)
		if (filter_err(ok[i]) != TOPIC_OK)
			fail_msg("\"%s\" should be valid", ok[i]);
}

static void
test_filter_empty_is_rejected(void **state)
{
	(void)state;
	/* [MQTT-4.7.3-1] */
	assert_int_equal(topic_filter_validate("", 0, NULL), TOPIC_ERR_EMPTY);
}

static void
test_filter_hash_not_alone_or_not_last_is_rejected(void **state)
{
	/* [MQTT-4.7.1-2]; the first two are the spec's own examples. */
	const char	*bad[] = { "sport/tennis#", "sport/tennis/#/ranking",
	    "#/a", "a/#/", "##", "a#", "#a", "a/#b", "#+" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (filter_err(bad[i]) != TOPIC_ERR_HASH)
			fail_msg("\"%s\": %s", bad[i],
			    topic_strerror(filter_err(bad[i])));
}

static void
test_filter_plus_not_alone_is_rejected(void **state)
{
	/* [MQTT-4.7.1-3]; "sport+" is the spec's own example. */
	const char	*bad[] = { "sport+", "+a", "a+", "a/+b", "a/b+/c",
	    "++", "+#", "+/a+" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (filter_err(bad[i]) != TOPIC_ERR_PLUS)
			fail_msg("\"%s\": %s", bad[i],
			    topic_strerror(filter_err(bad[i])));
}

static void
test_filter_limits_apply(void **state)
{
	struct topic_limits	 lim = { 8, 2 };

	(void)state;
	assert_int_equal(topic_filter_validate("a/#", 3, &lim), TOPIC_OK);
	assert_int_equal(topic_filter_validate("a/+/#", 5, &lim),
	    TOPIC_ERR_TOO_DEEP);
	assert_int_equal(topic_filter_validate("abcdefghi", 9, &lim),
	    TOPIC_ERR_TOO_LONG);
}

/* ===== Shared subscriptions ===== */

static void
test_share_valid_forms(void **state)
{
	/* MQTT 5.0 4.8.2: $share/{ShareName}/{filter}. */
	const char	*ok[] = { "$share/consumer1/sport/tennis/+",
	    "$share/consumer2/sport/tennis/+", "$share/g/#", "$share/g/+",
	    "$share/g//finance", "$share/g/$SYS/#", "$share/g/a/b/c",
	    "$share/a$b/x", "$share/g//" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(ok); i++)
		if (filter_err(ok[i]) != TOPIC_OK)
			fail_msg("\"%s\" should be valid", ok[i]);
}

static void
test_share_group_must_be_nonempty_without_wildcards(void **state)
{
	/* [MQTT-4.8.2-1] a ShareName at least one character long;
	 * [MQTT-4.8.2-2] without '/', '+' or '#'. */
	const char	*bad[] = { "$share/", "$share//a", "$share//",
	    "$share/g+/a", "$share/+/a", "$share/#/a", "$share/g#/a",
	    "$share/#" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (filter_err(bad[i]) != TOPIC_ERR_SHARE)
			fail_msg("\"%s\": %s", bad[i],
			    topic_strerror(filter_err(bad[i])));
}

static void
test_share_group_must_be_followed_by_a_filter(void **state)
{
	/* [MQTT-4.8.2-2] ShareName followed by '/' and a Topic Filter. */
	assert_int_equal(filter_err("$share/g"), TOPIC_ERR_SHARE);
	assert_int_equal(filter_err("$share/g/"), TOPIC_ERR_SHARE);
	(void)state;
}

static void
test_share_inner_filter_errors_are_reported_as_such(void **state)
{
	struct topic_limits	 lim = { 0, 2 };

	(void)state;
	assert_int_equal(filter_err("$share/g/a#"), TOPIC_ERR_HASH);
	assert_int_equal(filter_err("$share/g/#/a"), TOPIC_ERR_HASH);
	assert_int_equal(filter_err("$share/g/+x"), TOPIC_ERR_PLUS);
	/* max_levels counts the inner filter, which the tree stores. */
	assert_int_equal(topic_filter_validate("$share/g/a/b", 12, &lim),
	    TOPIC_OK);
	assert_int_equal(topic_filter_validate("$share/g/a/b/c", 14, &lim),
	    TOPIC_ERR_TOO_DEEP);
}

static void
test_share_split_returns_group_and_inner_filter(void **state)
{
	const char	*f = "$share/consumer1/sport/tennis/+", *g, *in;
	size_t		 glen, inlen;

	(void)state;
	assert_true(topic_share_split(f, strlen(f), &g, &glen, &in, &inlen));
	assert_int_equal(glen, 9);
	assert_memory_equal(g, "consumer1", 9);
	assert_int_equal(inlen, strlen("sport/tennis/+"));
	assert_memory_equal(in, "sport/tennis/+", inlen);
	/* MQTT 5.0 4.8.2: the inner filter matches like any other. */
	assert_true(topic_match(in, inlen, "sport/tennis/player1",
	    strlen("sport/tennis/player1")));

	f = "$share/g//finance";
	assert_true(topic_share_split(f, strlen(f), &g, &glen, &in, &inlen));
	assert_int_equal(inlen, 8);
	assert_true(topic_match(in, inlen, "/finance", 8));
}

static void
test_share_split_rejects_non_shared_filters(void **state)
{
	const char	*no[] = { "sport/#", "$share", "$shared/g/x", "$share/g",
	    "$SHARE/g/x", "$shar" };
	const char	*g, *in;
	size_t		 i, glen, inlen;

	(void)state;
	for (i = 0; i < NELEM(no); i++)
		assert_false(topic_share_split(no[i], strlen(no[i]), &g, &glen,
		    &in, &inlen));
}

static void
test_is_sys_is_sys_and_its_children_only(void **state)
{
	const char	*yes[] = { "$SYS", "$SYS/", "$SYS/broker/uptime" };
	const char	*no[] = { "$SY", "$SYSTEM", "$SYS2/x", "$sys/x", "SYS/x",
	    "a/$SYS", "/$SYS" };
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(yes); i++)
		assert_true(topic_is_sys(yes[i], strlen(yes[i])));
	for (i = 0; i < NELEM(no); i++)
		assert_false(topic_is_sys(no[i], strlen(no[i])));
	/* A length, not a NUL, ends the name. */
	assert_false(topic_is_sys("$SYS/x", 3));
	assert_true(topic_is_sys("$SYSx", 4));
}

static void
test_strerror_names_every_error(void **state)
{
	enum topic_err	 e;

	(void)state;
	for (e = TOPIC_OK; e <= TOPIC_ERR_SHARE; e++) {
		assert_non_null(topic_strerror(e));
		assert_string_not_equal(topic_strerror(e),
		    "unknown topic error");
	}
	assert_string_equal(topic_strerror((enum topic_err)99),
	    "unknown topic error");
}

/* ===== The subscription tree ===== */

static void
test_tree_empty_has_one_node_and_matches_nothing(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(topic_tree_nodes(tree), 1);
	assert_int_equal(topic_tree_count(tree), 0);
	assert_int_equal(match(tree, "a/b"), 0);
	assert_int_equal(match(tree, "$SYS"), 0);
	topic_tree_free(tree);
	topic_tree_free(NULL);
}

static void
test_tree_add_match_remove(void **state)
{
	struct topic_tree	*tree;
	bool			 replaced = true;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(topic_tree_add(tree, "a/b", 3, SUB(1), 42,
	    &replaced), 0);
	assert_false(replaced);
	assert_int_equal(topic_tree_count(tree), 1);
	assert_int_equal(topic_tree_nodes(tree), 3);
	assert_int_equal(match(tree, "a/b"), 1);
	assert_int_equal(calls.per_sub[1], 1);
	assert_int_equal(calls.last_value[1], 42);
	assert_int_equal(match(tree, "a"), 0);
	assert_int_equal(match(tree, "a/b/c"), 0);
	assert_int_equal(del(tree, "a/b", 1), 0);
	assert_int_equal(match(tree, "a/b"), 0);
	assert_int_equal(topic_tree_count(tree), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	topic_tree_free(tree);
}

static void
test_tree_passes_arg_to_callback(void **state)
{
	struct topic_tree	*tree;
	size_t			 n = 0;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "#", 0, 0), 0);
	topic_tree_match(tree, "x", 1, count_only, &n);
	assert_int_equal(n, 1);
	topic_tree_free(tree);
}

static void
test_tree_overlapping_filters_call_subscriber_once_per_filter(void **state)
{
	struct topic_tree	*tree;
	const char		*f[] = { "a/b/c", "a/+/c", "+/b/+", "+/+/+",
	    "#", "a/#", "a/b/#", "a/b/c/#", "+/#" };
	size_t			 i;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < NELEM(f); i++)
		assert_int_equal(add(tree, f[i], 5, i), 0);
	assert_int_equal(topic_tree_count(tree), NELEM(f));
	/* Every filter matches "a/b/c"; the caller merges the calls. */
	assert_int_equal(match(tree, "a/b/c"), NELEM(f));
	assert_int_equal(calls.per_sub[5], NELEM(f));
	/* "#", "a/#", "+/#" and, by its parent level, "a/b/#". */
	assert_int_equal(match(tree, "a/b"), 4);
	assert_int_equal(calls.per_sub[5], 4);
	topic_tree_free(tree);
}

static void
test_tree_add_existing_pair_replaces_value(void **state)
{
	struct topic_tree	*tree;
	size_t			 nodes;
	bool			 replaced = false;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "a/+", 1, 1), 0);
	nodes = topic_tree_nodes(tree);
	assert_int_equal(topic_tree_add(tree, "a/+", 3, SUB(1), 2, &replaced),
	    0);
	assert_true(replaced);
	assert_int_equal(topic_tree_count(tree), 1);
	assert_int_equal(topic_tree_nodes(tree), nodes);
	assert_int_equal(match(tree, "a/x"), 1);
	assert_int_equal(calls.last_value[1], 2);
	/* replaced may be NULL. */
	assert_int_equal(topic_tree_add(tree, "a/+", 3, SUB(1), 3, NULL), 0);
	assert_int_equal(match(tree, "a/x"), 1);
	assert_int_equal(calls.last_value[1], 3);
	topic_tree_free(tree);
}

static void
test_tree_remove_last_subscriber_prunes_nodes(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "a/b/c/d", 1, 0), 0);
	assert_int_equal(add(tree, "a/b/+/#", 2, 0), 0);
	assert_int_equal(add(tree, "a/b", 3, 0), 0);
	assert_int_equal(topic_tree_nodes(tree), 1 + 4 + 2);
	assert_int_equal(del(tree, "a/b/c/d", 1), 0);
	/* c and d go; a/b stays for its subscriber and for +. */
	assert_int_equal(topic_tree_nodes(tree), 1 + 2 + 2);
	assert_int_equal(del(tree, "a/b", 3), 0);
	assert_int_equal(topic_tree_nodes(tree), 1 + 2 + 2);
	assert_int_equal(del(tree, "a/b/+/#", 2), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	assert_int_equal(topic_tree_count(tree), 0);
	topic_tree_free(tree);
}

static void
test_tree_remove_missing_pair_returns_minus_one(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(del(tree, "a", 1), -1);
	assert_int_equal(add(tree, "a/b/c", 1, 0), 0);
	assert_int_equal(del(tree, "a/b/c", 2), -1);	/* other subscriber */
	assert_int_equal(del(tree, "a/b", 1), -1);	/* inner node */
	assert_int_equal(del(tree, "a/b/c/d", 1), -1);	/* below a leaf */
	assert_int_equal(del(tree, "a/+/c", 1), -1);	/* wildcard sibling */
	assert_int_equal(del(tree, "a/b/#", 1), -1);
	assert_int_equal(topic_tree_count(tree), 1);
	assert_int_equal(topic_tree_nodes(tree), 4);
	assert_int_equal(del(tree, "a/b/c", 1), 0);
	assert_int_equal(del(tree, "a/b/c", 1), -1);	/* already gone */
	topic_tree_free(tree);
}

static void
test_tree_dollar_names_skip_wildcards_at_root_only(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "#", 1, 0), 0);
	assert_int_equal(add(tree, "+/monitor/Clients", 2, 0), 0);
	assert_int_equal(add(tree, "$SYS/#", 3, 0), 0);
	assert_int_equal(add(tree, "$SYS/monitor/+", 4, 0), 0);
	assert_int_equal(add(tree, "+/+/+", 5, 0), 0);
	/* [MQTT-4.7.2-1], MQTT 3.1.1 and 5.0 4.7.2 examples. */
	assert_int_equal(match(tree, "$SYS/monitor/Clients"), 2);
	assert_int_equal(calls.per_sub[3], 1);
	assert_int_equal(calls.per_sub[4], 1);
	assert_int_equal(match(tree, "SYS/monitor/Clients"), 3);
	assert_int_equal(calls.per_sub[1], 1);
	assert_int_equal(calls.per_sub[2], 1);
	assert_int_equal(calls.per_sub[5], 1);
	topic_tree_free(tree);
}

static void
test_tree_hash_matches_parent_level(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "sport/#", 1, 0), 0);
	assert_int_equal(add(tree, "sport/tennis/#", 2, 0), 0);
	assert_int_equal(match(tree, "sport"), 1);
	assert_int_equal(match(tree, "sport/tennis"), 2);
	assert_int_equal(match(tree, "sport/tennis/x/y"), 2);
	assert_int_equal(match(tree, "sports"), 0);
	topic_tree_free(tree);
}

static void
test_tree_empty_levels_are_levels(void **state)
{
	struct topic_tree	*tree;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	assert_int_equal(add(tree, "a//b", 1, 0), 0);
	assert_int_equal(add(tree, "/", 2, 0), 0);
	assert_int_equal(add(tree, "a/", 3, 0), 0);
	assert_int_equal(add(tree, "+/+", 4, 0), 0);
	assert_int_equal(match(tree, "a//b"), 1);
	assert_int_equal(match(tree, "/"), 2);		/* "/" and "+/+" */
	assert_int_equal(match(tree, "a/"), 2);		/* "a/" and "+/+" */
	assert_int_equal(match(tree, "a"), 0);
	assert_int_equal(del(tree, "a//b", 1), 0);
	assert_int_equal(del(tree, "/", 2), 0);
	assert_int_equal(del(tree, "a/", 3), 0);
	assert_int_equal(del(tree, "+/+", 4), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	topic_tree_free(tree);
}

static void
test_tree_many_subscribers_on_one_node(void **state)
{
	struct topic_tree	*tree;
	size_t			 i, j, n = 20000, *order, t;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < n; i++)
		assert_int_equal(add(tree, "alerts", i, i), 0);
	assert_int_equal(topic_tree_count(tree), n);
	assert_int_equal(topic_tree_nodes(tree), 2);
	for (i = 0; i < n; i += 7)
		assert_int_equal(add(tree, "alerts", i, i + 1000000), 0);
	assert_int_equal(topic_tree_count(tree), n);
	assert_int_equal(match(tree, "alerts"), n);
	for (i = 0; i < n; i++) {
		assert_int_equal(calls.per_sub[i], 1);
		assert_int_equal(calls.last_value[i],
		    i % 7 == 0 ? i + 1000000 : i);
	}

	/* Remove in a shuffled order; the rest keep their values. */
	rng_state = 0x5eed;
	assert_non_null(order = malloc(n * sizeof(*order)));
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = rng() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < n / 2; i++)
		assert_int_equal(del(tree, "alerts", order[i]), 0);
	assert_int_equal(match(tree, "alerts"), n - n / 2);
	for (i = 0; i < n / 2; i++)
		assert_int_equal(calls.per_sub[order[i]], 0);
	for (i = n / 2; i < n; i++) {
		assert_int_equal(calls.per_sub[order[i]], 1);
		assert_int_equal(calls.last_value[order[i]], order[i] % 7 == 0 ?
		    order[i] + 1000000 : order[i]);
		assert_int_equal(del(tree, "alerts", order[i]), 0);
		assert_int_equal(del(tree, "alerts", order[i]), -1);
	}
	assert_int_equal(topic_tree_count(tree), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	free(order);
	topic_tree_free(tree);
}

static void
test_tree_100k_distinct_filters_match_exactly(void **state)
{
	struct topic_tree	*tree;
	char			 buf[64];
	size_t			 i, n = 100000;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	/* One level holding 100k client ids, and 100k top-level names. */
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "clients/%zu/inbox", i);
		assert_int_equal(add(tree, buf, i, i), 0);
		snprintf(buf, sizeof(buf), "t%zu", i);
		assert_int_equal(add(tree, buf, i, i), 0);
	}
	assert_int_equal(add(tree, "clients/+/inbox", 0, 99), 0);
	assert_int_equal(topic_tree_count(tree), 2 * n + 1);
	assert_int_equal(topic_tree_nodes(tree), 1 + 1 + 2 * n + 1 + 1 + n);
	for (i = 0; i < n; i += 1) {
		snprintf(buf, sizeof(buf), "clients/%zu/inbox", i);
		calls_reset();
		topic_tree_match(tree, buf, strlen(buf), record, &calls);
		assert_int_equal(calls.n, 2);
		assert_int_equal(calls.per_sub[i], i == 0 ? 2 : 1);
		snprintf(buf, sizeof(buf), "t%zu", i);
		topic_tree_match(tree, buf, strlen(buf), record, &calls);
		assert_int_equal(calls.n, 3);
	}
	assert_int_equal(match(tree, "clients/none/inbox"), 1);
	assert_int_equal(match(tree, "t100000"), 0);
	/* Remove all; the wide levels shrink and the tree empties. */
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "clients/%zu/inbox", i);
		assert_int_equal(del(tree, buf, i), 0);
		snprintf(buf, sizeof(buf), "t%zu", i);
		assert_int_equal(del(tree, buf, i), 0);
	}
	assert_int_equal(del(tree, "clients/+/inbox", 0), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	assert_int_equal(topic_tree_count(tree), 0);
	topic_tree_free(tree);
}

static void
test_tree_free_releases_a_populated_tree(void **state)
{
	struct topic_tree	*tree;
	char			 buf[64];
	size_t			 i;

	(void)state;
	/* Leak checkers (valgrind, ASan) judge this one. */
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "x/%zu/+/#", i % 300);
		assert_int_equal(add(tree, buf, i, i), 0);
	}
	topic_tree_free(tree);
}

/*
 * Names and filters of 65535 bytes have up to 32768 levels; the tree
 * must neither recurse in match nor in free.
 */
static void
test_tree_deepest_filters_do_not_exhaust_the_stack(void **state)
{
	struct topic_tree	*tree;
	char			*name, *hashf, *plusf;
	size_t			 i, len = TOPIC_MAX_LEN;

	(void)state;
	assert_non_null(name = malloc(len));
	assert_non_null(hashf = malloc(len));
	assert_non_null(plusf = malloc(len));
	for (i = 0; i < len; i++) {
		name[i] = i % 2 ? '/' : 'a';
		hashf[i] = i % 2 ? '/' : 'a';
		plusf[i] = i % 2 ? '/' : '+';
	}
	hashf[len - 1] = '#';
	assert_int_equal(topic_name_validate(name, len, NULL), TOPIC_OK);
	assert_int_equal(topic_filter_validate(hashf, len, NULL), TOPIC_OK);
	assert_int_equal(topic_filter_validate(plusf, len, NULL), TOPIC_OK);
	assert_true(topic_match(hashf, len, name, len));
	assert_true(topic_match(plusf, len, name, len));

	assert_non_null(tree = topic_tree_new());
	assert_int_equal(topic_tree_add(tree, hashf, len, SUB(1), 0, NULL), 0);
	assert_int_equal(topic_tree_add(tree, plusf, len, SUB(2), 0, NULL), 0);
	assert_int_equal(topic_tree_add(tree, name, len, SUB(3), 0, NULL), 0);
	assert_int_equal(add(tree, "+/+/#", 4, 0), 0);
	calls_reset();
	topic_tree_match(tree, name, len, record, &calls);
	assert_int_equal(calls.n, 4);
	/* One level short: only the '#' filters (hashf by its parent). */
	calls_reset();
	topic_tree_match(tree, name, len - 2, record, &calls);
	assert_int_equal(calls.n, 2);
	assert_int_equal(calls.per_sub[1], 1);
	assert_int_equal(calls.per_sub[4], 1);
	assert_int_equal(topic_tree_remove(tree, plusf, len, SUB(2)), 0);
	assert_int_equal(topic_tree_remove(tree, hashf, len, SUB(1)), 0);
	topic_tree_free(tree);		/* still holds a 32768-deep path */
	free(name);
	free(hashf);
	free(plusf);
}

/* ===== Randomised: the tree against topic_match ===== */

#define RAND_FILTERS	400
#define RAND_NAMES	3000

static void
random_topic(char *buf, size_t size, bool filter)
{
	static const char *const lit[] = { "a", "b", "c", "", "$x", "sport",
	    "aa" };
	size_t	 levels = 1 + rng() % 5, i, len = 0;
	const char *lvl;
	uint64_t r;

	buf[0] = '\0';
	for (i = 0; i < levels; i++) {
		r = rng() % 10;
		if (filter && r == 0)
			lvl = "+";
		else if (filter && r == 1 && i == levels - 1)
			lvl = "#";
		else
			lvl = lit[rng() % NELEM(lit)];
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i ? "/" : "", lvl);
	}
}

static void
check_tree_against_brute_force(struct topic_tree *tree,
    char filters[][64], const bool *present, size_t nfilters)
{
	char	 name[64];
	size_t	 i, k, want;

	for (k = 0; k < RAND_NAMES; k++) {
		random_topic(name, sizeof(name), false);
		if (name[0] == '\0')
			strcpy(name, "/");
		match(tree, name);
		for (i = 0; i < nfilters; i++) {
			want = present[i] && topic_match(filters[i],
			    strlen(filters[i]), name, strlen(name));
			if (calls.per_sub[i] != want)
				fail_msg("filter \"%s\" name \"%s\": tree %zu, "
				    "topic_match %zu", filters[i], name,
				    calls.per_sub[i], want);
		}
	}
}

static void
test_tree_agrees_with_topic_match_on_random_topics(void **state)
{
	static char		 filters[RAND_FILTERS][64];
	static bool		 present[RAND_FILTERS];
	struct topic_tree	*tree;
	size_t			 i, count = 0;

	(void)state;
	rng_state = 0x746f706963ULL;		/* fixed: reproducible */
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < RAND_FILTERS; i++) {
		random_topic(filters[i], sizeof(filters[i]), true);
		if (filters[i][0] == '\0')
			strcpy(filters[i], "/");
		assert_int_equal(filter_err(filters[i]), TOPIC_OK);
		/* Subscriber i, one filter each; duplicates are other pairs. */
		assert_int_equal(add(tree, filters[i], i, i), 0);
		present[i] = true;
		count++;
	}
	assert_int_equal(topic_tree_count(tree), count);
	check_tree_against_brute_force(tree, filters, present, RAND_FILTERS);

	for (i = 0; i < RAND_FILTERS; i++)
		if (rng() % 2) {
			assert_int_equal(del(tree, filters[i], i), 0);
			present[i] = false;
			count--;
		}
	assert_int_equal(topic_tree_count(tree), count);
	check_tree_against_brute_force(tree, filters, present, RAND_FILTERS);

	for (i = 0; i < RAND_FILTERS; i++)
		if (present[i])
			assert_int_equal(del(tree, filters[i], i), 0);
	assert_int_equal(topic_tree_count(tree), 0);
	assert_int_equal(topic_tree_nodes(tree), 1);
	topic_tree_free(tree);
}

/* ===== Out of memory ===== */

static void
test_tree_new_fails_cleanly_without_memory(void **state)
{
	unsigned long	 k;
	struct topic_tree *tree;

	(void)state;
	for (k = 1; k <= 2; k++) {
		fail_countdown = k;
		assert_null(topic_tree_new());
		fail_countdown = 0;
	}
	assert_non_null(tree = topic_tree_new());
	topic_tree_free(tree);
}

/* Fingerprint of what the tree answers, to see it did not change. */
static size_t
tree_answers(struct topic_tree *tree)
{
	const char	*names[] = { "a", "a/b", "a/b/c", "x/y", "$SYS/a",
	    "w/1", "w/2", "w/3", "w/17", "deep/1/2/3/4" };
	size_t		 i, sum = 0;

	for (i = 0; i < NELEM(names); i++)
		sum = sum * 31 + match(tree, names[i]);
	return sum;
}

/*
 * Each add is tried with the 1st, 2nd, ... allocation failing until it
 * goes through without meeting the failure. A failed add must leave the
 * counts and the answers exactly as before; an add may also succeed
 * despite a failure (the subscriber index is optional).
 */
static void
test_tree_add_without_memory_leaves_tree_unchanged(void **state)
{
	struct topic_tree	*tree;
	char			 buf[64];
	size_t			 i, count, nodes, answers, sub;
	unsigned long		 k;
	int			 rc;
	const char		*f[] = { "a/b/c", "a/+/c", "a/#", "$SYS/#",
	    "deep/1/2/3/#", "x/y" };

	(void)state;
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < NELEM(f) + 40; i++) {
		if (i < NELEM(f)) {
			snprintf(buf, sizeof(buf), "%s", f[i]);
			sub = i;
		} else if (i < NELEM(f) + 20) {
			/* Grows one node's subscriptions past the index. */
			snprintf(buf, sizeof(buf), "w/+");
			sub = i;
		} else {
			/* Grows one level's child table. */
			snprintf(buf, sizeof(buf), "w/%zu", i);
			sub = 1;
		}
		for (k = 1;; k++) {
			count = topic_tree_count(tree);
			nodes = topic_tree_nodes(tree);
			answers = tree_answers(tree);
			fail_hits = 0;
			fail_countdown = k;
			rc = add(tree, buf, sub, 1);
			fail_countdown = 0;
			if (rc == -1) {
				assert_int_equal(fail_hits, 1);
				assert_int_equal(topic_tree_count(tree), count);
				assert_int_equal(topic_tree_nodes(tree), nodes);
				assert_int_equal(tree_answers(tree), answers);
				continue;
			}
			assert_int_equal(topic_tree_count(tree), count + 1);
			if (fail_hits == 0)
				break;
			/* Survived a failure: undo and try the next k. */
			assert_int_equal(del(tree, buf, sub), 0);
			assert_int_equal(topic_tree_nodes(tree), nodes);
			assert_int_equal(tree_answers(tree), answers);
		}
	}
	assert_int_equal(match(tree, "w/9"), 20);
	topic_tree_free(tree);
}

/* Remove only shrinks; a failure to shrink must not show. */
static void
test_tree_remove_without_memory_still_removes(void **state)
{
	struct topic_tree	*tree;
	char			 buf[64];
	size_t			 i, n = 3000;

	(void)state;
	assert_non_null(tree = topic_tree_new());
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "w/%zu", i);
		assert_int_equal(add(tree, buf, 1, 0), 0);
		assert_int_equal(add(tree, "s", i, 0), 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "w/%zu", i);
		fail_countdown = 1;
		assert_int_equal(del(tree, buf, 1), 0);
		fail_countdown = 1;
		assert_int_equal(del(tree, "s", i), 0);
		fail_countdown = 0;
		if (i % 500 == 0) {
			assert_int_equal(match(tree, "s"), n - i - 1);
			assert_int_equal(match(tree, "w/2999"), 1);
		}
	}
	assert_int_equal(topic_tree_nodes(tree), 1);
	topic_tree_free(tree);
}

/* ===== Regressions found by fuzzing (tests/fuzz/fuzz_topic.c) ===== */

/*
 * Fuzz input "$share/g/$share/g*\xff2a" was accepted although its inner
 * filter is not valid on its own. A share of a share is now refused, so
 * the inner filter of a valid shared subscription is always a valid,
 * non-shared filter.
 */
static void
test_share_of_a_share_is_rejected(void **state)
{
	(void)state;
	assert_int_equal(filter_err("$share/g/$share/g*\xff" "2a"),
	    TOPIC_ERR_SHARE);
	assert_int_equal(filter_err("$share/g/$share/h/x"), TOPIC_ERR_SHARE);
	assert_int_equal(filter_err("$share/g/$share/"), TOPIC_ERR_SHARE);
	/* "$share" without the '/' is an ordinary level. */
	assert_int_equal(filter_err("$share/g/$share"), TOPIC_OK);
	assert_int_equal(filter_err("$share/g/$shared/x"), TOPIC_OK);
}

/*
 * Fuzz input "a\n$share/": "$share/" is a valid topic name (no wildcard;
 * nothing in 4.7 or 4.8.2 reserves it for PUBLISH) but not a valid
 * filter, where it must be a whole shared subscription [MQTT-4.8.2-1].
 */
static void
test_share_prefix_is_a_valid_name_but_not_a_valid_filter(void **state)
{
	(void)state;
	assert_int_equal(name_err("$share/"), TOPIC_OK);
	assert_int_equal(filter_err("$share/"), TOPIC_ERR_SHARE);
	assert_int_equal(name_err("$share/g"), TOPIC_OK);
	assert_int_equal(filter_err("$share/g"), TOPIC_ERR_SHARE);
}

/*
 * The level hash is SipHash-1-3. The expected values come from another
 * implementation of it: CPython's hash() of bytes, with the key its
 * PYTHONHASHSEED=1 derives (two little-endian words below). Inputs cover
 * a tail only, a whole word, and words plus a tail.
 */
static void
test_siphash13_agrees_with_an_independent_implementation(void **state)
{
	static const uint64_t	 key[2] = {
		0xaed66ce184be2329ULL, 0xebe9bbf1f1499052ULL
	};
	static const struct {
		const char	*in;
		uint64_t	 out;
	} v[] = {
		{ "a", 0xd6300bc9f7cc0e73ULL },
		{ "abcdefg", 0x2cc75771f0205010ULL },
		{ "abcdefgh", 0xfd3011ff3947e7f4ULL },
		{ "mqttd client id 0123456789", 0x48f343ef55d7bfd8ULL },
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(v); i++)
		assert_true(siphash13(key, v[i].in, strlen(v[i].in)) ==
		    v[i].out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash13_agrees_with_an_independent_implementation),
		cmocka_unit_test(test_match_table_has_sixty_rows),
		cmocka_unit_test(test_match_table_rows_are_valid),
		cmocka_unit_test(test_match_agrees_with_spec_examples),
		cmocka_unit_test(test_tree_agrees_with_spec_examples),
		cmocka_unit_test(test_name_valid_examples),
		cmocka_unit_test(test_name_empty_is_rejected),
		cmocka_unit_test(test_name_with_wildcard_is_rejected),
		cmocka_unit_test(test_name_over_65535_bytes_is_rejected),
		cmocka_unit_test(test_name_limits_apply_and_zero_means_protocol),
		cmocka_unit_test(test_filter_valid_examples),
		cmocka_unit_test(test_filter_empty_is_rejected),
		cmocka_unit_test(test_filter_hash_not_alone_or_not_last_is_rejected),
		cmocka_unit_test(test_filter_plus_not_alone_is_rejected),
		cmocka_unit_test(test_filter_limits_apply),
		cmocka_unit_test(test_share_valid_forms),
		cmocka_unit_test(test_share_group_must_be_nonempty_without_wildcards),
		cmocka_unit_test(test_share_group_must_be_followed_by_a_filter),
		cmocka_unit_test(test_share_inner_filter_errors_are_reported_as_such),
		cmocka_unit_test(test_share_split_returns_group_and_inner_filter),
		cmocka_unit_test(test_share_split_rejects_non_shared_filters),
		cmocka_unit_test(test_is_sys_is_sys_and_its_children_only),
		cmocka_unit_test(test_strerror_names_every_error),
		cmocka_unit_test(test_tree_empty_has_one_node_and_matches_nothing),
		cmocka_unit_test(test_tree_add_match_remove),
		cmocka_unit_test(test_tree_passes_arg_to_callback),
		cmocka_unit_test(test_tree_overlapping_filters_call_subscriber_once_per_filter),
		cmocka_unit_test(test_tree_add_existing_pair_replaces_value),
		cmocka_unit_test(test_tree_remove_last_subscriber_prunes_nodes),
		cmocka_unit_test(test_tree_remove_missing_pair_returns_minus_one),
		cmocka_unit_test(test_tree_dollar_names_skip_wildcards_at_root_only),
		cmocka_unit_test(test_tree_hash_matches_parent_level),
		cmocka_unit_test(test_tree_empty_levels_are_levels),
		cmocka_unit_test(test_tree_many_subscribers_on_one_node),
		cmocka_unit_test(test_tree_100k_distinct_filters_match_exactly),
		cmocka_unit_test(test_tree_free_releases_a_populated_tree),
		cmocka_unit_test(test_tree_deepest_filters_do_not_exhaust_the_stack),
		cmocka_unit_test(test_tree_agrees_with_topic_match_on_random_topics),
		cmocka_unit_test(test_tree_new_fails_cleanly_without_memory),
		cmocka_unit_test(test_tree_add_without_memory_leaves_tree_unchanged),
		cmocka_unit_test(test_tree_remove_without_memory_still_removes),
		cmocka_unit_test(test_share_prefix_is_a_valid_name_but_not_a_valid_filter),
		cmocka_unit_test(test_share_of_a_share_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
