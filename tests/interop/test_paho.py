"""Interop: Python paho-mqtt (Debian's python3-paho-mqtt) against mqttd.

QoS 0/1/2 round trips, retained messages, wills and a persistent
session's offline queue, all driven by a client nobody here wrote.
"""
import queue
import sys
import unittest

import paho.mqtt.client as mqtt

from mqttd_proc import BrokerCase

TIMEOUT = 5


class Client:
    """A paho client whose events land in queues the test waits on."""

    def __init__(self, port, client_id="", clean=True, will=None):
        self.messages = queue.Queue()
        self.events = queue.Queue()
        self.c = mqtt.Client(client_id=client_id, clean_session=clean,
                             protocol=mqtt.MQTTv311)
        if will:
            self.c.will_set(*will)
        self.c.on_connect = lambda c, u, flags, rc: self.events.put(
            ("connack", flags.get("session present"), rc))
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = lambda c, u, mid, granted: self.events.put(
            ("suback", granted))
        self.c.on_publish = lambda c, u, mid: self.events.put(("pubdone", mid))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        kind, present, rc = self.expect("connack")
        assert rc == 0, rc
        self.session_present = present

    def expect(self, kind):
        ev = self.events.get(timeout=TIMEOUT)
        assert ev[0] == kind, ev
        return ev

    def subscribe(self, topic, qos):
        self.c.subscribe(topic, qos)
        return self.expect("suback")[1]

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos, retain)
        info.wait_for_publish()
        if qos > 0:  # PUBACK / PUBCOMP came back
            self.expect("pubdone")

    def message(self):
        return self.messages.get(timeout=TIMEOUT)

    def no_message(self, seconds=0.3):
        try:
            m = self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError("unexpected message on %s" % m.topic)

    def close(self, clean=True):
        if clean:
            self.c.disconnect()
        else:
            # Drop the socket without DISCONNECT, so the will fires.
            self.c.socket().close()
        self.c.loop_stop()


class PahoInterop(BrokerCase, unittest.TestCase):
    def client(self, *a, **kw):
        c = Client(self.port, *a, **kw)
        self.addCleanup(c.c.loop_stop)
        return c

    def test_round_trip_at_each_qos(self):
        sub = self.client("paho-sub")
        pub = self.client("paho-pub")
        self.assertEqual(sub.subscribe("paho/rt/#", 2), (2,))
        for qos in (0, 1, 2):
            pub.publish("paho/rt/%d" % qos, b"payload-%d" % qos, qos)
            m = sub.message()
            self.assertEqual(m.topic, "paho/rt/%d" % qos)
            self.assertEqual(m.payload, b"payload-%d" % qos)
            self.assertEqual(m.qos, qos)
            self.assertFalse(m.retain)
        sub.close()
        pub.close()

    def test_granted_qos_caps_delivery(self):
        sub = self.client("paho-cap")
        pub = self.client("paho-cap-pub")
        self.assertEqual(sub.subscribe("paho/cap", 1), (1,))
        pub.publish("paho/cap", b"x", 2)
        self.assertEqual(sub.message().qos, 1)  # [MQTT-3.8.4-6]
        sub.close()
        pub.close()

    def test_retained_message_reaches_late_subscriber(self):
        pub = self.client("paho-ret-pub")
        pub.publish("paho/retained/a", b"kept", 1, retain=True)
        sub = self.client("paho-ret-sub")
        sub.subscribe("paho/retained/+", 1)
        m = sub.message()
        self.assertEqual((m.topic, m.payload, m.retain), ("paho/retained/a", b"kept", True))
        pub.publish("paho/retained/a", b"", 0, retain=True)  # clears it
        self.assertEqual(sub.message().payload, b"")
        late = self.client("paho-ret-late")
        late.subscribe("paho/retained/#", 1)
        late.no_message()
        for c in (pub, sub, late):
            c.close()

    def test_will_published_when_connection_drops(self):
        watcher = self.client("paho-will-watch")
        watcher.subscribe("paho/will/#", 1)
        dying = self.client("paho-will-dying", will=("paho/will/dying", b"bye", 1, False))
        dying.close(clean=False)
        m = watcher.message()
        self.assertEqual((m.topic, m.payload), ("paho/will/dying", b"bye"))
        polite = self.client("paho-will-polite", will=("paho/will/polite", b"bye", 1, False))
        polite.close(clean=True)  # [MQTT-3.14.4-3] the will is discarded
        watcher.no_message()
        watcher.close()

    def test_persistent_session_gets_messages_sent_while_away(self):
        sub = self.client("paho-persist", clean=False)
        sub.subscribe("paho/persist", 1)
        sub.close()
        pub = self.client("paho-persist-pub")
        for i in range(5):
            pub.publish("paho/persist", b"m%d" % i, 1)
        back = self.client("paho-persist", clean=False)
        self.assertTrue(back.session_present)
        got = [back.message().payload for _ in range(5)]
        self.assertEqual(got, [b"m%d" % i for i in range(5)])  # in order
        back.close()
        pub.close()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
