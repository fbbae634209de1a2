"""Topics: creation rights, deletion rights, local namespaces, AllTopics, Topics and Session.topics."""

import asyncio
import time

import zyaws
from zyaws import async_test, login, short, unique


async def all_topics(conn):
    return (await conn.expect({"kind": "AllTopics"}, "AllTopics"))["topics"]


def find(topics, topic, scope="global"):
    found = [t for t in topics if t["topic"] == topic and t["scope"] == scope]
    assert len(found) <= 1, f"{topic} listed twice: {found}"
    return found[0] if found else None


@async_test()
async def test_non_admin_cannot_create_a_global_topic(alice, topic):
    conn = await login(alice)
    await conn.expect_error({"kind": "CreateTopic", "topic": topic, "scope": "global"}, "NotAuthorized")
    await conn.expect_error({"kind": "CreateTopic", "topic": topic}, "NotAuthorized")  # global is the default
    assert find(await all_topics(conn), topic) is None, "a refused CreateTopic left a topic behind"
    await conn.expect_error({"kind": "Publish", "topic": topic, "messageId": "m", "messagePayload": ""}, "TopicNotFound")


@async_test()
async def test_admin_creates_a_topic_once_and_every_gateway_sees_it(gw, topic):
    admin = await zyaws.admin(url=gw[0])
    created = await admin.create_topic(topic, partitions=3, replicationFactor=3, pageSize=50)
    assert created["topic"] == topic and created["scope"] == "global", short(created)
    assert [p["partition"] for p in created["partitions"]] == [0, 1, 2], short(created)
    for p in created["partitions"]:
        # Right after creation the election may still be under way (leader null).
        replicas = set(p["backups"]) | ({p["leader"]} - {None})
        assert len(replicas) == 3 and p["leader"] not in p["backups"], f"3 distinct replicas: {p}"

    other = await zyaws.admin(url=gw[1])
    await other.expect_error({"kind": "CreateTopic", "topic": topic, "scope": "global"}, "TopicExists")
    info = find(await all_topics(other), topic)
    assert info is not None, f"{topic} missing from AllTopics on the other gateway"
    assert (info["partitions"], info["replicationFactor"], info["pageSize"], info["owner"], info["audited"]) == (
        3, 3, 50, zyaws.ADMIN, False), short(info)


