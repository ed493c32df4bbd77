/*
 * config.c: owns mqttd's settings: the built-in defaults, reading
 * mqttd.ini (with inih), the command line, and checking every value.
 * Nothing here acts on a setting (no sockets, no files other than the
 * ini file, no logging): the result is one validated struct config, or
 * one line saying what is wrong, naming the file, line and key.
 *
 * Choices made here:
 *   - Every key is a row of the keys[] table (section, name, kind, range,
 *     field): reading a key, checking it and printing its default are the
 *     same code for all of them.
 *   - The first error ends the reading; the caller's struct is untouched
 *     unless the whole file is good (the file is read into a copy).
 *   - A key set twice is an error ("already set on line 4"), even in a
 *     second [section] of the same name: with two values an operator edits
 *     the wrong one. Indented continuation lines (which inih would join
 *     onto the key above) are refused for the same reason.
 *   - Names of sections and keys are case-sensitive; values that are
 *     words (true, full, info) are not. A value wrapped in double quotes
 *     has them removed.
 *   - inih, as Debian builds it, handles lines of up to 198 characters;
 *     a longer line is an error here rather than being cut silently.
 *     inih does not pass line numbers to the handler, so this file feeds
 *     inih its lines itself (config_read_line) and counts them.
 *   - Command line: a first getopt pass finds -c, --help, --version and
 *     bad options; the file is read; a second pass applies the other
 *     flags on top, each checked as its ini key is.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0.1.0"
#endif

/* Longest piece of a bad value quoted back in an error line. */
#define CONFIG_QUOTE_MAX	80

enum key_kind {
	KEY_NUMBER,		/* decimal, min..max */
	KEY_SIZE,		/* decimal with k, m or g (KiB multiples), min..max */
	KEY_BOOL,
	KEY_ADDRESSES,		/* comma-separated IP literals, 1..max of them */
	KEY_PATH,		/* a string, min = 1 when it may not be empty */
	KEY_SYNC,
	KEY_LOG_LEVEL
};

struct key {
	const char	*section;
	const char	*name;
	enum key_kind	 kind;
	uint64_t	 min;
	uint64_t	 max;
	size_t		 offset;	/* of the field in struct config */
	size_t		 size;		/* of the field */
};

#define FIELD(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* In the order of conf/mqttd.ini, which documents each of them. */
static const struct key keys[] = {
	{ "listener", "address", KEY_ADDRESSES, 1, CONFIG_MAX_ADDRESSES,
	    FIELD(addresses) },
	{ "listener", "port", KEY_NUMBER, 0, 65535, FIELD(port) },
	{ "listener", "max_connections", KEY_NUMBER, 1, 1000000,
	    FIELD(max_connections) },
	{ "listener", "connect_timeout", KEY_NUMBER, 1, 3600,
	    FIELD(connect_timeout) },

	{ "session", "max_inflight", KEY_NUMBER, 1, 65535,
	    FIELD(max_inflight) },
	{ "session", "max_queued_messages", KEY_NUMBER, 0, 10000000,
	    FIELD(max_queued_messages) },
	{ "session", "max_queued_bytes", KEY_SIZE, 0, UINT64_MAX,
	    FIELD(max_queued_bytes) },
	{ "session", "queue_qos0", KEY_BOOL, 0, 1, FIELD(queue_qos0) },
	{ "session", "retry_interval", KEY_NUMBER, 1, 86400,
	    FIELD(retry_interval) },
	{ "session", "max_retries", KEY_NUMBER, 0, 1000000,
	    FIELD(max_retries) },
	{ "session", "max_qos", KEY_NUMBER, 0, 2, FIELD(max_qos) },
	{ "session", "will_on_shutdown", KEY_BOOL, 0, 1,
	    FIELD(will_on_shutdown) },
	{ "session", "allow_zero_length_client_id", KEY_BOOL, 0, 1,
	    FIELD(allow_zero_length_client_id) },

	{ "limits", "max_packet_size", KEY_SIZE, 16, 268435460,
	    FIELD(max_packet_size) },
	{ "limits", "max_topic_length", KEY_NUMBER, 1, 65535,
	    FIELD(max_topic_length) },
	{ "limits", "max_topic_levels", KEY_NUMBER, 1, 65535,
	    FIELD(max_topic_levels) },
	{ "limits", "max_subscriptions_per_client", KEY_NUMBER, 1, 1000000,
	    FIELD(max_subscriptions_per_client) },
	{ "limits", "max_client_id_length", KEY_NUMBER, 23, 65535,
	    FIELD(max_client_id_length) },
	{ "limits", "output_high_water", KEY_SIZE, 4096, UINT64_MAX,
	    FIELD(output_high_water) },

	{ "storage", "path", KEY_PATH, 1, CONFIG_PATH_MAX - 1,
	    FIELD(db_path) },
	{ "storage", "sync", KEY_SYNC, 0, 0, FIELD(sync) },
	{ "storage", "checkpoint_pages", KEY_NUMBER, 0, 1000000,
	    FIELD(checkpoint_pages) },
	{ "storage", "max_batch", KEY_NUMBER, 1, 1000000, FIELD(max_batch) },
	{ "storage", "max_pending", KEY_NUMBER, 1, 100000000,
	    FIELD(max_pending) },

	{ "log", "level", KEY_LOG_LEVEL, 0, 0, FIELD(log_level) },
	{ "log", "file", KEY_PATH, 0, CONFIG_PATH_MAX - 1, FIELD(log_file) },
};
#define KEY_COUNT	(sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {
	"listener", "session", "limits", "storage", "log"
};
#define SECTION_COUNT	(sizeof(sections) / sizeof(sections[0]))

