/*
 * cli_line.c: mqtt-cli's line input, on the event loop.
 *
 * With libedit (HAVE_LIBEDIT): readline-compatible callback mode, so
 * the loop keeps running while the user types; history in memory. The
 * handler stays installed from the first prompt to the end: a pause only
 * hides the prompt and stops reading, and keys typed meanwhile wait in
 * the terminal (taking the terminal out of libedit's mode and back would
 * lose a Ctrl-D typed at the wrong moment). A line
 * printed while the user types (an incoming message) first erases the
 * prompt line, then libedit redraws the prompt and the text typed so far.
 *
 * Without libedit, or when stdin is not a terminal: plain reads of stdin
 * split into lines. On a terminal a line printed while the prompt shows
 * goes on a fresh line and the prompt is shown again below it; the text
 * typed so far stays in the terminal's own line buffer.
 *
 * This file owns the terminal; it knows nothing of MQTT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "cli.h"
#include "xmalloc.h"

/* Longest line read from a pipe; a longer one is cut here. */
#define LINE_MAX_BYTES	65536

struct cli_line {
	struct event_base	*base;
	bool			 interactive;
	bool			 editing;	/* libedit in use */
	cli_line_fn		*fn;
	void			*arg;
	struct event		*ev;		/* stdin readable */
	struct event		*deferred;	/* buffered lines after a resume */
	bool			 paused;
	bool			 prompt_shown;
	bool			 eof;
	char			*prompt;
	char			*buf;		/* plain input not yet split */
	size_t			 len;
#ifdef HAVE_LIBEDIT
	bool			 installed;	/* the callback handler */
	bool			 got_line;
	char			*line;		/* from the handler, for the read cb */
#endif
};

static void	line_read_cb(evutil_socket_t, short, void *);
static void	line_deferred_cb(evutil_socket_t, short, void *);

struct cli_line *
cli_line_new(struct event_base *base, bool interactive, cli_line_fn *fn,
    void *arg)
{
	struct cli_line	*l;

	l = xcalloc(1, sizeof(*l));
	l->base = base;
	l->interactive = interactive;
#ifdef HAVE_LIBEDIT
	l->editing = interactive;
	if (l->editing) {
		rl_catch_signals = 0;
		rl_catch_sigwinch = 1;
	}
#endif
	l->fn = fn;
	l->arg = arg;
	l->prompt = xstrdup("");
	l->buf = xmalloc(LINE_MAX_BYTES + 1);
	l->ev = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    line_read_cb, l);
	l->deferred = event_new(base, -1, 0, line_deferred_cb, l);
	l->paused = true;
	return l;
}

void
cli_line_free(struct cli_line *l)
{
	if (l == NULL)
		return;
#ifdef HAVE_LIBEDIT
	if (l->installed)
		rl_callback_handler_remove();
	free(l->line);
#endif
	event_free(l->ev);
	event_free(l->deferred);
	free(l->prompt);
	free(l->buf);
	free(l);
}

/* ===== libedit ===== */

#ifdef HAVE_LIBEDIT
/* libedit's callback has no argument: the one line editor of the process. */
static struct cli_line	*edit_line;

static void
edit_handler(char *line)
{
	struct cli_line	*l = edit_line;

	l->got_line = true;
	free(l->line);
	l->line = line;			/* NULL on Ctrl-D */
	if (line != NULL && *line != '\0')
		add_history(line);
	/*
	 * libedit redraws the prompt after this returns; an empty one leaves
	 * the cursor at the start of a fresh line for the command's output.
	 */
	rl_set_prompt("");
}

/*
 * Ctrl-D: end of input on an empty line, else delete the character under
 * the cursor. Bound by hand: libedit's own binding reports an end of
 * input that its callback mode does not always pass on.
 */
static int
edit_ctrl_d(int count, int key)
{
	struct cli_line	*l = edit_line;

	(void)count; (void)key;
	if (rl_end == 0) {
		l->got_line = true;
		free(l->line);
		l->line = NULL;
	} else if (rl_point < rl_end)
		rl_delete_text(rl_point, rl_point + 1);
	return 0;
}

static void
edit_show(struct cli_line *l)
{
	edit_line = l;
	if (!l->installed) {
		/* Once: the handler stays installed from here on. */
		rl_callback_handler_install(l->prompt, edit_handler);
		l->installed = true;
		rl_add_defun("mqtt-cli-ctrl-d", edit_ctrl_d, 4);
	} else {
		rl_set_prompt(l->prompt);
		rl_forced_update_display();
	}
}

