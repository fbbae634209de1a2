"""A small WebSocket client of Zya's JSON protocol, for end-to-end tests.

It shares no code with the gateway: frames are plain dicts sent with the
`websockets` package, tokens are minted with PyJWT, and every frame the
server sends is checked against client-gateway/schema/protocol.schema.json
(a frame that fails is recorded as a violation and fails the test).

    Conn ── request(frame) ──> gateway
      <── reply with the same requestId ──  (matched to the waiting request)
      <── Message / SubscriptionEnd pushes ──  (kept per subscriptionId)
      <── replies without a known requestId ──  (kept in `unsolicited`)

Every wait is bounded: a request, a wait for messages, a wait for a close
all take a timeout and fail the test when it passes.
"""

import asyncio
import base64
import datetime
import functools
import itertools
import json
import os
import pathlib
import re
import time
import uuid
from collections import defaultdict

import jsonschema
import jwt
import websockets

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "client-gateway" / "schema" / "protocol.schema.json"

# Seconds a request waits for its reply, and a test helper for frames.
REPLY_TIMEOUT = 15.0
WAIT_TIMEOUT = 15.0
# Largest frame this client accepts from the server (an AllTopics listing of
# every topic the suite made can be large).
MAX_INCOMING = 64 * 1024 * 1024
# Frames kept per connection for failure reports.
KEEP_FRAMES = 50

PUSH_KINDS = ("Message", "SubscriptionEnd")
SERVER_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


# ---------------------------------------------------------------- environment


def gateways():
    """The gateways' WebSocket URLs (env ZYA_GATEWAYS, comma-separated)."""
    urls = [u for u in os.environ.get("ZYA_GATEWAYS", "").split(",") if u]
    if not urls:
        raise RuntimeError("ZYA_GATEWAYS is not set: run through tests/tests/gateway.rs")
    return urls


def allocators():
    return [a for a in os.environ.get("ZYA_ALLOCATORS", "").split(",") if a]


def dev_secret():
    secret = os.environ.get("ZYA_DEV_SECRET", "")
    if not secret:
        raise RuntimeError("ZYA_DEV_SECRET is not set")
    return secret


def unique(prefix="t"):
    """A fresh topic (or id) name, so tests never share state."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------- tokens


def mint(user, admin=False, ttl=3600, secret=None, issuer="zya-dev", algorithm="HS256", extra=None):
    """An HS256 development token minted with PyJWT, independently of Zya's code."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": user, "iat": now, "exp": now + ttl, "zya_admin": admin}
    claims.update(extra or {})
    return jwt.encode(claims, secret if secret is not None else dev_secret(), algorithm=algorithm)


def _b64(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(user, admin=True, signature=""):
    """A token with `alg: none` (the classic forgery): header.claims.signature."""
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    claims = {"iss": "zya-dev", "sub": user, "iat": now, "exp": now + 3600, "zya_admin": admin}
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


# ------------------------------------------------------------------ the schema

_SCHEMA = json.loads(SCHEMA_PATH.read_text())
FORMATS = jsonschema.FormatChecker(formats=())
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$"
)


