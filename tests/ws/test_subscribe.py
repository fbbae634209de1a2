"""Subscribe: every reader, flow control, the three commit forms, unsubscribe,
redelivery across gateways, consumer groups."""

import zyaws
from zyaws import async_test, login, short, unique


async def topic_with(topic, n, **create):
    """Creates `topic` as admin and publishes n messages m-0 … m-(n-1) (offsets 0 … n-1)."""
    admin = await zyaws.admin()
    await admin.create_topic(topic, **create)
    for i in range(n):
        reply = await admin.publish(topic, f"m-{i}", f"payload {i}")
        assert reply["offset"] == i, short(reply)
    return admin


def offsets(messages):
    return [m["offset"] for m in messages]


@async_test()
async def test_beginning_reader_delivers_everything_then_live(alice, topic):
    admin = await topic_with(topic, 5)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "Beginning"})
    assert sub["partitions"] == [{"partition": 0, "startOffset": 0, "endOffset": 5}], short(sub)
    assert (sub["batchSize"], sub["commitRatio"], sub["isolation"]) == (100, 0.5, "committed"), short(sub)
    sid = sub["subscriptionId"]
    got = await conn.next_messages(sid, 5)
    assert offsets(got) == [0, 1, 2, 3, 4] and [m["messageId"] for m in got] == [f"m-{i}" for i in range(5)]
    assert all(m["subscriptionId"] == sid and m["topic"] == topic and m["scope"] == "global" for m in got)
    assert all(m["redelivered"] is False and m["deliveryCount"] == 1 for m in got), short(got)
    await admin.publish(topic, "live", "x")
    [live] = await conn.next_messages(sid, 1)
    assert (live["offset"], live["messageId"]) == (5, "live"), short(live)


@async_test()
async def test_latest_reader_delivers_only_later_messages(alice, topic):
    admin = await topic_with(topic, 5)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "Latest"})
    assert sub["partitions"][0]["startOffset"] == 5, short(sub)
    sid = sub["subscriptionId"]
    await conn.quiet(sid, 1.0)
    await admin.publish(topic, "n-0", "")
    await admin.publish(topic, "n-1", "")
    got = await conn.next_messages(sid, 2)
    assert [m["messageId"] for m in got] == ["n-0", "n-1"] and offsets(got) == [5, 6], short(got)
    # The string shorthand names the same reader.
    other = await login(alice, device="other")
    assert (await other.subscribe(topic, "Latest"))["partitions"][0]["startOffset"] == 7


@async_test()
async def test_committed_reader_resumes_after_the_groups_commits(alice, topic):
    await topic_with(topic, 5)
    conn = await login(alice)
    sub = await conn.subscribe(topic, group="workers")  # Committed is the default reader
    assert sub["group"] == "workers" and sub["partitions"][0]["startOffset"] == 0, short(sub)
    await conn.next_messages(sub["subscriptionId"], 5)
    assert (await conn.commit(topic, partition=0, upTo=2))["committedOffset"] == 3
    await conn.expect({"kind": "Unsubscribe", "subscriptionId": sub["subscriptionId"]}, "Unsubscribed")

    again = await conn.subscribe(topic, {"from": "Committed"}, group="workers")
    assert again["partitions"][0]["startOffset"] == 3, short(again)
    got = await conn.next_messages(again["subscriptionId"], 2)
    assert offsets(got) == [3, 4], short(got)
    assert all(m["redelivered"] is True and m["deliveryCount"] == 2 for m in got), short(got)
    await conn.quiet(again["subscriptionId"], 1.0)


