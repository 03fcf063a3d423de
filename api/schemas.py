"""The shapes of the API's answers and request bodies (they make the OpenAPI document).

Money is text holding an exact decimal ("100449000.5"), never a float; `*_kst` fields are the
same instant as their UTC twin, in Korean time (+09:00).
"""

from ninja import Field, Schema

Money = str | None
Time = str | None
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"


class Error(Schema):
    error: str = Field(description="What was refused and why, in one line.")
    problems: dict[str, str] = Field(
        default_factory=dict, description="Per parameter, what is wrong with it."
    )


class KillSwitch(Schema):
    on: bool
    reason: str
    entries_paused: bool = Field(description="New entries paused by an operator (no kill-switch alarm).")
    changed_by: str | None
    changed_at: Time
    changed_at_kst: Time


class Position(Schema):
    symbol: str
    quantity: Money
    avg_price: Money
    price: Money = Field(description="The latest stored close; null when there is none.")
    cost: Money
    value: Money
    unrealized_pnl: Money = Field(description="KRW at the latest close, net of the entry fee.")
    unrealized_pct: Money
    regime: str
    high_water_mark: Money
    opened_at: Time
    opened_at_kst: Time


class SymbolStatus(Schema):
    symbol: str
    price: Money
    regime: str | None
    position: Position | None
    last_action: str | None = Field(description="BUY, SELL, HOLD, BLOCKED, VETOED, SKIPPED or ERROR.")
    last_reason: str | None
    last_detail: str
    last_at: Time
    last_at_kst: Time
    age_s: int | None


class Status(Schema):
    mode: str
    kill_switch: KillSwitch
    halted: bool
    halt_reason: str
    symbols: list[SymbolStatus]
    at: str
    at_kst: str


class Trade(Schema):
    id: int
    symbol: str
    side: str
    status: str
    price: Money
    quantity: Money
    amount: Money
    fee: Money
    pnl: Money
    pnl_pct: Money
    exit_reason: str
    regime: str
    mode: str
    strategy_name: str
    client_order_id: str
    created_at: Time
    created_at_kst: Time
    executed_at: Time
    executed_at_kst: Time


class TradePage(Schema):
    count: int
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last page.")
    filters: dict[str, str]
    items: list[Trade]


class Day(Schema):
    date: str = Field(description="The KST trading day.")
    realized_pnl: Money
    trades: int
    starting_equity: Money
    consecutive_losses: int
    halted: bool
    halt_reason: str


class DailyPnl(Schema):
    from_: str = Field(alias="from")
    to: str
    total: Money
    days: list[Day]


class CurrentRegime(Schema):
    symbol: str
    regime: str


class RegimeReading(Schema):
    symbol: str
    regime: str
    ma50: Money
    ma200: Money
    diff_pct: Money
    created_at: Time
    created_at_kst: Time


class Regimes(Schema):
    current: list[CurrentRegime]
    history: list[RegimeReading]


class JobRun(Schema):
    id: int
    job: str
    status: str
    slot: Time
    slot_kst: Time
    started_at: Time
    started_at_kst: Time
    finished_at: Time
    finished_at_kst: Time
    duration_ms: int | None
    message: str


class Job(Schema):
    name: str
    cron: str
    tz: str
    queue: str
    description: str
    next_slot: Time
    next_slot_kst: Time
    runs_24h: int
    failures_24h: int
    last_run: JobRun | None


class Jobs(Schema):
    jobs: list[Job]
    failures: list[JobRun]


class AiUsage(Schema):
    enabled: bool
    label: str
    model: str
    runs_hour: int
    cap_hour: int
    runs_day: int
    cap_day: int
    tokens_in_today: int
    tokens_out_today: int
    cost_today_usd: str
    budget_usd: str
    global_block: str | None
    cooldowns: list[str] = Field(description="Symbols the AI is cooling down on.")


class Metrics(Schema):
    mode: str
    equity: Money
    cash: Money
    exposure_cost: Money
    exposure_value: Money
    positions: int
    realized_today: Money
    unrealized: Money
    trades_today: int
    kst_day: str
    ai: AiUsage
    at: str
    at_kst: str


# --- control -----------------------------------------------------------------------------------


class Reason(Schema):
    reason: str = Field(
        "", max_length=200, pattern=NO_CONTROL_CHARACTERS, description="Why (kept in the audit log)."
    )


class KillSwitchChange(Reason):
    on: bool = Field(description="true: no new entries; false: entries allowed again.")


class CloseSymbol(Schema):
    symbol: str = Field(max_length=20, description="The market to sell at market, e.g. KRW-BTC.")


class Done(Schema):
    action: str
    by: str = Field(description="The token's user, as recorded in the audit log.")
    lines: list[str] = Field(description="One line per position sold (flatten, close).")
    kill_switch: KillSwitch
