/*
 * harness.c: starts and stops the broker under test and speaks raw MQTT
 * 3.1.1 to it (see harness.h).
 *
 * Deliberately independent of src/: the encoder and decoder here are a
 * few dozen lines written from the specification, so that a bug in the
 * broker's codec cannot hide itself by being shared with its tests.
 *
 * The broker's stderr is a pipe that a drain thread empties into
 * <dir>/broker.log and into memory, so the broker never blocks on it and
 * tests can wait for a log line. The readiness contract with mqttd: it
 * logs one line containing "listening on 127.0.0.1:<port>" per listener
 * once it accepts connections. mosquitto is ready when connect() works.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define READY_TIMEOUT_MS	10000
#define EXIT_TIMEOUT_MS		10000
#define LOG_MEMORY_MAX		(64u * 1024 * 1024)
#define MAX_LIVE		64

static pid_t	 live_pids[MAX_LIVE];	/* killed at exit if still running */
static bool	 atexit_done;

/* ===== Small utilities ===== */

long long
harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
kill_live_pids(void)
{
	size_t i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live_pids[i] > 0) {
			kill(live_pids[i], SIGKILL);
			waitpid(live_pids[i], NULL, 0);
			live_pids[i] = 0;
		}
}

static void
live_add(pid_t pid)
{
	size_t i;

	if (!atexit_done) {
		atexit(kill_live_pids);
		signal(SIGPIPE, SIG_IGN);
		atexit_done = true;
	}
	for (i = 0; i < MAX_LIVE; i++)
		if (live_pids[i] == 0) {
			live_pids[i] = pid;
			return;
		}
}

static void
live_remove(pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_LIVE; i++)
		if (live_pids[i] == pid)
			live_pids[i] = 0;
}

bool
harness_mosquitto(void)
{
	const char *v = getenv("MQTTD_TEST_BROKER");

	return v != NULL && strcmp(v, "mosquitto") == 0;
}

void
harness_mqttd_only(const char *why)
{
	if (harness_mosquitto()) {
		print_message("[  SKIP    ] mosquitto: %s\n", why);
		skip();
	}
}

long
harness_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur >= want)
		return (long)rl.rlim_cur;
	if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < want)
		rl.rlim_cur = rl.rlim_max;
	else
		rl.rlim_cur = (rlim_t)want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	return (long)rl.rlim_cur;
}

