"""Refusals in the operator's terms: one JSON shape, `{"error": ..., "problems": {...}}`."""


class BadRequest(Exception):
    """Input the API cannot use; `problems` maps each parameter to what is wrong with it."""

    def __init__(self, problems: dict[str, str], status: int = 400) -> None:
        self.problems, self.status = problems, status
        super().__init__("; ".join(f"{name}: {text}" for name, text in problems.items()))


class NotFound(BadRequest):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems, status=404)
