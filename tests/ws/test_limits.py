"""Limits on the gateway started with a low --publish-rate and few connections
per user (env ZYA_LIMITED_GATEWAY; see tests/tests/gateway.rs for its flags)."""

import asyncio
import time

import zyaws
from zyaws import async_test, connect, login, mint, short, unique

# What tests/tests/gateway.rs gives the limited gateway.
MAX_CONNECTIONS_PER_USER = 4


@async_test(timeout=120)
async def test_a_publish_flood_is_rate_limited_and_every_acknowledged_message_is_delivered(limited_gw, alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice, url=limited_gw)
    frames = [{"kind": "Publish", "topic": topic, "messageId": f"f-{i}", "messagePayload": str(i)} for i in range(200)]
    replies = await conn.pipeline(frames, timeout=60)

    published = [r["messageId"] for r in replies if r["kind"] == "Published"]
    limited = [f["messageId"] for f, r in zip(frames, replies) if r["kind"] == "Error" and r["code"] == "RateLimited"]
    other = [r for r in replies if not (r["kind"] == "Published" or (r["kind"] == "Error" and r["code"] == "RateLimited"))]
    assert not other, f"a flood gets Published or RateLimited, nothing else: {short(other)}"
    assert limited, f"200 publishes at once on a gateway limited to a few per second: none was RateLimited"
    assert published, "not one publish of the flood got through"
    assert not conn.closed.is_set(), f"RateLimited must not close the connection: {conn.close_code}"

    # Later the same connection may publish again.
    deadline = time.monotonic() + 10
    while True:
        reply = await conn.request({"kind": "Publish", "topic": topic, "messageId": "later", "messagePayload": ""})
        if reply["kind"] == "Published":
            published.append("later")
            break
        assert reply.get("code") == "RateLimited", short(reply)
        assert time.monotonic() < deadline, "still RateLimited after 10 s"
        await asyncio.sleep(0.5)

    # Every acknowledged message is there, and no refused one.
    reader = await login(unique("reader"))
    sid = (await reader.subscribe(topic, {"from": "Beginning"}, batchSize=1000))["subscriptionId"]
    got = await reader.next_messages(sid, len(published), timeout=30)
    await reader.quiet(sid, 1.0)
    ids = [m["messageId"] for m in got]
    assert sorted(ids) == sorted(published), f"delivered {len(ids)}, acknowledged {len(published)}"
    assert not set(ids) & set(limited), f"RateLimited messages were written: {sorted(set(ids) & set(limited))}"


@async_test(timeout=120)
async def test_connections_per_user_are_capped_and_freed_on_close(limited_gw, alice, bob):
    conns = [await login(alice, device=f"d{i}", url=limited_gw) for i in range(MAX_CONNECTIONS_PER_USER)]
    extra = await connect(limited_gw)
    try:
        answer = await extra.request({"kind": "Login", "userName": alice, "token": mint(alice)})
    except zyaws.ProtocolError:
        if not extra.closed.is_set():
            raise
        answer = None  # closed without an answer
    if answer is not None:
        assert answer["kind"] == "Error" and answer["code"] in ("RateLimited", "NotAuthorized", "Unavailable"), (
            f"login over the cap of {MAX_CONNECTIONS_PER_USER} connections: {short(answer)}")
    else:
        assert extra.close_code in (1008, 1013), f"closed with {extra.close_code} {extra.close_reason!r}"
    for conn in conns:
        await conn.handshake()

    # Other users are not affected; a closed connection frees its place.
    await (await login(bob, url=limited_gw)).handshake()
    await conns[0].close()
    deadline = time.monotonic() + 10
    while True:
        probe = await connect(limited_gw)
        reply = await probe.request({"kind": "Login", "userName": alice, "token": mint(alice)})
        if reply["kind"] == "Session":
            break
        await probe.close()
        assert time.monotonic() < deadline, f"a closed connection did not free its place: {short(reply)}"
        await asyncio.sleep(0.5)
