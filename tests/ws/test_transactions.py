"""Transactions: the documented answers for ids the gateway does not know."""

from zyaws import async_test, login


@async_test()
async def test_unknown_transactions_are_not_found(alice):
    conn = await login(alice)
    await conn.expect_error({"kind": "CommitTransaction", "transactionId": "tx-none"}, "TransactionNotFound", valid=True)
    await conn.expect_error({"kind": "RollbackTransaction", "transactionId": "tx-none"}, "TransactionNotFound",
                            valid=True)
