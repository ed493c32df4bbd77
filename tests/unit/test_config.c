/*
 * test_config.c: tests of src/config.c (defaults, mqttd.ini, the command
 * line and their one-line errors) and of src/log.c (levels, the shape of
 * a line). Files are written with mkstemp() under $TMPDIR (or /tmp) and
 * removed; the shipped conf/mqttd.ini is found under $MQTTD_SRCDIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define ERRLEN	512

/* ===== Helpers ===== */

/* Writes text to a new temporary file; its name goes to path. */
static void
temp_write(const char *text, char *path, size_t size)
{
	const char	*dir = getenv("TMPDIR");
	size_t		 len = strlen(text);
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, size, "%s/test_config.XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Reads a whole (small) file into buf. */
static void
file_read(const char *path, char *buf, size_t size)
{
	FILE	*fp;
	size_t	 n;

	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/*
 * Loads text as an ini file over the defaults into cfg. Returns what
 * config_load_file() returned; the file's name goes to path.
 */
static int
load(const char *text, struct config *cfg, char *path, size_t pathlen,
    char *err)
{
	int	 rc;

	config_defaults(cfg);
	temp_write(text, path, pathlen);
	err[0] = '\0';
	rc = config_load_file(cfg, path, err, ERRLEN);
	unlink(path);
	return rc;
}

/*
 * Asserts that text fails to load with exactly the line
 * "<file>:<expected>", and that cfg was left at the defaults.
 */
static void
assert_load_error(const char *text, const char *expected)
{
	struct config	 cfg, def;
	char		 path[256], err[ERRLEN], want[ERRLEN];

	assert_int_equal(load(text, &cfg, path, sizeof(path), err), -1);
	snprintf(want, sizeof(want), "%s:%s", path, expected);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	config_defaults(&def);
	assert_int_equal(cfg.port, def.port);
	assert_int_equal(cfg.max_inflight, def.max_inflight);
	assert_string_equal(cfg.db_path, def.db_path);
}

static void
assert_config_equal(const struct config *a, const struct config *b)
{
	size_t	 i;

	assert_int_equal(a->address_count, b->address_count);
	for (i = 0; i < a->address_count; i++)
		assert_string_equal(a->addresses[i], b->addresses[i]);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->connect_timeout, b->connect_timeout);
	assert_int_equal(a->max_inflight, b->max_inflight);
	assert_int_equal(a->max_queued_messages, b->max_queued_messages);
	assert_int_equal(a->max_queued_bytes, b->max_queued_bytes);
	assert_int_equal(a->queue_qos0, b->queue_qos0);
	assert_int_equal(a->retry_interval, b->retry_interval);
	assert_int_equal(a->max_retries, b->max_retries);
	assert_int_equal(a->max_qos, b->max_qos);
	assert_int_equal(a->will_on_shutdown, b->will_on_shutdown);
	assert_int_equal(a->allow_zero_length_client_id,
	    b->allow_zero_length_client_id);
	assert_int_equal(a->max_packet_size, b->max_packet_size);
	assert_int_equal(a->max_topic_length, b->max_topic_length);
	assert_int_equal(a->max_topic_levels, b->max_topic_levels);
	assert_int_equal(a->max_subscriptions_per_client,
	    b->max_subscriptions_per_client);
	assert_int_equal(a->max_client_id_length, b->max_client_id_length);
	assert_int_equal(a->output_high_water, b->output_high_water);
	assert_string_equal(a->db_path, b->db_path);
	assert_int_equal(a->sync, b->sync);
	assert_int_equal(a->checkpoint_pages, b->checkpoint_pages);
	assert_int_equal(a->max_batch, b->max_batch);
	assert_int_equal(a->max_pending, b->max_pending);
	assert_int_equal(a->log_level, b->log_level);
	assert_string_equal(a->log_file, b->log_file);
}

/* Runs config_from_args over a NULL-terminated list of arguments. */
#define ARGS(...)	((char *[]){ "mqttd", __VA_ARGS__, NULL })

static int
args_count(char **argv)
{
	int	 n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

static enum config_result
from_args(struct config *cfg, char **argv, char *err)
{
	err[0] = '\0';
	return config_from_args(cfg, args_count(argv), argv, err, ERRLEN);
}

/* As from_args, with what went to stdout in out. */
static enum config_result
from_args_stdout(struct config *cfg, char **argv, char *err, char *out,
    size_t outlen)
{
	enum config_result	 rc;
	char			 path[256];
	int			 saved, fd;

	temp_write("", path, sizeof(path));
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved != -1);
	fd = open(path, O_WRONLY);
	assert_true(fd != -1);
	assert_true(dup2(fd, STDOUT_FILENO) != -1);
	close(fd);
	rc = from_args(cfg, argv, err);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) != -1);
	close(saved);
	file_read(path, out, outlen);
	unlink(path);
	return rc;
}