/* Indexed by enum storage_sync. */
static const char *const sync_names[] = {
	[STORAGE_SYNC_OFF] = "off",
	[STORAGE_SYNC_NORMAL] = "normal",
	[STORAGE_SYNC_FULL] = "full",
};
#define SYNC_COUNT	(sizeof(sync_names) / sizeof(sync_names[0]))

/* One reading of an ini file or string. */
struct load {
	struct config	 cfg;		/* the copy being filled */
	const char	*name;		/* the file's name, for messages */

	/* where lines come from: a file or a string */
	FILE		*fp;
	char		*buf;		/* getline()'s, for fp */
	size_t		 bufsize;
	const char	*text;		/* the whole string */
	const char	*next;		/* its next line */

	unsigned	 lineno;	/* of the line inih is working on */
	const char	*raw;		/* that line as read */
	size_t		 rawlen;
	unsigned	 set_on[KEY_COUNT];	/* line a key was set on, or 0 */

	bool		 failed;
	unsigned	 failed_on;	/* line of the error */
	char		*err;
	size_t		 errlen;
};

static int	 config_parse(struct load *ld, struct config *cfg);
static char	*config_read_line(char *str, int num, void *arg);
static int	 config_handle(void *arg, const char *section,
		    const char *name, const char *value);
static bool	 config_is_continuation(const struct load *ld,
		    const char *name);
static void	 config_line_text(struct load *ld, unsigned lineno,
		    char *buf, size_t size);
static void	 config_fail(struct load *ld, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static bool	 section_known(const char *section);
static const struct key *key_find(const char *section, const char *name);
static int	 key_set(const struct key *k, struct config *cfg,
		    const char *value, char *why, size_t whylen);
static void	 key_format(const struct key *k, const struct config *cfg,
		    char *buf, size_t size);
static int	 parse_number(const char *s, uint64_t *v);
static int	 parse_size(const char *s, uint64_t *v);
static int	 parse_bool(const char *s, bool *v);
static int	 parse_addresses(const char *s, size_t max,
		    char addrs[][64], size_t *count, char *why, size_t whylen);
static const char *quote(const char *s, char *buf, size_t size);

/* ===== Defaults ===== */

/* Fills cfg with the built-in defaults (conf/mqttd.ini says why each). */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));

	strcpy(cfg->addresses[0], "127.0.0.1");
	cfg->address_count = 1;
	cfg->port = 1883;
	cfg->max_connections = 10000;
	cfg->connect_timeout = 10;

	cfg->max_inflight = 20;
	cfg->max_queued_messages = 1000;
	cfg->max_queued_bytes = 0;
	cfg->queue_qos0 = false;
	cfg->retry_interval = 20;
	cfg->max_retries = 0;
	cfg->max_qos = 2;
	cfg->will_on_shutdown = false;
	cfg->allow_zero_length_client_id = true;

	cfg->max_packet_size = 1048576;
	cfg->max_topic_length = 65535;
	cfg->max_topic_levels = 128;
	cfg->max_subscriptions_per_client = 1000;
	cfg->max_client_id_length = 256;
	cfg->output_high_water = 1048576;

	strcpy(cfg->db_path, "mqttd.db");
	cfg->sync = STORAGE_SYNC_FULL;
	cfg->checkpoint_pages = 1000;
	cfg->max_batch = 10000;
	cfg->max_pending = 100000;

	cfg->log_level = LOG_LEVEL_INFO;
	cfg->log_file[0] = '\0';

	cfg->config_path[0] = '\0';
}

const char *
config_sync_name(enum storage_sync sync)
{
	if ((unsigned)sync >= SYNC_COUNT)
		return "unknown";
	return sync_names[sync];
}

/* ===== Reading an ini file ===== */

/*
 * Reads the ini file at path over cfg and records path in
 * cfg->config_path. On error returns -1, leaves cfg as it was and writes
 * one line to err.
 */
