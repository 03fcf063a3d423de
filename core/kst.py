"""Korean time for people: the one definition every page, alert, report and command uses.

Times are stored in UTC; operators read them in Asia/Seoul (no daylight saving: UTC+9 all year).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
MINUTE = "%Y-%m-%d %H:%M"


def kst_text(moment: datetime | None, fmt: str = MINUTE) -> str:
    """`moment` (aware) as Korean time in `fmt`; "" for None."""
    return "" if moment is None else moment.astimezone(KST).strftime(fmt)