/* An ini file setting every key to something other than its default. */
static const char every_key[] =
	"[listener]\n"
	"address = 0.0.0.0, ::\n"
	"port = 8883\n"
	"max_connections = 50\n"
	"connect_timeout = 30\n"
	"[session]\n"
	"max_inflight = 65535\n"
	"max_queued_messages = 0\n"
	"max_queued_bytes = 2g\n"
	"queue_qos0 = yes\n"
	"retry_interval = 86400\n"
	"max_retries = 7\n"
	"max_qos = 1\n"
	"will_on_shutdown = on\n"
	"allow_zero_length_client_id = off\n"
	"[limits]\n"
	"max_packet_size = 268435460\n"
	"max_topic_length = 1\n"
	"max_topic_levels = 65535\n"
	"max_subscriptions_per_client = 1\n"
	"max_client_id_length = 23\n"
	"output_high_water = 4k\n"
	"[storage]\n"
	"path = \"/var/lib/mqttd/my db.db\"\n"
	"sync = NORMAL\n"
	"checkpoint_pages = 0\n"
	"max_batch = 1\n"
	"max_pending = 100000000\n"
	"[log]\n"
	"level = Trace\n"
	"file = syslog\n";

/* ===== Defaults and good files ===== */

static void
test_defaults_are_the_documented_values(void **state)
{
	struct config	 cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	assert_int_equal(cfg.address_count, 1);
	assert_string_equal(cfg.addresses[0], "127.0.0.1");
	assert_int_equal(cfg.port, 1883);
	assert_int_equal(cfg.max_connections, 10000);
	assert_int_equal(cfg.connect_timeout, 10);
	assert_int_equal(cfg.max_inflight, 20);
	assert_int_equal(cfg.max_queued_messages, 1000);
	assert_int_equal(cfg.max_queued_bytes, 0);
	assert_false(cfg.queue_qos0);
	assert_int_equal(cfg.retry_interval, 20);
	assert_int_equal(cfg.max_retries, 0);
	assert_int_equal(cfg.max_qos, 2);
	assert_false(cfg.will_on_shutdown);
	assert_true(cfg.allow_zero_length_client_id);
	assert_int_equal(cfg.max_packet_size, 1048576);
	assert_int_equal(cfg.max_topic_length, 65535);
	assert_int_equal(cfg.max_topic_levels, 128);
	assert_int_equal(cfg.max_subscriptions_per_client, 1000);
	assert_int_equal(cfg.max_client_id_length, 256);
	assert_int_equal(cfg.output_high_water, 1048576);
	assert_string_equal(cfg.db_path, "mqttd.db");
	assert_int_equal(cfg.sync, STORAGE_SYNC_FULL);
	assert_int_equal(cfg.checkpoint_pages, 1000);
	assert_int_equal(cfg.max_batch, 10000);
	assert_int_equal(cfg.max_pending, 100000);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_string_equal(cfg.log_file, "");
	assert_string_equal(cfg.config_path, "");
}

static void
test_shipped_ini_loads_and_equals_the_defaults(void **state)
{
	struct config	 cfg, def;
	const char	*srcdir = getenv("MQTTD_SRCDIR");
	char		 path[1024], err[ERRLEN];

	(void)state;
	if (srcdir == NULL || *srcdir == '\0')
		srcdir = ".";
	snprintf(path, sizeof(path), "%s/conf/mqttd.ini", srcdir);
	config_defaults(&cfg);
	config_defaults(&def);
	if (config_load_file(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_config_equal(&cfg, &def);
	assert_string_equal(cfg.config_path, path);
}

static void
test_every_key_can_be_set(void **state)
{
	struct config	 cfg;
	char		 path[256], err[ERRLEN];

	(void)state;
	if (load(every_key, &cfg, path, sizeof(path), err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.address_count, 2);
	assert_string_equal(cfg.addresses[0], "0.0.0.0");
	assert_string_equal(cfg.addresses[1], "::");
	assert_int_equal(cfg.port, 8883);
	assert_int_equal(cfg.max_connections, 50);
	assert_int_equal(cfg.connect_timeout, 30);
	assert_int_equal(cfg.max_inflight, 65535);
	assert_int_equal(cfg.max_queued_messages, 0);
	assert_int_equal(cfg.max_queued_bytes, 2ULL * 1024 * 1024 * 1024);
	assert_true(cfg.queue_qos0);
	assert_int_equal(cfg.retry_interval, 86400);
	assert_int_equal(cfg.max_retries, 7);
	assert_int_equal(cfg.max_qos, 1);
	assert_true(cfg.will_on_shutdown);
	assert_false(cfg.allow_zero_length_client_id);
	assert_int_equal(cfg.max_packet_size, 268435460);
	assert_int_equal(cfg.max_topic_length, 1);
	assert_int_equal(cfg.max_topic_levels, 65535);
	assert_int_equal(cfg.max_subscriptions_per_client, 1);
	assert_int_equal(cfg.max_client_id_length, 23);
	assert_int_equal(cfg.output_high_water, 4096);
	assert_string_equal(cfg.db_path, "/var/lib/mqttd/my db.db");
	assert_int_equal(cfg.sync, STORAGE_SYNC_NORMAL);
	assert_int_equal(cfg.checkpoint_pages, 0);
	assert_int_equal(cfg.max_batch, 1);
	assert_int_equal(cfg.max_pending, 100000000);
	assert_int_equal(cfg.log_level, LOG_LEVEL_TRACE);
	assert_string_equal(cfg.log_file, "syslog");
	assert_string_equal(cfg.config_path, path);
}

static void
test_keys_not_in_the_file_keep_their_value(void **state)
{
	struct config	 cfg;
	char		 path[256], err[ERRLEN];

	(void)state;
	assert_int_equal(load("; nothing but a comment\n\n[session]\n"
	    "max_qos = 0\n", &cfg, path, sizeof(path), err), 0);
	assert_int_equal(cfg.max_qos, 0);
	assert_int_equal(cfg.port, 1883);
	assert_int_equal(load("", &cfg, path, sizeof(path), err), 0);
	assert_int_equal(cfg.port, 1883);
}

static void
test_sizes_take_k_m_g_suffixes(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "[limits]\n"
	    "max_packet_size = 2M\noutput_high_water = 16K\n"
	    "[session]\nmax_queued_bytes = 1G\n", "t.ini", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.max_packet_size, 2 * 1024 * 1024);
	assert_int_equal(cfg.output_high_water, 16 * 1024);
	assert_int_equal(cfg.max_queued_bytes, 1024 * 1024 * 1024);
	assert_int_equal(config_load_string(&cfg, "[limits]\n"
	    "max_packet_size = 16\n", "t.ini", err, sizeof(err)), 0);
	assert_int_equal(cfg.max_packet_size, 16);
}

static void
test_booleans_take_every_spelling(void **state)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE" };
	static const char *const no[] = { "false", "no", "off", "0", "Off" };
	struct config	 cfg;
	char		 text[128], err[ERRLEN];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		config_defaults(&cfg);
		snprintf(text, sizeof(text), "[session]\nqueue_qos0 = %s\n",
		    yes[i]);
		assert_int_equal(config_load_string(&cfg, text, "t.ini", err,
		    sizeof(err)), 0);
		assert_true(cfg.queue_qos0);
		snprintf(text, sizeof(text), "[session]\n"
		    "allow_zero_length_client_id = %s\n", no[i]);
		assert_int_equal(config_load_string(&cfg, text, "t.ini", err,
		    sizeof(err)), 0);
		assert_false(cfg.allow_zero_length_client_id);
	}
}

