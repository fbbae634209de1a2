"""Login, tokens, requests before Login, userName checks, Logout."""

import base64
import json

import pytest

import zyaws
from zyaws import async_test, connect, login, mint, short, unique, unsigned_token

BEFORE_LOGIN = [
    {"kind": "Logout"},
    {"kind": "CreateTopic", "topic": "x"},
    {"kind": "DeleteTopic", "topic": "x"},
    {"kind": "AllTopics"},
    {"kind": "Topics"},
    {"kind": "ServiceBackupMap", "topic": "x"},
    {"kind": "Publish", "topic": "x", "messageId": "m", "messagePayload": "p"},
    {"kind": "Subscribe", "topic": "x"},
    {"kind": "Commit", "topic": "x", "partition": 0, "upTo": 0},
    {"kind": "Unsubscribe", "subscriptionId": "s"},
]


@async_test()
async def test_requests_before_login_get_not_logged_in_and_login_still_works(alice):
    conn = await connect()
    problems = []
    for frame in BEFORE_LOGIN:
        reply = await conn.request(frame)
        if reply.get("kind") != "Error" or reply.get("code") != "NotLoggedIn":
            problems.append(f"{short(frame)} → {short(reply)}")
    assert not problems, "expected Error NotLoggedIn:\n  " + "\n  ".join(problems)
    reply = await conn.expect({"kind": "Login", "userName": alice, "token": mint(alice)}, "Session")
    assert reply["userName"] == alice


def _tamper(token):
    """Flips zya_admin to true in a validly signed token, keeping the signature."""
    header, claims, signature = token.split(".")
    raw = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    raw["zya_admin"] = True
    return f"{header}.{zyaws._b64(raw)}.{signature}"


# Login fields of each bad-token case; built when the test runs (minting needs ZYA_DEV_SECRET).
BAD_TOKENS = {
    "missing": lambda: {},
    "null": lambda: {"token": None},
    "empty": lambda: {"token": ""},
    "number": lambda: {"token": 123},
    "garbage": lambda: {"token": "not-a-jwt"},
    "two-parts": lambda: {"token": "abc.def"},
    "expired": lambda: {"token": mint("mallory", ttl=-60)},
    "wrong-secret": lambda: {"token": mint("mallory", secret="another-secret-that-is-at-least-32-bytes-long")},
    "alg-none": lambda: {"token": unsigned_token("mallory")},
    "alg-none-with-signature": lambda: {"token": unsigned_token("mallory", signature="c2lnbmF0dXJl")},
    "hs512": lambda: {"token": mint("mallory", algorithm="HS512")},
    "wrong-issuer": lambda: {"token": mint("mallory", issuer="someone-else")},
    "no-subject": lambda: {"token": mint("", extra={"sub": None})},
    "foreign-audience": lambda: {"token": mint("mallory", extra={"aud": "another-service"})},
    "tampered-admin-claim": lambda: {"token": _tamper(mint("mallory", admin=False))},
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
@async_test()
async def test_bad_token_is_invalid_authorization_and_the_connection_stays_usable(case, alice):
    conn = await connect()
    frame = {"kind": "Login", "userName": "mallory", "device": "laptop"}
    frame.update(BAD_TOKENS[case]())
    await conn.expect_error(frame, "InvalidAuthorization")
    # Still not logged in, and the connection still works.
    await conn.expect_error({"kind": "AllTopics"}, "NotLoggedIn")
    reply = await conn.expect({"kind": "Login", "userName": alice, "token": mint(alice)}, "Session")
    assert reply["userName"] == alice


@async_test()
async def test_login_user_is_the_token_subject_never_the_user_name_field(alice, bob):
    conn = await connect()
    reply = await conn.request({"kind": "Login", "userName": bob, "token": mint(alice)})
    if reply["kind"] == "Session":
        assert reply["userName"] == alice, f"a token for {alice} made a session for {reply['userName']}"
    else:
        assert reply["kind"] == "Error" and reply["code"] in ("NotAuthorized", "InvalidAuthorization"), short(reply)


@async_test()
async def test_user_name_not_matching_the_session_is_not_authorized(alice, bob, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await login(alice)
    for frame in (
        {"kind": "Publish", "userName": bob, "topic": topic, "messageId": "m", "messagePayload": "p"},
        {"kind": "AllTopics", "userName": bob},
        {"kind": "Subscribe", "userName": bob, "topic": topic},
        {"kind": "Commit", "userName": bob, "topic": topic, "partition": 0, "upTo": 0},
        {"kind": "CreateTopic", "userName": bob, "topic": unique("t"), "scope": "local"},
    ):
        await conn.expect_error(frame, "NotAuthorized")
    # The refused publish wrote nothing; the user's own name is fine.
    await conn.publish(topic, "m", "p", userName=alice)
    sub = (await conn.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    [msg] = await conn.next_messages(sub, 1)
    assert msg["userName"] == alice and msg["offset"] == 0, short(msg)
    await conn.quiet(sub, 1.0)


@async_test()
async def test_logout_replies_then_closes_1000_and_uncommitted_messages_come_again(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    await admin.publish_many(topic, 3)

    conn = await login(alice, device="tablet")
    sub = (await conn.subscribe(topic, {"from": "Beginning"}))["subscriptionId"]
    first = await conn.next_messages(sub, 3)
    reply = await conn.expect({"kind": "Logout"}, "Logout")
    assert reply["userName"] == alice and reply["device"] == "tablet", short(reply)
    assert reply["sessionId"] == conn.session["sessionId"], short(reply)
    code, reason = await conn.wait_closed()
    assert code == 1000, f"Logout must close with 1000, got {code} {reason!r}"

    again = await login(alice, device="tablet")
    sub = (await again.subscribe(topic, {"from": "Committed"}))["subscriptionId"]
    second = await again.next_messages(sub, 3)
    assert [m["messageId"] for m in second] == [m["messageId"] for m in first]
    for m in second:
        assert m["redelivered"] is True and m["deliveryCount"] >= 2, short(m)


@async_test()
async def test_login_without_device_uses_the_default_device_and_group(alice, topic):
    admin = await zyaws.admin()
    await admin.create_topic(topic)
    conn = await connect()
    session = await conn.expect({"kind": "Login", "token": mint(alice)}, "Session")
    assert (session["userName"], session["device"]) == (alice, "default"), short(session)
    assert (await conn.subscribe(topic))["group"] == "default"


@async_test()
async def test_a_second_login_renews_the_session_and_another_users_token_is_refused(alice, bob):
    conn = await login(alice)
    again = await conn.expect({"kind": "Login", "token": mint(alice)}, "Session")
    assert again["userName"] == alice, short(again)
    await conn.expect_error({"kind": "Login", "token": mint(bob)}, "NotAuthorized", valid=True)
    assert (await conn.expect({"kind": "Topics"}, "Topics"))["topics"] == []


@async_test(timeout=60)
async def test_an_expiring_token_ends_the_session_with_invalid_authorization_and_1008(alice):
    conn = await login(alice, token=mint(alice, ttl=2))
    code, reason = await conn.wait_closed(timeout=30)
    assert code == 1008, f"token expiry closes with 1008, got {code} {reason!r}"
    errors = [f for f in conn.unsolicited if f["kind"] == "Error"]
    assert [e["code"] for e in errors] == ["InvalidAuthorization"], conn.last_frames()
