"""Interop: mosquitto_pub / mosquitto_sub (mosquitto-clients) against mqttd."""
import subprocess
import sys
import unittest

from mqttd_proc import BrokerCase

TIMEOUT = 10


def sub(port, *args, count=1):
    """Starts mosquitto_sub for count messages; returns the process."""
    return subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", str(count),
         "-W", str(TIMEOUT), "-v", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pub(port, *args):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *args],
                   check=True, timeout=TIMEOUT)


class MosquittoClients(BrokerCase, unittest.TestCase):

    def wait_subscribed(self, client_id):
        # mqttd logs each subscription at debug level: the event to wait on.
        self.assertTrue(self.broker.log_contains(client_id + ": subscribed to"))

    def test_round_trip_each_qos(self):
        for qos in ("0", "1", "2"):
            s = sub(self.port, "-i", "ms-rt" + qos, "-q", qos, "-t", "ms/rt")
            self.wait_subscribed("ms-rt" + qos)
            pub(self.port, "-q", qos, "-t", "ms/rt", "-m", "hello " + qos)
            out, err = s.communicate(timeout=TIMEOUT)
            self.assertEqual(s.returncode, 0, err)
            self.assertEqual(out, "ms/rt hello %s\n" % qos)

    def test_retained(self):
        pub(self.port, "-q", "1", "-r", "-t", "ms/ret", "-m", "kept")
        s = sub(self.port, "-q", "1", "-t", "ms/#", "-F", "%t %p %r")
        out, err = s.communicate(timeout=TIMEOUT)
        self.assertEqual(out, "ms/ret kept 1\n", err)

    def test_will(self):
        s = sub(self.port, "-i", "ms-will-watch", "-t", "ms/will")
        self.wait_subscribed("ms-will-watch")
        # mosquitto_sub killed without DISCONNECT: its will fires.
        dying = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-i",
             "ms-dying", "-t", "ms/none", "--will-topic", "ms/will",
             "--will-payload", "gone"])
        self.wait_subscribed("ms-dying")
        dying.kill()
        dying.wait()
        out, err = s.communicate(timeout=TIMEOUT)
        self.assertEqual(out, "ms/will gone\n", err)

    def test_persistent_session_offline_queue(self):
        s = sub(self.port, "-i", "ms-persist", "-c", "-q", "1", "-t", "ms/q",
                "-E")  # -E: exit once subscribed
        s.communicate(timeout=TIMEOUT)
        for i in range(3):
            pub(self.port, "-q", "1", "-t", "ms/q", "-m", "m%d" % i)
        s = sub(self.port, "-i", "ms-persist", "-c", "-q", "1", "-t", "ms/q",
                count=3)
        out, err = s.communicate(timeout=TIMEOUT)
        self.assertEqual(out, "ms/q m0\nms/q m1\nms/q m2\n", err)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
