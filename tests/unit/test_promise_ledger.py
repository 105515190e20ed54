"""The promise ledger: every sentence the page states about avowal's behaviour is registered with
a mechanism that imports and tests that exist; organisational measures are attested."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from avowal.policy import document
from avowal.policy.content import Document
from avowal.policy.loader import LoadedPolicy, load_file, parse_text
from avowal.promises import registry
from avowal.promises import service as promises
from avowal.promises.conditions import needs_mail
from avowal.promises.evidence import count
from avowal.promises.ids import INFO, PromiseId
from avowal.promises.promise import AttestationRecord, Kind, Promise, State, resolves
from avowal.settings import Settings
from tests.factories import EXAMPLE_POLICY, policy_text
from tests.kept import keep_only_what_is_built

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "src" / "avowal" / "policy" / "starter.yaml"
NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)


def _no_news(d: dict[str, Any]) -> None:
    for point in d["collection_points"].values():
        point.pop("field_purposes", None)
    d["children"]["optional_purposes"] = []  # the news was the purpose a parent could refuse


def _bare(d: dict[str, Any]) -> None:
    keep_only_what_is_built(d)
    d["analytics"] = {"enabled": False}
    d["commitments"].update(never_sold=False, no_undisclosed_recipients=False)
    d["legal_disclosures"] = {"grounds": []}
    d["recipients"] = {}
    for point in d["collection_points"].values():
        point["recipients"] = []
    d["security"]["physical_security"] = None
    d["staff"]["break_glass"] = {"roles": []}


def _cookie_analytics(d: dict[str, Any]) -> None:
    d["analytics"]["cookieless"] = False
    d["cookie_rules"] = {"can_refuse": False, "honour_global_privacy_control": False}
    d["changes"]["notice_days"] = 0
    d["legal_disclosures"]["four_eyes"] = False


VARIANTS: dict[str, Callable[[dict[str, Any]], None] | None] = {
    "example": None,
    "kept": keep_only_what_is_built,
    "no-news": _no_news,
    "bare": _bare,
    "cookie-analytics": _cookie_analytics,
}


def policies() -> list[tuple[str, LoadedPolicy]]:
    out = [("starter", load_file(STARTER)), ("example-file", load_file(ROOT / EXAMPLE_POLICY))]
    out += [(name, parse_text(policy_text(c), "policy.yaml")) for name, c in VARIANTS.items()]
    return out


def tags(doc: Document) -> list[str]:
    out: list[str] = []
    for section in doc.sections:
        for blocks in (section.blocks, *(s.blocks for s in section.subsections)):
            for block in blocks:
                if block.kind == "bullets":
                    out.extend(block.promises)
                else:
                    out.append(block.promise)
    return out


@pytest.mark.parametrize(
    ("name", "loaded"), policies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_stated_promise_is_registered_with_a_mechanism_and_a_test(
    name: str, loaded: LoadedPolicy
) -> None:
    found = tags(document.build(loaded))
    on_page = {t for t in found if t != INFO}
    unknown = on_page - set(registry.REGISTRY)
    assert not unknown, f"{name}: the page states promises the registry does not know: {unknown}"
    # What the registry says the page states is exactly what the page states.
    assert on_page == {p.id for p in registry.stated(loaded)}, name
    for promise_id in on_page:
        p = registry.REGISTRY[PromiseId(promise_id)]
        if p.mechanism is None:
            assert p.missing, f"{p.id}: no mechanism and nothing says what is missing"
        elif p.mechanism not in registry.PENDING:
            assert p.tests, f"{p.id}: a mechanism ({p.mechanism}) but no test proving it"


def test_every_registered_mechanism_imports_except_the_pending_ones() -> None:
    mechanisms = {p.mechanism for p in registry.PROMISES if p.mechanism is not None}
    assert mechanisms >= registry.PENDING, "PENDING names a mechanism no promise uses"
    broken = sorted(m for m in mechanisms - registry.PENDING if not resolves(m))
    assert not broken, f"registered mechanisms that do not import: {broken}"
    for p in registry.PROMISES:
        if p.kind is Kind.organisational:
            assert p.mechanism == registry.ATTEST_MECHANISM


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_registered_test_exists() -> None:
    missing = []
    for p in registry.PROMISES:
        for node in p.tests:
            file, _, name = node.partition("::")
            path = ROOT / file
            if not path.is_file() or name not in _functions(path):
                missing.append(f"{p.id}: {node}")
    assert not missing, missing


def test_no_block_of_the_page_is_written_without_a_promise_or_info() -> None:
    untagged = []
    for module in ("document.py", "practices.py"):
        path = ROOT / "src" / "avowal" / "policy" / module
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            tagged = any(k.arg == "promise" for k in node.keywords)
            if node.func.attr in ("para", "quote", "bullets", "table") and not tagged:
                untagged.append(f"{module}:{node.lineno} {node.func.attr}")
            if node.func.attr == "tagged_bullets":
                # Each item is a (tag, line) pair: built from PromiseId, NOTIFY_PROMISES or INFO.
                assert node.args, f"{module}:{node.lineno}"
    assert not untagged, f"blocks without promise=...: {untagged}"


def test_an_untagged_block_cannot_even_be_built() -> None:
    from avowal.policy.content import Blocks

    with pytest.raises(TypeError):
        Blocks().para("We never look at your data.")  # type: ignore[call-arg]


def test_counts_below_five_are_never_shown() -> None:
    assert [count(n) for n in range(5)] == ["fewer than 5"] * 5
    assert (count(5), count(123)) == ("5", "123")


def _promise(**change: Any) -> Promise:
    base: dict[str, Any] = {
        "id": PromiseId.change_notice_email,
        "statement": "changes announced by e-mail",
        "section": "changes",
        "kind": Kind.enforced,
        "stated": registry.always,
        "mechanism": "avowal.promises.service.attest",
    }
    return Promise(**{**base, **change})


def test_status_enforced_needs_configuration_and_not_available() -> None:
    loaded = load_file(ROOT / EXAMPLE_POLICY)
    mail = _promise(needs=needs_mail)
    with_files = Settings(env="test", mail_transport="files")
    without = Settings(env="test", mail_transport="none")
    assert mail.status(with_files, loaded, {}).state is State.enforced
    needs = mail.status(without, loaded, {})
    assert needs.state is State.needs_configuration and not needs.kept
    assert "AVOWAL_SMTP_HOST" in needs.detail
    gone = _promise(mechanism="avowal.nowhere.keeps_it", missing="the keeper (issue 99)")
    status = gone.status(with_files, loaded, {})
    assert status.state is State.not_available
    assert "the keeper (issue 99)" in status.detail


def test_organisational_measures_are_attested_and_go_stale_after_a_year() -> None:
    loaded = load_file(ROOT / EXAMPLE_POLICY)
    settings = Settings(env="test")
    p = registry.REGISTRY[PromiseId.physical_security]
    assert p.status(settings, loaded, {}, NOW).state is State.not_attested
    fresh = AttestationRecord(p.id, "Grace Hopper", NOW - dt.timedelta(days=364))
    ok = p.status(settings, loaded, {p.id: fresh}, NOW)
    assert (ok.state, ok.kept, ok.flagged) == (State.attested, True, False)
    old = AttestationRecord(p.id, "Grace Hopper", NOW - dt.timedelta(days=366))
    stale = p.status(settings, loaded, {p.id: old}, NOW)
    assert (stale.state, stale.kept, stale.flagged) == (State.attestation_stale, True, True)


def test_check_kept_names_each_unkept_promise_and_what_to_do() -> None:
    loaded = load_file(ROOT / EXAMPLE_POLICY)
    settings = Settings(env="production", mail_transport="none")
    with pytest.raises(promises.PromisesNotKept) as refused:
        promises.check_kept(settings, loaded, {}, NOW)
    message = str(refused.value)
    assert "change_notice_email" in message and "one_click_unsubscribe" in message
    assert "parental_consent" in message and "mail is not configured" in message
    assert "cookie_refusal" not in message
    assert "avowal promises attest internal_review --by NAME" in message
    assert {p.id for p, _ in refused.value.unkept} >= {
        PromiseId.parental_consent,
        PromiseId.one_click_unsubscribe,
    }
    kept = parse_text(policy_text(keep_only_what_is_built), "policy.yaml")
    attested = {
        p.id: AttestationRecord(p.id, "officer@example.com", NOW)
        for p in registry.stated(kept)
        if p.kind is Kind.organisational
    }
    promises.check_kept(settings, kept, attested, NOW)


def test_parental_consent_is_kept_only_by_email_plus_with_mail() -> None:
    def signed_form(d: dict[str, Any]) -> None:
        d["children"]["consent_method"] = "signed_form"

    p = registry.REGISTRY[PromiseId.parental_consent]
    with_files = Settings(env="test", mail_transport="files")
    example = load_file(ROOT / EXAMPLE_POLICY)
    assert p.status(with_files, example, {}, NOW).kept
    no_mail = p.status(Settings(env="test", mail_transport="none"), example, {}, NOW)
    assert not no_mail.kept and "mail is not configured" in no_mail.detail
    form = parse_text(policy_text(signed_form), "policy.yaml")
    refused = p.status(with_files, form, {}, NOW)
    assert not refused.kept and "use email_plus" in refused.detail