static void
test_address_list_keeps_order_and_trims_spaces(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "[listener]\n"
	    "address = 10.0.0.1 ,::1,  fe80::2,1.2.3.4,5.6.7.8,9.9.9.9,"
	    "2001:db8::1,192.168.1.1\n", "t.ini", err, sizeof(err)), 0);
	assert_int_equal(cfg.address_count, 8);
	assert_string_equal(cfg.addresses[0], "10.0.0.1");
	assert_string_equal(cfg.addresses[1], "::1");
	assert_string_equal(cfg.addresses[2], "fe80::2");
	assert_string_equal(cfg.addresses[7], "192.168.1.1");
}

static void
test_inline_comments_bom_and_crlf_are_accepted(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	if (config_load_string(&cfg, "\xef\xbb\xbf[listener]\r\n"
	    "port = 1884 ; the test port\r\n# a comment\r\n"
	    "[log]  ; comment\r\n  level = debug\r\n", "t.ini", err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.port, 1884);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

static void
test_load_string_names_the_given_file(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "[listener]\nport = 65536\n",
	    "conf/mqttd.ini", err, sizeof(err)), -1);
	assert_string_equal(err, "conf/mqttd.ini:2: [listener] port: "
	    "expected a number from 0 to 65535, got '65536'");
	assert_int_equal(cfg.port, 1883);
}

/* ===== Bad files: one line naming file, line and key ===== */

static void
test_unknown_section_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\nport = 1\n[foo]\nbar = 1\n",
	    "3: unknown section [foo]");
	/* Even with no keys under it. */
	assert_load_error("[listener]\n\n[foo]\n",
	    "3: unknown section [foo]");
	assert_load_error("[Listener]\nport = 1\n",
	    "1: unknown section [Listener]");
}

static void
test_unknown_key_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\naddress = ::1\n\n; x\nprot = 1883\n",
	    "5: [listener] unknown key 'prot'");
	assert_load_error("[session]\nport = 1883\n",
	    "2: [session] unknown key 'port' (it belongs in [listener])");
}

static void
test_key_outside_any_section_is_an_error(void **state)
{
	(void)state;
	assert_load_error("port = 1883\n[listener]\n",
	    "1: key 'port' is outside any section (it belongs in [listener])");
	assert_load_error("; c\nnope = 1\n",
	    "2: key 'nope' is outside any section");
}

static void
test_bad_number_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[session]\nmax_inflight = abc\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got 'abc'");
	assert_load_error("[session]\nmax_inflight = 12abc\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got '12abc'");
	assert_load_error("[session]\nmax_inflight = -1\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got '-1'");
	assert_load_error("[session]\nmax_inflight = +5\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got '+5'");
	assert_load_error("[session]\nmax_inflight =\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got ''");
	assert_load_error("[session]\nmax_inflight = 0x10\n",
	    "2: [session] max_inflight: expected a number from 1 to 65535, "
	    "got '0x10'");
	assert_load_error("[session]\nmax_retries = 99999999999999999999999\n",
	    "2: [session] max_retries: expected a number from 0 to 1000000, "
	    "got '99999999999999999999999'");
	/* A size suffix is for sizes only. */
	assert_load_error("[listener]\nmax_connections = 1k\n",
	    "2: [listener] max_connections: expected a number from 1 to "
	    "1000000, got '1k'");
}

