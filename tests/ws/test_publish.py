"""Publish: replies, duplicates, batches, keys, the messaggePayload alias, timeoutMs, sizes."""

import datetime

import zyaws
from zyaws import async_test, login, short, unique


def instant(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00").replace("z", "+00:00"))


async def read_all(conn, topic, n, scope="global", **fields):
    """Subscribes from the beginning and returns exactly n Messages (then checks for no more)."""
    sub = (await conn.subscribe(topic, {"from": "Beginning"}, scope=scope, batchSize=1000, **fields))["subscriptionId"]
    got = await conn.next_messages(sub, n)
    await conn.quiet(sub, 1.0)
    return got


@async_test()
async def test_publish_answers_with_partition_and_offset_and_delivers_the_publishers_identity(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice, device="laptop", timestamp="2024-05-01T12:00:00Z")

    first = await conn.publish(topic, "m-0", "hello", device="phone", timestamp="2024-05-02T08:30:00.250+02:00")
    assert (first["scope"], first["partition"], first["offset"], first["duplicate"]) == ("global", 0, 0, False), short(
        first)
    second = await conn.publish(topic, "m-1", "")
    assert (second["offset"], second["duplicate"]) == (1, False), short(second)

    m0, m1 = await read_all(conn, topic, 2)
    assert (m0["messageId"], m0["messagePayload"], m0["offset"], m0["partition"]) == ("m-0", "hello", 0, 0), short(m0)
    assert m0["userName"] == alice, f"the authenticated publisher: {short(m0)}"
    assert m0["device"] == "phone", f"the Publish request's device when given: {short(m0)}"
    assert instant(m0["timestamp"]) == instant("2024-05-02T08:30:00.250+02:00"), short(m0)
    assert "key" not in m0, f"no key was given: {short(m0)}"
    assert (m1["messagePayload"], m1["userName"], m1["device"]) == ("", alice, "laptop"), f"the session's: {short(m1)}"
    session_ts = conn.session["timestamp"]
    assert instant(m1["timestamp"]) == instant(session_ts), (
        f"Message.timestamp defaults to the session's ({session_ts}, Login sent 2024-05-01T12:00:00Z): {short(m1)}")
    assert m0["redelivered"] is False and m0["deliveryCount"] == 1, short(m0)


@async_test()
async def test_a_duplicate_message_id_appends_nothing_on_any_gateway(gw, alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic, partitions=3)
    a = await login(alice, url=gw[0])
    b = await login(alice, device="other", url=gw[1])
    original = await a.publish(topic, "once", "first")
    again = await a.publish(topic, "once", "second attempt")
    elsewhere = await b.publish(topic, "once", "third attempt")
    for reply in (again, elsewhere):
        assert reply["duplicate"] is True, short(reply)
        assert (reply["partition"], reply["offset"]) == (original["partition"], original["offset"]), short(reply)

    sub = (await a.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    [msg] = await a.next_messages(sub, 1)
    assert (msg["messageId"], msg["messagePayload"]) == ("once", "first"), short(msg)
    await a.quiet(sub, 1.0)


@async_test()
async def test_batch_publish_replies_with_aligned_arrays(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    batch = {"kind": "Publish", "topic": topic, "messages": [
        {"messageId": "a", "messagePayload": "1"},
        {"messageId": "b", "messagePayload": "2"},
        {"messageId": "c", "messagePayload": "3"},
    ]}
    first = await conn.expect(batch, "Published")
    assert first["messageIds"] == ["a", "b", "c"], short(first)
    assert first["offsets"] == [0, 1, 2] and first["partitions"] == [0, 0, 0], short(first)
    assert first["duplicates"] == [False, False, False], short(first)
    assert "messageId" not in first and "offset" not in first, f"arrays instead of scalars: {short(first)}"

    mixed = {"kind": "Publish", "topic": topic, "messages": [
        {"messageId": "d", "messagePayload": "4"},
        {"messageId": "b", "messagePayload": "again"},
        {"messageId": "e", "messaggePayload": "5"},
    ]}
    second = await conn.expect(mixed, "Published")
    assert second["messageIds"] == ["d", "b", "e"], short(second)
    assert second["duplicates"] == [False, True, False], short(second)
    assert second["offsets"][1] == 1, f"the duplicate answers with its original offset: {short(second)}"
    assert second["offsets"][0] not in (0, 1, 2) and second["offsets"][2] not in (0, 1, 2), short(second)

    got = await read_all(conn, topic, 5)
    assert [(m["messageId"], m["messagePayload"]) for m in got] == [
        ("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")], short(got)
    by_id = {m["messageId"]: m["offset"] for m in got}
    assert [by_id[i] for i in second["messageIds"]] == second["offsets"], f"{short(second)} vs {short(got)}"


@async_test()
async def test_equal_keys_go_to_one_partition_and_the_key_is_delivered(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic, partitions=4)
    conn = await login(alice)
    parts = {}
    for key in ("red", "green", "blue"):
        replies = [await conn.publish(topic, f"{key}-{i}", str(i), key=key) for i in range(3)]
        parts[key] = {r["partition"] for r in replies}
        assert len(parts[key]) == 1, f"key {key} spread over partitions {parts[key]}"
    batch = await conn.expect({"kind": "Publish", "topic": topic, "key": "red", "messages": [
        {"messageId": "red-b", "messagePayload": "default key"},
        {"messageId": "blue-b", "messagePayload": "own key", "key": "blue"},
    ]}, "Published")
    assert batch["partitions"] == [*parts["red"], *parts["blue"]], f"top-level key is the default: {short(batch)}"

    got = await read_all(conn, topic, 11)
    for m in got:
        expected = m["messageId"].split("-")[0]
        assert m.get("key") == expected, short(m)
        assert {m["partition"]} == parts[expected], short(m)


@async_test()
async def test_the_messagge_payload_alias_is_accepted(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    reply = await conn.expect(
        {"kind": "Publish", "topic": topic, "messageId": "alias", "messaggePayload": "seed spelling"}, "Published")
    assert reply["messageId"] == "alias", short(reply)
    same = {"kind": "Publish", "topic": topic, "messageId": "both", "messagePayload": "x", "messaggePayload": "x"}
    await conn.expect(same, "Published")
    differ = {"kind": "Publish", "topic": topic, "messageId": "differ", "messagePayload": "x", "messaggePayload": "y"}
    await conn.expect_error(differ, "BadRequest")
    got = await read_all(conn, topic, 2)
    assert [(m["messageId"], m["messagePayload"]) for m in got] == [("alias", "seed spelling"), ("both", "x")]


@async_test()
async def test_timeout_ms_is_honoured_and_bounded(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    reply = await conn.publish(topic, "t-1", "quick", timeoutMs=5000)
    assert reply["offset"] == 0, short(reply)
    for bad in (0, 600_001, -1, 1.5, "5000"):
        await conn.expect_error(
            {"kind": "Publish", "topic": topic, "messageId": "t-bad", "messagePayload": "", "timeoutMs": bad},
            "BadRequest")
    await read_all(conn, topic, 1)


@async_test()
async def test_malformed_publish_requests_are_bad_request(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    base = {"kind": "Publish", "topic": topic}
    problems = []
    for fields in (
        {},  # neither form
        {"messageId": "x"},  # no payload
        {"messagePayload": "p"},  # no id
        {"messageId": "x", "messagePayload": "p", "messages": [{"messageId": "y", "messagePayload": "q"}]},
        {"messages": []},
        {"messages": [{"messageId": f"b-{i}", "messagePayload": ""} for i in range(1001)]},
        {"messages": [{"messagePayload": "no id"}]},
        {"messages": "not an array"},
        {"messageId": "", "messagePayload": "p"},
        {"messageId": "x" * 257, "messagePayload": "p"},
        {"messageId": 7, "messagePayload": "p"},
        {"messageId": "x", "messagePayload": {"an": "object"}},
        {"messageId": "x", "messagePayload": "p", "key": "k" * 1025},
        {"messageId": "x", "messagePayload": "p", "timestamp": "yesterday"},
        {"messageId": "x", "messagePayload": "p", "timestamp": "2024-02-30T00:00:00Z"},
        {"messageId": "x", "messagePayload": "p", "scope": "Global"},
        {"messageId": "x\u0007", "messagePayload": "p"},
    ):
        frame = {**base, **fields}
        reply = await conn.request(frame, valid=False)
        if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
            problems.append(f"{short(frame, 200)} → {short(reply)}")
    assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)
    await conn.expect_error({**base, "topic": unique("none"), "messageId": "x", "messagePayload": ""}, "TopicNotFound")
    # None of them wrote anything.
    await conn.publish(topic, "after", "ok")
    [msg] = await read_all(conn, topic, 1)
    assert msg["messageId"] == "after"


@async_test()
async def test_a_message_over_the_message_limit_is_payload_too_large_without_close(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    big = "x" * 300_000  # over the default 256 KiB per message, under the 1 MiB frame limit
    await conn.expect_error({"kind": "Publish", "topic": topic, "messageId": "big", "messagePayload": big},
                            "PayloadTooLarge")
    await conn.expect_error({"kind": "Publish", "topic": topic, "messages": [
        {"messageId": "small", "messagePayload": "fine"}, {"messageId": "big2", "messagePayload": big}]},
        "PayloadTooLarge")
    assert not conn.closed.is_set(), f"PayloadTooLarge for a message must not close: {conn.close_code}"
    await conn.publish(topic, "after", "ok")
    [msg] = await read_all(conn, topic, 1)
    assert msg["messageId"] == "after", short(msg)


def fnv1a64(text):
    """The gateway's documented partition hash (protocol reference, section 8a)."""
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) % (1 << 64)
    return h


@async_test()
async def test_the_partition_is_fnv1a_of_the_key_or_else_the_message_id(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic, partitions=5)
    conn = await login(alice)
    for i in range(20):
        mid = f"id-{i}"
        assert (await conn.publish(topic, mid, ""))["partition"] == fnv1a64(mid) % 5, mid
        key = f"key-{i}"
        assert (await conn.publish(topic, f"k{mid}", "", key=key))["partition"] == fnv1a64(key) % 5, key


@async_test()
async def test_pipelined_publishes_from_one_connection_keep_their_order(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    frames = [{"kind": "Publish", "topic": topic, "messageId": f"o-{i}", "messagePayload": str(i)} for i in range(50)]
    replies = await conn.pipeline(frames)  # sent back to back, in this order, on one socket
    assert all(r["kind"] == "Published" for r in replies), [short(r) for r in replies if r["kind"] != "Published"]
    order = [r["offset"] for r in replies]
    assert order == list(range(50)), f"offsets of o-0 … o-49, sent in that order: {order}"
