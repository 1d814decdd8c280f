"""A small JSON web app on bottle, the worked example of a Python app as a ukit image
(recipes/py-webapp.toml, docs/python.md). Every answer is computed per request.

    ukport run py-webapp -p 8080:8080
    curl http://127.0.0.1:8080/fib/90
"""

import hashlib
import json
import sys

import bottle

app = bottle.Bottle()


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def primes_below(n):
    sieve = bytearray([1]) * max(n, 2)
    sieve[0] = sieve[1] = 0
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, n, i)))
    return sum(sieve[:n])


@app.get("/")
def index():
    return {
        "app": "py-webapp",
        "python": sys.version.split()[0],
        "bottle": bottle.__version__,
        "routes": ["/fib/<n>", "/primes/<n>", "/sha256/<text>", "POST /sum"],
    }


@app.get("/fib/<n:int>")
def fib_route(n):
    if n > 10000:
        bottle.abort(400, "n at most 10000")
    # A string: JSON numbers lose precision past 2**53 in most clients.
    return {"n": n, "fib": str(fib(n))}


@app.get("/primes/<n:int>")
def primes_route(n):
    if n > 10_000_000:
        bottle.abort(400, "n at most 10000000")
    return {"n": n, "primes_below": primes_below(n)}


@app.get("/sha256/<text>")
def sha256_route(text):
    return {"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}


@app.post("/sum")
def sum_route():
    numbers = json.loads(bottle.request.body.read() or b"[]")
    if not isinstance(numbers, list) or not all(isinstance(x, int) for x in numbers):
        bottle.abort(400, "a JSON list of integers")
    return {"count": len(numbers), "sum": sum(numbers)}


def selftest():
    """Each route once through WSGI, without a socket: `ukport test py-webapp`."""
    from io import BytesIO
    from wsgiref.util import setup_testing_defaults

    for method, path, body in [
        ("GET", "/fib/90", b""),
        ("GET", "/primes/1000", b""),
        ("GET", "/sha256/abc", b""),
        ("POST", "/sum", b"[1, 2, 3, 36]"),
    ]:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        setup_testing_defaults(environ)
        status = []
        out = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        print(status[0], path, out.decode())


def main():
    port = 8080
    args = sys.argv[1:]
    if args == ["--selftest"]:
        return selftest()
    if args[:1] == ["--port"] and len(args) == 2:
        port = int(args[1])
    elif args:
        sys.exit(f"usage: app.py [--port N | --selftest] (got {' '.join(args)})")
    print(f"py-webapp: bottle {bottle.__version__} on port {port}", flush=True)
    bottle.run(app, host="0.0.0.0", port=port, quiet=True)


if __name__ == "__main__":
    main()
