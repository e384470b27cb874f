"""Model Monitor's constraint_violations.json → a short list of (feature, check, description).

The four monitor types write the same envelope, `{"violations": [...]}`, with different keys naming what
was violated: `feature_name` (data quality), `metric_name` (model quality, bias), `facet`/`facet_value`
(bias), `feature` (explainability). Pure: no AWS here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from steward.events.normalize import normalize_s3_uri
from steward.kernel.errors import StewardError

REPORT_FILE = "constraint_violations.json"
_MAX_TEXT = 500


class MalformedReportError(StewardError):
    """The report is not the shape Model Monitor writes; the message names where it goes wrong."""


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    feature: str
    check: str
    description: str

    def line(self) -> str:
        return f"{self.feature} — {self.check}: {self.description}"


def _text(value: Any) -> str:
    return " ".join(str(value).split())[:_MAX_TEXT]


def _subject(item: dict[str, Any]) -> str:
    for key in ("feature_name", "feature", "metric_name"):
        if item.get(key) not in (None, ""):
            subject = _text(item[key])
            if key == "metric_name" and item.get("facet") not in (None, ""):
                facet = f"{_text(item['facet'])}={_text(item.get('facet_value', ''))}".rstrip("=")
                subject = f"{subject} ({facet})"
            return subject
    if item.get("facet") not in (None, ""):
        return _text(item["facet"])
    return "(dataset)"


def summarise(document: Any) -> list[Violation]:
    """Every violation of a report, in the report's order, duplicates dropped.

    Raises MalformedReportError when `document` is not `{"violations": [{..., "constraint_check_type",
    "description"}, ...]}`; an empty list is a clean run.
    """
    if not isinstance(document, dict):
        raise MalformedReportError("the report is not a JSON object")
    items = document.get("violations")
    if items is None:
        raise MalformedReportError("violations: missing")
    if not isinstance(items, list):
        raise MalformedReportError(f"violations: a list was expected, not {type(items).__name__}")
    found: list[Violation] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedReportError(f"violations[{i}]: an object was expected")
        check = item.get("constraint_check_type")
        if not isinstance(check, str) or not check.strip():
            raise MalformedReportError(f"violations[{i}].constraint_check_type: missing")
        violation = Violation(
            feature=_subject(item), check=_text(check), description=_text(item.get("description", ""))
        )
        if violation not in found:
            found.append(violation)
    return found


def report_uri(outputs: list[tuple[str | None, str | None]]) -> str | None:
    """Where the execution wrote constraint_violations.json: its output named `result` (Model Monitor's
    name for it), else its only output. `outputs` are (OutputName, S3Uri) pairs."""
    located = [(name, uri) for name, uri in outputs if uri and uri.startswith("s3://")]
    chosen = next((uri for name, uri in located if (name or "").lower() == "result"), None)
    if chosen is None and len(located) == 1:
        chosen = located[0][1]
    return f"{normalize_s3_uri(chosen)}/{REPORT_FILE}" if chosen else None