@async_test()
async def test_message_range_reader_delivers_the_range_then_ends(alice, topic):
    admin = await topic_with(topic, 6)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "MessageRange", "start": 1, "end": 4})
    assert sub["partitions"] == [{"partition": 0, "startOffset": 1, "endOffset": 4}], short(sub)
    sid = sub["subscriptionId"]
    got = await conn.next_messages(sid, 3)
    assert offsets(got) == [1, 2, 3], short(got)
    end = await conn.wait_end(sid)
    assert (end["reason"], end.get("partition"), end["topic"]) == ("RangeComplete", 0, topic), short(end)
    await admin.publish(topic, "after", "")
    await conn.quiet(sid, 1.0)

    # An empty range ends at once; the partition may also be given at the top level.
    other = await login(alice, device="other")
    empty = await other.subscribe(topic, {"from": "MessageRange", "start": 2, "end": 2})
    await other.wait_end(empty["subscriptionId"])
    assert other.messages(empty["subscriptionId"]) == []
    third = await login(alice, device="third")
    top = await third.subscribe(topic, {"from": "MessageRange", "start": 5, "end": 7}, partition=0)
    assert offsets(await third.next_messages(top["subscriptionId"], 2)) == [5, 6]
    await third.wait_end(top["subscriptionId"])
    await conn.expect_error({"kind": "Subscribe", "topic": topic, "reader": {"from": "MessageRange", "start": 4,
                                                                              "end": 3}}, "BadRequest")
    await conn.expect_error({"kind": "Subscribe", "topic": topic, "partition": 1,
                             "reader": {"from": "MessageRange", "start": 0, "end": 3, "partition": 0}}, "BadRequest")


@async_test()
async def test_last_n_reader_delivers_the_last_n_of_each_partition_then_live(alice, topic):
    admin = await topic_with(topic, 5)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "LastN", "count": 2})
    assert sub["partitions"][0]["startOffset"] == 3, short(sub)
    sid = sub["subscriptionId"]
    assert offsets(await conn.next_messages(sid, 2)) == [3, 4]
    await conn.quiet(sid, 1.0)
    await admin.publish(topic, "live", "")
    assert offsets(await conn.next_messages(sid, 1)) == [5]

    other = await login(alice, device="other")
    more = await other.subscribe(topic, {"from": "LastN", "count": 100})
    assert offsets(await other.next_messages(more["subscriptionId"], 6)) == [0, 1, 2, 3, 4, 5]

    multi = unique("t")
    await admin.create_topic(multi, partitions=2)
    per_partition = {}
    for i in range(12):
        r = await admin.publish(multi, f"k-{i}", "", key=f"key-{i}")
        per_partition.setdefault(r["partition"], []).append(r["offset"])
    sub = await conn.subscribe(multi, {"from": "LastN", "count": 1})
    got = await conn.next_messages(sub["subscriptionId"], len(per_partition))
    assert sorted((m["partition"], m["offset"]) for m in got) == sorted(
        (p, offs[-1]) for p, offs in per_partition.items()), short(got)
    await conn.quiet(sub["subscriptionId"], 1.0)


@async_test()
async def test_flow_control_one_batch_without_commits_more_after_commits(alice, topic):
    admin = await topic_with(topic, 30)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "Beginning"}, batchSize=10, commitRatio=0.5)
    assert (sub["batchSize"], sub["commitRatio"]) == (10, 0.5), short(sub)
    sid = sub["subscriptionId"]

    assert offsets(await conn.next_messages(sid, 10)) == list(range(10))
    await conn.quiet(sid, 1.5)  # a client that never commits gets exactly one batch

    await conn.commit(topic, partition=0, upTo=3)  # 6 in flight: above 10 × (1 − 0.5)
    await conn.quiet(sid, 1.5)
    await conn.commit(topic, partition=0, offset=4)  # 5 in flight: refill up to 10
    assert offsets(await conn.next_messages(sid, 5)) == list(range(10, 15))
    await conn.quiet(sid, 1.5)

    await conn.commit(topic, partition=0, upTo=14)  # 0 in flight
    assert offsets(await conn.next_messages(sid, 10)) == list(range(15, 25))
    await conn.quiet(sid, 1.0)
    await conn.commit(topic, partition=0, upTo=24)
    assert offsets(await conn.next_messages(sid, 5)) == list(range(25, 30))  # the log is exhausted
    await conn.quiet(sid, 1.0)

    # 5 in flight: live messages flow until 10 are in flight, then stop.
    for i in range(6):
        await admin.publish(topic, f"live-{i}", "")
    assert offsets(await conn.next_messages(sid, 5)) == list(range(30, 35))
    await conn.quiet(sid, 1.5)
    await conn.commit(topic, partition=0, upTo=34)
    assert offsets(await conn.next_messages(sid, 1)) == [35]