static void
test_number_out_of_range_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\nport = 65536\n",
	    "2: [listener] port: expected a number from 0 to 65535, "
	    "got '65536'");
	assert_load_error("[listener]\nport = 65536\n",
	    "2: [listener] port: expected a number from 0 to 65535, got '65536'");
	assert_load_error("[session]\nmax_qos = 3\n",
	    "2: [session] max_qos: expected a number from 0 to 2, got '3'");
	assert_load_error("[limits]\nmax_client_id_length = 22\n",
	    "2: [limits] max_client_id_length: expected a number from 23 to "
	    "65535, got '22'");
	assert_load_error("[listener]\nconnect_timeout = 3601\n",
	    "2: [listener] connect_timeout: expected a number from 1 to 3600, "
	    "got '3601'");
}

static void
test_bad_bool_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[session]\nqueue_qos0 = maybe\n",
	    "2: [session] queue_qos0: expected true, false, yes, no, on, "
	    "off, 1 or 0, got 'maybe'");
	assert_load_error("[session]\nwill_on_shutdown = 2\n",
	    "2: [session] will_on_shutdown: expected true, false, yes, no, "
	    "on, off, 1 or 0, got '2'");
}

static void
test_bad_size_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[limits]\nmax_packet_size = 1x\n",
	    "2: [limits] max_packet_size: expected a size from 16 to "
	    "268435460 bytes (a number, optionally followed by k, m or g), "
	    "got '1x'");
	assert_load_error("[limits]\nmax_packet_size = 1kb\n",
	    "2: [limits] max_packet_size: expected a size from 16 to "
	    "268435460 bytes (a number, optionally followed by k, m or g), "
	    "got '1kb'");
	assert_load_error("[limits]\nmax_packet_size = 1 m\n",
	    "2: [limits] max_packet_size: expected a size from 16 to "
	    "268435460 bytes (a number, optionally followed by k, m or g), "
	    "got '1 m'");
	assert_load_error("[limits]\nmax_packet_size = 1g\n",
	    "2: [limits] max_packet_size: expected a size from 16 to "
	    "268435460 bytes (a number, optionally followed by k, m or g), "
	    "got '1g'");
	assert_load_error("[limits]\noutput_high_water = 4095\n",
	    "2: [limits] output_high_water: expected a size of at least 4096 "
	    "bytes (a number, optionally followed by k, m or g), got '4095'");
}

static void
test_size_overflow_is_an_error(void **state)
{
	(void)state;
	/* 2^64 / 2^30 = 2^34 = 17179869184 gigabytes overflow. */
	assert_load_error("[session]\nmax_queued_bytes = 17179869184g\n",
	    "2: [session] max_queued_bytes: expected a size in bytes (a "
	    "number, optionally followed by k, m or g), got '17179869184g'");
	assert_load_error("[session]\nmax_queued_bytes = "
	    "18446744073709551616\n",
	    "2: [session] max_queued_bytes: expected a size in bytes (a "
	    "number, optionally followed by k, m or g), "
	    "got '18446744073709551616'");
}

static void
test_size_at_the_uint64_limit_is_accepted(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "[session]\n"
	    "max_queued_bytes = 17179869183g\n", "t.ini", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.max_queued_bytes, 17179869183ULL << 30);
	assert_int_equal(config_load_string(&cfg, "[session]\n"
	    "max_queued_bytes = 18446744073709551615\n", "t.ini", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.max_queued_bytes, UINT64_MAX);
}

static void
test_bad_address_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\naddress = localhost\n",
	    "2: [listener] address: expected an IPv4 or IPv6 address, "
	    "got 'localhost'");
	assert_load_error("[listener]\naddress = 127.0.0.1,,::1\n",
	    "2: [listener] address: expected an IPv4 or IPv6 address, got ''");
	assert_load_error("[listener]\naddress = 127.0.0.1,\n",
	    "2: [listener] address: expected an IPv4 or IPv6 address, got ''");
	assert_load_error("[listener]\naddress = 256.0.0.1\n",
	    "2: [listener] address: expected an IPv4 or IPv6 address, "
	    "got '256.0.0.1'");
	assert_load_error("[listener]\naddress =\n",
	    "2: [listener] address: expected an IPv4 or IPv6 address, got ''");
	assert_load_error("[listener]\naddress = ::1, 0::1\n",
	    "2: [listener] address: address '0::1' is listed twice");
	assert_load_error("[listener]\naddress = 1.0.0.1,1.0.0.2,1.0.0.3,"
	    "1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8,1.0.0.9\n",
	    "2: [listener] address: expected at most 8 addresses, got more");
}