int
config_load_file(struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	struct load	 ld;
	int		 rc;

	if (strlen(path) >= sizeof(cfg->config_path)) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(ENAMETOOLONG));
		return -1;
	}
	memset(&ld, 0, sizeof(ld));
	ld.name = path;
	ld.err = err;
	ld.errlen = errlen;
	if ((ld.fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = config_parse(&ld, cfg);
	free(ld.buf);
	fclose(ld.fp);
	if (rc == 0)
		strcpy(cfg->config_path, path);	/* length checked above */
	return rc;
}

/* The same from a NUL-terminated string; name stands for the file. */
int
config_load_string(struct config *cfg, const char *text, const char *name,
    char *err, size_t errlen)
{
	struct load	 ld;

	memset(&ld, 0, sizeof(ld));
	ld.name = name;
	ld.err = err;
	ld.errlen = errlen;
	ld.text = ld.next = text;
	return config_parse(&ld, cfg);
}

/*
 * Runs inih over ld's lines into a copy of cfg; copies it back if all is
 * well. Returns 0, or -1 with one line in ld->err.
 */
static int
config_parse(struct load *ld, struct config *cfg)
{
	char	 text[CONFIG_QUOTE_MAX + 8];
	int	 rc;

	ld->cfg = *cfg;
	rc = ini_parse_stream(config_read_line, ld, config_handle, ld);

	/*
	 * inih goes on after a line it cannot parse, and returns the number
	 * of the first bad line; an error of ours stops it at the next line.
	 * Whichever came first is the one to report.
	 */
	if (rc > 0 && (!ld->failed || (unsigned)rc < ld->failed_on)) {
		config_line_text(ld, (unsigned)rc, text, sizeof(text));
		snprintf(ld->err, ld->errlen, "%s:%d: expected '[section]' or "
		    "'key = value', got '%s'", ld->name, rc, text);
		return -1;
	}
	if (ld->failed)
		return -1;
	if (rc != 0) {
		snprintf(ld->err, ld->errlen, "cannot read %s: %s", ld->name,
		    strerror(ENOMEM));
		return -1;
	}
	*cfg = ld->cfg;
	return 0;
}

/*
 * inih's reader (an fgets(3) look-alike): hands inih one whole line at a
 * time, so that its count of lines is ours. Refuses lines that do not fit
 * inih's buffer of num bytes, NUL bytes, and unknown [sections] (inih
 * tells the handler nothing about a section without keys). Returns NULL
 * at the end of the input or after an error, which ends inih's loop.
 */
static char *
config_read_line(char *str, int num, void *arg)
{
	struct load	*ld = arg;
	const char	*line, *p, *end;
	size_t		 len, textlen;
	ssize_t		 n;
	char		 name[CONFIG_QUOTE_MAX + 8];

	if (ld->failed || num < 3)
		return NULL;
	if (ld->fp != NULL) {
		errno = 0;
		if ((n = getline(&ld->buf, &ld->bufsize, ld->fp)) == -1) {
			if (ferror(ld->fp)) {
				ld->lineno++;
				config_fail(ld, "cannot read %s: %s", ld->name,
				    strerror(errno ? errno : EIO));
			}
			return NULL;
		}
		line = ld->buf;
		len = (size_t)n;
	} else {
		if (*ld->next == '\0')
			return NULL;
		line = ld->next;
		p = strchr(line, '\n');
		len = p != NULL ? (size_t)(p - line) + 1 : strlen(line);
		ld->next += len;
	}
	ld->lineno++;
	ld->raw = line;
	ld->rawlen = len;

	if (memchr(line, '\0', len) != NULL) {
		config_fail(ld, "%s:%u: NUL byte in line", ld->name, ld->lineno);
		return NULL;
	}
	textlen = len;
	if (textlen > 0 && line[textlen - 1] == '\n')
		textlen--;
	if (textlen > (size_t)num - 2) {
		config_fail(ld, "%s:%u: line too long (at most %d characters)",
		    ld->name, ld->lineno, num - 2);
		return NULL;
	}

	/* A section header: "[name]", after a UTF-8 BOM on line 1. */
	p = line;
	end = line + textlen;
	if (ld->lineno == 1 && textlen >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && *p == '[' &&
	    (end = memchr(p + 1, ']', (size_t)(end - p - 1))) != NULL) {
		len = (size_t)(end - p - 1);
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		if (!section_known(name)) {
			config_fail(ld, "%s:%u: unknown section [%s]", ld->name,
			    ld->lineno, quote(name, name, sizeof(name)));
			return NULL;
		}
		/* Only a comment may follow (inih would ignore anything). */
		for (p = end + 1; p < line + textlen &&
		    isspace((unsigned char)*p); p++)
			;
		if (p < line + textlen && *p != ';' && *p != '#') {
			len = (size_t)(line + textlen - p);
			if (len >= sizeof(name))
				len = sizeof(name) - 1;
			memcpy(name, p, len);
			name[len] = '\0';
			config_fail(ld, "%s:%u: expected nothing after the "
			    "section header, got '%s'", ld->name, ld->lineno,
			    quote(name, name, sizeof(name)));
			return NULL;
		}
	}

	memcpy(str, ld->raw, ld->rawlen);
	str[ld->rawlen] = '\0';
	return str;
}

/* inih's handler: one "key = value" of the line ld->lineno. */
static int
config_handle(void *arg, const char *section, const char *name,
    const char *value)
{
	struct load		*ld = arg;
	const struct key	*k, *other;
	char			 why[256], unquoted[CONFIG_PATH_MAX];
	size_t			 i, len;

	if (ld->failed)
		return 0;
	other = key_find(NULL, name);
	if (*section == '\0') {
		if (other != NULL)
			config_fail(ld, "%s:%u: key '%s' is outside any section "
			    "(it belongs in [%s])", ld->name, ld->lineno, name,
			    other->section);
		else
			config_fail(ld, "%s:%u: key '%s' is outside any section",
			    ld->name, ld->lineno, name);
		return 0;
	}
	if (!section_known(section)) {
		config_fail(ld, "%s:%u: unknown section [%s]", ld->name,
		    ld->lineno, section);
		return 0;
	}
	if (config_is_continuation(ld, name)) {
		config_fail(ld, "%s:%u: [%s] %s: an indented line continues "
		    "the value above, which is not allowed (unindent it)",
		    ld->name, ld->lineno, section, name);
		return 0;
	}
	if ((k = key_find(section, name)) == NULL) {
		if (other != NULL)
			config_fail(ld, "%s:%u: [%s] unknown key '%s' (it "
			    "belongs in [%s])", ld->name, ld->lineno, section,
			    name, other->section);
		else
			config_fail(ld, "%s:%u: [%s] unknown key '%s'",
			    ld->name, ld->lineno, section, name);
		return 0;
	}
	i = (size_t)(k - keys);
	if (ld->set_on[i] != 0) {
		config_fail(ld, "%s:%u: [%s] %s: already set on line %u",
		    ld->name, ld->lineno, section, name, ld->set_on[i]);
		return 0;
	}

	/* "value" -> value */
	len = strlen(value);
	if (len >= 2 && value[0] == '"' && value[len - 1] == '"' &&
	    len - 2 < sizeof(unquoted)) {
		memcpy(unquoted, value + 1, len - 2);
		unquoted[len - 2] = '\0';
		value = unquoted;
	}

	if (key_set(k, &ld->cfg, value, why, sizeof(why)) == -1) {
		config_fail(ld, "%s:%u: [%s] %s: %s", ld->name, ld->lineno,
		    section, name, why);
		return 0;
	}
	ld->set_on[i] = ld->lineno;
	return 1;
}

/*
 * True if inih called the handler for a continuation line: an indented
 * line under a key, which inih reports as a second value of that key.
 * A real "key = value" line starts with the key's name.
 */
static bool
config_is_continuation(const struct load *ld, const char *name)
{
	const char	*p = ld->raw, *end = ld->raw + ld->rawlen;
	size_t		 namelen = strlen(name);

	if (ld->rawlen == 0 || (*p != ' ' && *p != '\t'))
		return false;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < namelen || memcmp(p, name, namelen) != 0)
		return true;
	for (p += namelen; p < end && isspace((unsigned char)*p); p++)
		;
	return p == end || (*p != '=' && *p != ':');
}