/* dst = dir/name; returns -1 if it does not fit. */
static int
path_join(char *dst, size_t len, const char *dir, const char *name)
{
	int n = snprintf(dst, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Removes path and everything under it. */
static void
remove_tree(const char *path)
{
	DIR *d;
	struct dirent *de;
	char sub[PATH_MAX];
	struct stat st;

	if ((d = opendir(path)) == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (path_join(sub, sizeof(sub), path, de->d_name) == -1)
			continue;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

/* ===== The drain thread ===== */

static void
log_append(struct harness_broker *b, const char *buf, size_t n)
{
	size_t cap;

	if (b->log_len + n + 1 > LOG_MEMORY_MAX)
		return;
	if (b->log_len + n + 1 > b->log_cap) {
		cap = b->log_cap ? b->log_cap : 65536;
		while (cap < b->log_len + n + 1)
			cap *= 2;
		b->log = realloc(b->log, cap);
		if (b->log == NULL)
			abort();
		b->log_cap = cap;
	}
	memcpy(b->log + b->log_len, buf, n);
	b->log_len += n;
	b->log[b->log_len] = '\0';
}

static void *
drain_main(void *arg)
{
	struct harness_broker *b = arg;
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(b->err_fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* A failed write loses the file copy only; tests search memory. */
		if (b->log_fd != -1 && write(b->log_fd, buf, (size_t)n) == -1)
			b->log_fd = -1;
		pthread_mutex_lock(&b->lock);
		log_append(b, buf, (size_t)n);
		pthread_cond_broadcast(&b->cond);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_lock(&b->lock);
	b->eof = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static void
drain_join(struct harness_broker *b)
{
	if (!b->draining)
		return;
	pthread_join(b->drainer, NULL);
	b->draining = false;
	close(b->err_fd);
	b->err_fd = -1;
}

/* Waits (lock held) until the log from offset from contains needle. */
static const char *
log_wait_locked(struct harness_broker *b, size_t from, const char *needle,
    int timeout_ms, bool stop_at_eof)
{
	struct timespec ts;
	const char *p;
	long long deadline = harness_now_ms() + timeout_ms;
	long long left;

	for (;;) {
		if (b->log != NULL && from <= b->log_len &&
		    (p = strstr(b->log + from, needle)) != NULL)
			return p;
		if (stop_at_eof && b->eof)
			return NULL;
		if ((left = deadline - harness_now_ms()) <= 0)
			return NULL;
		if (left > 50)
			left = 50;	/* re-check eof and the deadline */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)left * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
	}
}

bool
harness_log_contains(struct harness_broker *b, const char *needle,
    int timeout_ms)
{
	const char *p;

	pthread_mutex_lock(&b->lock);
	p = log_wait_locked(b, 0, needle, timeout_ms, false);
	pthread_mutex_unlock(&b->lock);
	return p != NULL;
}

/* How many times the log holds needle (lock held). */
static int
log_count_locked(const struct harness_broker *b, const char *needle)
{
	const char *p = b->log;
	int n = 0;

	while (p != NULL && (p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

int
harness_log_count(struct harness_broker *b, const char *needle, int n,
    int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;
	struct timespec ts;
	int have;

	pthread_mutex_lock(&b->lock);
	while ((have = log_count_locked(b, needle)) < n &&
	    harness_now_ms() < deadline) {
		/* Woken by each read of the drain thread; 50 ms at most. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
	}
	pthread_mutex_unlock(&b->lock);
	return have;
}

/* ===== Configuration ===== */

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
trim(char *s)
{
	char *e, *p = s;

	while (*p == ' ' || *p == '\t')
		p++;
	memmove(s, p, strlen(p) + 1);
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
}

static bool
ini_true(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0 || strcmp(v, "on") == 0;
}

/*
 * Writes the mosquitto equivalent of the harness defaults plus extra_ini.
 * Keys mosquitto has no equivalent for (connect_timeout, retry_interval,
 * max_retries, ...) are left out: the tests that need them skip.
 */
static int
write_mosquitto_conf(struct harness_broker *b, FILE *f)
{
	char line[512], section[64] = "", *eq, *key, *val;
	const char *p, *nl;
	size_t n;

	/* As root, mosquitto would switch to user "mosquitto", which cannot
	 * write its database into our 0700 directory. */
	if (geteuid() == 0)
		fprintf(f, "user root\n");
	fprintf(f, "per_listener_settings false\n");
	fprintf(f, "allow_anonymous true\n");
	fprintf(f, "persistence true\n");
	fprintf(f, "persistence_location %s/\n", b->dir);
	fprintf(f, "log_dest stderr\n");
	fprintf(f, "log_type all\n");
	fprintf(f, "sys_interval 0\n");
	for (p = b->extra_ini; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		trim(line);
		if (line[0] == '[') {
			if (strlen(line) >= sizeof(section))
				line[sizeof(section) - 1] = '\0';
			memcpy(section, line, strlen(line) + 1);
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		key = line;
		val = eq + 1;
		trim(key);
		trim(val);
		if (strcmp(section, "[session]") == 0) {
			if (strcmp(key, "max_inflight") == 0)
				fprintf(f, "max_inflight_messages %s\n", val);
			else if (strcmp(key, "max_queued_messages") == 0)
				fprintf(f, "max_queued_messages %s\n", val);
			else if (strcmp(key, "max_queued_bytes") == 0)
				fprintf(f, "max_queued_bytes %s\n", val);
			else if (strcmp(key, "queue_qos0") == 0)
				fprintf(f, "queue_qos0_messages %s\n",
				    ini_true(val) ? "true" : "false");
			else if (strcmp(key, "max_qos") == 0)
				fprintf(f, "max_qos %s\n", val);
			else if (strcmp(key, "allow_zero_length_client_id") == 0)
				fprintf(f, "allow_zero_length_clientid %s\n",
				    ini_true(val) ? "true" : "false");
		} else if (strcmp(section, "[limits]") == 0) {
			if (strcmp(key, "max_packet_size") == 0)
				fprintf(f, "max_packet_size %s\n", val);
		}
	}
	fprintf(f, "listener %d 127.0.0.1\n", b->port);
	return 0;
}

static int
write_conf(struct harness_broker *b, const char *sync)
{
	FILE *f;

	if ((f = fopen(b->conf_path, "w")) == NULL) {
		print_error("harness: %s: %s\n", b->conf_path, strerror(errno));
		return -1;
	}
	if (b->mosquitto)
		write_mosquitto_conf(b, f);
	else {
		fprintf(f, "[listener]\naddress = 127.0.0.1\nport = 0\n\n");
		fprintf(f, "[storage]\npath = %s\nsync = %s\n\n",
		    b->db_path, sync != NULL ? sync : "off");
		fprintf(f, "[log]\nlevel = debug\n\n");
		if (b->extra_ini != NULL)
			fprintf(f, "%s\n", b->extra_ini);
	}
	if (fclose(f) == EOF)
		return -1;
	return 0;
}

/* ===== Starting and stopping ===== */

/* In the child: sets the soft RLIMIT_NOFILE, which cannot exceed the hard. */
static int
set_soft_nofile(long soft)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	rl.rlim_cur = (rlim_t)soft;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static int
spawn(struct harness_broker *b, char *const argv[])
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) == -1)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		if (b->broker_nofile > 0 &&
		    set_soft_nofile(b->broker_nofile) == -1) {
			fprintf(stderr, "harness: RLIMIT_NOFILE %ld: %s\n",
			    b->broker_nofile, strerror(errno));
			_exit(127);
		}
		execv(argv[0], argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	b->pid = pid;
	live_add(pid);
	b->err_fd = fds[0];
	pthread_mutex_lock(&b->lock);
	b->eof = false;
	b->log_mark = b->log_len;
	pthread_mutex_unlock(&b->lock);
	if (pthread_create(&b->drainer, NULL, drain_main, b) != 0)
		return -1;
	b->draining = true;
	return 0;
}

static int
connect_loopback(int port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits until the broker started by spawn() is ready; fills b->port. */
static int
wait_ready(struct harness_broker *b)
{
	static const char needle[] = "listening on 127.0.0.1:";
	long long deadline = harness_now_ms() + READY_TIMEOUT_MS;
	const char *p;
	int fd;

	if (b->mosquitto) {
		while (harness_now_ms() < deadline) {
			if ((fd = connect_loopback(b->port)) != -1) {
				close(fd);
				return 0;
			}
			if (waitpid(b->pid, &b->status, WNOHANG) == b->pid) {
				live_remove(b->pid);
				b->pid = -1;
				return -1;
			}
			sleep_ms(10);
		}
		return -1;
	}
	pthread_mutex_lock(&b->lock);
	p = log_wait_locked(b, b->log_mark, needle, READY_TIMEOUT_MS, true);
	if (p != NULL)
		b->port = atoi(p + sizeof(needle) - 1);
	pthread_mutex_unlock(&b->lock);
	return p != NULL && b->port > 0 ? 0 : -1;
}

static int
launch(struct harness_broker *b, bool restart)
{
	const char *bin;
	char portbuf[16];
	char *argv[8];
	int i = 0;

	if (b->mosquitto) {
		bin = getenv("MOSQUITTO_BIN");
		if (bin == NULL)
			bin = "/usr/sbin/mosquitto";
	} else if ((bin = getenv("MQTTD_BIN")) == NULL) {
		print_error("harness: MQTTD_BIN is not set\n");
		return -1;
	}
	argv[i++] = (char *)bin;
	argv[i++] = "-c";
	argv[i++] = b->conf_path;
	/* A broker not started yet picks its port (port = 0). */
	if (restart && !b->mosquitto && b->port > 0) {
		snprintf(portbuf, sizeof(portbuf), "%d", b->port);
		argv[i++] = "-p";
		argv[i++] = portbuf;
	}
	argv[i] = NULL;
	if (spawn(b, argv) == -1) {
		print_error("harness: cannot start %s: %s\n", bin,
		    strerror(errno));
		return -1;
	}
	if (wait_ready(b) == -1) {
		print_error("harness: %s did not get ready; its log:\n%s\n",
		    bin, b->log ? b->log + b->log_mark : "");
		if (b->pid > 0)
			harness_broker_kill(b, SIGKILL);
		return -1;
	}
	return 0;
}

static int
raise_nofile_or_fail(const struct harness_opts *o)
{
	long need = o->min_nofile > 0 ? o->min_nofile : o->nofile;
	long n = harness_raise_nofile(o->nofile);

	if (n < need) {
		print_error("harness: RLIMIT_NOFILE is %ld, %ld needed\n", n,
		    need);
		return -1;
	}
	return 0;
}

int
harness_broker_start(struct harness_broker *b, const char *extra_ini)
{
	struct harness_opts o = { 0 };

	o.extra_ini = extra_ini;
	return harness_broker_start_opts(b, &o);
}

int
harness_broker_start_opts(struct harness_broker *b,
    const struct harness_opts *opts)
{
	static const struct harness_opts defaults = { 0 };
	const struct harness_opts *o = opts != NULL ? opts : &defaults;
	const char *tmp = getenv("TMPDIR");
	const char *extra_ini = o->extra_ini;
	char sub[PATH_MAX];

	memset(b, 0, sizeof(*b));
	b->pid = -1;
	b->err_fd = -1;
	b->log_fd = -1;
	b->mosquitto = harness_mosquitto();
	b->broker_nofile = o->broker_nofile;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (o->nofile > 0 && raise_nofile_or_fail(o) == -1)
		return -1;
	if (extra_ini != NULL && (b->extra_ini = strdup(extra_ini)) == NULL)
		return -1;
	snprintf(b->dir, sizeof(b->dir), "%s/mqttd-itest.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(b->dir) == NULL) {
		print_error("harness: mkdtemp %s: %s\n", b->dir,
		    strerror(errno));
		b->dir[0] = '\0';
		return -1;
	}
	if (path_join(b->conf_path, sizeof(b->conf_path), b->dir,
	    b->mosquitto ? "mosquitto.conf" : "mqttd.ini") == -1 ||
	    path_join(b->log_path, sizeof(b->log_path), b->dir,
	    "broker.log") == -1)
		return -1;
	if (o->db_subdir != NULL) {
		if (path_join(sub, sizeof(sub), b->dir, o->db_subdir) == -1 ||
		    path_join(b->db_path, sizeof(b->db_path), sub,
		    "mqttd.db") == -1)
			return -1;
		if (mkdir(sub, 0700) == -1) {
			print_error("harness: mkdir %s: %s\n", sub,
			    strerror(errno));
			return -1;
		}
	} else if (path_join(b->db_path, sizeof(b->db_path), b->dir,
	    "mqttd.db") == -1)
		return -1;
	b->log_fd = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0644);
	if (b->mosquitto && (b->port = free_port()) == -1)
		return -1;
	if (write_conf(b, o->sync) == -1)
		return -1;
	if (o->no_launch)
		return 0;
	return launch(b, false);
}

int
harness_broker_restart(struct harness_broker *b)
{
	if (b->pid > 0)
		harness_broker_kill(b, SIGKILL);
	return launch(b, true);
}

int
harness_broker_kill(struct harness_broker *b, int sig)
{
	long long deadline = harness_now_ms() + EXIT_TIMEOUT_MS;
	long long poke = harness_now_ms() + 200;
	pid_t r;
	int fd;

	if (b->pid <= 0)
		return -1;
	kill(b->pid, sig);
	for (;;) {
		r = waitpid(b->pid, &b->status, WNOHANG);
		if (r == b->pid)
			break;
		/*
		 * mosquitto can miss a signal that lands just before it
		 * blocks in its event loop; a connection wakes it up.
		 */
		if (b->mosquitto && harness_now_ms() >= poke) {
			if ((fd = connect_loopback(b->port)) != -1)
				close(fd);
			poke = harness_now_ms() + 200;
		}
		if (harness_now_ms() >= deadline) {
			print_error("harness: broker %d ignored signal %d\n",
			    (int)b->pid, sig);
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &b->status, 0);
			live_remove(b->pid);
			b->pid = -1;
			drain_join(b);
			return -1;
		}
		sleep_ms(5);
	}
	live_remove(b->pid);
	b->pid = -1;
	drain_join(b);
	return b->status;
}

int
harness_broker_stop(struct harness_broker *b)
{
	int st = harness_broker_kill(b, SIGTERM);

	if (st == -1)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		print_error("harness: broker exited with status 0x%x\n", st);
		return -1;
	}
	return 0;
}

int
harness_run_mqttd_once(const char *conf_path, char *out, size_t outlen,
    int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;
	const char *bin = getenv("MQTTD_BIN");
	struct pollfd pfd;
	size_t len = 0;
	char buf[4096];
	int fds[2], status = 0, left;
	bool ready = false, eof = false;
	ssize_t n;
	pid_t pid;

	if (outlen > 0)
		out[0] = '\0';
	if (bin == NULL) {
		print_error("harness: MQTTD_BIN is not set\n");
		return -1;
	}
	if (pipe(fds) == -1)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execl(bin, bin, "-c", conf_path, (char *)NULL);
		fprintf(stderr, "harness: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	live_add(pid);
	while (!eof && !ready &&
	    (left = (int)(deadline - harness_now_ms())) > 0) {
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(fds[0], buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = true;
			break;
		}
		if (len + 1 < outlen) {
			if ((size_t)n > outlen - 1 - len)
				n = (ssize_t)(outlen - 1 - len);
			memcpy(out + len, buf, (size_t)n);
			len += (size_t)n;
			out[len] = '\0';
		}
		if (outlen > 0 && strstr(out, "listening on ") != NULL)
			ready = true;
	}
	close(fds[0]);
	if (!eof) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		live_remove(pid);
		return -1;
	}
	/* EOF: the process is exiting (or closed its output: wait anyway). */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	live_remove(pid);
	return status;
}

int
harness_run_cmd(const char *const argv[], bool verbose)
{
	int status, fd;
	pid_t pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (!verbose && (fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

void
harness_broker_cleanup(struct harness_broker *b)
{
	const char *keep = getenv("MQTTD_TEST_KEEP");

	if (b->pid > 0)
		harness_broker_kill(b, SIGKILL);
	drain_join(b);
	if (b->log_fd != -1)
		close(b->log_fd);
	b->log_fd = -1;
	if (b->dir[0] != '\0') {
		if (keep != NULL && *keep != '\0')
			print_message("harness: kept %s\n", b->dir);
		else
			remove_tree(b->dir);
	}
	b->dir[0] = '\0';
	free(b->log);
	b->log = NULL;
	b->log_len = b->log_cap = 0;
	free(b->extra_ini);
	b->extra_ini = NULL;
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
}

int
harness_broker_finish(struct harness_broker *b)
{
	int rc = harness_broker_stop(b);

	harness_broker_cleanup(b);
	return rc;
}

static int
setup_broker(void **state, const struct harness_opts *o)
{
	struct harness_broker *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	if (harness_broker_start_opts(b, o) == -1) {
		harness_broker_cleanup(b);
		free(b);
		return -1;
	}
	*state = b;
	return 0;
}

int
harness_setup_broker(void **state)
{
	struct harness_opts o = { .extra_ini = *state };

	return setup_broker(state, &o);
}

int
harness_setup_broker_opts(void **state)
{
	return setup_broker(state, *state);
}

int
harness_teardown_broker(void **state)
{
	struct harness_broker *b = *state;
	int rc = 0;

	if (b == NULL)
		return 0;
	if (b->pid > 0 && harness_broker_stop(b) == -1)
		rc = -1;
	harness_broker_cleanup(b);
	free(b);
	return rc;
}

/* cmocka's group fixtures take no argument: harness_run_group() leaves
 * them theirs here. */
static struct harness_broker		*group_broker;
static const struct harness_opts	*group_opts;

static int
group_setup(void **state)
{
	(void)state;
	return harness_broker_start_opts(group_broker, group_opts);
}

static int
group_teardown(void **state)
{
	(void)state;
	return harness_broker_finish(group_broker);
}

int
harness_run_group(const char *name, const struct CMUnitTest *tests,
    size_t ntests, struct harness_broker *b, const struct harness_opts *o)
{
	group_broker = b;
	group_opts = o;
	return _cmocka_run_group_tests(name, tests, ntests, group_setup,
	    group_teardown);
}

/* ===== The encoder ===== */

struct tbuf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
};

static void
tbuf_bytes(struct tbuf *t, const void *data, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = t->cap ? t->cap : 256;
		while (t->cap < t->len + n)
			t->cap *= 2;
		if ((t->p = realloc(t->p, t->cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(t->p + t->len, data, n);
	t->len += n;
}

static void
tbuf_u8(struct tbuf *t, uint8_t v)
{
	tbuf_bytes(t, &v, 1);
}

static void
tbuf_u16(struct tbuf *t, uint16_t v)
{
	tbuf_u8(t, (uint8_t)(v >> 8));
	tbuf_u8(t, (uint8_t)(v & 0xff));
}

/* A UTF-8 string or binary field: two bytes of length, then the bytes. */
static void
tbuf_str(struct tbuf *t, const char *s)
{
	size_t n = strlen(s);

	tbuf_u16(t, (uint16_t)n);
	tbuf_bytes(t, s, n);
}

int
tclient_send_raw(struct tclient *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tclient_send_packet(struct tclient *c, uint8_t byte1, const void *body,
    size_t len)
{
	struct tbuf t = { NULL, 0, 0 };
	size_t rem = len;
	uint8_t d;
	int rc;

	tbuf_u8(&t, byte1);
	do {
		d = rem % 128;
		rem /= 128;
		if (rem > 0)
			d |= 0x80;
		tbuf_u8(&t, d);
	} while (rem > 0);
	tbuf_bytes(&t, body, len);
	rc = tclient_send_raw(c, t.p, t.len);
	free(t.p);
	return rc;
}

static int
send_tbuf(struct tclient *c, uint8_t byte1, struct tbuf *t)
{
	int rc = tclient_send_packet(c, byte1, t->p, t->len);

	free(t->p);
	return rc;
}

int
tclient_connect(struct tclient *c, const struct tconnect *o)
{
	struct tbuf t = { NULL, 0, 0 };
	uint8_t flags = 0;

	tbuf_str(&t, o->proto_name ? o->proto_name : "MQTT");
	tbuf_u8(&t, (uint8_t)(o->proto_level ? o->proto_level : 4));
	if (o->raw_flags)
		flags = o->flags;
	else {
		if (o->clean)
			flags |= 0x02;
		if (o->will_topic != NULL) {
			flags |= 0x04;
			flags |= (uint8_t)((o->will_qos & 3) << 3);
			if (o->will_retain)
				flags |= 0x20;
		}
		if (o->password != NULL)
			flags |= 0x40;
		if (o->username != NULL)
			flags |= 0x80;
	}
	tbuf_u8(&t, flags);
	tbuf_u16(&t, o->keepalive);
	tbuf_str(&t, o->client_id ? o->client_id : "");
	if (o->will_topic != NULL) {
		tbuf_str(&t, o->will_topic);
		tbuf_str(&t, o->will_payload ? o->will_payload : "");
	}
	if (o->username != NULL)
		tbuf_str(&t, o->username);
	if (o->password != NULL)
		tbuf_str(&t, o->password);
	return send_tbuf(c, MQTT_CONNECT << 4, &t);
}

int
tclient_publish(struct tclient *c, const char *topic, const void *payload,
    size_t len, int qos, bool retain, bool dup, uint16_t id)
{
	struct tbuf t = { NULL, 0, 0 };
	uint8_t b1 = MQTT_PUBLISH << 4;

	b1 |= (uint8_t)((qos & 3) << 1);
	if (retain)
		b1 |= 0x01;
	if (dup)
		b1 |= 0x08;
	tbuf_str(&t, topic);
	if (qos > 0)
		tbuf_u16(&t, id);
	tbuf_bytes(&t, payload, len);
	return send_tbuf(c, b1, &t);
}

int
tclient_publish_str(struct tclient *c, const char *topic, const char *payload,
    int qos, bool retain, uint16_t id)
{
	return tclient_publish(c, topic, payload, strlen(payload), qos, retain,
	    false, id);
}

static int
send_id(struct tclient *c, uint8_t byte1, uint16_t id)
{
	uint8_t body[2] = { (uint8_t)(id >> 8), (uint8_t)(id & 0xff) };

	return tclient_send_packet(c, byte1, body, 2);
}

int
tclient_puback(struct tclient *c, uint16_t id)
{
	return send_id(c, MQTT_PUBACK << 4, id);
}

int
tclient_pubrec(struct tclient *c, uint16_t id)
{
	return send_id(c, MQTT_PUBREC << 4, id);
}

/* PUBREL's fixed header flags are 0010 [MQTT-3.6.1-1]. */
int
tclient_pubrel(struct tclient *c, uint16_t id)
{
	return send_id(c, (MQTT_PUBREL << 4) | 0x02, id);
}

int
tclient_pubcomp(struct tclient *c, uint16_t id)
{
	return send_id(c, MQTT_PUBCOMP << 4, id);
}

/* SUBSCRIBE's fixed header flags are 0010 [MQTT-3.8.1-1]. */
int
tclient_subscribe(struct tclient *c, uint16_t id, size_t n,
    const char *const *filters, const int *qos)
{
	struct tbuf t = { NULL, 0, 0 };
	size_t i;

	tbuf_u16(&t, id);
	for (i = 0; i < n; i++) {
		tbuf_str(&t, filters[i]);
		tbuf_u8(&t, (uint8_t)qos[i]);
	}
	return send_tbuf(c, (MQTT_SUBSCRIBE << 4) | 0x02, &t);
}

/* UNSUBSCRIBE's fixed header flags are 0010 [MQTT-3.10.1-1]. */
int
tclient_unsubscribe(struct tclient *c, uint16_t id, size_t n,
    const char *const *filters)
{
	struct tbuf t = { NULL, 0, 0 };
	size_t i;

	tbuf_u16(&t, id);
	for (i = 0; i < n; i++)
		tbuf_str(&t, filters[i]);
	return send_tbuf(c, (MQTT_UNSUBSCRIBE << 4) | 0x02, &t);
}

int
tclient_pingreq(struct tclient *c)
{
	return tclient_send_packet(c, MQTT_PINGREQ << 4, NULL, 0);
}

int
tclient_disconnect(struct tclient *c)
{
	return tclient_send_packet(c, MQTT_DISCONNECT << 4, NULL, 0);
}

/* ===== Clients ===== */

struct tclient *
tclient_open(const struct harness_broker *b, const char *name)
{
	struct tclient *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fail_msg("out of memory");
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "client");
	c->next_id = 1;
	c->timeout_ms = HARNESS_TIMEOUT_MS;
	if ((c->fd = connect_loopback(b->port)) == -1)
		fail_msg("%s: connect to 127.0.0.1:%d: %s", c->name, b->port,
		    strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

void
tclient_close(struct tclient *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	free(c->rbuf);
	free(c);
}

struct tclient *
tclient_new(const struct harness_broker *b, const char *id, bool clean,
    int *session_present)
{
	struct tconnect o = { 0 };
	struct tclient *c = tclient_open(b, id);
	struct tpacket p;
	char desc[256];

	o.client_id = id;
	o.clean = clean;
	assert_int_equal(tclient_connect(c, &o), 0);
	if (tclient_read_packet(c, &p, HARNESS_TIMEOUT_MS) != TREAD_OK)
		fail_msg("%s: no CONNACK", c->name);
	tpacket_describe(&p, desc, sizeof(desc));
	if (p.type != MQTT_CONNACK || p.len != 2 || p.flags != 0 ||
	    p.body[1] != 0 || (p.body[0] & 0xfe) != 0)
		fail_msg("%s: expected CONNACK accepted, got %s", c->name,
		    desc);
	if (session_present != NULL)
		*session_present = p.body[0] & 1;
	tpacket_free(&p);
	return c;
}

struct tclient *
tclient_new_sp(const struct harness_broker *b, const char *id, bool clean,
    int session_present)
{
	int sp;
	struct tclient *c = tclient_new(b, id, clean, &sp);

	if (sp != session_present)
		fail_msg("%s: CONNACK session present %d, expected %d", id, sp,
		    session_present);
	return c;
}

void
harness_store_barrier(const struct harness_broker *b, const char *id)
{
	tclient_bye(tclient_new(b, id, false, NULL));
}

uint16_t
tclient_next_id(struct tclient *c)
{
	uint16_t id = c->next_id++;

	if (c->next_id == 0)
		c->next_id = 1;
	return id;
}

/* ===== The decoder ===== */

/*
 * Returns the length of the first whole packet in c->rbuf (header
 * included) and fills the header fields, 0 if more bytes are needed, or
 * -1 if the remaining length is malformed.
 */
static long
frame(struct tclient *c, size_t *hdr, size_t *rem)
{
	size_t i, mult = 1, v = 0;

	for (i = 1; i < c->rlen && i <= 4; i++) {
		v += (size_t)(c->rbuf[i] & 0x7f) * mult;
		mult *= 128;
		if ((c->rbuf[i] & 0x80) == 0) {
			*hdr = i + 1;
			*rem = v;
			if (c->rlen < *hdr + v)
				return 0;
			return (long)(*hdr + v);
		}
	}
	if (i > 4)
		return -1;
	return 0;
}

enum tread
tclient_read_packet(struct tclient *c, struct tpacket *p, int timeout_ms)
{
	long long deadline = harness_now_ms() + timeout_ms;
	struct pollfd pfd;
	size_t hdr = 0, rem = 0;
	long whole;
	ssize_t n;
	int left;

	memset(p, 0, sizeof(*p));
	for (;;) {
		if ((whole = frame(c, &hdr, &rem)) == -1)
			return TREAD_ERROR;
		if (whole > 0)
			break;
		left = (int)(deadline - harness_now_ms());
		if (left < 0)
			left = 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		n = poll(&pfd, 1, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return TREAD_ERROR;
		if (n == 0)
			return TREAD_TIMEOUT;
		if (c->rcap - c->rlen < 65536) {
			c->rcap = c->rcap ? c->rcap * 2 : 131072;
			if ((c->rbuf = realloc(c->rbuf, c->rcap)) == NULL)
				abort();
		}
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return TREAD_CLOSED;
		if (n == -1)
			return TREAD_ERROR;
		c->rlen += (size_t)n;
	}
	p->type = c->rbuf[0] >> 4;
	p->flags = c->rbuf[0] & 0x0f;
	p->len = rem;
	if ((p->body = malloc(rem + 1)) == NULL)
		abort();
	memcpy(p->body, c->rbuf + hdr, rem);
	p->body[rem] = 0;
	memmove(c->rbuf, c->rbuf + whole, c->rlen - (size_t)whole);
	c->rlen -= (size_t)whole;
	return TREAD_OK;
}

void
tpacket_free(struct tpacket *p)
{
	free(p->body);
	p->body = NULL;
}

static uint16_t
get_u16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static const char *const type_names[16] = {
	"RESERVED0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
	"UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "RESERVED15"
};

/* Splits a PUBLISH body; returns -1 if it is too short. */
static int
publish_fields(const struct tpacket *p, const uint8_t **topic,
    size_t *topic_len, uint16_t *id, const uint8_t **payload,
    size_t *payload_len)
{
	int qos = (p->flags >> 1) & 3;
	size_t off;

	if (p->len < 2)
		return -1;
	*topic_len = get_u16(p->body);
	*topic = p->body + 2;
	off = 2 + *topic_len;
	if (off > p->len)
		return -1;
	*id = 0;
	if (qos > 0) {
		if (off + 2 > p->len)
			return -1;
		*id = get_u16(p->body + off);
		off += 2;
	}
	*payload = p->body + off;
	*payload_len = p->len - off;
	return 0;
}

int
tpacket_publish(const struct tpacket *p, struct tpublish *pub)
{
	memset(pub, 0, sizeof(*pub));
	if (p->type != MQTT_PUBLISH || publish_fields(p, &pub->topic,
	    &pub->topic_len, &pub->id, &pub->payload, &pub->payload_len) == -1)
		return -1;
	pub->qos = (p->flags >> 1) & 3;
	pub->dup = (p->flags & 0x08) != 0;
	pub->retain = (p->flags & 0x01) != 0;
	return 0;
}

int
tpacket_ack_id(const struct tpacket *p)
{
	if (p->len != 2)
		return -1;
	return get_u16(p->body);
}

void
tpacket_describe(const struct tpacket *p, char *buf, size_t len)
{
	const uint8_t *topic, *payload;
	size_t tlen, plen, i;
	uint16_t id;
	int n;

	if (p->type == MQTT_PUBLISH &&
	    publish_fields(p, &topic, &tlen, &id, &payload, &plen) == 0) {
		snprintf(buf, len, "PUBLISH qos=%d dup=%d retain=%d id=%u "
		    "topic='%.*s' payload='%.*s'%s", (p->flags >> 1) & 3,
		    (p->flags >> 3) & 1, p->flags & 1, id, (int)tlen,
		    (const char *)topic, (int)(plen > 64 ? 64 : plen),
		    (const char *)payload, plen > 64 ? "..." : "");
		return;
	}
	n = snprintf(buf, len, "%s flags=0x%x len=%zu body=",
	    type_names[p->type & 15], p->flags, p->len);
	for (i = 0; i < p->len && i < 16 && n > 0 && (size_t)n + 3 < len;
	    i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", p->body[i]);
}

/* Reads the next packet or fails the test saying what happened instead. */
static void
read_or_fail(struct tclient *c, struct tpacket *p, const char *what)
{
	switch (tclient_read_packet(c, p, c->timeout_ms)) {
	case TREAD_OK:
		return;
	case TREAD_CLOSED:
		fail_msg("%s: expected %s, the broker closed the connection",
		    c->name, what);
		break;
	case TREAD_TIMEOUT:
		fail_msg("%s: expected %s, nothing came within %d ms",
		    c->name, what, c->timeout_ms);
		break;
	case TREAD_ERROR:
		fail_msg("%s: expected %s, read error or malformed packet",
		    c->name, what);
		break;
	}
}

/* ===== Expectations ===== */

void
tclient_expect_connack(struct tclient *c, int session_present, int code)
{
	struct tpacket p;
	char desc[256];

	read_or_fail(c, &p, "CONNACK");
	tpacket_describe(&p, desc, sizeof(desc));
	/* 0x20 0x02, then the acknowledge flags and the return code. */
	if (p.type != MQTT_CONNACK || p.flags != 0 || p.len != 2 ||
	    p.body[0] != session_present || p.body[1] != code)
		fail_msg("%s: expected CONNACK sp=%d rc=%d, got %s", c->name,
		    session_present, code, desc);
	tpacket_free(&p);
}

void
tclient_expect_suback(struct tclient *c, uint16_t id, size_t n,
    const int *granted)
{
	struct tpacket p;
	char desc[256];
	size_t i;

	read_or_fail(c, &p, "SUBACK");
	tpacket_describe(&p, desc, sizeof(desc));
	if (p.type != MQTT_SUBACK || p.flags != 0 || p.len != 2 + n ||
	    get_u16(p.body) != id)
		fail_msg("%s: expected SUBACK id=%u with %zu codes, got %s",
		    c->name, id, n, desc);
	for (i = 0; i < n; i++)
		if (p.body[2 + i] != granted[i])
			fail_msg("%s: SUBACK code %zu: expected 0x%02x, got "
			    "0x%02x", c->name, i, (unsigned)granted[i],
			    p.body[2 + i]);
	tpacket_free(&p);
}

void
tclient_expect_unsuback(struct tclient *c, uint16_t id)
{
	tclient_expect_ack(c, MQTT_UNSUBACK, id);
}

void
tclient_expect_ack(struct tclient *c, int type, uint16_t id)
{
	struct tpacket p;
	char desc[256];
	int flags = type == MQTT_PUBREL ? 2 : 0;

	read_or_fail(c, &p, type_names[type]);
	tpacket_describe(&p, desc, sizeof(desc));
	if (p.type != type || p.flags != flags || p.len != 2 ||
	    get_u16(p.body) != id)
		fail_msg("%s: expected %s id=%u, got %s", c->name,
		    type_names[type], id, desc);
	tpacket_free(&p);
}

void
tclient_expect_pingresp(struct tclient *c)
{
	struct tpacket p;
	char desc[256];

	read_or_fail(c, &p, "PINGRESP");
	tpacket_describe(&p, desc, sizeof(desc));
	if (p.type != MQTT_PINGRESP || p.flags != 0 || p.len != 0)
		fail_msg("%s: expected PINGRESP, got %s", c->name, desc);
	tpacket_free(&p);
}

void
tclient_expect_publish(struct tclient *c, const char *topic,
    const char *payload, int qos, int retain, int dup, uint16_t *idp)
{
	const uint8_t *t, *pl;
	size_t tlen, plen;
	struct tpacket p;
	char desc[256];
	uint16_t id;
	int q;

	read_or_fail(c, &p, "PUBLISH");
	tpacket_describe(&p, desc, sizeof(desc));
	if (p.type != MQTT_PUBLISH ||
	    publish_fields(&p, &t, &tlen, &id, &pl, &plen) == -1)
		fail_msg("%s: expected PUBLISH '%s' '%s', got %s", c->name,
		    topic, payload, desc);
	q = (p.flags >> 1) & 3;
	if (tlen != strlen(topic) || memcmp(t, topic, tlen) != 0 ||
	    plen != strlen(payload) || memcmp(pl, payload, plen) != 0 ||
	    (qos != -1 && q != qos) ||
	    (retain != -1 && (p.flags & 1) != retain) ||
	    (dup != -1 && ((p.flags >> 3) & 1) != dup))
		fail_msg("%s: expected PUBLISH qos=%d dup=%d retain=%d "
		    "topic='%s' payload='%s', got %s", c->name, qos, dup,
		    retain, topic, payload, desc);
	/* A QoS 1 or 2 PUBLISH carries a non-zero packet id [MQTT-2.3.1-1]. */
	if (q > 0 && id == 0)
		fail_msg("%s: PUBLISH with QoS %d and packet id 0", c->name, q);
	if (q == 0 && (p.flags & 0x08))
		fail_msg("%s: QoS 0 PUBLISH with DUP set [MQTT-3.3.1-2]",
		    c->name);
	if (idp != NULL)
		*idp = id;
	tpacket_free(&p);
}

void
tclient_expect_closed(struct tclient *c)
{
	struct tpacket p;
	char desc[256];

	switch (tclient_read_packet(c, &p, c->timeout_ms)) {
	case TREAD_CLOSED:
		return;
	case TREAD_OK:
		tpacket_describe(&p, desc, sizeof(desc));
		tpacket_free(&p);
		fail_msg("%s: expected the broker to close, got %s", c->name,
		    desc);
		break;
	case TREAD_TIMEOUT:
		fail_msg("%s: expected the broker to close, still open after "
		    "%d ms", c->name, c->timeout_ms);
		break;
	case TREAD_ERROR:
		fail_msg("%s: expected a close, got a read error", c->name);
		break;
	}
}

void
tclient_expect_nothing(struct tclient *c, int ms)
{
	struct tpacket p;
	char desc[256];

	switch (tclient_read_packet(c, &p, ms)) {
	case TREAD_TIMEOUT:
		return;
	case TREAD_OK:
		tpacket_describe(&p, desc, sizeof(desc));
		tpacket_free(&p);
		fail_msg("%s: expected nothing, got %s", c->name, desc);
		break;
	case TREAD_CLOSED:
		fail_msg("%s: expected nothing, the broker closed", c->name);
		break;
	case TREAD_ERROR:
		fail_msg("%s: expected nothing, got a read error", c->name);
		break;
	}
}

/* ===== Compound steps ===== */

void
tclient_sub(struct tclient *c, const char *filter, int qos,
    int expect_granted)
{
	uint16_t id = tclient_next_id(c);

	assert_int_equal(tclient_subscribe(c, id, 1, &filter, &qos), 0);
	tclient_expect_suback(c, id, 1, &expect_granted);
}

void
tclient_unsub(struct tclient *c, const char *filter)
{
	uint16_t id = tclient_next_id(c);

	assert_int_equal(tclient_unsubscribe(c, id, 1, &filter), 0);
	tclient_expect_unsuback(c, id);
}

void
tclient_sync(struct tclient *c)
{
	assert_int_equal(tclient_pingreq(c), 0);
	tclient_expect_pingresp(c);
}

void
tclient_pub(struct tclient *c, const char *topic, const char *payload,
    int qos, bool retain)
{
	uint16_t id = qos > 0 ? tclient_next_id(c) : 0;

	assert_int_equal(tclient_publish_str(c, topic, payload, qos, retain,
	    id), 0);
	if (qos == 1)
		tclient_expect_ack(c, MQTT_PUBACK, id);
	else if (qos == 2) {
		tclient_expect_ack(c, MQTT_PUBREC, id);
		assert_int_equal(tclient_pubrel(c, id), 0);
		tclient_expect_ack(c, MQTT_PUBCOMP, id);
	}
}

void
tclient_ack_received(struct tclient *c, int qos, uint16_t id)
{
	if (qos == 1)
		assert_int_equal(tclient_puback(c, id), 0);
	else if (qos == 2) {
		assert_int_equal(tclient_pubrec(c, id), 0);
		tclient_expect_ack(c, MQTT_PUBREL, id);
		assert_int_equal(tclient_pubcomp(c, id), 0);
	}
}

/*
 * Waits (without failing) for the broker to close after DISCONNECT, so that
 * when this returns the broker has ended the connection: a persistent
 * session is offline, and what is published next is queued for it.
 */
void
tclient_bye(struct tclient *c)
{
	long long deadline = harness_now_ms() + HARNESS_TIMEOUT_MS;
	struct tpacket p;

	if (tclient_disconnect(c) == 0) {
		while (tclient_read_packet(c, &p,
		    (int)(deadline - harness_now_ms())) == TREAD_OK)
			tpacket_free(&p);
	}
	tclient_close(c);
}