static void
test_bad_sync_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[storage]\nsync = always\n",
	    "2: [storage] sync: expected full, normal or off, got 'always'");
}

static void
test_bad_log_level_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[log]\nlevel = verbose\n",
	    "2: [log] level: expected off, error, warn, info, debug or trace, "
	    "got 'verbose'");
}

static void
test_empty_storage_path_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[storage]\npath =\n",
	    "2: [storage] path: expected a path, got nothing");
	assert_load_error("[storage]\npath = \"\"\n",
	    "2: [storage] path: expected a path, got nothing");
}

static void
test_key_set_twice_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\nport = 1\n[session]\n[listener]\n"
	    "port = 2\n", "5: [listener] port: already set on line 2");
}

static void
test_line_that_is_not_ini_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[listener]\nport 1883\n",
	    "2: expected '[section]' or 'key = value', got 'port 1883'");
	assert_load_error("[listener\nport = 1883\n",
	    "1: expected '[section]' or 'key = value', got '[listener'");
	assert_load_error("[listener] port = 1883\n",
	    "1: expected nothing after the section header, got 'port = 1883'");
	/* The first error is the one reported, whichever kind it is. */
	assert_load_error("[listener]\n  junk here\nport = 0\n",
	    "2: expected '[section]' or 'key = value', got 'junk here'");
	assert_load_error("[listener]\nport = 65536\njunk here\n",
	    "2: [listener] port: expected a number from 0 to 65535, got '65536'");
}

static void
test_indented_continuation_line_is_an_error(void **state)
{
	(void)state;
	assert_load_error("[storage]\npath = a.db\n    b.db\n",
	    "3: [storage] path: an indented line continues the value above, "
	    "which is not allowed (unindent it)");
	/* inih reads an indented section header under a key the same way. */
	assert_load_error("[storage]\npath = a.db\n  [log]\n",
	    "3: [storage] path: an indented line continues the value above, "
	    "which is not allowed (unindent it)");
	assert_load_error("[storage]\npath = a.db\n\tsync = off\n",
	    "3: [storage] path: an indented line continues the value above, "
	    "which is not allowed (unindent it)");
}

static void
test_indented_key_after_section_is_accepted(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	if (config_load_string(&cfg, "[listener]\n\tport = 1999\n", "t.ini",
	    err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.port, 1999);
}

static void
test_line_too_long_is_an_error(void **state)
{
	char	 text[512];

	(void)state;
	snprintf(text, sizeof(text), "[storage]\npath = %0300d\n", 0);
	assert_load_error(text, "2: line too long (at most 198 characters)");
}

static void
test_missing_file_is_an_error(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, "conf/does-not-exist.ini",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "cannot open conf/does-not-exist.ini: "
	    "No such file or directory");
	assert_string_equal(cfg.config_path, "");
}

static void
test_directory_as_file_is_an_error(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, "/", err, sizeof(err)), -1);
	assert_string_equal(err, "cannot read /: Is a directory");
}

static void
test_control_characters_in_values_stay_one_line(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load_string(&cfg, "[listener]\nport = 1\r2\n",
	    "t.ini", err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:2: [listener] port: expected a number "
	    "from 0 to 65535, got '1?2'");
}

/* ===== The command line ===== */

static void
test_no_flags_give_the_defaults_and_read_no_file(void **state)
{
	struct config	 cfg, def;
	char		 err[ERRLEN];
	char		*argv[] = { "mqttd", NULL };

	(void)state;
	assert_int_equal(from_args(&cfg, argv, err), CONFIG_OK);
	config_defaults(&def);
	assert_config_equal(&cfg, &def);
	assert_string_equal(cfg.config_path, "");
}

static void
test_config_flag_loads_the_file(void **state)
{
	struct config	 cfg;
	char		 path[256], err[ERRLEN];

	(void)state;
	temp_write(every_key, path, sizeof(path));
	assert_int_equal(from_args(&cfg, ARGS("-c", path), err), CONFIG_OK);
	assert_int_equal(cfg.port, 8883);
	assert_string_equal(cfg.config_path, path);
	assert_int_equal(from_args(&cfg, ARGS("--config", path), err),
	    CONFIG_OK);
	assert_int_equal(cfg.max_qos, 1);
	unlink(path);
}

static void
test_config_flag_with_bad_file_is_an_error(void **state)
{
	struct config	 cfg;
	char		 path[256], err[ERRLEN], want[ERRLEN];

	(void)state;
	temp_write("[listener]\nport = x\n", path, sizeof(path));
	assert_int_equal(from_args(&cfg, ARGS("-p", "1", "-c", path), err),
	    CONFIG_ERROR);
	snprintf(want, sizeof(want), "%s:2: [listener] port: expected a "
	    "number from 0 to 65535, got 'x'", path);
	assert_string_equal(err, want);
	unlink(path);
	assert_int_equal(from_args(&cfg, ARGS("-c", "/nonexistent/m.ini"),
	    err), CONFIG_ERROR);
	assert_string_equal(err, "cannot open /nonexistent/m.ini: "
	    "No such file or directory");
}