/*
 * Finds the text of line lineno again, for the message about a line inih
 * could not parse (it has read on since). Quoted and cut for the message.
 */
static void
config_line_text(struct load *ld, unsigned lineno, char *buf, size_t size)
{
	char		 line[CONFIG_QUOTE_MAX + 1];
	const char	*p, *nl;
	unsigned	 i;
	size_t		 len;

	line[0] = '\0';
	if (ld->fp != NULL) {
		rewind(ld->fp);
		for (i = 0; i < lineno; i++)
			if (getline(&ld->buf, &ld->bufsize, ld->fp) == -1)
				break;
		if (i == lineno) {
			len = strcspn(ld->buf, "\r\n");
			if (len > CONFIG_QUOTE_MAX)
				len = CONFIG_QUOTE_MAX;
			memcpy(line, ld->buf, len);
			line[len] = '\0';
		}
	} else {
		p = ld->text;
		for (i = 1; i < lineno && (nl = strchr(p, '\n')) != NULL; i++)
			p = nl + 1;
		if (i == lineno) {
			len = strcspn(p, "\r\n");
			if (len > CONFIG_QUOTE_MAX)
				len = CONFIG_QUOTE_MAX;
			memcpy(line, p, len);
			line[len] = '\0';
		}
	}
	/* The line trimmed. */
	for (p = line; isspace((unsigned char)*p); p++)
		;
	quote(p, buf, size);
}

