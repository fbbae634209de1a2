"""Bad input over the socket: malformed JSON, wrong types, unknown kinds, bad
requestIds, binary and oversized frames. Each gets the right Error (or a
clean close), the connection or the gateway keeps serving, and nothing
acknowledged is lost."""

import asyncio

import websockets

import zyaws
from zyaws import async_test, connect, login, short, unique


async def acked(topic, n=3):
    """Creates `topic` and publishes n acknowledged messages; returns their ids."""
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    return [r["messageId"] for r in await admin.publish_many(topic, n)]


async def assert_all_there(topic, ids, url=None):
    """A fresh connection reads exactly `ids` from the beginning."""
    reader = await login(unique("reader"), url=url)
    sid = (await reader.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    got = await reader.next_messages(sid, len(ids))
    assert [m["messageId"] for m in got] == ids, f"acknowledged messages changed: {short(got)}"
    await reader.quiet(sid, 1.0)


@async_test()
async def test_malformed_json_gets_bad_request_without_request_id_and_the_connection_stays(alice, topic):
    ids = await acked(topic)
    for logged_in in (False, True):
        conn = await (login(alice) if logged_in else connect())
        for text in ('{"kind":"Handshake"', "not json at all", "", "{'kind': 'Handshake'}", '{"kind":"Handshake"}x',
                     "[1, 2]", "42", '"Handshake"', "null", "true"):
            await conn.send_raw(text)
            reply = await conn.next_unsolicited(f"an Error for {text!r}")
            assert reply["kind"] == "Error" and reply["code"] == "BadRequest", f"{text!r} → {short(reply)}"
            assert "requestId" not in reply, f"{text!r} → {short(reply)}"
        await conn.handshake()
    await assert_all_there(topic, ids)


@async_test()
async def test_missing_unknown_or_wrong_typed_kind_is_bad_request_echoing_the_request_id(alice):
    for logged_in in (False, True):
        conn = await (login(alice) if logged_in else connect())
        problems = []
        for frame in ({}, {"kind": "Frobnicate"}, {"kind": "publish"}, {"kind": "handshake"}, {"kind": 7},
                      {"kind": None}, {"kind": ["Handshake"]}, {"kind": ""}):
            reply = await conn.request(frame, valid=False)
            if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
                problems.append(f"{short(frame)} → {short(reply)}")
        assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)
        await conn.handshake()


@async_test()
async def test_an_unreadable_request_id_gets_an_error_without_one(alice):
    conn = await login(alice)
    for rid in ("r" * 65, 42, {"id": 1}, ["r"], "bell\u0007"):
        await conn.send({"kind": "Handshake", "requestId": rid}, valid=False)
        reply = await conn.next_unsolicited(f"an Error for requestId {rid!r}")
        assert reply["kind"] == "Error" and reply["code"] == "BadRequest", f"requestId {rid!r} → {short(reply)}"
        assert "requestId" not in reply, short(reply)
    # 64 characters and the empty string are fine, and echoed.
    for rid in ("r" * 64, ""):
        reply = await conn.request({"kind": "Handshake", "requestId": rid})
        assert reply["kind"] == "ServiceMap" and reply["requestId"] == rid, short(reply)


@async_test()
async def test_wrong_field_types_are_bad_request_and_nothing_is_written(alice, topic):
    ids = await acked(topic)
    conn = await login(alice)
    problems = []
    for frame in (
        {"kind": "Publish", "topic": 5, "messageId": "x", "messagePayload": "p"},
        {"kind": "Publish", "topic": [topic], "messageId": "x", "messagePayload": "p"},
        {"kind": "Publish", "topic": topic, "messageId": "x", "messagePayload": "p", "device": 3},
        {"kind": "Publish", "topic": topic, "messageId": "x", "messagePayload": "p", "key": 12},
        {"kind": "Publish", "topic": topic, "messages": [{"messageId": "x", "messagePayload": 1}]},
        {"kind": "Subscribe", "topic": topic, "batchSize": "10"},
        {"kind": "Subscribe", "topic": topic, "reader": {"from": "MessageRange", "start": "0", "end": 2}},
        {"kind": "Commit", "topic": topic, "partition": 0, "upTo": "2"},
        {"kind": "Commit", "topic": topic, "partition": -1, "upTo": 2},
        {"kind": "Commit", "topic": topic, "partition": 0, "upTo": 18446744073709551616},
        {"kind": "CreateTopic", "topic": unique("t"), "scope": "local", "partitions": "2"},
        {"kind": "DeleteTopic", "topic": None},
        {"kind": "Unsubscribe", "subscriptionId": 5},
        {"kind": "Unsubscribe"},
        {"kind": "ServiceBackupMap", "topic": 1.5},
        {"kind": "Topics", "timestamp": 1714564800},
    ):
        reply = await conn.request(frame, valid=False)
        if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
            problems.append(f"{short(frame)} → {short(reply)}")
    assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)
    await assert_all_there(topic, ids)


