/*
 * test_storage_failures.c: what mqttd does when its database cannot take
 * a commit or cannot be opened (DESIGN.md, durability contract point 7).
 *
 *   - A full file system (a small tmpfs filled to the last page) and a
 *     file system that turns read-only under the running broker (ext4 on
 *     a loop device mounted errors=remount-ro, its error trigger pulled):
 *     the publisher gets no acknowledgement for what could not be
 *     committed and is disconnected (MQTT 3.1.1 has no negative PUBACK),
 *     the broker stays up and serves what needs no disk, and what was
 *     committed before is all there after a restart. Both need root and
 *     mount(8); without them they are skipped with the reason.
 *   - A second mqttd on the same database, a file that is not a database,
 *     a database whose pages are damaged and one with a newer schema
 *     version: start-up stops with one error line and a non-zero exit,
 *     and the file is left as it was.
 *
 * sync = full in the failure tests: a device that turns read-only loses
 * what was not flushed, as a power cut would; normal elsewhere.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define BIG		(256 * 1024)	/* more than a full disk has room for */

/* What a test mounted, for the teardown to undo after a failure. */
struct mounted {
	struct harness_broker	 b;
	char			 mnt[PATH_MAX];	/* mount point, "" if none */
	char			 img[PATH_MAX];	/* ext4 image, "" if none */
};

static struct mounted	 M;

/* ===== Helpers ===== */

static int
run(const char *a0, const char *a1, const char *a2, const char *a3,
    const char *a4, const char *a5, const char *a6)
{
	const char *argv[] = { a0, a1, a2, a3, a4, a5, a6, NULL };

	return harness_run_cmd(argv, false);
}