/* Records the first error and the line it is on. */
static void
config_fail(struct load *ld, const char *fmt, ...)
{
	va_list	 ap;

	if (ld->failed)
		return;
	ld->failed = true;
	ld->failed_on = ld->lineno;
	va_start(ap, fmt);
	vsnprintf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
}

static bool
section_known(const char *section)
{
	size_t	 i;

	for (i = 0; i < SECTION_COUNT; i++)
		if (strcmp(section, sections[i]) == 0)
			return true;
	return false;
}

/* The key called name in section, or in any section if section is NULL. */
static const struct key *
key_find(const char *section, const char *name)
{
	size_t	 i;

	for (i = 0; i < KEY_COUNT; i++)
		if ((section == NULL || strcmp(keys[i].section, section) == 0) &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* ===== Values ===== */

/*
 * Checks value for key k and stores it in cfg. Returns 0, or -1 with why
 * saying what was expected and what came ("expected a number from 1 to
 * 65535, got 'abc'"); cfg is then unchanged.
 */
static int
key_set(const struct key *k, struct config *cfg, const char *value,
    char *why, size_t whylen)
{
	char			*field = (char *)cfg + k->offset;
	char			 q[CONFIG_QUOTE_MAX + 8];
	char			 addrs[CONFIG_MAX_ADDRESSES][64];
	size_t			 count, len;
	uint64_t		 v = 0;
	uint32_t		 v32;
	uint16_t		 v16;
	uint8_t			 v8;
	bool			 b;
	enum log_level		 level;
	enum storage_sync	 sync;

	switch (k->kind) {
	case KEY_NUMBER:
		if (parse_number(value, &v) == -1 || v < k->min || v > k->max) {
			snprintf(why, whylen, "expected a number from %llu to "
			    "%llu, got '%s'", (unsigned long long)k->min,
			    (unsigned long long)k->max, quote(value, q, sizeof(q)));
			return -1;
		}
		break;
	case KEY_SIZE:
		if (parse_size(value, &v) == -1 || v < k->min || v > k->max) {
			if (k->max == UINT64_MAX && k->min == 0)
				len = (size_t)snprintf(why, whylen,
				    "expected a size in bytes");
			else if (k->max == UINT64_MAX)
				len = (size_t)snprintf(why, whylen, "expected a "
				    "size of at least %llu bytes",
				    (unsigned long long)k->min);
			else
				len = (size_t)snprintf(why, whylen, "expected a "
				    "size from %llu to %llu bytes",
				    (unsigned long long)k->min,
				    (unsigned long long)k->max);
			if (len < whylen)
				snprintf(why + len, whylen - len, " (a number, "
				    "optionally followed by k, m or g), got '%s'",
				    quote(value, q, sizeof(q)));
			return -1;
		}
		break;
	case KEY_BOOL:
		if (parse_bool(value, &b) == -1) {
			snprintf(why, whylen, "expected true, false, yes, no, "
			    "on, off, 1 or 0, got '%s'",
			    quote(value, q, sizeof(q)));
			return -1;
		}
		memcpy(field, &b, sizeof(b));
		return 0;
	case KEY_ADDRESSES:
		if (parse_addresses(value, (size_t)k->max, addrs, &count, why,
		    whylen) == -1)
			return -1;
		memcpy(cfg->addresses, addrs, sizeof(cfg->addresses));
		cfg->address_count = count;
		return 0;
	case KEY_PATH:
		len = strlen(value);
		if (len < k->min) {
			snprintf(why, whylen, "expected a path, got nothing");
			return -1;
		}
		if (len > k->max || len >= k->size) {
			snprintf(why, whylen, "expected a path of at most %llu "
			    "bytes, got %zu", (unsigned long long)k->max, len);
			return -1;
		}
		memcpy(field, value, len + 1);
		return 0;
	case KEY_SYNC:
		for (v = 0; v < SYNC_COUNT; v++)
			if (strcasecmp(value, sync_names[v]) == 0)
				break;
		if (v == SYNC_COUNT) {
			snprintf(why, whylen, "expected full, normal or off, "
			    "got '%s'", quote(value, q, sizeof(q)));
			return -1;
		}
		sync = (enum storage_sync)v;
		memcpy(field, &sync, sizeof(sync));
		return 0;
	case KEY_LOG_LEVEL:
		if (log_level_parse(value, &level) == -1) {
			snprintf(why, whylen, "expected off, error, warn, info, "
			    "debug or trace, got '%s'", quote(value, q, sizeof(q)));
			return -1;
		}
		memcpy(field, &level, sizeof(level));
		return 0;
	}

	/* A number: stored in a field of its width; the range made it fit. */
	switch (k->size) {
	case 1:
		v8 = (uint8_t)v;
		memcpy(field, &v8, 1);
		break;
	case 2:
		v16 = (uint16_t)v;
		memcpy(field, &v16, 2);
		break;
	case 4:
		v32 = (uint32_t)v;
		memcpy(field, &v32, 4);
		break;
	default:
		memcpy(field, &v, sizeof(v));
		break;
	}
	return 0;
}

/* Writes the value of key k in cfg as the ini file would spell it. */
static void
key_format(const struct key *k, const struct config *cfg, char *buf,
    size_t size)
{
	const char		*field = (const char *)cfg + k->offset;
	uint64_t		 v = 0;
	uint32_t		 v32;
	uint16_t		 v16;
	uint8_t			 v8;
	bool			 b;
	enum log_level		 level;
	enum storage_sync	 sync;
	size_t			 i, len;

	switch (k->kind) {
	case KEY_NUMBER:
	case KEY_SIZE:
		switch (k->size) {
		case 1:
			memcpy(&v8, field, 1);
			v = v8;
			break;
		case 2:
			memcpy(&v16, field, 2);
			v = v16;
			break;
		case 4:
			memcpy(&v32, field, 4);
			v = v32;
			break;
		default:
			memcpy(&v, field, sizeof(v));
			break;
		}
		snprintf(buf, size, "%llu", (unsigned long long)v);
		break;
	case KEY_BOOL:
		memcpy(&b, field, sizeof(b));
		snprintf(buf, size, "%s", b ? "true" : "false");
		break;
	case KEY_ADDRESSES:
		buf[0] = '\0';
		for (i = 0, len = 0; i < cfg->address_count && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s%s",
			    i > 0 ? "," : "", cfg->addresses[i]);
		break;
	case KEY_PATH:
		snprintf(buf, size, "%s", *field != '\0' ? field : "\"\"");
		break;
	case KEY_SYNC:
		memcpy(&sync, field, sizeof(sync));
		snprintf(buf, size, "%s", config_sync_name(sync));
		break;
	case KEY_LOG_LEVEL:
		memcpy(&level, field, sizeof(level));
		snprintf(buf, size, "%s", log_level_name(level));
		break;
	}
}

/* A decimal number: digits only, no sign, no space, nothing after. */
static int
parse_number(const char *s, uint64_t *v)
{
	unsigned long long	 n;
	char			*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*v = n;
	return 0;
}

/* A number of bytes, maybe followed by k, m or g (1024, 1024^2, 1024^3). */
static int
parse_size(const char *s, uint64_t *v)
{
	unsigned long long	 n;
	uint64_t		 mult = 1;
	char			*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1024;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end != '\0' || n > UINT64_MAX / mult)
		return -1;
	*v = (uint64_t)n * mult;
	return 0;
}

static int
parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return 0;
		}
	}
	return -1;
}