@async_test()
async def test_batch_size_defaults_to_the_topics_page_size(alice, topic):
    await topic_with(topic, 10, pageSize=7)
    conn = await login(alice)
    sub = await conn.subscribe(topic, {"from": "Beginning"})
    assert sub["batchSize"] == 7, short(sub)
    assert offsets(await conn.next_messages(sub["subscriptionId"], 7)) == list(range(7))
    await conn.quiet(sub["subscriptionId"], 1.5)


@async_test()
async def test_commit_in_all_three_forms(alice, topic):
    await topic_with(topic, 6)
    conn = await login(alice, device="laptop")
    sub = await conn.subscribe(topic, {"from": "Beginning"}, group="g")
    await conn.next_messages(sub["subscriptionId"], 6)

    # The seed's form: by messageId, with the session fields.
    by_id = await conn.expect({"kind": "Commit", "userName": alice, "device": "laptop", "topic": topic,
                               "scope": "global", "messageId": "m-0", "timestamp": "2024-05-01T12:00:00Z"},
                              "Committed")
    assert (by_id["committedOffset"], by_id["group"], by_id["partition"], by_id.get("messageId")) == (
        1, "g", 0, "m-0"), short(by_id)
    # One offset above uncommitted ones: the committed offset stays.
    one = await conn.commit(topic, partition=0, offset=3)
    assert one["committedOffset"] == 1, f"offsets 1 and 2 are not committed yet: {short(one)}"
    # Everything up to 2: 3 was committed already, so the first uncommitted is 4.
    up_to = await conn.commit(topic, partition=0, upTo=2)
    assert up_to["committedOffset"] == 4, short(up_to)

    await conn.expect({"kind": "Unsubscribe", "subscriptionId": sub["subscriptionId"]}, "Unsubscribed")
    again = await conn.subscribe(topic, {"from": "Committed"}, group="g")
    assert offsets(await conn.next_messages(again["subscriptionId"], 2)) == [4, 5]
    await conn.quiet(again["subscriptionId"], 1.0)

    problems = []
    for form in ({}, {"messageId": "not-in-the-topic"}, {"offset": 1}, {"upTo": 1}, {"partition": 0}, {"partition": 0, "offset": 1, "upTo": 2},
                 {"messageId": "m-1", "upTo": 2, "partition": 0}, {"partition": 0, "offset": -1},
                 {"partition": 0, "offset": 1.0}, {"partition": "0", "upTo": 1}):
        frame = {"kind": "Commit", "topic": topic, **form}
        reply = await conn.request(frame, valid=False)
        if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
            problems.append(f"{short(frame)} → {short(reply)}")
    assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)


