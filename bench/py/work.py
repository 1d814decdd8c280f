"""CPU-bound workloads for bench/python: each prints "<name> <ms>" (best of REPEAT runs,
time.perf_counter inside the interpreter, so start-up is not counted). The same file
runs on the ukit image and on the native interpreter."""
import json
import re
import sys
import time

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def nbody(steps=20000):
    # The classic n-body benchmark (five bodies, advance + energy), pure floats.
    pi = 3.14159265358979323
    solar = 4 * pi * pi
    dpy = 365.24
    bodies = [
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], solar],
        [[4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01],
         [1.66007664274403694e-03 * dpy, 7.69901118419740425e-03 * dpy, -6.90460016972063023e-05 * dpy],
         9.54791938424326609e-04 * solar],
        [[8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01],
         [-2.76742510726862411e-03 * dpy, 4.99852801234917238e-03 * dpy, 2.30417297573763929e-05 * dpy],
         2.85885980666130812e-04 * solar],
        [[1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01],
         [2.96460137564761618e-03 * dpy, 2.37847173959480950e-03 * dpy, -2.96589568540237556e-05 * dpy],
         4.36624404335156298e-05 * solar],
        [[1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01],
         [2.68067772490389322e-03 * dpy, 1.62824170038242295e-03 * dpy, -9.51592254519715870e-05 * dpy],
         5.15138902046611451e-05 * solar],
    ]
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    dt = 0.01
    for _ in range(steps):
        for ([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for r, [vx, vy, vz], _ in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz
    return bodies[0][0][0]


def richards_like(n=200000):
    # Object-heavy: method calls, attribute access, small allocations.
    class Task:
        __slots__ = ("prio", "count", "next")

        def __init__(self, prio, nxt):
            self.prio, self.count, self.next = prio, 0, nxt

        def run(self, x):
            self.count += 1
            return (x * 31 + self.prio) % 1000003

    head = None
    for p in range(10):
        head = Task(p, head)
    x, t = 1, head
    for _ in range(n):
        x = t.run(x)
        t = t.next or head
    return x


def json_roundtrip(n=300):
    doc = {"items": [{"id": i, "name": "item %d" % i, "tags": ["a", "b", "c"],
                      "price": i * 1.25, "ok": i % 2 == 0} for i in range(200)]}
    for _ in range(n):
        doc = json.loads(json.dumps(doc))
    return len(doc["items"])


def regex(n=300):
    text = " ".join("user%d@example%d.org visited /page/%d at 12:%02d" % (i, i % 7, i, i % 60)
                    for i in range(500))
    pat = re.compile(r"(\w+)@(\w+)\.org visited (/page/\d+) at (\d+):(\d+)")
    total = 0
    for _ in range(n):
        total += len(pat.findall(text))
    return total


for name, fn in [("nbody", nbody), ("richards", richards_like), ("json", json_roundtrip),
                 ("regex", regex)]:
    best = None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        dt = (time.perf_counter() - t0) * 1000
        best = dt if best is None else min(best, dt)
    print("%s %.1f" % (name, best), flush=True)