/*
 * "127.0.0.1, ::1": 1 to max IPv4 or IPv6 literals separated by commas,
 * spaces around each allowed, none twice. Fills addrs and count, or
 * returns -1 with why.
 */
static int
parse_addresses(const char *s, size_t max, char addrs[][64], size_t *count,
    char *why, size_t whylen)
{
	unsigned char	 bin[CONFIG_MAX_ADDRESSES][16];
	int		 family[CONFIG_MAX_ADDRESSES];
	char		 one[64], q[CONFIG_QUOTE_MAX + 8];
	const char	*p = s, *start, *end;
	size_t		 n = 0, i, len;
	bool		 last;

	memset(bin, 0, sizeof(bin));
	for (;;) {
		start = p;
		end = start + strcspn(start, ",");
		last = *end == '\0';
		p = last ? end : end + 1;
		while (start < end && isspace((unsigned char)*start))
			start++;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		if (n == max) {
			snprintf(why, whylen, "expected at most %zu "
			    "address%s, got more", max, max == 1 ? "" : "es");
			return -1;
		}
		len = (size_t)(end - start);
		if (len >= sizeof(one))
			len = sizeof(one) - 1;	/* too long to be valid */
		memcpy(one, start, len);
		one[len] = '\0';
		if (inet_pton(AF_INET, one, bin[n]) == 1)
			family[n] = AF_INET;
		else if (inet_pton(AF_INET6, one, bin[n]) == 1)
			family[n] = AF_INET6;
		else {
			snprintf(why, whylen, "expected an IPv4 or IPv6 address,"
			    " got '%s'", quote(one, q, sizeof(q)));
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (family[i] == family[n] &&
			    memcmp(bin[i], bin[n], sizeof(bin[n])) == 0) {
				snprintf(why, whylen, "address '%s' is listed "
				    "twice", one);
				return -1;
			}
		}
		memcpy(addrs[n], one, len + 1);
		n++;
		if (last)
			break;
	}
	for (i = n; i < CONFIG_MAX_ADDRESSES; i++)
		memset(addrs[i], 0, sizeof(addrs[i]));
	*count = n;
	return 0;
}