static void
test_flags_override_the_file(void **state)
{
	struct config	 cfg;
	char		 path[256], err[ERRLEN];

	(void)state;
	temp_write(every_key, path, sizeof(path));

	/* Flags before and after -c: the file is read first either way. */
	assert_int_equal(from_args(&cfg, ARGS("-p", "1234", "-c", path,
	    "-i", "::1", "-m", "3", "-r", "5", "-t", "6", "-v", "warn"), err),
	    CONFIG_OK);
	assert_int_equal(cfg.port, 1234);
	assert_int_equal(cfg.address_count, 1);
	assert_string_equal(cfg.addresses[0], "::1");
	assert_int_equal(cfg.max_retries, 3);
	assert_int_equal(cfg.retry_interval, 5);
	assert_int_equal(cfg.connect_timeout, 6);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
	/* What no flag touches comes from the file. */
	assert_int_equal(cfg.max_connections, 50);
	assert_string_equal(cfg.log_file, "syslog");

	/* Long options may be shortened while they stay unambiguous. */
	assert_int_equal(from_args(&cfg, ARGS("--config", path, "--po",
	    "4321", "--ip=10.1.2.3", "--max_retries", "0", "--retry=60",
	    "--timeout", "1", "--verbosity=off"), err), CONFIG_OK);
	assert_int_equal(cfg.port, 4321);
	assert_int_equal(cfg.address_count, 1);
	assert_string_equal(cfg.addresses[0], "10.1.2.3");
	assert_int_equal(cfg.max_retries, 0);
	assert_int_equal(cfg.retry_interval, 60);
	assert_int_equal(cfg.connect_timeout, 1);
	assert_int_equal(cfg.log_level, LOG_LEVEL_OFF);
	unlink(path);
}

static void
test_later_flag_wins(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	assert_int_equal(from_args(&cfg, ARGS("-p1", "-p", "2", "-vdebug",
	    "-v", "error"), err), CONFIG_OK);
	assert_int_equal(cfg.port, 2);
	assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
}

static void
test_help_prints_every_flag_and_exits(void **state)
{
	static const char *const want[] = { "--port", "--ip", "--max_retries",
	    "--retry", "--timeout", "--verbosity", "--config", "--help",
	    "--version", "-p,", "-i,", "-m,", "-r,", "-t,", "-v,", "-c,",
	    "-h,", "-V,", "default: 1883", "default: 127.0.0.1",
	    "default: 20", "default: 10", "default: info" };
	struct config	 cfg;
	char		 err[ERRLEN], out[8192];
	size_t		 i;

	(void)state;
	assert_int_equal(from_args_stdout(&cfg, ARGS("--help"), err, out,
	    sizeof(out)), CONFIG_EXIT);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(out, want[i]) == NULL)
			fail_msg("--help lacks '%s':\n%s", want[i], out);
	assert_int_equal(from_args_stdout(&cfg, ARGS("-p", "1", "-h"), err,
	    out, sizeof(out)), CONFIG_EXIT);
	assert_non_null(strstr(out, "usage: mqttd "));
}

static void
test_version_prints_the_version_and_exits(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN], out[256], want[64];

	(void)state;
	snprintf(want, sizeof(want), "mqttd %s\n", PACKAGE_VERSION);
	assert_int_equal(from_args_stdout(&cfg, ARGS("--version"), err, out,
	    sizeof(out)), CONFIG_EXIT);
	assert_string_equal(out, want);
	assert_int_equal(from_args_stdout(&cfg, ARGS("-V"), err, out,
	    sizeof(out)), CONFIG_EXIT);
	assert_string_equal(out, want);
}

/* Asserts that argv is refused with exactly the line want. */
static void
assert_args_error(char **argv, const char *want)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	assert_int_equal(from_args(&cfg, argv, err), CONFIG_ERROR);
	assert_string_equal(err, want);
}

static void
test_bad_flag_values_are_errors(void **state)
{
	(void)state;
	assert_args_error(ARGS("--port", "x"),
	    "--port: expected a number from 0 to 65535, got 'x'");
	assert_args_error(ARGS("-p", "70000"),
	    "--port: expected a number from 0 to 65535, got '70000'");
	assert_args_error(ARGS("-i", "example.org"),
	    "--ip: expected an IPv4 or IPv6 address, got 'example.org'");
	assert_args_error(ARGS("-i", "::1,127.0.0.1"),
	    "--ip: expected one IPv4 or IPv6 address, got '::1,127.0.0.1'");
	assert_args_error(ARGS("-m", "-1"),
	    "--max_retries: expected a number from 0 to 1000000, got '-1'");
	assert_args_error(ARGS("-r", "0"),
	    "--retry: expected a number from 1 to 86400, got '0'");
	assert_args_error(ARGS("-t", "10s"),
	    "--timeout: expected a number from 1 to 3600, got '10s'");
	assert_args_error(ARGS("-v", "loud"),
	    "--verbosity: expected off, error, warn, info, debug or trace, "
	    "got 'loud'");
	assert_args_error(ARGS("-p", ""),
	    "--port: expected a number from 0 to 65535, got ''");
}

