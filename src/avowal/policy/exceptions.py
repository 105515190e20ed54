"""Problems found in a policy file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a policy, where it is, and which promise it would break."""

    location: str
    message: str
    promise: str | None = None
    line: int | None = None
    column: int | None = None
    # The name most likely meant, when the problem is a mistyped name (also in the message).
    suggestion: str | None = None

    def render(self, filename: str | None = None, label: str = "") -> str:
        """Format the problem as one line a person can act on; ``label`` marks a warning."""
        where = ""
        if filename is not None:
            where = filename
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = f"{where}{label}{self.location or '(top level)'}: {self.message}"
        if self.promise:
            text += f" [breaks the promise: {self.promise}]"
        return text


class PolicyInvalid(Exception):
    """The policy file cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem], filename: str | None = None) -> None:
        self.problems = problems
        self.filename = filename
        super().__init__("\n".join(p.render(filename) for p in problems))