@FORMATS.checks("date-time")
def _is_date_time(value):
    """RFC 3339 date-time (Debian ships no rfc3339-validator, so checked here)."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    if second > 60:
        return False
    if m.group(9) and (int(m.group(10)) > 23 or int(m.group(11)) > 59):
        return False
    return True


def _validator(ref):
    root = {"$schema": _SCHEMA["$schema"], "$defs": _SCHEMA["$defs"], "$ref": ref}
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root, format_checker=FORMATS)


SERVER_FRAME = _validator("#/$defs/ServerFrame")
CLIENT_FRAME = _validator("#/$defs/ClientFrame")
RESPONSE = {k[len("response."):]: _validator(f"#/$defs/{k}") for k in _SCHEMA["$defs"] if k.startswith("response.")}
REQUEST = {k[len("request."):]: _validator(f"#/$defs/{k}") for k in _SCHEMA["$defs"] if k.startswith("request.")}


def _errors(validator, frame):
    return [f"{'/'.join(map(str, e.absolute_path)) or '<frame>'}: {e.message}" for e in validator.iter_errors(frame)]


def server_frame_problems(frame):
    """Why `frame` (parsed JSON) is not a valid server frame; [] when it is."""
    if not isinstance(frame, dict):
        return ["not a JSON object"]
    kind = frame.get("kind")
    if kind not in RESPONSE:
        return [f"unknown kind {kind!r}"]
    problems = _errors(RESPONSE[kind], frame)
    if not problems:
        # The union too: it is what a generated client would use.
        problems = [f"ServerFrame: {p}" for p in _errors(SERVER_FRAME, frame)]
    if kind in PUSH_KINDS and "requestId" in frame:
        problems.append("a push carries a requestId")
    for field in ("appendedAt",) if kind == "Message" else ("expiresAt",) if kind == "TransactionBegun" else ():
        if field in frame and not SERVER_TIME.match(str(frame[field])):
            problems.append(f"{field} {frame[field]!r} is not UTC with milliseconds")
    return problems


def client_frame_problems(frame):
    """Why a frame this suite sends as valid is not: a bug in the test or the schema."""
    kind = frame.get("kind") if isinstance(frame, dict) else None
    if kind not in REQUEST:
        return [f"unknown kind {kind!r}"]
    return _errors(REQUEST[kind], frame) or [f"ClientFrame: {p}" for p in _errors(CLIENT_FRAME, frame)]


def short(frame, limit=600):
    text = frame if isinstance(frame, str) else json.dumps(frame)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


# ------------------------------------------------------------ the connection

# Connections opened by the running test, checked and closed when it ends.
_OPEN = []


class ProtocolError(AssertionError):
    """The server broke the contract; carries the frames that show it."""


class Conn:
    """One WebSocket connection to a gateway."""

    def __init__(self, ws, url, name):
        self.ws = ws
        self.url = url
        self.name = name
        self.session = None
        self.pending = {}
        self.inbox = defaultdict(list)  # subscriptionId -> Message frames, in arrival order
        self.taken = defaultdict(int)  # subscriptionId -> how many next_messages consumed
        self.ends = defaultdict(list)  # subscriptionId -> SubscriptionEnd frames
        self.unsolicited = []  # replies matching no waiting request
        self.recent = []  # the last KEEP_FRAMES frames, for reports
        self.violations = []
        self.close_code = None
        self.close_reason = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        _OPEN.append(self)

    # -- receiving

    async def _read(self):
        try:
            async for data in self.ws:
                await self._on_frame(data)
        except websockets.ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001 - a reader bug must fail the test, not hang it
            self.violations.append(f"reader failed: {e!r}")
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(
                        ProtocolError(
                            f"{self.name}: connection closed ({self.close_code} {self.close_reason!r}) "
                            f"before the reply; last frames: {self.last_frames()}"
                        )
                    )
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def _on_frame(self, data):
        if isinstance(data, bytes):
            self.violations.append(f"binary frame from the server: {data[:100]!r}")
            return
        try:
            frame = json.loads(data)
        except ValueError:
            self.violations.append(f"not JSON: {short(data)}")
            return
        self.recent = (self.recent + [frame])[-KEEP_FRAMES:]
        problems = server_frame_problems(frame)
        if problems:
            self.violations.append(f"frame fails the schema: {short(frame)}: {problems}")
        if not isinstance(frame, dict):
            return
        kind = frame.get("kind")
        rid = frame.get("requestId")
        if kind == "Message":
            self.inbox[frame.get("subscriptionId")].append(frame)
        elif kind == "SubscriptionEnd":
            self.ends[frame.get("subscriptionId")].append(frame)
        elif isinstance(rid, str) and rid in self.pending and not self.pending[rid].done():
            self.pending[rid].set_result(frame)
        else:
            self.unsolicited.append(frame)
        async with self._changed:
            self._changed.notify_all()

    def check(self):
        """Raises if any frame so far broke the schema."""
        if self.violations:
            raise ProtocolError(f"{self.name} ({self.url}): " + "; ".join(self.violations))

    def last_frames(self, n=8):
        return " | ".join(short(f, 300) for f in self.recent[-n:])

    async def wait_until(self, predicate, what, timeout=WAIT_TIMEOUT, closed_ok=False):
        """Waits until `predicate()` is truthy and returns its value."""

        def ready():
            return predicate() or (self.closed.is_set() and not closed_ok) or bool(self.violations)

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.name}: {what}: not within {timeout}s; last frames: {self.last_frames()}"
            ) from None
        self.check()
        value = predicate()
        if not value:
            raise ProtocolError(
                f"{self.name}: {what}: connection closed ({self.close_code} {self.close_reason!r}); "
                f"last frames: {self.last_frames()}"
            )
        return value

    # -- sending

    async def send(self, frame, valid=True):
        """Sends a dict as one text frame; `valid` frames are checked against the schema first."""
        if valid:
            problems = client_frame_problems(frame)
            assert not problems, f"test bug or schema bug: request {short(frame)} fails the schema: {problems}"
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, data):
        """Sends text (or bytes) exactly as given: for malformed input."""
        await self.ws.send(data)

    async def request(self, frame, timeout=REPLY_TIMEOUT, valid=True):
        """Sends `frame` with a fresh requestId (unless it has one) and returns the reply."""
        frame = dict(frame)
        rid = frame.setdefault("requestId", f"{self.name}-{next(self._ids)}")
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        try:
            await self.send(frame, valid=valid)
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.name}: no reply to {short(frame)} within {timeout}s; last frames: {self.last_frames()}"
            ) from None
        finally:
            self.pending.pop(rid, None)
        self.check()
        return reply

    async def pipeline(self, frames, timeout=REPLY_TIMEOUT):
        """Sends every frame, strictly in order and without waiting, then returns the replies in the same order."""
        loop = asyncio.get_running_loop()
        waiting = []
        for frame in frames:
            frame = dict(frame)
            rid = frame.setdefault("requestId", f"{self.name}-{next(self._ids)}")
            self.pending[rid] = loop.create_future()
            waiting.append((rid, frame))
        try:
            for _, frame in waiting:
                await self.send(frame)
            replies = []
            for rid, frame in waiting:
                try:
                    replies.append(await asyncio.wait_for(self.pending[rid], timeout))
                except asyncio.TimeoutError:
                    raise AssertionError(f"{self.name}: no reply to {short(frame)} within {timeout}s") from None
        finally:
            for rid, _ in waiting:
                self.pending.pop(rid, None)
        self.check()
        return replies

    async def expect(self, frame, kind, timeout=REPLY_TIMEOUT):
        """A request whose reply must be of `kind`; returns the reply."""
        reply = await self.request(frame, timeout=timeout)
        if reply.get("kind") != kind:
            raise ProtocolError(f"{self.name}: sent {short(frame)}\n  expected {kind}\n  got {short(reply)}")
        return reply

    async def expect_error(self, frame, code, valid=False, timeout=REPLY_TIMEOUT):
        """A request whose reply must be `Error{code}` echoing the requestId."""
        reply = await self.request(frame, timeout=timeout, valid=valid)
        if reply.get("kind") != "Error" or reply.get("code") != code:
            raise ProtocolError(f"{self.name}: sent {short(frame)}\n  expected Error {code}\n  got {short(reply)}")
        return reply

    async def next_unsolicited(self, what, timeout=WAIT_TIMEOUT):
        """The next reply that matched no waiting request (e.g. Error to malformed JSON)."""
        await self.wait_until(lambda: self.unsolicited, what, timeout)
        return self.unsolicited.pop(0)

    # -- the protocol's requests

    async def handshake(self):
        return await self.expect({"kind": "Handshake"}, "ServiceMap")

    async def create_topic(self, topic, scope="global", **fields):
        frame = {"kind": "CreateTopic", "topic": topic, "scope": scope, **fields}
        return await self.expect(frame, "TopicCreated", timeout=30)

    async def delete_topic(self, topic, scope="global"):
        return await self.expect({"kind": "DeleteTopic", "topic": topic, "scope": scope}, "TopicDeleted", timeout=30)

    async def publish(self, topic, message_id, payload="", scope="global", **fields):
        frame = {"kind": "Publish", "topic": topic, "scope": scope, "messageId": message_id,
                 "messagePayload": payload, **fields}
        reply = await self.expect(frame, "Published", timeout=30)
        if reply.get("messageId") != message_id or reply.get("topic") != topic:
            raise ProtocolError(f"{self.name}: Published for another message: sent {short(frame)}, got {short(reply)}")
        return reply

    async def publish_many(self, topic, n, prefix=None, scope="global"):
        """Publishes n messages one by one; returns their Published replies."""
        prefix = prefix or unique("m")
        return [await self.publish(topic, f"{prefix}-{i}", f"payload {i}", scope=scope) for i in range(n)]

    async def subscribe(self, topic, reader=None, scope="global", **fields):
        frame = {"kind": "Subscribe", "topic": topic, "scope": scope, **fields}
        if reader is not None:
            frame["reader"] = reader
        reply = await self.expect(frame, "Subscribed")
        assert reply["topic"] == topic and reply["scope"] == scope, short(reply)
        return reply

    async def commit(self, topic, scope="global", **form):
        """Commit in one of its forms: messageId=…, or partition=… with offset=… or upTo=…."""
        reply = await self.expect({"kind": "Commit", "topic": topic, "scope": scope, **form}, "Committed")
        assert reply["topic"] == topic, short(reply)
        return reply

    # -- deliveries

    def messages(self, sub):
        """Every Message of subscription `sub` so far."""
        return list(self.inbox[sub])

    async def next_messages(self, sub, n, timeout=WAIT_TIMEOUT):
        """The next `n` not yet taken Messages of `sub` (waits for them)."""
        start = self.taken[sub]
        await self.wait_until(
            lambda: len(self.inbox[sub]) >= start + n, f"{n} more Message(s) on {sub} after {start}", timeout
        )
        self.taken[sub] = start + n
        return self.inbox[sub][start:start + n]

    async def quiet(self, sub, seconds=1.5):
        """Asserts that no Message beyond those taken arrives on `sub` within `seconds`."""
        await asyncio.sleep(seconds)
        self.check()
        extra = self.inbox[sub][self.taken[sub]:]
        assert not extra, f"{self.name}: expected no more Messages on {sub}, got {len(extra)}: {short(extra)}"

    async def wait_end(self, sub, timeout=WAIT_TIMEOUT):
        await self.wait_until(lambda: self.ends[sub], f"SubscriptionEnd of {sub}", timeout)
        return self.ends[sub][0]

    # -- closing

    async def wait_closed(self, timeout=WAIT_TIMEOUT):
        """Waits for the server to close; returns (code, reason)."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.name}: the server did not close within {timeout}s; last frames: {self.last_frames()}"
            ) from None
        return self.close_code, self.close_reason

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except (asyncio.TimeoutError, websockets.WebSocketException, OSError):
            pass
        try:
            await asyncio.wait_for(self._reader, 5)
        except asyncio.TimeoutError:
            self._reader.cancel()


