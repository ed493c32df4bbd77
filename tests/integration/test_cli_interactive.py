"""The interactive mqtt-cli against a real mqttd (MQTTD_BIN), through a
pseudo-terminal and through piped stdin: the README's walk-through
produces the lines shown there, and every mistake is answered with help."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.environ.get("MQTTD_SRCDIR",
                                               os.path.join(HERE, "..", "..")),
                                "tests", "interop"))
from cli_helpers import InteractiveCases  # noqa: E402
from mqttd_proc import BrokerCase  # noqa: E402


class InteractiveAgainstMqttd(BrokerCase, InteractiveCases, unittest.TestCase):
    """Against mqttd."""


if __name__ == "__main__":
    unittest.main()
