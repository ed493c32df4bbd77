"""mqtt-cli (pub, sub and interactive) against Debian's mosquitto broker,
so the client is proven against a broker nobody here wrote."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import (Mosquitto, OneShotCases, InteractiveCases, cli,  # noqa: E402
                         MOSQUITTO)
from mqttd_proc import BrokerCase  # noqa: E402


@unittest.skipUnless(os.access(MOSQUITTO, os.X_OK), "mosquitto not installed")
class CliAgainstMosquitto(BrokerCase, OneShotCases, InteractiveCases,
                          unittest.TestCase):
    start_broker = Mosquitto


@unittest.skipUnless(os.access(MOSQUITTO, os.X_OK), "mosquitto not installed")
class CliAuthAgainstMosquitto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        pw = os.path.join(cls.tmp.name, "passwd")
        open(pw, "w").close()
        subprocess.run(["mosquitto_passwd", "-b", pw, "alice", "secret"],
                       check=True, capture_output=True)
        os.chmod(pw, 0o600)
        # Started as root, mosquitto would become "mosquitto" and not
        # be able to read the file in our private temporary directory.
        extra = "user root\n" if os.geteuid() == 0 else ""
        cls.broker = Mosquitto(extra + "allow_anonymous false\n"
                               "password_file %s\n" % pw)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.tmp.cleanup()

    def test_right_password_is_accepted(self):
        r = cli("pub", "-p", str(self.broker.port), "-u", "alice", "-P",
                "secret", "-t", "auth/t", "-m", "x", "-q", "1")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_wrong_password_is_one_line_and_fails(self):
        r = cli("pub", "-p", str(self.broker.port), "-u", "alice", "-P",
                "wrong", "-t", "auth/t", "-m", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.count(b"\n"), 1)
        self.assertIn(b"connection refused by 127.0.0.1", r.stderr)

    def test_interactive_login(self):
        r = cli(input_bytes=b"connect --user alice --password secret -p %d\n"
                b"connect --user alice --password nope -p %d\n"
                % (self.broker.port, self.broker.port))
        self.assertIn(b"Connected to the server!", r.stdout)
        r = cli(input_bytes=b"connect --user alice --password nope -p %d\n"
                % self.broker.port)
        self.assertIn(b"Connection refused by 127.0.0.1:%d" % self.broker.port,
                      r.stdout)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