/* dst = dir + name, or the test fails. */
static void
path_join(char *dst, size_t len, const char *dir, const char *name)
{
	int n = snprintf(dst, len, "%s%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		fail_msg("path too long: %s%s", dir, name);
}

static void
skip_because(const char *why)
{
	print_message("[  SKIP    ] %s\n", why);
	skip();
}

static void
unmount_all(void)
{
	if (M.b.pid > 0)
		harness_broker_kill(&M.b, SIGKILL);
	if (M.mnt[0] != '\0' && run("umount", M.mnt, NULL, NULL, NULL, NULL,
	    NULL) != 0)
		run("umount", "-l", M.mnt, NULL, NULL, NULL, NULL);
	M.mnt[0] = '\0';
}

static int
teardown_mounted(void **state)
{
	(void)state;
	unmount_all();
	if (M.b.dir[0] != '\0')
		harness_broker_cleanup(&M.b);
	memset(&M, 0, sizeof(M));
	return 0;
}

/*
 * Prepares M.b with its database in <dir>/fs, sync = full, not started:
 * the caller mounts something on M.mnt, then starts it.
 */
static void
prepare_mounted(void)
{
	struct harness_opts o = { 0 };

	harness_mqttd_only("storage failures are mqttd's");
	if (geteuid() != 0)
		skip_because("not root: cannot mount a file system to fill");
	o.sync = "full";
	o.db_subdir = "fs";
	o.no_launch = true;
	if (harness_broker_start_opts(&M.b, &o) != 0)
		fail_msg("cannot prepare the broker's directory");
	path_join(M.mnt, sizeof(M.mnt), M.b.dir, "/fs");
}

static char *
big_payload(const char *tag)
{
	char *p = malloc(BIG + 1);

	if (p == NULL)
		fail_msg("out of memory");
	memset(p, 'x', BIG);
	p[BIG] = '\0';
	memcpy(p, tag, strlen(tag));
	return p;
}

/* Writes a file in dir until the file system is full; returns its path. */
static void
fill_up(const char *dir, char *path, size_t len)
{
	static char chunk[65536];
	size_t sizes[] = { sizeof(chunk), 4096, 512, 1 };
	size_t i;
	ssize_t n;
	int fd;

	path_join(path, len, dir, "/filler");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	memset(chunk, 'f', sizeof(chunk));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		while ((n = write(fd, chunk, sizes[i])) > 0)
			;
	if (errno != ENOSPC)
		fail_msg("%s: expected ENOSPC, got %s", path, strerror(errno));
	close(fd);
}

/*
 * The state every failure test sets up while the disk is fine: a
 * persistent subscriber (offline), two messages queued for it, one
 * retained message. All of it acknowledged, so all of it committed.
 */
static void
commit_some(struct harness_broker *b)
{
	struct tclient *c;

	c = tclient_new_sp(b, "sf-sub", false, 0);
	tclient_sub(c, "sf/#", 2, 2);
	tclient_bye(c);
	c = tclient_new_sp(b, "sf-early", false, 0);
	tclient_pub(c, "sf/t", "before-1", 1, false);
	tclient_pub(c, "sf/t", "before-2", 2, false);
	tclient_pub(c, "sf-ret/t", "kept", 1, true);
	tclient_bye(c);
}

/*
 * With the disk refusing: a QoS 1 and a QoS 2 publish from persistent
 * sessions (connected while the disk was fine: a CONNACK to a persistent
 * session needs a commit too) get no PUBACK/PUBREC; the broker closes
 * each connection (contract 7) and keeps serving QoS 0 between clean
 * sessions. Returns the packet ids used, for the resends.
 */
static void
publish_refused(struct harness_broker *b, struct tclient *p1,
    struct tclient *p2, const char *big1, const char *big2, uint16_t *id1,
    uint16_t *id2)
{
	struct tclient *q, *q2;

	*id1 = tclient_next_id(p1);
	assert_int_equal(tclient_publish(p1, "sf/t", big1, BIG, 1, false,
	    false, *id1), 0);
	tclient_expect_closed(p1);
	*id2 = tclient_next_id(p2);
	assert_int_equal(tclient_publish(p2, "sf/t", big2, BIG, 2, false,
	    false, *id2), 0);
	tclient_expect_closed(p2);
	tclient_close(p1);
	tclient_close(p2);
	assert_true(harness_log_contains(b, "its acknowledgements are withheld",
	    HARNESS_TIMEOUT_MS));

	/* Still up, for what needs no disk. */
	q = tclient_new_sp(b, "sf-q0-sub", true, 0);
	tclient_sub(q, "sf-q0/t", 0, 0);
	q2 = tclient_new_sp(b, "sf-q0-pub", true, 0);
	tclient_pub(q2, "sf-q0/t", "still here", 0, false);
	tclient_expect_publish(q, "sf-q0/t", "still here", 0, 0, 0, NULL);
	tclient_pub(q2, "sf-q0/t", "clean qos 1", 1, false);
	tclient_expect_publish(q, "sf-q0/t", "clean qos 1", 0, 0, 0, NULL);
	tclient_bye(q2);
	tclient_bye(q);
}

/*
 * The publishers come back and resend what they never had acknowledged
 * [MQTT-4.4.0-1]: PUBLISH with DUP 1 and the same ids, both flows to the
 * end. Their sessions were committed before the failure: present 1.
 */
static void
resend_refused(struct harness_broker *b, const char *big1, const char *big2,
    uint16_t id1, uint16_t id2)
{
	struct tclient *p1, *p2;

	p2 = tclient_new_sp(b, "sf-pub2", false, 1);
	assert_int_equal(tclient_publish(p2, "sf/t", big2, BIG, 2, false,
	    true, id2), 0);
	tclient_expect_ack(p2, MQTT_PUBREC, id2);
	assert_int_equal(tclient_pubrel(p2, id2), 0);
	tclient_expect_ack(p2, MQTT_PUBCOMP, id2);
	tclient_bye(p2);
	p1 = tclient_new_sp(b, "sf-pub1", false, 1);
	assert_int_equal(tclient_publish(p1, "sf/t", big1, BIG, 1, false,
	    true, id1), 0);
	tclient_expect_ack(p1, MQTT_PUBACK, id1);
	tclient_bye(p1);
}

/*
 * After a restart: the subscriber's session and everything acknowledged
 * to anyone is there. before-1 and before-2 in order, then the two big
 * messages in either order (their first tries failed, their resends were
 * acknowledged): QoS 2 exactly once, QoS 1 at least once. The retained
 * message is kept.
 */
static void
check_after_restart(struct harness_broker *b)
{
	struct tclient *c;
	struct tpublish pb;
	struct tpacket p;
	char desc[256];
	int big1 = 0, big2 = 0, before = 0;
	uint16_t id;

	c = tclient_new_sp(b, "sf-sub", false, 1);
	for (;;) {
		enum tread r = tclient_read_packet(c, &p, HARNESS_QUIET_MS * 3);

		if (r == TREAD_TIMEOUT)
			break;
		if (r != TREAD_OK)
			fail_msg("sf-sub: connection lost");
		tpacket_describe(&p, desc, sizeof(desc));
		if (p.type == MQTT_PUBREL && tpacket_ack_id(&p) > 0) {
			assert_int_equal(tclient_pubcomp(c,
			    (uint16_t)tpacket_ack_id(&p)), 0);
			tpacket_free(&p);
			continue;
		}
		if (tpacket_publish(&p, &pb) == -1 || pb.retain) {
			tpacket_free(&p);
			fail_msg("sf-sub: unexpected %s", desc);
		}
		if (before == 0 && pb.payload_len == 8 &&
		    memcmp(pb.payload, "before-1", 8) == 0 && pb.qos == 1)
			before++;
		else if (before == 1 && pb.payload_len == 8 &&
		    memcmp(pb.payload, "before-2", 8) == 0 && pb.qos == 2)
			before++;
		else if (before == 2 && pb.payload_len == BIG &&
		    memcmp(pb.payload, "big1", 4) == 0 && pb.qos == 1)
			big1++;
		else if (before == 2 && pb.payload_len == BIG &&
		    memcmp(pb.payload, "big2", 4) == 0 && pb.qos == 2)
			big2++;
		else {
			tpacket_free(&p);
			fail_msg("sf-sub: expected %s, got %s", before < 2 ?
			    "before-1 then before-2 first" : "big1 or big2",
			    desc);
		}
		if (pb.qos == 1)
			assert_int_equal(tclient_puback(c, pb.id), 0);
		else
			assert_int_equal(tclient_pubrec(c, pb.id), 0);
		tpacket_free(&p);
	}
	if (before != 2)
		fail_msg("sf-sub: the messages acknowledged before the failure "
		    "did not all arrive (%d of 2)", before);
	if (big1 < 1)
		fail_msg("sf-sub: the QoS 1 message PUBACKed on its resend "
		    "never arrived");
	if (big2 != 1)
		fail_msg("sf-sub: the QoS 2 message PUBRECed and PUBCOMPed on "
		    "its resend arrived %d times, expected exactly once "
		    "[MQTT-4.3.3-2] (DESIGN contracts 2 and 7)", big2);
	tclient_bye(c);

	c = tclient_new_sp(b, "sf-ret", true, 0);
	tclient_sub(c, "sf-ret/t", 1, 1);
	tclient_expect_publish(c, "sf-ret/t", "kept", 1, 1, 0, &id);
	tclient_ack_received(c, 1, id);
	tclient_bye(c);
}

static void
kill9_and_restart(struct harness_broker *b)
{
	int st = harness_broker_kill(b, SIGKILL);

	assert_true(st != -1 && WIFSIGNALED(st));
	assert_int_equal(harness_broker_restart(b), 0);
}

/* ===== A full file system ===== */

/*
 * DESIGN contract 7: with the database's file system full, the QoS 1 and
 * QoS 2 publishes that cannot be committed get no PUBACK/PUBREC and their
 * connections are closed; the broker keeps serving QoS 0. Once space is
 * freed, the publishers' resends (same ids, DUP 1) are acknowledged, and
 * everything acknowledged, before the disk filled or after, is there
 * after a kill -9 and a restart.
 */
static void
test_storage_disk_full_withholds_ack_and_keeps_committed(void **state)
{
	char filler[PATH_MAX], *big1, *big2;
	struct tclient *p1, *p2;
	uint16_t id1, id2;

	(void)state;
	prepare_mounted();
	if (run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", M.mnt) != 0) {
		M.mnt[0] = '\0';
		skip_because("mount -t tmpfs is not permitted here");
	}
	assert_int_equal(harness_broker_restart(&M.b), 0);
	p1 = tclient_new_sp(&M.b, "sf-pub1", false, 0);
	p2 = tclient_new_sp(&M.b, "sf-pub2", false, 0);
	commit_some(&M.b);
	tclient_sync(p1);
	tclient_sync(p2);

	fill_up(M.mnt, filler, sizeof(filler));
	big1 = big_payload("big1");
	big2 = big_payload("big2");
	publish_refused(&M.b, p1, p2, big1, big2, &id1, &id2);

	/* Space again, no restart: the broker must take the resends. */
	assert_int_equal(unlink(filler), 0);
	resend_refused(&M.b, big1, big2, id1, id2);
	kill9_and_restart(&M.b);
	check_after_restart(&M.b);
	free(big1);
	free(big2);
}

/* ===== A file system that turns read-only ===== */

/* The loop device under mount point dir ("loop3"), from /proc/mounts. */
static int
mount_device(const char *dir, char *dev, size_t len)
{
	char line[PATH_MAX * 2], src[PATH_MAX], mnt[PATH_MAX];
	const char *base;
	FILE *f;
	int rv = -1;

	if ((f = fopen("/proc/mounts", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%4095s %4095s", src, mnt) == 2 &&
		    strcmp(mnt, dir) == 0) {
			base = strrchr(src, '/');
			base = base ? base + 1 : src;
			if (strlen(base) < len) {
				memcpy(dev, base, strlen(base) + 1);
				rv = 0;
			}
		}
	fclose(f);
	return rv;
}

/*
 * DESIGN contract 7: the database's file system goes read-only under the
 * running broker (ext4's errors=remount-ro, as after an I/O error).
 * Publishes that need a commit get no acknowledgement and are
 * disconnected; the broker keeps serving QoS 0. After kill -9, a file
 * system check and a read-write mount, what was committed before is all
 * there and the publishers' resends are taken.
 */
static void
test_storage_readonly_fs_withholds_ack_and_keeps_committed(void **state)
{
	char dev[64], trigger[PATH_MAX], *big1, *big2;
	struct tclient *p1, *p2;
	uint16_t id1, id2;
	FILE *f;

	(void)state;
	prepare_mounted();
	path_join(M.img, sizeof(M.img), M.b.dir, "/ext4.img");
	if (run("truncate", "-s", "16M", M.img, NULL, NULL, NULL) != 0 ||
	    run("mkfs.ext4", "-q", M.img, NULL, NULL, NULL, NULL) != 0) {
		M.mnt[0] = '\0';
		skip_because("cannot make an ext4 image (mkfs.ext4)");
	}
	if (run("mount", "-o", "loop,errors=remount-ro", M.img, M.mnt, NULL,
	    NULL) != 0) {
		M.mnt[0] = '\0';
		skip_because("cannot mount an ext4 image on a loop device");
	}
	if (mount_device(M.mnt, dev, sizeof(dev)) == -1)
		skip_because("cannot find the loop device in /proc/mounts");
	if (snprintf(trigger, sizeof(trigger),
	    "/sys/fs/ext4/%s/trigger_fs_error", dev) >= (int)sizeof(trigger))
		fail_msg("device name too long: %s", dev);
	if (access(trigger, W_OK) == -1)
		skip_because("no /sys/fs/ext4/<dev>/trigger_fs_error here");
	assert_int_equal(harness_broker_restart(&M.b), 0);
	p1 = tclient_new_sp(&M.b, "sf-pub1", false, 0);
	p2 = tclient_new_sp(&M.b, "sf-pub2", false, 0);
	commit_some(&M.b);
	tclient_sync(p1);
	tclient_sync(p2);

	/* The file system turns read-only, open files and all. */
	if ((f = fopen(trigger, "w")) == NULL ||
	    fputs("mqttd test: read-only now\n", f) == EOF || fclose(f) == EOF)
		fail_msg("%s: %s", trigger, strerror(errno));
	big1 = big_payload("big1");
	big2 = big_payload("big2");
	publish_refused(&M.b, p1, p2, big1, big2, &id1, &id2);

	/* Repaired: kill, check, mount read-write again, restart. */
	harness_broker_kill(&M.b, SIGKILL);
	assert_int_equal(run("umount", M.mnt, NULL, NULL, NULL, NULL, NULL), 0);
	M.mnt[0] = '\0';
	/* e2fsck: 0 clean, 1 errors corrected. */
	assert_in_range(run("e2fsck", "-fy", M.img, NULL, NULL, NULL, NULL), 0,
	    1);
	path_join(M.mnt, sizeof(M.mnt), M.b.dir, "/fs");
	assert_int_equal(run("mount", "-o", "loop,errors=remount-ro", M.img,
	    M.mnt, NULL, NULL), 0);
	assert_int_equal(harness_broker_restart(&M.b), 0);
	resend_refused(&M.b, big1, big2, id1, id2);
	kill9_and_restart(&M.b);
	check_after_restart(&M.b);
	free(big1);
	free(big2);
}

/* ===== Start-up refusals ===== */

/* True if the len bytes at s contain needle. */
static bool
contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

/*
 * Checks a refused start: a non-zero exit, exactly one error line, and
 * that line contains each of the needles (NULL-terminated).
 */
static void
expect_refused(int status, const char *out, ...)
{
	const char *p, *nl, *needle, *line = NULL;
	size_t line_len = 0;
	int errors = 0;
	va_list ap;

	if (status == -1)
		fail_msg("mqttd started (or hung) instead of refusing:\n%s",
		    out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
		fail_msg("mqttd: expected a non-zero exit, got status 0x%x:\n%s",
		    status, out);
	for (p = out; *p != '\0'; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (strstr(p, ": error: ") != NULL &&
		    (nl == NULL || strstr(p, ": error: ") < nl)) {
			errors++;
			line = p;
			line_len = nl ? (size_t)(nl - p) : strlen(p);
		}
	}
	if (errors != 1)
		fail_msg("mqttd: expected one error line, got %d:\n%s", errors,
		    out);
	va_start(ap, out);
	while ((needle = va_arg(ap, const char *)) != NULL) {
		if (!contains(line, line_len, needle))
			fail_msg("mqttd: the error line does not name '%s': "
			    "%.*s", needle, (int)line_len, line);
	}
	va_end(ap);
	print_message("[   LINE   ] %.*s\n", (int)line_len, line);
}

/* The PLAIN tests' own broker, with [storage] sync = normal. */
static const struct harness_opts synced_opts = { .sync = "normal" };

/*
 * DESIGN contract 7: a second mqttd on the same database stops at
 * start-up with one line that names the file and the running mqttd's pid.
 * The first one is unharmed: its lock still holds (a third try is
 * refused too) and it still commits; after it is killed, its stale lock
 * file does not keep a new mqttd from starting.
 */
static void
test_storage_second_instance_refused(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c;
	char out[8192], pid[32];
	int st;

	harness_mqttd_only("the lock is mqttd's");
	snprintf(pid, sizeof(pid), "%ld", (long)b->pid);
	st = harness_run_mqttd_once(b->conf_path, out, sizeof(out), 10000);
	expect_refused(st, out, b->db_path, pid, (const char *)NULL);
	st = harness_run_mqttd_once(b->conf_path, out, sizeof(out), 10000);
	expect_refused(st, out, b->db_path, pid, (const char *)NULL);

	c = tclient_new_sp(b, "lock-sub", false, 0);
	tclient_sub(c, "lock/t", 1, 1);
	tclient_close(c);
	kill9_and_restart(b);
	c = tclient_new_sp(b, "lock-sub", false, 1);
	tclient_bye(c);
}

/* Runs mqttd on b's configuration (b not running); returns the status. */
static int
start_once(struct harness_broker *b, char *out, size_t len)
{
	return harness_run_mqttd_once(b->conf_path, out, len, 10000);
}

static void
read_file(const char *path, char **buf, size_t *len)
{
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	*len = (size_t)sb.st_size;
	if ((*buf = malloc(*len + 1)) == NULL ||
	    read(fd, *buf, *len) != (ssize_t)*len)
		fail_msg("%s: short read", path);
	close(fd);
}

static void
write_file(const char *path, const void *buf, size_t len, off_t off)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1 ||
	    pwrite(fd, buf, len, off) != (ssize_t)len)
		fail_msg("%s: %s", path, strerror(errno));
	close(fd);
}

/* Fills buf with bytes that no file format starts with. */
static void
garbage(uint8_t *buf, size_t len)
{
	uint32_t x = 0x9e3779b9u;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

/* Fails unless path still holds exactly buf. */
static void
expect_unchanged(const char *path, const char *buf, size_t len)
{
	char *now;
	size_t now_len;

	read_file(path, &now, &now_len);
	if (now_len != len || memcmp(now, buf, len) != 0)
		fail_msg("%s was changed by the refused start-up", path);
	free(now);
}

/*
 * DESIGN contract 7: a file of garbage where the database should be stops
 * the start-up with one line naming the file, and the file is left alone
 * (not replaced by a fresh, empty database).
 */
static void
test_storage_garbage_file_refused(void **state)
{
	struct harness_broker *b = *state;
	uint8_t junk[16384];
	char out[8192], *before;
	size_t len;

	harness_mqttd_only("start-up checks are mqttd's");
	tclient_bye(tclient_new_sp(b, "garbage", true, 0));
	assert_int_equal(harness_broker_stop(b), 0);
	assert_int_equal(unlink(b->db_path), 0);
	garbage(junk, sizeof(junk));
	write_file(b->db_path, junk, sizeof(junk), 0);
	read_file(b->db_path, &before, &len);
	expect_refused(start_once(b, out, sizeof(out)), out, b->db_path,
	    (const char *)NULL);
	expect_unchanged(b->db_path, before, len);
	free(before);
}

/*
 * DESIGN contract 7: a database whose header is intact but whose table
 * pages are damaged stops the start-up with one line naming the file
 * (its sessions cannot be read back), and the file is left alone.
 */
static void
test_storage_damaged_pages_refused(void **state)
{
	struct harness_broker *b = *state;
	struct tclient *c;
	uint8_t junk[65536];
	char out[8192], *before;
	size_t len;
	long long page, pages;

	harness_mqttd_only("start-up checks are mqttd's");
	c = tclient_new_sp(b, "damaged", false, 0);
	tclient_sub(c, "damaged/t", 1, 1);
	tclient_bye(c);
	assert_int_equal(harness_broker_stop(b), 0);	/* checkpointed */
	page = harness_db_query(b->db_path, "PRAGMA page_size");
	pages = harness_db_query(b->db_path, "PRAGMA page_count");
	assert_true(pages > 1 && (size_t)((pages - 1) * page) <= sizeof(junk));
	garbage(junk, sizeof(junk));
	write_file(b->db_path, junk, (size_t)((pages - 1) * page), page);
	read_file(b->db_path, &before, &len);
	expect_refused(start_once(b, out, sizeof(out)), out, b->db_path,
	    (const char *)NULL);
	expect_unchanged(b->db_path, before, len);
	free(before);
}

/*
 * DESIGN contract 7 and "The schema": a database of a newer schema
 * (PRAGMA user_version 99) stops the start-up with one line naming the
 * file and the version; the database is not touched (still version 99,
 * its rows intact).
 */
static void
test_storage_newer_schema_refused(void **state)
{
	struct harness_broker *b = *state;
	struct harness_db *db;
	struct tclient *c;
	char out[8192];

	harness_mqttd_only("start-up checks are mqttd's");
	c = tclient_new_sp(b, "newer", false, 0);
	tclient_sub(c, "newer/t", 1, 1);
	tclient_bye(c);
	assert_int_equal(harness_broker_stop(b), 0);
	db = harness_db_open(b->db_path, true);
	harness_db_exec(db, "PRAGMA user_version = 99");
	harness_db_close(db);
	expect_refused(start_once(b, out, sizeof(out)), out, b->db_path, "99",
	    (const char *)NULL);
	assert_int_equal(harness_db_query(b->db_path, "PRAGMA user_version"),
	    99);
	assert_int_equal(harness_db_query(b->db_path,
	    "SELECT count(*) FROM subscriptions"), 1);
}

#define MOUNTED(f) cmocka_unit_test_teardown(f, teardown_mounted)
#define PLAIN(f) cmocka_unit_test_prestate_setup_teardown(f, \
	    harness_setup_broker_opts, harness_teardown_broker, \
	    (void *)&synced_opts)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		MOUNTED(test_storage_disk_full_withholds_ack_and_keeps_committed),
		MOUNTED(test_storage_readonly_fs_withholds_ack_and_keeps_committed),
		PLAIN(test_storage_second_instance_refused),
		PLAIN(test_storage_garbage_file_refused),
		PLAIN(test_storage_damaged_pages_refused),
		PLAIN(test_storage_newer_schema_refused),
	};

	if (harness_mosquitto()) {
		printf("SKIP: the storage failure tests are mqttd's own\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
