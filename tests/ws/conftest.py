"""Shared fixtures: the gateways under test and users with tokens.

Without ZYA_GATEWAYS (that is, not started by tests/tests/gateway.rs) every
test is skipped with that reason; the Rust driver refuses a run with skips.
"""

import os

import pytest

import zyaws


def pytest_collection_modifyitems(config, items):
    if os.environ.get("ZYA_GATEWAYS"):
        return
    skip = pytest.mark.skip(reason="ZYA_GATEWAYS not set: run through `cargo test -p zya-tests --test gateway`")
    for item in items:
        item.add_marker(skip)


@pytest.fixture
def gw():
    """The gateways' URLs (at least two: the tests use both)."""
    urls = zyaws.gateways()
    assert len(urls) >= 2, f"the suite needs two gateways, got {urls}"
    return urls


@pytest.fixture
def limited_gw():
    """A gateway started with a low --publish-rate and few connections per user."""
    url = os.environ.get("ZYA_LIMITED_GATEWAY")
    if not url:
        pytest.fail("ZYA_LIMITED_GATEWAY is not set")
    return url


@pytest.fixture
def topic():
    """A fresh topic name."""
    return zyaws.unique("t")


@pytest.fixture
def alice():
    return zyaws.unique("alice")


@pytest.fixture
def bob():
    return zyaws.unique("bob")
