/*
 * cli_args.h: splitting a command line into words the way a shell would,
 * for mqtt-cli's interactive commands. Pure code: no I/O.
 *
 * Words are separated by blanks (space, tab, newline). Inside single
 * quotes every byte is literal; inside double quotes a backslash escapes
 * only " \ $ ` and newline; outside quotes a backslash escapes any byte.
 * Quotes join with what is next to them (a"b c"d is one word: ab cd); ""
 * is an empty word. A line whose first word starts with '#' is a comment
 * and has no words. No variables, globbing or other expansions.
 */
#ifndef MQTTD_CLI_ARGS_H
#define MQTTD_CLI_ARGS_H

enum cli_args_err {
	CLI_ARGS_OK = 0,
	CLI_ARGS_SQUOTE,	/* unterminated single quote */
	CLI_ARGS_DQUOTE,	/* unterminated double quote */
	CLI_ARGS_ESCAPE		/* backslash at the end of the line */
};

/*
 * Splits line into *argcp words. *argvp is a NULL-terminated array that
 * the caller releases with cli_args_free() (also when *argcp is 0). On
 * error *argvp is NULL and nothing needs freeing.
 */
enum cli_args_err cli_args_split(const char *line, int *argcp, char ***argvp);
void		 cli_args_free(char **argv);
const char	*cli_args_strerror(enum cli_args_err err);

#endif /* MQTTD_CLI_ARGS_H */
