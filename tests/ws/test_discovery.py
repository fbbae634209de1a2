"""Service discovery: Handshake → ServiceMap (before Login), ServiceBackupMap."""

import asyncio
import os
import time

import zyaws
from zyaws import async_test, connect, login


async def map_listing(conn, gateways, within=20.0):
    """Asks for the map until it lists every gateway in `gateways` (they join with a heartbeat)."""
    deadline = time.monotonic() + within
    while True:
        reply = await conn.handshake()
        if set(gateways) <= set(reply["services"]["gateway"]):
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"ServiceMap never listed every gateway {sorted(gateways)}: {zyaws.short(reply)}")
        await asyncio.sleep(0.5)


@async_test()
async def test_handshake_before_login_lists_every_gateway_allocator_and_node(gw, limited_gw):
    expected = set(gw) | {limited_gw}
    for url in gw:
        conn = await connect(url)
        reply = await map_listing(conn, expected)
        services = reply["services"]
        assert set(services["gateway"]) == expected, f"exactly the running gateways: {services['gateway']}"
        assert reply["recommended"] in services["gateway"], zyaws.short(reply)
        assert sorted(services["allocator"]) == sorted(zyaws.allocators()), services["allocator"]
        nodes = [n for n in os.environ.get("ZYA_NODES", "").split(",") if n]
        assert sorted(services["node"]) == sorted(nodes), services["node"]

    # A client may reconnect to the recommended gateway and log in there.
    again = await login(zyaws.unique("u"), url=reply["recommended"])
    assert again.session["topics"] == []


@async_test()
async def test_handshake_also_works_after_login():
    conn = await login(zyaws.unique("u"))
    reply = await conn.handshake()
    assert reply["services"]["gateway"], zyaws.short(reply)


@async_test()
async def test_service_backup_map_shows_leader_and_backups_of_each_partition(topic):
    admin = await zyaws.admin()
    created = await admin.create_topic(topic, partitions=2, replicationFactor=3)
    assert [p["partition"] for p in created["partitions"]] == [0, 1], zyaws.short(created)

    user = await login(zyaws.unique("u"))
    deadline = time.monotonic() + 20
    while True:
        reply = await user.expect({"kind": "ServiceBackupMap", "topic": topic, "scope": "global"}, "ServiceBackupMap")
        assert reply["topic"] == topic and reply["scope"] == "global", zyaws.short(reply)
        parts = reply["partitions"]
        assert [p["partition"] for p in parts] == [0, 1], zyaws.short(reply)
        if all(p["leader"] is not None for p in parts):
            break
        assert time.monotonic() < deadline, f"a partition has no leader after 20 s: {zyaws.short(reply)}"
        await asyncio.sleep(0.3)
    for p in parts:
        assert len(p["backups"]) == 2, f"replicationFactor 3 is a leader and two backups: {p}"
        assert p["leader"] not in p["backups"], p
        assert len(set(p["backups"])) == 2, p

    await user.expect_error({"kind": "ServiceBackupMap", "topic": zyaws.unique("none")}, "TopicNotFound")


@async_test()
async def test_service_backup_map_needs_login(topic):
    conn = await connect()
    await conn.expect_error({"kind": "ServiceBackupMap", "topic": topic, "scope": "global"}, "NotLoggedIn")
