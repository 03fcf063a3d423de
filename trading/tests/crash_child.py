"""Run by test_crash_safety in a child process: book one order and SIGKILL ourselves at a point.

python -m trading.tests.crash_child buy|sell <sql-fragment or 'after_commit'>
"""

import os
import signal
import sys
from datetime import UTC, datetime
from decimal import Decimal

import django

django.setup()

from django.db import connection  # noqa: E402

from trading import booking  # noqa: E402
from trading.config import default_risk  # noqa: E402
from trading.fills import buy_fill, sell_fill  # noqa: E402
from trading.models import Position  # noqa: E402

AT = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(fragment: str):
    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if fragment in sql:
            die()
        return result

    return wrapper


def main(side: str, point: str) -> None:
    if point == "after_commit":
        booking._after_buy = booking._after_sell = lambda *args: die()
    with connection.execute_wrapper(kill_after(point)):
        if side == "buy":
            fill = buy_fill(krw=Decimal("500000"), reference=Decimal("100000000"))
            booking.book_buy(symbol="KRW-BTC", fill=fill, client_order_id="crash-BUY", regime="BULL", at=AT)
        else:
            quantity = Position.objects.get(symbol="KRW-BTC").quantity
            fill = sell_fill(quantity=quantity, reference=Decimal("99000000"))
            booking.book_sell(
                symbol="KRW-BTC",
                fill=fill,
                client_order_id="crash-SELL",
                reason="STOP_LOSS",
                at=AT,
                limits=default_risk(),
            )
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