/*
 * Copies s to buf for quoting in an error line: control characters made
 * '?' so that the message stays one line, cut to CONFIG_QUOTE_MAX
 * characters with "...". Returns buf.
 */
static const char *
quote(const char *s, char *buf, size_t size)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
		if (i == CONFIG_QUOTE_MAX && i + 4 <= size) {
			memcpy(buf + i, "...", 3);
			i += 3;
			break;
		}
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	}
	buf[i] = '\0';
	return buf;
}

/* ===== The command line ===== */

struct flag {
	char		 short_name;
	const char	*long_name;
	const char	*arg;		/* its value's name, NULL for none */
	const char	*section;	/* the ini key it overrides, if any */
	const char	*key;
	const char	*help;
};

static const struct flag flags[] = {
	{ 'c', "config", "FILE", NULL, NULL,
	    "read settings from FILE (default: none)" },
	{ 'i', "ip", "ADDRESS", "listener", "address",
	    "listen on this one IPv4 or IPv6 address" },
	{ 'p', "port", "PORT", "listener", "port",
	    "TCP port to listen on, 0-65535 (0: any free port)" },
	{ 'm', "max_retries", "COUNT", "session", "max_retries",
	    "resends of an unacknowledged message, 0 = unlimited" },
	{ 'r', "retry", "SECONDS", "session", "retry_interval",
	    "seconds before an unacknowledged message is resent" },
	{ 't', "timeout", "SECONDS", "listener", "connect_timeout",
	    "seconds a new connection has to send CONNECT" },
	{ 'v', "verbosity", "LEVEL", "log", "level",
	    "off, error, warn, info, debug or trace" },
	{ 'h', "help", NULL, NULL, NULL, "print this help and exit" },
	{ 'V', "version", NULL, NULL, NULL, "print the version and exit" },
};
#define FLAG_COUNT	(sizeof(flags) / sizeof(flags[0]))

static void	 flags_getopt(char *optstring, size_t size,
		    struct option *longopts);
static void	 getopt_reset(void);
static const struct flag *flag_find(int short_name);
static void	 flag_bad_option(char **argv, char *err, size_t errlen);
static int	 flag_apply(const struct flag *f, struct config *cfg,
		    const char *value, char *err, size_t errlen);
static void	 usage(FILE *out, const char *progname);

/*
 * The whole start-up sequence: defaults, then the file named by -c (if
 * any), then the other flags in the order given. --help and --version
 * print to stdout and return CONFIG_EXIT; any error returns CONFIG_ERROR
 * with one line in err. cfg is always left filled (defaults at least).
 */
enum config_result
config_from_args(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	struct option		 longopts[FLAG_COUNT + 1];
	char			 optstring[3 * FLAG_COUNT + 3];
	const char		*progname, *path = NULL, *slash;
	const struct flag	*f;
	int			 ch;

	config_defaults(cfg);
	if (errlen > 0)
		err[0] = '\0';
	progname = argc > 0 && argv[0] != NULL && *argv[0] != '\0' ?
	    argv[0] : "mqttd";
	if ((slash = strrchr(progname, '/')) != NULL && slash[1] != '\0')
		progname = slash + 1;
	flags_getopt(optstring, sizeof(optstring), longopts);

	/* First pass: -c, --help, --version, and options that do not exist. */
	getopt_reset();
	while ((ch = getopt_long(argc, argv, optstring, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout, progname);
			return CONFIG_EXIT;
		case 'V':
			printf("mqttd %s\n", PACKAGE_VERSION);
			fflush(stdout);
			return CONFIG_EXIT;
		case ':':
			f = flag_find(optopt);
			snprintf(err, errlen, "--%s: missing value, %s "
			    "(try --help)", f != NULL ? f->long_name : "?",
			    f != NULL && f->arg != NULL ? f->arg : "?");
			return CONFIG_ERROR;
		case '?':
			flag_bad_option(argv, err, errlen);
			return CONFIG_ERROR;
		default:
			break;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)",
		    argv[optind]);
		return CONFIG_ERROR;
	}

	if (path != NULL &&
	    config_load_file(cfg, path, err, errlen) == -1)
		return CONFIG_ERROR;

	/* Second pass: the flags over the file. */
	getopt_reset();
	while ((ch = getopt_long(argc, argv, optstring, longopts,
	    NULL)) != -1) {
		if ((f = flag_find(ch)) == NULL || f->key == NULL)
			continue;
		if (flag_apply(f, cfg, optarg, err, errlen) == -1)
			return CONFIG_ERROR;
	}
	getopt_reset();
	return CONFIG_OK;
}

/*
 * getopt_long()'s optstring and longopts from flags[]: "+" stops at the
 * first operand (no reordering of argv), ":" reports a missing value
 * apart from an unknown option.
 */
