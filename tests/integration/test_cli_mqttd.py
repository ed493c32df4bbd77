"""mqtt-cli pub and sub against a real mqttd (MQTTD_BIN): QoS 0/1/2,
retained, persistent sessions, binary payloads, failures."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.environ.get("MQTTD_SRCDIR",
                                               os.path.join(HERE, "..", "..")),
                                "tests", "interop"))
from cli_helpers import OneShotCases  # noqa: E402
from mqttd_proc import BrokerCase  # noqa: E402


class CliAgainstMqttd(BrokerCase, OneShotCases, unittest.TestCase):
    """Against mqttd."""


if __name__ == "__main__":
    unittest.main()