static void
edit_read(struct cli_line *l)
{
	char	*line;

	l->got_line = false;
	rl_callback_read_char();
	if (!l->got_line)
		return;
	/*
	 * Removing and installing again empties libedit's line buffer,
	 * which would otherwise keep the accepted line until the next key.
	 * The terminal leaves libedit's mode only between these two calls.
	 */
	rl_callback_handler_remove();
	rl_callback_handler_install("", edit_handler);
	line = l->line;
	l->line = NULL;
	l->paused = true;
	event_del(l->ev);
	l->prompt_shown = false;
	if (line == NULL) {
		fputs("\n", stdout);
		fflush(stdout);
		l->eof = true;
	}
	l->fn(line, l->arg);
	free(line);
}
#endif

/* ===== Plain input ===== */

/* Hands complete lines to fn while not paused; at EOF the rest, then NULL. */
static void
plain_dispatch(struct cli_line *l)
{
	char	*nl, *line;
	size_t	 n, used;

	while (!l->paused) {
		nl = memchr(l->buf, '\n', l->len);
		if (nl == NULL && !l->eof && l->len < LINE_MAX_BYTES)
			return;
		if (nl == NULL && l->len == 0) {
			/* EOF with nothing left. */
			l->paused = true;
			event_del(l->ev);
			l->fn(NULL, l->arg);
			return;
		}
		n = nl != NULL ? (size_t)(nl - l->buf) : l->len;
		used = nl != NULL ? n + 1 : n;
		if (n > 0 && l->buf[n - 1] == '\r')
			n--;
		line = xstrndup(l->buf, n);
		memmove(l->buf, l->buf + used, l->len - used);
		l->len -= used;
		l->prompt_shown = false;
		/* fn may pause us: the lines after this one wait in buf. */
		l->fn(line, l->arg);
		free(line);
	}
}

static void
plain_read(struct cli_line *l)
{
	ssize_t	 n;

	n = read(STDIN_FILENO, l->buf + l->len, LINE_MAX_BYTES - l->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		l->eof = true;
		event_del(l->ev);
		if (l->interactive && l->prompt_shown) {
			fputs("\n", stdout);
			fflush(stdout);
		}
	} else
		l->len += (size_t)n;
	plain_dispatch(l);
}

static void
line_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli_line	*l = arg;

	(void)fd; (void)what;
#ifdef HAVE_LIBEDIT
	if (l->editing) {
		edit_read(l);
		return;
	}
#endif
	plain_read(l);
}

static void
line_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli_line	*l = arg;

	(void)fd; (void)what;
	plain_dispatch(l);
}

/* ===== Showing and hiding the prompt ===== */

void
cli_line_resume(struct cli_line *l, const char *prompt)
{
	free(l->prompt);
	l->prompt = xstrdup(prompt);
	l->paused = false;
#ifdef HAVE_LIBEDIT
	if (l->editing) {
		if (l->eof) {
			l->paused = true;
			l->fn(NULL, l->arg);
			return;
		}
		edit_show(l);
		l->prompt_shown = true;
		event_add(l->ev, NULL);
		return;
	}
#endif
	if (l->interactive && !l->eof) {
		fputs(l->prompt, stdout);
		fflush(stdout);
		l->prompt_shown = true;
	}
	if (!l->eof)
		event_add(l->ev, NULL);
	/* Lines already read wait in buf: hand them over from the loop. */
	if (l->len > 0 || l->eof)
		event_active(l->deferred, 0, 0);
}

void
cli_line_pause(struct cli_line *l)
{
	l->paused = true;
	event_del(l->ev);
#ifdef HAVE_LIBEDIT
	/*
	 * libedit stays installed, so the terminal stays in its mode: what
	 * is typed meanwhile (Ctrl-D included) waits for cli_line_resume().
	 */
	if (l->editing && l->installed)
		rl_set_prompt("");
#endif
	l->prompt_shown = false;
}

/*
 * Prints text above the line being typed, after erase (libedit only),
 * and shows the prompt again below it.
 */
static void
print_above(struct cli_line *l, const char *erase, const char *text)
{
#ifdef HAVE_LIBEDIT
	if (l->editing && l->installed) {
		/* libedit draws the prompt and the typed text again. */
		fputs(erase, stdout);
		fputs(text, stdout);
		fflush(stdout);
		rl_forced_update_display();
		return;
	}
#else
	(void)erase;
#endif
	if (l->interactive && l->prompt_shown) {
		fputs("\n", stdout);
		fputs(text, stdout);
		fputs(l->prompt, stdout);
	} else
		fputs(text, stdout);
	fflush(stdout);
}

void
cli_line_print(struct cli_line *l, const char *text)
{
	/* Erase the prompt line: the text takes its place. */
	print_above(l, "\r\033[K", text);
}

void
cli_line_cancel(struct cli_line *l)
{
#ifdef HAVE_LIBEDIT
	if (l->editing && l->installed)
		rl_replace_line("", 0);
#endif
	print_above(l, "\n", "");
}