static void
flags_getopt(char *optstring, size_t size, struct option *longopts)
{
	size_t	 i, len = 0;

	optstring[len++] = '+';
	optstring[len++] = ':';
	for (i = 0; i < FLAG_COUNT && len + 3 <= size; i++) {
		optstring[len++] = flags[i].short_name;
		if (flags[i].arg != NULL)
			optstring[len++] = ':';
		longopts[i].name = flags[i].long_name;
		longopts[i].has_arg = flags[i].arg != NULL ? required_argument :
		    no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = flags[i].short_name;
	}
	optstring[len] = '\0';
	memset(&longopts[FLAG_COUNT], 0, sizeof(longopts[FLAG_COUNT]));
}

/* Makes getopt start afresh, so that argv can be parsed more than once. */
static void
getopt_reset(void)
{
	opterr = 0;
#ifdef __GLIBC__
	optind = 0;	/* glibc: reinitialise completely */
#else
	optind = 1;
#endif
#if defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__APPLE__)
	optreset = 1;
#endif
}

static const struct flag *
flag_find(int short_name)
{
	size_t	 i;

	for (i = 0; i < FLAG_COUNT; i++)
		if (flags[i].short_name == short_name)
			return &flags[i];
	return NULL;
}

/*
 * The one line for getopt's '?': an option that does not exist, or a long
 * option that takes no value given one ("--help=yes").
 */
static void
flag_bad_option(char **argv, char *err, size_t errlen)
{
	const struct flag	*f;
	const char		*arg;
	char			 q[CONFIG_QUOTE_MAX + 8];
	size_t			 i, len, matches;

	if (optopt != 0 && (f = flag_find(optopt)) != NULL) {
		snprintf(err, errlen, "--%s takes no value (try --help)",
		    f->long_name);
		return;
	}
	if (optopt != 0) {
		q[0] = (char)optopt;
		q[1] = '\0';
		snprintf(err, errlen, "unknown option '-%s' (try --help)",
		    quote(q, q, sizeof(q)));
		return;
	}
	/* A long option: getopt has stepped past it. */
	arg = optind > 0 ? argv[optind - 1] : "?";
	len = strcspn(arg, "=");
	if (len > CONFIG_QUOTE_MAX)
		len = CONFIG_QUOTE_MAX;
	memcpy(q, arg, len);
	q[len] = '\0';
	for (i = 0, matches = 0; i < FLAG_COUNT; i++)
		if (len > 2 && strncmp(arg, "--", 2) == 0 &&
		    strncmp(flags[i].long_name, arg + 2, len - 2) == 0)
			matches++;
	if (matches > 1)
		snprintf(err, errlen, "option '%s' is ambiguous (try --help)",
		    quote(q, q, sizeof(q)));
	else
		snprintf(err, errlen, "unknown option '%s' (try --help)",
		    quote(q, q, sizeof(q)));
}

/* Sets the ini key behind flag f to value; err: "--port: expected ...". */
static int
flag_apply(const struct flag *f, struct config *cfg, const char *value,
    char *err, size_t errlen)
{
	const struct key	*k = key_find(f->section, f->key);
	char			 why[256], q[CONFIG_QUOTE_MAX + 8];

	if (k == NULL)
		return 0;
	if (k->kind == KEY_ADDRESSES && strchr(value, ',') != NULL) {
		snprintf(err, errlen, "--%s: expected one IPv4 or IPv6 "
		    "address, got '%s'", f->long_name,
		    quote(value, q, sizeof(q)));
		return -1;
	}
	if (key_set(k, cfg, value, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "--%s: %s", f->long_name, why);
		return -1;
	}
	return 0;
}

/* --help: every flag, what it does and its default. */
static void
usage(FILE *out, const char *progname)
{
	struct config		 def;
	const struct flag	*f;
	const struct key	*k;
	char			 left[40], value[CONFIG_PATH_MAX];
	size_t			 i;

	config_defaults(&def);
	fprintf(out, "usage: %s [-hV] [-c file] [-i address] [-m count] "
	    "[-p port]\n", progname);
	fprintf(out, "       %*s [-r seconds] [-t seconds] [-v level]\n\n",
	    (int)strlen(progname), "");
	for (i = 0; i < FLAG_COUNT; i++) {
		f = &flags[i];
		snprintf(left, sizeof(left), "-%c, --%s%s%s", f->short_name,
		    f->long_name, f->arg != NULL ? " " : "",
		    f->arg != NULL ? f->arg : "");
		fprintf(out, "  %-24s %s\n", left, f->help);
		if (f->key != NULL && (k = key_find(f->section, f->key)) != NULL) {
			key_format(k, &def, value, sizeof(value));
			fprintf(out, "  %-24s (default: %s; [%s] %s in the file)\n",
			    "", value, k->section, k->name);
		}
	}
	fprintf(out, "\nSettings come from the built-in defaults, then the "
	    "file given with -c,\nthen the other flags. Every key of the file "
	    "is described in mqttd.ini.\n");
	fflush(out);
}