static void
test_unknown_flags_are_errors(void **state)
{
	(void)state;
	assert_args_error(ARGS("--foo"), "unknown option '--foo' (try --help)");
	assert_args_error(ARGS("--foo=bar"),
	    "unknown option '--foo' (try --help)");
	assert_args_error(ARGS("-x"), "unknown option '-x' (try --help)");
	assert_args_error(ARGS("--ver"), "option '--ver' is ambiguous "
	    "(try --help)");
	assert_args_error(ARGS("-p", "1", "-xV"),
	    "unknown option '-x' (try --help)");
	assert_args_error(ARGS("--help=yes"),
	    "--help takes no value (try --help)");
	assert_args_error(ARGS("-p"), "--port: missing value, PORT "
	    "(try --help)");
	assert_args_error(ARGS("--config"), "--config: missing value, FILE "
	    "(try --help)");
	assert_args_error(ARGS("-p", "1", "extra"),
	    "unexpected argument 'extra' (try --help)");
}

static void
test_from_args_can_run_again_after_an_error(void **state)
{
	struct config	 cfg;
	char		 err[ERRLEN];

	(void)state;
	/* An error mid-cluster must not leave getopt inside "-xp". */
	assert_int_equal(from_args(&cfg, ARGS("-xp", "1"), err), CONFIG_ERROR);
	assert_int_equal(from_args(&cfg, ARGS("-p", "77"), err), CONFIG_OK);
	assert_int_equal(cfg.port, 77);
}

static void
test_sync_names(void **state)
{
	(void)state;
	assert_string_equal(config_sync_name(STORAGE_SYNC_FULL), "full");
	assert_string_equal(config_sync_name(STORAGE_SYNC_NORMAL), "normal");
	assert_string_equal(config_sync_name(STORAGE_SYNC_OFF), "off");
}

/* ===== Logging ===== */

static void
test_log_level_parse_knows_every_level(void **state)
{
	static const struct {
		const char	*name;
		enum log_level	 level;
	} levels[] = {
		{ "off", LOG_LEVEL_OFF }, { "error", LOG_LEVEL_ERROR },
		{ "warn", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG }, { "trace", LOG_LEVEL_TRACE },
		{ "WARN", LOG_LEVEL_WARN },
	};
	enum log_level	 level;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		level = LOG_LEVEL_INFO;
		assert_int_equal(log_level_parse(levels[i].name, &level), 0);
		assert_int_equal(level, levels[i].level);
		if (i < 6)
			assert_string_equal(log_level_name(level),
			    levels[i].name);
	}
	level = LOG_LEVEL_DEBUG;
	assert_int_equal(log_level_parse("warning", &level), -1);
	assert_int_equal(log_level_parse("", &level), -1);
	assert_int_equal(level, LOG_LEVEL_DEBUG);
}

static void
test_log_enabled_follows_the_level(void **state)
{
	(void)state;
	assert_int_equal(log_init(LOG_LEVEL_WARN, NULL), 0);
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_OFF));
	log_set_level(LOG_LEVEL_OFF);
	assert_false(log_enabled(LOG_LEVEL_ERROR));
	log_set_level(LOG_LEVEL_TRACE);
	assert_true(log_enabled(LOG_LEVEL_TRACE));
	log_close();
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ mqttd[PID]: " at the start of line. */
static const char *
assert_log_prefix(const char *line)
{
	char	 want[64];
	size_t	 i, len;

	for (i = 0; i < 24; i++) {
		if (i == 4 || i == 7)
			assert_int_equal(line[i], '-');
		else if (i == 10)
			assert_int_equal(line[i], 'T');
		else if (i == 13 || i == 16)
			assert_int_equal(line[i], ':');
		else if (i == 19)
			assert_int_equal(line[i], '.');
		else if (i == 23)
			assert_int_equal(line[i], 'Z');
		else
			assert_true(line[i] >= '0' && line[i] <= '9');
	}
	len = (size_t)snprintf(want, sizeof(want), " mqttd[%ld]: ",
	    (long)getpid());
	assert_memory_equal(line + 24, want, len);
	return line + 24 + len;
}

static void
test_log_lines_are_one_line_each(void **state)
{
	char		 path[256], buf[8192], *line, *next;
	const char	*rest;
	int		 lines = 0;

	(void)state;
	temp_write("", path, sizeof(path));
	assert_int_equal(log_init(LOG_LEVEL_INFO, path), 0);
	log_info("first\nsecond\r\nthird");
	log_debug("not written at level info");
	errno = ENOENT;
	log_warn("cannot open %s", "x.db");
	assert_int_equal(errno, ENOENT);
	log_errorx("tab\tand bell\a");
	log_close();

	file_read(path, buf, sizeof(buf));
	unlink(path);
	for (line = buf; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		rest = assert_log_prefix(line);
		switch (lines++) {
		case 0:
			assert_string_equal(rest, "info: first second  third");
			break;
		case 1:
			assert_string_equal(rest, "warn: cannot open x.db: "
			    "No such file or directory");
			break;
		case 2:
			assert_string_equal(rest, "error: tab\tand bell?");
			break;
		}
	}
	assert_int_equal(lines, 3);
}

