/*
 * test_cli_args.c: unit tests for src/cli_args.c, the shell-like splitting
 * of mqtt-cli's command lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli_args.h"

/* Splits line and checks that it gives exactly the words in want. */
static void
expect_words(const char *line, const char *const *want, int nwant)
{
	char	**argv;
	int	 argc, i;

	assert_int_equal(cli_args_split(line, &argc, &argv), CLI_ARGS_OK);
	assert_int_equal(argc, nwant);
	for (i = 0; i < nwant; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[argc]);
	cli_args_free(argv);
}

static void
expect_error(const char *line, enum cli_args_err want)
{
	char	**argv = (char **)1;
	int	 argc = -1;

	assert_int_equal(cli_args_split(line, &argc, &argv), want);
	assert_null(argv);
	assert_int_equal(argc, 0);
	assert_string_not_equal(cli_args_strerror(want), "unknown error");
}

static void
test_blanks_separate_words(void **state)
{
	const char *const want[] = { "subscribe", "alerts", "notifications",
	    "msg/incoming/new" };

	(void)state;
	expect_words("subscribe alerts  notifications\tmsg/incoming/new\n",
	    want, 4);
}

static void
test_empty_and_blank_lines_have_no_words(void **state)
{
	(void)state;
	expect_words("", NULL, 0);
	expect_words("   \t  ", NULL, 0);
}

static void
test_double_quotes_keep_blanks(void **state)
{
	const char *const want[] = { "publish", "alerts", "HELLO WORLD" };

	(void)state;
	expect_words("publish alerts \"HELLO WORLD\"", want, 3);
}

static void
test_single_quotes_are_literal(void **state)
{
	const char *const want[] = { "a \\\"b\" $c" };

	(void)state;
	expect_words("'a \\\"b\" $c'", want, 1);
}

static void
test_backslash_in_double_quotes_escapes_only_specials(void **state)
{
	const char *const want[] = { "say \"hi\" \\n \\" };

	(void)state;
	expect_words("\"say \\\"hi\\\" \\n \\\\\"", want, 1);
}

static void
test_backslash_outside_quotes_escapes_any_byte(void **state)
{
	const char *const want[] = { "HELLO WORLD", "a'b" };

	(void)state;
	expect_words("HELLO\\ WORLD a\\'b", want, 2);
}

static void
test_quotes_join_adjacent_text(void **state)
{
	const char *const want[] = { "ab cd", "x" };

	(void)state;
	expect_words("a\"b c\"d x", want, 2);
}

static void
test_empty_quotes_make_an_empty_word(void **state)
{
	const char *const want[] = { "publish", "t", "" };

	(void)state;
	expect_words("publish t \"\"", want, 3);
	expect_words("publish t ''", want, 3);
}

static void
test_hash_starts_a_comment_only_as_first_word(void **state)
{
	const char *const want[] = { "subscribe", "#", "a/#" };

	(void)state;
	expect_words("# a comment line", NULL, 0);
	expect_words("  #subscribe x", NULL, 0);
	expect_words("subscribe # a/#", want, 3);
}

static void
test_unterminated_quotes_are_errors(void **state)
{
	(void)state;
	expect_error("publish t \"HELLO", CLI_ARGS_DQUOTE);
	expect_error("publish t 'HELLO", CLI_ARGS_SQUOTE);
	expect_error("publish t HELLO\\", CLI_ARGS_ESCAPE);
}

static void
test_many_words_grow_the_array(void **state)
{
	char	 line[400], **argv;
	int	 argc, i;

	(void)state;
	line[0] = '\0';
	for (i = 0; i < 100; i++)
		strcat(line, "w ");
	assert_int_equal(cli_args_split(line, &argc, &argv), CLI_ARGS_OK);
	assert_int_equal(argc, 100);
	for (i = 0; i < argc; i++)
		assert_string_equal(argv[i], "w");
	assert_null(argv[100]);
	cli_args_free(argv);
}

static void
test_utf8_passes_through(void **state)
{
	const char *const want[] = { "publish", "m\xc3\xa9t\xc3\xa9o", "\xe2\x82\xac 5" };

	(void)state;
	expect_words("publish m\xc3\xa9t\xc3\xa9o '\xe2\x82\xac 5'", want, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blanks_separate_words),
		cmocka_unit_test(test_empty_and_blank_lines_have_no_words),
		cmocka_unit_test(test_double_quotes_keep_blanks),
		cmocka_unit_test(test_single_quotes_are_literal),
		cmocka_unit_test(test_backslash_in_double_quotes_escapes_only_specials),
		cmocka_unit_test(test_backslash_outside_quotes_escapes_any_byte),
		cmocka_unit_test(test_quotes_join_adjacent_text),
		cmocka_unit_test(test_empty_quotes_make_an_empty_word),
		cmocka_unit_test(test_hash_starts_a_comment_only_as_first_word),
		cmocka_unit_test(test_unterminated_quotes_are_errors),
		cmocka_unit_test(test_many_words_grow_the_array),
		cmocka_unit_test(test_utf8_passes_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
