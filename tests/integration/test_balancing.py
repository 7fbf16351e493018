"""Load balancing across an upstream's servers (one worker, so the counts are exact)."""

import collections

import harness


class BalancingTest(harness.ProxyTest):
    def count(self, port, n, new_connections):
        counts = collections.Counter()
        order = []
        c = None
        for _ in range(n):
            if new_connections or c is None:
                if c is not None:
                    c.close()
                c = self.conn(port)
            r = c.roundtrip("GET", "/")
            self.assertEqual(r.status, 200, r)
            name = r.header("X-Backend")
            counts[name] += 1
            order.append(name)
        c.close()
        return counts, order

    def test_equal_weights_alternate(self):
        a, b = self.start_backends("a", "b")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [a, b]), workers=1)
        counts, order = self.count(port, 100, new_connections=True)
        self.assertEqual(counts, {"a": 50, "b": 50}, order)
        # Round robin: no backend twice in a row.
        self.assertTrue(all(x != y for x, y in zip(order, order[1:])), order)

    def test_equal_weights_on_one_client_connection(self):
        a, b = self.start_backends("a", "b")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [a, b]), workers=1)
        counts, order = self.count(port, 100, new_connections=False)
        self.assertEqual(counts, {"a": 50, "b": 50}, order)

    def test_weights_three_to_one(self):
        a, b = self.start_backends("a", "b")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [a, b], weights=[3, 1]), workers=1)
        counts, order = self.count(port, 100, new_connections=True)
        self.assertEqual(counts, {"a": 75, "b": 25}, order)
        # Spread out, not bursts: every window of 4 consecutive picks has exactly one "b".
        for i in range(0, 100, 4):
            self.assertEqual(order[i:i + 4].count("b"), 1, order)

    def test_three_backends(self):
        bs = self.start_backends("a", "b", "c")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, bs, weights=[1, 2, 3]), workers=1)
        counts, order = self.count(port, 120, new_connections=True)
        self.assertEqual(counts, {"a": 20, "b": 40, "c": 60}, order)
        # The backends saw what the client saw.
        self.assertEqual([b.stats()["requests"] for b in bs], [20, 40, 60])


if __name__ == "__main__":
    harness.main()
