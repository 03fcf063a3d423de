"""Reconciliation of the live books with Upbit: at the start of every live cycle and on demand
(`manage.py reconcile`).

1. Orders sent but not booked (PENDING live trades) are looked up by identifier: a finished one
   is booked exactly once (booking is idempotent on client_order_id under the account lock); one
   that executed nothing, or that Upbit never received (unknown once older than the grace), is
   marked FAILED; one still open, or too young to call lost, is left for the next run.
2. Balances are compared with `/v1/accounts`: KRW cash (within a tolerance) and each open
   position's quantity. A mismatch is persisted on TradingControl, audited and alerted
   (`system`) once; entries stay refused until an operator clears it (`--resume`); exits run on.

The first run against a live account that never traded adopts Upbit's KRW balance as its cash.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.notify import notify
from market.upbit import UpbitError
from market.upbit_private import Balance, UpbitExchangeClient

from . import booking
from .config import load_risk
from .models import Position, RiskAudit, Trade, TradeMode, TradeStatus, TradingControl

log = logging.getLogger(__name__)

QTY_TOLERANCE = Decimal("0.00000001")
QTY_RELATIVE_TOLERANCE = Decimal("0.000001")


@dataclass
class Report:
    booked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hold: str = ""  # why entries are refused now ("" = they are not)

    def lines(self) -> list[str]:
        out = [f"booked {coid}" for coid in self.booked] + [f"failed {coid}" for coid in self.failed]
        out += [f"still pending {coid}" for coid in self.waiting] + self.notes
        out += [f"MISMATCH {line}" for line in self.mismatches]
        return out + ([f"entries refused: {self.hold}"] if self.hold else ["books match Upbit"])


def reconcile(
    client: UpbitExchangeClient,
    *,
    now: datetime | None = None,
    grace: float | None = None,
    tolerance: Decimal | None = None,
) -> Report:
    """Settle unbooked orders, then compare balances; persist and alert a mismatch."""
    now = now or timezone.now()
    grace = settings.COINPILOT_RECONCILE_GRACE_SECONDS if grace is None else grace
    tolerance = Decimal(settings.COINPILOT_RECONCILE_KRW_TOLERANCE) if tolerance is None else tolerance
    report = Report()
    settle_pending(client, report, now=now, grace=grace)
    if report.waiting:
        report.notes.append("balances not compared while orders are pending")
        report.hold = f"{len(report.waiting)} live order(s) not settled yet"
    else:
        compare_balances({b.currency: b for b in client.accounts()}, report, tolerance)
    if report.mismatches:
        record_mismatch("; ".join(report.mismatches))
    stored = TradingControl.current().reconcile_mismatch
    report.hold = stored or report.hold
    return report


def settle_pending(client: UpbitExchangeClient, report: Report, *, now: datetime, grace: float) -> None:
    from .executors.live import settle  # the executor's own booking of a finished order

    limits = None
    for trade in Trade.objects.filter(status=TradeStatus.PENDING, mode=TradeMode.LIVE).order_by("created_at"):
        coid = trade.client_order_id
        order = client.order(identifier=coid)
        if order is None:
            if (now - trade.created_at).total_seconds() >= grace:
                booking.mark_failed(coid, "Upbit never received this order")
                report.failed.append(coid)
            else:
                report.waiting.append(coid)
            continue
        if not order.is_final:
            report.waiting.append(coid)
            continue
        limits = limits or load_risk()
        try:
            booked = settle(trade, order, limits=limits)
        except booking.BookingError as exc:
            report.mismatches.append(f"{coid} executed on Upbit but cannot be booked: {exc}")
            continue
        (report.booked if booked is not None else report.failed).append(coid)


def compare_balances(balances: dict[str, Balance], report: Report, tolerance: Decimal) -> None:
    """KRW cash and each open position against Upbit's totals (available + locked)."""
    account = booking.account_for(TradeMode.LIVE)
    krw = balances["KRW"].total if "KRW" in balances else Decimal(0)
    if _never_traded(account):
        with transaction.atomic():
            type(account).objects.filter(pk=account.pk).update(balance=krw, updated_at=timezone.now())
            RiskAudit.objects.create(violation_type="LIVE_ACCOUNT_SEEDED", description=f"cash = {krw} KRW")
        report.notes.append(f"live account seeded with Upbit's {krw:,.0f} KRW")
        account.refresh_from_db()
    if abs(account.balance - krw) > tolerance:
        report.mismatches.append(f"KRW cash: ours {account.balance:,.2f}, Upbit {krw:,.2f}")
    for position in Position.objects.all():
        currency = position.symbol.split("-", 1)[-1]
        theirs = balances[currency].total if currency in balances else Decimal(0)
        allowed = max(QTY_TOLERANCE, position.quantity * QTY_RELATIVE_TOLERANCE)
        if abs(position.quantity - theirs) > allowed:
            ours, upbit = booking.decimal_str(position.quantity), booking.decimal_str(theirs)
            report.mismatches.append(f"{position.symbol}: ours {ours}, Upbit {upbit}")


def _never_traded(account) -> bool:
    return (
        account.balance == 0
        and not Position.objects.exists()
        and not Trade.objects.filter(mode=TradeMode.LIVE).exclude(status=TradeStatus.FAILED).exists()
    )


def record_mismatch(description: str) -> None:
    """Persist the hold (entries refused); audit and alert only when it is new or changed."""
    with transaction.atomic():
        control = TradingControl.objects.select_for_update().get(pk=TradingControl.current().pk)
        if control.reconcile_mismatch == description:
            return
        control.reconcile_mismatch = description
        control.save(update_fields=["reconcile_mismatch", "changed_at"])
        RiskAudit.objects.create(violation_type="RECONCILE_MISMATCH", description=description)
        transaction.on_commit(
            lambda: notify(
                "system",
                {
                    "title": gettext_lazy("Live books differ from Upbit: new entries stopped"),
                    "detail": description[:1500],
                    "action": gettext_lazy(
                        "check the account, fix the books, then run `manage.py reconcile --resume`"
                    ),
                },
            )
        )
    log.error("reconciliation mismatch: %s", description)


def resume(*, user=None) -> None:
    """The operator's acknowledgement: clear the hold (the next reconciliation checks again)."""
    with transaction.atomic():
        control = TradingControl.objects.select_for_update().get(pk=TradingControl.current().pk)
        if control.reconcile_mismatch:
            description = f"cleared: {control.reconcile_mismatch}"[:2000]
            RiskAudit.objects.create(violation_type="RECONCILE_RESUMED", description=description)
        control.reconcile_mismatch, control.changed_by = "", user
        control.save(update_fields=["reconcile_mismatch", "changed_by", "changed_at"])


def before_cycle(executor) -> str:
    """Reconcile at the start of a live cycle; the reason to refuse entries ('' = none)."""
    try:
        return reconcile(executor.client).hold
    except UpbitError as exc:
        log.warning("reconciliation failed: %s", exc)
        stored = TradingControl.current().reconcile_mismatch
        return stored or f"reconciliation could not run: {exc}"[:300]