static void
test_long_log_line_is_cut_not_split(void **state)
{
	char	 path[256], buf[8192], big[4000], *nl;
	size_t	 len;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	temp_write("", path, sizeof(path));
	assert_int_equal(log_init(LOG_LEVEL_INFO, path), 0);
	errno = EACCES;
	log_warn("%s", big);
	log_close();

	file_read(path, buf, sizeof(buf));
	unlink(path);
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');		/* one line only */
	len = (size_t)(nl - buf) + 1;
	assert_true(len <= 1024);
	*nl = '\0';
	/* The cut is marked and the strerror tail is kept. */
	assert_non_null(strstr(buf, "aaa...: Permission denied"));
	assert_log_prefix(buf);
}

static void
test_log_reopen_follows_a_rotated_file(void **state)
{
	char	 path[256], rotated[300], buf[4096];

	(void)state;
	temp_write("", path, sizeof(path));
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(log_init(LOG_LEVEL_INFO, path), 0);
	log_info("before");
	assert_int_equal(rename(path, rotated), 0);
	log_info("still old");
	assert_int_equal(log_reopen(), 0);
	log_info("after");
	log_close();

	file_read(rotated, buf, sizeof(buf));
	assert_non_null(strstr(buf, "info: before\n"));
	assert_non_null(strstr(buf, "info: still old\n"));
	assert_null(strstr(buf, "after"));
	file_read(path, buf, sizeof(buf));
	assert_non_null(strstr(buf, "info: after\n"));
	assert_null(strstr(buf, "before"));
	unlink(path);
	unlink(rotated);
}

static void
test_log_init_fails_on_unwritable_path(void **state)
{
	(void)state;
	errno = 0;
	assert_int_equal(log_init(LOG_LEVEL_INFO,
	    "/nonexistent/dir/mqttd.log"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(log_reopen(), 0);	/* stderr: nothing to do */
	log_close();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_documented_values),
		cmocka_unit_test(test_shipped_ini_loads_and_equals_the_defaults),
		cmocka_unit_test(test_every_key_can_be_set),
		cmocka_unit_test(test_keys_not_in_the_file_keep_their_value),
		cmocka_unit_test(test_sizes_take_k_m_g_suffixes),
		cmocka_unit_test(test_booleans_take_every_spelling),
		cmocka_unit_test(test_address_list_keeps_order_and_trims_spaces),
		cmocka_unit_test(test_inline_comments_bom_and_crlf_are_accepted),
		cmocka_unit_test(test_load_string_names_the_given_file),
		cmocka_unit_test(test_unknown_section_is_an_error),
		cmocka_unit_test(test_unknown_key_is_an_error),
		cmocka_unit_test(test_key_outside_any_section_is_an_error),
		cmocka_unit_test(test_bad_number_is_an_error),
		cmocka_unit_test(test_number_out_of_range_is_an_error),
		cmocka_unit_test(test_bad_bool_is_an_error),
		cmocka_unit_test(test_bad_size_is_an_error),
		cmocka_unit_test(test_size_overflow_is_an_error),
		cmocka_unit_test(test_size_at_the_uint64_limit_is_accepted),
		cmocka_unit_test(test_bad_address_is_an_error),
		cmocka_unit_test(test_bad_sync_is_an_error),
		cmocka_unit_test(test_bad_log_level_is_an_error),
		cmocka_unit_test(test_empty_storage_path_is_an_error),
		cmocka_unit_test(test_key_set_twice_is_an_error),
		cmocka_unit_test(test_line_that_is_not_ini_is_an_error),
		cmocka_unit_test(test_indented_continuation_line_is_an_error),
		cmocka_unit_test(test_indented_key_after_section_is_accepted),
		cmocka_unit_test(test_line_too_long_is_an_error),
		cmocka_unit_test(test_missing_file_is_an_error),
		cmocka_unit_test(test_directory_as_file_is_an_error),
		cmocka_unit_test(test_control_characters_in_values_stay_one_line),
		cmocka_unit_test(test_no_flags_give_the_defaults_and_read_no_file),
		cmocka_unit_test(test_config_flag_loads_the_file),
		cmocka_unit_test(test_config_flag_with_bad_file_is_an_error),
		cmocka_unit_test(test_flags_override_the_file),
		cmocka_unit_test(test_later_flag_wins),
		cmocka_unit_test(test_help_prints_every_flag_and_exits),
		cmocka_unit_test(test_version_prints_the_version_and_exits),
		cmocka_unit_test(test_bad_flag_values_are_errors),
		cmocka_unit_test(test_unknown_flags_are_errors),
		cmocka_unit_test(test_from_args_can_run_again_after_an_error),
		cmocka_unit_test(test_sync_names),
		cmocka_unit_test(test_log_level_parse_knows_every_level),
		cmocka_unit_test(test_log_enabled_follows_the_level),
		cmocka_unit_test(test_log_lines_are_one_line_each),
		cmocka_unit_test(test_long_log_line_is_cut_not_split),
		cmocka_unit_test(test_log_reopen_follows_a_rotated_file),
		cmocka_unit_test(test_log_init_fails_on_unwritable_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