@async_test()
async def test_deleting_someone_elses_topic_is_not_authorized(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    await admin.publish(topic, "kept", "still here")

    conn = await login(alice)
    await conn.expect_error({"kind": "DeleteTopic", "topic": topic, "scope": "global"}, "NotAuthorized")
    # Nothing changed: the message is still there.
    sub = (await conn.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    [msg] = await conn.next_messages(sub, 1)
    assert msg["messageId"] == "kept", short(msg)

    await admin.delete_topic(topic)
    await admin.expect_error({"kind": "DeleteTopic", "topic": topic, "scope": "global"}, "TopicNotFound")
    await admin.expect_error({"kind": "Publish", "topic": topic, "messageId": "m", "messagePayload": ""}, "TopicNotFound")
    assert find(await all_topics(conn), topic) is None


@async_test()
async def test_a_subscription_ends_when_its_topic_is_deleted(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    sub = (await conn.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    await admin.delete_topic(topic)
    end = await conn.wait_end(sub, timeout=20)
    assert end["reason"] == "TopicDeleted" and end["topic"] == topic, short(end)


@async_test()
async def test_local_topics_of_two_users_are_separate(alice, bob):
    name = unique("notes")
    a = await login(alice)
    b = await login(bob)
    # Both may create a local topic (no admin right needed), with the same name.
    await a.create_topic(name, scope="local")
    await b.create_topic(name, scope="local")
    await a.expect_error({"kind": "CreateTopic", "topic": name, "scope": "local"}, "TopicExists")
    await a.publish(name, "a-1", "alice's", scope="local")
    await b.publish(name, "b-1", "bob's", scope="local")
    await b.publish(name, "b-2", "bob's", scope="local")

    for conn, user, ids in ((a, alice, ["a-1"]), (b, bob, ["b-1", "b-2"])):
        sub = (await conn.subscribe(name, {"from": "Beginning"}, scope="local"))["subscriptionId"]
        got = await conn.next_messages(sub, len(ids))
        assert [m["messageId"] for m in got] == ids, short(got)
        assert all(m["userName"] == user and m["scope"] == "local" for m in got), short(got)
        await conn.quiet(sub, 1.0)
        local = [t for t in await all_topics(conn) if t["scope"] == "local"]
        assert [(t["topic"], t["owner"]) for t in local] == [(name, user)], f"{user} sees {short(local)}"

    # Deleting alice's local topic leaves bob's.
    await a.delete_topic(name, scope="local")
    await b.publish(name, "b-3", "still mine", scope="local")
    await a.expect_error(
        {"kind": "Publish", "topic": name, "scope": "local", "messageId": "x", "messagePayload": ""}, "TopicNotFound")


@async_test()
async def test_a_user_cannot_reach_another_users_local_topic(alice, bob):
    name = unique("private")
    b = await login(bob)
    await b.create_topic(name, scope="local")
    await b.publish(name, "secret", "bob only", scope="local")

    a = await login(alice)
    await a.expect_error(
        {"kind": "Publish", "topic": name, "scope": "local", "messageId": "x", "messagePayload": ""}, "TopicNotFound")
    await a.expect_error({"kind": "Subscribe", "topic": name, "scope": "local"}, "TopicNotFound")
    await a.expect_error({"kind": "DeleteTopic", "topic": name, "scope": "local"}, "TopicNotFound")
    await a.expect_error({"kind": "ServiceBackupMap", "topic": name, "scope": "local"}, "TopicNotFound")
    assert find(await all_topics(a), name, "local") is None
    # Nor is it a global topic.
    await a.expect_error(
        {"kind": "Publish", "topic": name, "scope": "global", "messageId": "x", "messagePayload": ""}, "TopicNotFound")
    sub = (await b.subscribe(name, {"from": "Beginning"}, scope="local"))["subscriptionId"]
    [msg] = await b.next_messages(sub, 1)
    assert msg["messageId"] == "secret"
    await b.quiet(sub, 1.0)


@async_test()
async def test_all_topics_reports_message_counts_and_page_sizes(alice, topic):
    admin = await zyaws.admin()
    plain = unique("t")
    await admin.create_topic(topic, partitions=2, replicationFactor=3, pageSize=7)
    await admin.create_topic(plain)
    for i in range(5):
        await admin.publish(topic, f"m-{i}", f"{i}")

    conn = await login(alice)
    deadline = time.monotonic() + 20
    while True:
        topics = await all_topics(conn)
        info = find(topics, topic)
        assert info is not None, f"{topic} missing from AllTopics"
        if info["messageCount"] == 5:
            break
        assert info["messageCount"] <= 5, short(info)
        assert time.monotonic() < deadline, f"messageCount never reached 5: {short(info)}"
        await asyncio.sleep(0.3)
    assert (info["partitions"], info["replicationFactor"], info["pageSize"], info["owner"]) == (
        2, 3, 7, zyaws.ADMIN), short(info)
    default = find(topics, plain)
    assert default is not None and default["pageSize"] == 100 and default["messageCount"] == 0, short(default)
    assert default["partitions"] == 1 and default["audited"] is False, short(default)


@async_test()
async def test_topics_and_session_topics_show_committed_offsets(gw, alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    await admin.publish_many(topic, 5)

    conn = await login(alice, device="d1", url=gw[0])
    sub = (await conn.subscribe(topic, {"from": "Beginning"}))
    assert sub["group"] == "d1", f"group defaults to the device: {short(sub)}"
    await conn.next_messages(sub["subscriptionId"], 5)
    committed = await conn.commit(topic, partition=0, upTo=2)
    assert (committed["committedOffset"], committed["group"], committed["partition"]) == (3, "d1", 0), short(committed)
    # A commit may name another of the user's groups.
    sibling = await login(alice, device="d9", url=gw[1])
    await sibling.subscribe(topic, {"from": "Beginning"}, group="other")
    other = await conn.commit(topic, partition=0, upTo=0, group="other")
    assert (other["committedOffset"], other["group"]) == (1, "other"), short(other)

    listed = (await conn.expect({"kind": "Topics"}, "Topics"))["topics"]
    mine = {(t["topic"], t["group"]): t for t in listed if t["topic"] == topic}
    assert set(mine) == {(topic, "d1"), (topic, "other")}, f"every group of the user: {short(listed)}"
    assert mine[(topic, "d1")]["partitions"] == [{"partition": 0, "committedOffset": 3, "endOffset": 5, "lag": 2}]
    assert mine[(topic, "other")]["partitions"] == [{"partition": 0, "committedOffset": 1, "endOffset": 5, "lag": 4}]

    # A reconnecting client learns where it stands, on any gateway.
    again = await login(alice, device="d1", url=gw[1])
    entries = [t for t in again.session["topics"] if t["topic"] == topic]
    assert [(t["group"], t["partitions"][0]["committedOffset"]) for t in entries] == [("d1", 3)], short(again.session)
    assert all(t["group"] == "d1" for t in again.session["topics"]), "Session.topics is this device's group"
    elsewhere = await login(alice, device="d2", url=gw[1])
    assert not [t for t in elsewhere.session["topics"] if t["topic"] == topic], short(elsewhere.session)


@async_test()
async def test_bad_topic_requests_are_bad_request(alice):
    conn = await login(alice)
    problems = []
    for fields in (
        {"topic": "has space"}, {"topic": ""}, {"topic": "."}, {"topic": ".."}, {"topic": "a" * 201},
        {"topic": "caf\u00e9"}, {"topic": "a/b"}, {"topic": unique("t"), "scope": "planet"},
        {"topic": unique("t"), "scope": "GLOBAL"}, {"topic": unique("t"), "partitions": 0},
        {"topic": unique("t"), "partitions": 10001}, {"topic": unique("t"), "replicationFactor": 16},
        {"topic": unique("t"), "pageSize": 0}, {"topic": unique("t"), "audited": "yes"},
    ):
        frame = {"kind": "CreateTopic", "scope": "local", **fields}
        reply = await conn.request(frame, valid=False)
        if reply.get("kind") != "Error" or reply.get("code") != "BadRequest":
            problems.append(f"{short(frame)} → {short(reply)}")
    assert not problems, "expected Error BadRequest:\n  " + "\n  ".join(problems)

