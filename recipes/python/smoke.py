# The python recipe's smoke test (`ukport test python`): every line is computed by the
# interpreter through a built-in extension module (OpenSSL's sha256, zlib, libbz2,
# liblzma, SQLite, libmpdec, expat, threads, sockets), so a broken module or port shows.
import bz2
import decimal
import hashlib
import json
import lzma
import re
import socket
import sqlite3
import ssl
import sys
import threading
import xml.etree.ElementTree as ET
import zlib

data = b"unikernel " * 1000
print(sys.version.split()[0], sys.platform, sys.prefix)
print(json.dumps({"b": [1, 2.5, None], "a": "caf\u00e9"}, sort_keys=True))
print(re.sub(r"\d+", lambda m: str(int(m.group()) * 2), "a1 b22 c333"))
h = hashlib.sha256(b"abc")
print(type(h).__module__, h.hexdigest())
print(hashlib.sha3_256(b"abc").hexdigest())
print("zlib", zlib.crc32(data), zlib.decompress(zlib.compress(data, 9)) == data)
print("bz2", bz2.decompress(bz2.compress(data)) == data, len(bz2.compress(data)) < 100)
print("lzma", lzma.decompress(lzma.compress(data)) == data)
db = sqlite3.connect(":memory:")
n = db.execute(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
    "SELECT sum(i * i) FROM n"
).fetchone()[0]
print("sqlite", sqlite3.sqlite_version, n)
decimal.getcontext().prec = 30
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
print("expat", ET.fromstring("<a><b k='v'>x</b><b>y</b></a>").find("b").get("k"))
print(ssl.OPENSSL_VERSION)
sums = []
lock = threading.Lock()


def work(k):
    s = sum(range(k * 100000))
    with lock:
        sums.append(s)


threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads", sorted(sums))
a, b = socket.socketpair()
a.sendall(b"ping")
print("socketpair", b.recv(4).decode())