@async_test()
async def test_unsubscribe_stops_delivery(alice, topic):
    admin = await topic_with(topic, 2)
    conn = await login(alice)
    sid = (await conn.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    await conn.next_messages(sid, 2)
    reply = await conn.expect({"kind": "Unsubscribe", "subscriptionId": sid}, "Unsubscribed")
    assert reply["subscriptionId"] == sid, short(reply)
    await admin.publish(topic, "after", "")
    await conn.quiet(sid, 1.5)
    await conn.expect_error({"kind": "Unsubscribe", "subscriptionId": sid}, "BadRequest")


@async_test()
async def test_uncommitted_messages_are_redelivered_after_reconnecting_to_another_gateway(gw, alice, topic):
    admin = await topic_with(topic, 5)
    first = await login(alice, device="phone", url=gw[0])
    sid = (await first.subscribe(topic, group="phone"))["subscriptionId"]
    await first.next_messages(sid, 5)
    assert (await first.commit(topic, partition=0, upTo=1))["committedOffset"] == 2
    first.ws.transport.abort()  # the connection drops: no Logout, no close handshake
    await first.close()

    second = await login(alice, device="phone", url=gw[1])
    [entry] = [t for t in second.session["topics"] if t["topic"] == topic]
    assert entry["group"] == "phone" and entry["partitions"][0]["committedOffset"] == 2, short(entry)
    sub = await second.subscribe(topic, group="phone")
    assert sub["partitions"][0]["startOffset"] == 2, short(sub)
    got = await second.next_messages(sub["subscriptionId"], 3)
    assert offsets(got) == [2, 3, 4], short(got)
    for m in got:
        assert m["redelivered"] is True and m["deliveryCount"] >= 2, short(m)
    await admin.publish(topic, "fresh", "")
    [fresh] = await second.next_messages(sub["subscriptionId"], 1)
    assert (fresh["offset"], fresh["redelivered"], fresh["deliveryCount"]) == (5, False, 1), short(fresh)


@async_test()
async def test_each_group_gets_every_message_and_a_shared_group_shares_commits(gw, alice, bob, topic):
    admin = await topic_with(topic, 6)
    ga = await login(alice, device="a", url=gw[0])
    gb = await login(alice, device="b", url=gw[1])
    sa = (await ga.subscribe(topic, {"from": "Beginning"}, group="ga"))["subscriptionId"]
    sb = (await gb.subscribe(topic, {"from": "Beginning"}, group="gb"))["subscriptionId"]
    assert offsets(await ga.next_messages(sa, 6)) == list(range(6))
    assert offsets(await gb.next_messages(sb, 6)) == list(range(6))
    await ga.commit(topic, partition=0, upTo=5)
    listed = {t["group"]: t for t in (await gb.expect({"kind": "Topics"}, "Topics"))["topics"] if t["topic"] == topic}
    assert listed["ga"]["partitions"][0]["committedOffset"] == 6, short(listed)
    assert listed["gb"]["partitions"][0]["committedOffset"] == 0, short(listed)

    # A group name shared by two connections (two devices) shares the committed offsets.
    one = await login(alice, device="desk", url=gw[0])
    s1 = (await one.subscribe(topic, group="shared"))["subscriptionId"]
    await one.next_messages(s1, 6)
    assert (await one.commit(topic, partition=0, upTo=3))["committedOffset"] == 4
    await one.close()
    two = await login(alice, device="couch", url=gw[1])
    s2 = await two.subscribe(topic, group="shared")
    assert s2["partitions"][0]["startOffset"] == 4, f"the group's commits are shared: {short(s2)}"
    assert offsets(await two.next_messages(s2["subscriptionId"], 2)) == [4, 5]
    await admin.publish(topic, "new", "")
    assert offsets(await two.next_messages(s2["subscriptionId"], 1)) == [6]

    # Groups are namespaced by user: bob's "shared" starts from scratch.
    other = await login(bob)
    s3 = await other.subscribe(topic, group="shared")
    assert s3["partitions"][0]["startOffset"] == 0, short(s3)
    assert offsets(await other.next_messages(s3["subscriptionId"], 7)) == list(range(7))


@async_test()
async def test_bad_subscribe_requests_are_bad_request(alice, topic):
    await topic_with(topic, 1)
    conn = await login(alice)
    problems = []
    for fields in ({"batchSize": 0}, {"batchSize": 10001}, {"batchSize": "10"}, {"batchSize": 2.5},
                   {"commitRatio": 0}, {"commitRatio": 1.5}, {"commitRatio": "half"}, {"isolation": "dirty"},
                   {"reader": {"from": "Sideways"}}, {"reader": {"from": "LastN"}}, {"reader": {"from": "LastN",
                                                                                                 "count": -1}},
                   {"reader": {"from": "MessageRange", "start": 0}}, {"reader": 5}, {"group": ""},
                   {"group": "g" * 256}, {"scope": "everywhere"}):
        frame = {"kind": "Subscribe", "topic": topic, **fields}
        reply = await conn.request(frame, valid=False)
        if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
            problems.append(f"{short(frame)} → {short(reply)}")
    assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)
    await conn.expect_error({"kind": "Subscribe", "topic": unique("none")}, "TopicNotFound")