async def connect(url=None, name=None):
    """Opens a WebSocket to `url` (default: the first gateway)."""
    url = url or gateways()[0]
    ws = await asyncio.wait_for(
        websockets.connect(
            url, max_size=MAX_INCOMING, compression=None, open_timeout=10, close_timeout=5, ping_interval=None
        ),
        15,
    )
    return Conn(ws, url, name or unique("c"))


ADMIN = "admin"  # a cluster admin (tests/tests/gateway.rs gives the allocators this name too)


async def login(user, admin=False, device="laptop", url=None, token=None, name=None, **fields):
    """Connects and logs in as `user`; the Session reply is in `conn.session`."""
    conn = await connect(url, name=name or f"{user}@{device}")
    token = token if token is not None else mint(user, admin=admin)
    frame = {"kind": "Login", "userName": user, "device": device, "token": token, **fields}
    session = await conn.expect(frame, "Session")
    assert session["userName"] == user and session["device"] == device, short(session)
    conn.session = session
    return conn


async def admin(url=None, device="console"):
    """A connection logged in as the cluster admin."""
    return await login(ADMIN, admin=True, device=device, url=url)


# ------------------------------------------------------------------- running


def async_test(timeout=90.0):
    """Runs an async test function in its own event loop, bounded in time.

    When it ends, every connection it opened is closed, and any frame that
    failed the schema — even one the test never looked at — fails the test.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def runner(*args, **kwargs):
            asyncio.run(_run(fn, args, kwargs, timeout))

        return runner

    return wrap


async def _run(fn, args, kwargs, timeout):
    _OPEN.clear()
    try:
        try:
            await asyncio.wait_for(fn(*args, **kwargs), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"test did not finish within {timeout}s") from None
        for conn in _OPEN:
            conn.check()
    finally:
        await asyncio.gather(*(c.close() for c in _OPEN), return_exceptions=True)
        _OPEN.clear()