@async_test()
async def test_unknown_fields_are_ignored_and_null_is_absent(alice, topic):
    await acked(topic, 1)
    conn = await login(alice)
    reply = await conn.expect({"kind": "Handshake", "colour": "blue", "nested": {"a": [1, 2]}}, "ServiceMap")
    assert reply["services"], short(reply)
    published = await conn.request({"kind": "Publish", "topic": topic, "messageId": "n", "messagePayload": "p",
                                    "key": None, "timeoutMs": None, "scope": None, "extra": True}, valid=False)
    assert published["kind"] == "Published" and published["scope"] == "global", short(published)
    sub = await conn.request({"kind": "Subscribe", "topic": topic, "group": None, "reader": {"from": "Beginning"},
                              "batchSize": None}, valid=False)
    assert sub["kind"] == "Subscribed", short(sub)
    assert sub["group"] == "laptop" and sub["batchSize"] == 100, f"null means default: {short(sub)}"


@async_test()
async def test_a_binary_frame_is_refused_cleanly(alice):
    conn = await login(alice)
    await conn.send_raw(b'{"kind":"Handshake"}')
    await conn.wait_until(lambda: conn.unsolicited or conn.closed.is_set(), "an Error or a close", closed_ok=True)
    if conn.closed.is_set():
        assert conn.close_code in (1003, 1008), f"binary frame: closed with {conn.close_code} {conn.close_reason!r}"
        again = await login(alice)
        await again.handshake()
    else:
        reply = conn.unsolicited.pop(0)
        assert reply["kind"] == "Error" and reply["code"] == "BadRequest", short(reply)
        await conn.handshake()


@async_test()
async def test_a_frame_over_the_frame_limit_closes_1009_and_the_gateway_keeps_serving(gw, alice, topic):
    ids = await acked(topic)
    bystander = await login(unique("bystander"), url=gw[0])
    conn = await login(alice, url=gw[0])
    huge = {"kind": "Publish", "topic": topic, "messageId": "huge", "messagePayload": "x" * (1024 * 1024 + 1024)}
    try:
        await conn.send(huge)
    except websockets.ConnectionClosed:
        pass  # the server may close while the frame is still being written
    code, reason = await conn.wait_closed(timeout=20)
    assert code == 1009, f"a frame over the limit closes with 1009, got {code} {reason!r}"
    for frame in conn.unsolicited:
        assert frame["kind"] == "Error" and frame["code"] == "PayloadTooLarge", short(frame)

    # The other connection and fresh ones still work; the huge message was never written.
    await bystander.handshake()
    fresh = await login(alice, url=gw[0])
    await fresh.publish(topic, "after", "fine")
    await assert_all_there(topic, ids + ["after"], url=gw[0])


@async_test(timeout=120)
async def test_a_storm_of_garbage_leaves_the_gateway_serving_and_acknowledged_messages_intact(gw, topic):
    ids = await acked(topic)
    garbage = ["{", "}", "[]", '{"kind":"Nope"}', '{"kind":"Login"}', "\u0000", "{}" * 1000]
    conns = [await connect(gw[0]) for _ in range(4)]
    for conn in conns:
        for j in range(50):
            await conn.send_raw(garbage[j % len(garbage)])
    for conn in conns:
        await conn.wait_until(lambda c=conn: len(c.unsolicited) >= 50, "an Error for each of 50 bad frames", 30)
        assert all(f["kind"] == "Error" for f in conn.unsolicited), conn.last_frames()
        await conn.handshake()
    conns[0].ws.transport.abort()
    await asyncio.sleep(0.2)
    await assert_all_there(topic, ids, url=gw[0])
