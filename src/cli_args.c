/*
 * cli_args.c: shell-like splitting of a command line into words (see
 * cli_args.h). One pass over the line; each word is built in a buffer as
 * long as the line, so no word can outgrow it.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "xmalloc.h"

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Characters a backslash escapes inside double quotes. */
static bool
dquote_escapable(char ch)
{
	return ch == '"' || ch == '\\' || ch == '$' || ch == '`' || ch == '\n';
}

void
cli_args_free(char **argv)
{
	char	**ap;

	if (argv == NULL)
		return;
	for (ap = argv; *ap != NULL; ap++)
		free(*ap);
	free(argv);
}

enum cli_args_err
cli_args_split(const char *line, int *argcp, char ***argvp)
{
	enum cli_args_err	 err = CLI_ARGS_OK;
	const char		*p = line;
	char			**argv, *word;
	size_t			 wlen, cap = 4;
	int			 argc = 0;
	bool			 in_word;

	argv = xcalloc(cap + 1, sizeof(*argv));
	word = xmalloc(strlen(line) + 1);
	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (argc == 0 && *p == '#')
			break;			/* a comment line */
		wlen = 0;
		in_word = true;
		while (in_word && *p != '\0' && !is_blank(*p)) {
			switch (*p) {
			case '\'':
				for (p++; *p != '\'' && *p != '\0'; p++)
					word[wlen++] = *p;
				if (*p == '\0')
					err = CLI_ARGS_SQUOTE;
				else
					p++;
				break;
			case '"':
				for (p++; *p != '"' && *p != '\0'; p++) {
					if (*p == '\\' && dquote_escapable(p[1]))
						p++;
					word[wlen++] = *p;
				}
				if (*p == '\0')
					err = CLI_ARGS_DQUOTE;
				else
					p++;
				break;
			case '\\':
				if (p[1] == '\0')
					err = CLI_ARGS_ESCAPE;
				else {
					word[wlen++] = p[1];
					p += 2;
				}
				break;
			default:
				word[wlen++] = *p++;
				break;
			}
			if (err != CLI_ARGS_OK)
				in_word = false;
		}
		if (err != CLI_ARGS_OK)
			break;
		if ((size_t)argc == cap) {
			cap *= 2;
			argv = xreallocarray(argv, cap + 1, sizeof(*argv));
		}
		argv[argc++] = xstrndup(word, wlen);
		argv[argc] = NULL;
	}
	free(word);
	if (err != CLI_ARGS_OK) {
		cli_args_free(argv);
		*argvp = NULL;
		*argcp = 0;
		return err;
	}
	*argvp = argv;
	*argcp = argc;
	return CLI_ARGS_OK;
}

const char *
cli_args_strerror(enum cli_args_err err)
{
	switch (err) {
	case CLI_ARGS_OK:
		return "no error";
	case CLI_ARGS_SQUOTE:
		return "unterminated single quote";
	case CLI_ARGS_DQUOTE:
		return "unterminated double quote";
	case CLI_ARGS_ESCAPE:
		return "backslash at the end of the line";
	}
	return "unknown error";
}
