"""Start and stop a real mqttd for interop tests.

The broker runs on an ephemeral loopback port (port = 0) with a temporary
database; its log goes to a file, and readiness is the log line
"listening on 127.0.0.1:PORT" -- never a sleep.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class Broker:
    def __init__(self, extra_ini="", port=0):
        self.bin = os.environ.get("MQTTD_BIN", "./mqttd")
        self.dir = tempfile.mkdtemp(prefix="mqttd-interop-")
        self.conf = os.path.join(self.dir, "mqttd.ini")
        self.logpath = os.path.join(self.dir, "mqttd.log")
        with open(self.conf, "w") as f:
            f.write("[listener]\naddress = 127.0.0.1\nport = %d\n" % port)
            f.write("[storage]\npath = %s\n" % os.path.join(self.dir, "mqttd.db"))
            f.write("[log]\nlevel = debug\n")
            f.write(extra_ini)
        self.proc = None
        self.port = None
        self.lines = []
        self.start()

    def start(self):
        args = [self.bin, "-c", self.conf]
        if self.port:
            args += ["-p", str(self.port)]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        found = threading.Event()

        def drain():
            with open(self.logpath, "a") as log:
                for line in self.proc.stderr:
                    log.write(line)
                    log.flush()
                    self.lines.append(line)
                    m = LISTEN_RE.search(line)
                    if m and not found.is_set():
                        self.port = int(m.group(1))
                        found.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not found.wait(10):
            self.proc.kill()
            raise RuntimeError("mqttd did not start:\n" + "".join(self.lines))

    def log_contains(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in l for l in self.lines):
                return True
            time.sleep(0.02)  # polling a log file: no event to wait on
        return False

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        rc = self.proc.wait(10)
        self.reader.join(5)
        return rc

    def stop(self):
        rc = None
        if self.proc and self.proc.poll() is None:
            rc = self.kill(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


class BrokerCase:
    """A unittest.TestCase mixin: one broker for the class, started by
    start_broker (mqttd here) as cls.broker, its port as cls.port."""

    start_broker = Broker

    @classmethod
    def setUpClass(cls):
        cls.broker = cls.start_broker()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
