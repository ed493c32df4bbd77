"""Shared by the mqtt-cli tests: mosquitto to test against, ways to run
mqtt-cli (one-shot, piped, on a pseudo-terminal) and the test cases.

The cases are mixins (OneShotCases, InteractiveCases) that a test file
combines with a broker through mqttd_proc.BrokerCase:
tests/interop/test_cli_mosquitto.py runs them against Debian's mosquitto,
tests/integration/test_cli_*.py against mqttd.
Every wait is for an event (a line printed, a port accepting) with a
bounded timeout; no fixed ports.
"""
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

TIMEOUT = 10
CLI = os.environ.get("MQTT_CLI_BIN", "./mqtt-cli")
MOSQUITTO = "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """Debian's mosquitto on a free loopback port."""

    def __init__(self, extra_conf=""):
        self.dir = tempfile.mkdtemp(prefix="mqtt-cli-mosq-")
        self.port = free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write(extra_conf or "allow_anonymous true\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start")
                select.select([], [], [], 0.02)  # polling a port: no event

    def stop(self):
        self.proc.terminate()
        self.proc.wait(TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)


def cli(*args, stdin=None, input_bytes=None, timeout=TIMEOUT):
    """Runs mqtt-cli to the end; returns the CompletedProcess (bytes)."""
    return subprocess.run([CLI, *args], input=input_bytes, stdin=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


class Subscriber:
    """mqtt-cli sub -d in the background; ready() waits for its SUBACK."""

    def __init__(self, port, *args):
        self.proc = subprocess.Popen(
            [CLI, "sub", "-d", "-p", str(port), "-W", str(TIMEOUT), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ready(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            if b"subscribed" in line:
                return True
        raise AssertionError("mqtt-cli sub never subscribed")

    def finish(self):
        out, err = self.proc.communicate(timeout=TIMEOUT + 5)
        return self.proc.returncode, out, err


class Piped:
    """The interactive mqtt-cli with commands piped in, the pipe kept open
    until the test has seen what it waits for."""

    def __init__(self):
        self.proc = subprocess.Popen([CLI], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = b""

    def send(self, line):
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def expect(self, needle):
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while needle not in self.out:
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            chunk = os.read(fd, 4096) if r else b""
            if not chunk:
                raise AssertionError("waited for %r; mqtt-cli printed:\n%s"
                                     % (needle, self.out.decode()))
            self.out += chunk

    def close(self):
        """Ctrl-D: returns the exit status."""
        self.proc.stdin.close()
        self.out += self.proc.stdout.read()
        return self.proc.wait(TIMEOUT)


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Terminal:
    """mqtt-cli on a pseudo-terminal, as a person would use it."""

    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm"
            os.execv(CLI, [CLI, *args])
        self.raw = b""

    def send(self, data):
        os.write(self.fd, data)

    def text(self):
        """What the terminal shows, without escape sequences and CRs."""
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace")

    def mark(self):
        """Where the terminal's text ends now, for expect(after=...)."""
        return len(self.text())

    def expect(self, needle, timeout=TIMEOUT, after=0):
        """Waits for needle in the text, past the mark after."""
        deadline = time.monotonic() + timeout
        while needle not in self.text()[after:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("waited for %r; the terminal shows:\n%s"
                                     % (needle, self.text()))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("mqtt-cli ended; waited for %r:\n%s"
                                         % (needle, self.text()))
                self.raw += chunk

    def wait(self):
        """Reads to the end; returns the exit status (None: still running
        after TIMEOUT, then it is killed)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                self.raw += chunk
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.pid = None
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        return None

    def kill(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
        except OSError:
            pass


class OneShotCases:
    """mqtt-cli pub / sub; self.port is the broker's."""

    def test_each_qos_round_trips(self):
        for qos in ("0", "1", "2"):
            s = Subscriber(self.port, "-q", qos, "-C", "1", "-t", "rt/" + qos)
            s.ready()
            r = cli("pub", "-p", str(self.port), "-q", qos, "-t", "rt/" + qos,
                    "-m", "hello at QoS " + qos)
            self.assertEqual(r.returncode, 0, r.stderr)
            rc, out, err = s.finish()
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, ("hello at QoS %s\n" % qos).encode())

    def test_verbose_prints_topic_and_wildcards_match(self):
        s = Subscriber(self.port, "-v", "-C", "2", "-t", "v/+/x", "-t", "w/#")
        s.ready()
        cli("pub", "-p", str(self.port), "-t", "v/a/x", "-m", "one")
        cli("pub", "-p", str(self.port), "-t", "w/b/c", "-m", "two words")
        rc, out, _ = s.finish()
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"v/a/x one\nw/b/c two words\n")

    def test_retained_message_reaches_a_later_subscriber(self):
        r = cli("pub", "-p", str(self.port), "-r", "-q", "1", "-t", "ret/a",
                "-m", "kept")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("sub", "-p", str(self.port), "-C", "1", "-W", str(TIMEOUT),
                "-t", "ret/#")
        self.assertEqual((r.returncode, r.stdout), (0, b"kept\n"))
        # An empty retained message clears it.
        cli("pub", "-p", str(self.port), "-r", "-n", "-t", "ret/a")

    def test_persistent_session_gets_what_was_sent_while_away(self):
        port = str(self.port)
        r = cli("sub", "-p", port, "-i", "cli-away", "--persistent", "-q", "1",
                "-t", "away/t", "-E")
        self.assertEqual(r.returncode, 0, r.stderr)
        for i, qos in enumerate(("1", "2")):
            r = cli("pub", "-p", port, "-q", qos, "-t", "away/t",
                    "-m", "while away %d" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("sub", "-p", port, "-i", "cli-away", "--persistent", "-q", "1",
                "-t", "away/t", "-C", "2", "-W", str(TIMEOUT))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"while away 0\nwhile away 1\n")

    def test_binary_payload_from_a_file_round_trips(self):
        data = bytes(range(256)) * 40 + b"\n\x00\r\xff"
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            for qos in ("0", "2"):
                s = Subscriber(self.port, "-N", "-C", "1", "-q", "2",
                               "-t", "bin/" + qos)
                s.ready()
                r = cli("pub", "-p", str(self.port), "-q", qos,
                        "-t", "bin/" + qos, "-f", f.name)
                self.assertEqual(r.returncode, 0, r.stderr)
                rc, out, _ = s.finish()
                self.assertEqual(rc, 0)
                self.assertEqual(out, data)

    def test_payload_from_stdin(self):
        s = Subscriber(self.port, "-N", "-C", "1", "-t", "stdin/t")
        s.ready()
        r = cli("pub", "-p", str(self.port), "-q", "1", "-t", "stdin/t", "-s",
                input_bytes=b"line one\nline two\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(s.finish()[1], b"line one\nline two\n")

    def test_connection_refused_is_one_line_and_fails(self):
        r = cli("pub", "-p", str(free_port()), "-t", "a", "-m", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.count(b"\n"), 1)
        self.assertIn(b"Connection refused", r.stderr)

    def test_timeout_is_one_line_and_fails(self):
        r = cli("sub", "-p", str(self.port), "-t", "nothing/here", "-W", "1")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr, b"mqtt-cli: timed out after 1 seconds\n")

    def test_usage_errors_exit_2_with_one_line(self):
        for args in (("pub", "-t", "a/+", "-m", "x"), ("pub", "-t", "a"),
                     ("pub", "-t", "a", "-m", "x", "-q", "3"),
                     ("sub",), ("sub", "-t", "a/#/b"),
                     ("sub", "-t", "a", "--persistent"), ("nosuchmode",)):
            r = cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith(b"mqtt-cli"), args)


WALKTHROUGH_SUB = [
    "Connected to the server!",
    "client1@127.0.0.1:{port}> subscribe alerts notifications msg/incoming/new",
    "Waiting on messages for subscribed topics...",
    "To exit, press Ctrl-c.",
    "['alerts']: HELLO WORLD",
]


class InteractiveCases:
    """The interactive client; self.port is the broker's."""

    def test_walkthrough(self):
        t = Terminal()
        try:
            t.expect("> ")
            t.send(b"connect -u client1 -p %d\r" % self.port)
            t.expect("client1@127.0.0.1:%d> " % self.port)
            t.send(b"subscribe alerts notifications msg/incoming/new\r")
            t.expect("To exit, press Ctrl-c.")
            other = subprocess.run(
                [CLI], input=b'connect -u client2 -p %d\npublish alerts '
                b'"HELLO WORLD"\n' % self.port, stdout=subprocess.PIPE,
                timeout=TIMEOUT)
            self.assertEqual(other.returncode, 0)
            self.assertIn(b"Connected to the server!", other.stdout)
            t.expect("['alerts']: HELLO WORLD")
            lines = t.text().split("\n")
            want = [l.format(port=self.port) for l in WALKTHROUGH_SUB]
            self.assertEqual(lines[0], "> connect -u client1 -p %d" % self.port)
            self.assertEqual(lines[1:1 + len(want)], want)
            # Ctrl-C goes back to the prompt (a new one: the one before
            # the subscribe is still on the screen), Ctrl-D leaves.
            mark = t.mark()
            t.send(b"\x03")
            t.expect("\nclient1@127.0.0.1:%d> " % self.port, after=mark)
            t.send(b"\x04")
            self.assertEqual(t.wait(), 0, t.text())
            self.assertIn("Disconnected.", t.text())
        finally:
            t.kill()

    def test_message_while_typing_keeps_the_typed_text(self):
        t = Terminal()
        try:
            t.send(b"connect -u typist -p %d\r" % self.port)
            t.expect("typist@")
            t.send(b"subscribe -q 1 typing/t\r")
            t.expect("To exit, press Ctrl-c.")
            mark = t.mark()
            t.send(b"\x03")
            t.expect("\ntypist@127.0.0.1:%d> " % self.port, after=mark)
            t.send(b"stat")
            t.expect("> stat")
            cli("pub", "-p", str(self.port), "-q", "1", "-r", "-t", "typing/t",
                "-m", "\x01\x02binary")
            t.expect("['typing/t']: [8 bytes, hex] 01 02 62")
            t.send(b"us\r")
            t.expect("Subscribed to 'typing/t' at QoS 1.")
            t.send(b"quit\r")
            self.assertEqual(t.wait(), 0, t.text())
            cli("pub", "-p", str(self.port), "-r", "-n", "-t", "typing/t")
        finally:
            t.kill()

    def test_every_mistake_gets_one_line_of_help(self):
        port = self.port
        cases = [
            (b"frobnicate", b"Unknown command 'frobnicate'. Type 'help'"),
            (b"publish alerts hi", b"publish: not connected; use 'connect'"),
            (b"subscribe alerts", b"subscribe: not connected"),
            (b"disconnect", b"disconnect: not connected"),
            (b"publish alerts", b"publish: a topic and a message are needed"),
            (b"publish alerts HELLO WORLD", b"publish: too many arguments"),
            (b"publish -q 3 alerts hi", b"publish: QoS must be 0, 1 or 2"),
            (b"publish -q x alerts hi", b"publish: QoS must be 0, 1 or 2"),
            (b"publish a/+/b hi", b"publish: a topic to publish to cannot"),
            (b"publish a/# hi", b"publish: a topic to publish to cannot"),
            (b"publish -z a hi", b"publish: unknown option -z"),
            (b"subscribe", b"subscribe: which topics?"),
            (b"subscribe a/#/b", b"subscribe: 'a/#/b' is not a valid topic"),
            (b"connect -p 99999", b"connect: the port must be a number"),
            (b"connect --bogus", b"connect: unknown option --bogus"),
            (b"connect -p", b"connect: option -p needs a value"),
            (b"connect --will-qos 1", b"connect: a will needs --will-topic"),
            (b'publish a "unterminated', b"Cannot read that line: "
             b"unterminated double quote."),
            (b"help nosuch", b"help: no such command"),
            (b"connect -u errcase -p %d" % port, b"Connected to the server!"),
            (b"connect -u again -p %d" % port, b"connect: already connected"),
            (b"publish -q 1 a/+ x", b"publish: a topic to publish to cannot"),
            (b"subscribe -q 7 a", b"subscribe: QoS must be 0, 1 or 2"),
            (b"publish -q 2 err/ok \"it works\"", b"Published."),
            (b"help publish", b"usage: publish [-q QOS] [-r] TOPIC MESSAGE"),
        ]
        script = b"".join(c + b"\n" for c, _ in cases)
        r = cli(input_bytes=script)
        out = r.stdout + r.stderr
        for command, answer in cases:
            self.assertIn(answer, out, command)
        for line in out.split(b"\n"):
            if b"usage:" in line and not line.startswith(b"usage:"):
                self.assertIn(b"(usage: ", line)
        # Scripts learn that something went wrong; nothing crashed.
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"Disconnected.", r.stdout)

    def test_connect_refused_interactively(self):
        r = cli(input_bytes=b"connect -p %d\nstatus\n" % free_port())
        self.assertIn(b"Cannot connect to 127.0.0.1:", r.stdout)
        self.assertIn(b"Connection refused.", r.stdout)
        self.assertIn(b"Not connected.", r.stdout)
        self.assertEqual(r.returncode, 1)

    def test_persistent_session_and_will(self):
        port = self.port
        watcher = Subscriber(port, "-v", "-C", "1", "-t", "wills/#")
        watcher.ready()
        # A client that disappears without DISCONNECT: its will goes out.
        t = Terminal()
        try:
            t.send(b"connect -u willing -p %d --will-topic wills/willing "
                   b"--will-message gone --will-qos 1\r" % port)
            t.expect("willing@")
        finally:
            t.kill()
        rc, out, _ = watcher.finish()
        self.assertEqual((rc, out), (0, b"wills/willing gone\n"))
        r = cli(input_bytes=b"connect -u keeper --persistent -p %d\n"
                b"subscribe -q 1 keep/t\n" % port)
        self.assertEqual(r.returncode, 0, r.stdout)
        cli("pub", "-p", str(port), "-q", "1", "-t", "keep/t", "-m", "queued")
        p = Piped()
        p.send(b"connect -u keeper --persistent -p %d" % port)
        p.expect(b"The server kept the session")
        p.expect(b"['keep/t']: queued")
        self.assertEqual(p.close(), 0)
        self.assertIn(b"Disconnected.", p.out)
