"""mqtt-cli pub and sub against a real mqttd (MQTTD_BIN): QoS 0/1/2,
retained, persistent sessions, binary payloads, failures."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.environ.get("MQTTD_SRCDIR",
                                               os.path.join(HERE, "..", "..")),
                                "tests", "interop"))
from cli_helpers import Mqttd, OneShotCases  # noqa: E402


class CliAgainstMqttd(OneShotCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Mqttd()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()


if __name__ == "__main__":
    unittest.main()
