"""The published policy page: every clause of the seed, accessible HTML, Markdown, stylesheet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.policy.content import History, VersionNote
from avowal.policy.document import SECTION_IDS
from avowal.policy.loader import LoadedPolicy, load_file, parse_text
from avowal.policy.render import render_html, render_markdown
from avowal.settings import Settings
from tests.factories import EXAMPLE_POLICY, policy_text

VOID = {"meta", "link", "br", "hr", "img", "input", "col", "source", "wbr", "area", "base"}


class Page(HTMLParser):
    """Parse a page into its text, its tags with attributes, and its table rows."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.open: list[str] = []
        self.problems: list[str] = []
        self._cell: list[str] | None = None
        self.doctype = ""
        self.feed(html)
        self.close()
        if self.open:
            self.problems.append(f"unclosed: {self.open}")

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def words(self) -> str:
        return " ".join("".join(self.text).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]


@pytest.fixture(scope="module")
def example() -> LoadedPolicy:
    return load_file(EXAMPLE_POLICY)


@pytest.fixture(scope="module")
def html(example: LoadedPolicy) -> str:
    return render_html(example)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


@pytest.fixture(scope="module")
def markdown(example: LoadedPolicy) -> str:
    return render_markdown(example)


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[TestClient]:
    """Yield a client of an app on a fresh SQLite database, enforcing the example policy."""
    settings = Settings(env="test", data_dir=tmp_path, policy_file=EXAMPLE_POLICY)
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        with TestClient(create_app(settings, engine=engine)) as client:
            yield client
    finally:
        engine.dispose()


def test_every_section_has_a_stable_id_in_html_and_markdown(page: Page, markdown: str) -> None:
    for section_id in SECTION_IDS:
        (section,) = page.find("section", id=section_id)
        assert section["aria-labelledby"] == f"{section_id}-heading"
        assert page.find("h2", id=f"{section_id}-heading")
        assert page.find("a", href=f"#{section_id}"), f"no contents link to {section_id}"
        assert f'<a id="{section_id}"></a>' in markdown
        assert f"](#{section_id})" in markdown


def test_markdown_anchors_work_without_header_attributes(markdown: str) -> None:
    # GitHub, GitLab and CommonMark print "{#id}" as text: anchors are empty <a id> elements.
    assert "{#" not in markdown
    anchors = re.findall(r'<a id="([^"]+)"></a>\n\n#{2,3} ', markdown)
    assert len(anchors) == len(set(anchors)) > len(SECTION_IDS)
    links = set(re.findall(r"\]\(#([^)]*)\)", markdown))
    # Contents, and links between sections: to a form, a recipient, the children's rules.
    assert {"collect-purchase", "recipient-payment_processor", "children"} <= links
    assert links - set(anchors) == set()


def test_page_is_well_formed_accessible_html5(html: str, page: Page) -> None:
    assert page.problems == []
    assert page.doctype.lower() == "doctype html"
    assert page.find("html", lang="en")
    assert page.find("meta", charset="utf-8")
    assert page.find("meta", name="viewport", content="width=device-width, initial-scale=1")
    assert [t for t, _ in page.tags].count("h1") == 1
    assert [t for t, _ in page.tags].count("main") == 1
    assert page.find("nav", **{"aria-label": "Contents"})
    assert "<title>Privacy Policy | ContactMonkey</title>" in html
    assert len(page.find("table")) == 1
    assert "<caption>Cookies we use</caption>" in html
    headers = page.find("th")
    assert headers and all(h.get("scope") == "col" for h in headers)


def test_page_has_no_inline_style_or_script(html: str, page: Page) -> None:
    assert not page.find("style")
    assert not page.find("script")
    assert all("style" not in attrs for _, attrs in page.tags)
    assert all(not k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert not re.search(r"javascript:", html, re.IGNORECASE)
    (sheet,) = page.find("link", rel="stylesheet")
    assert str(sheet["href"]).startswith("/assets/privacy.css?v=")


SEED_CLAUSES = [
    # Introduction
    "Your privacy is very important to us.",
    "By using this site, you consent to the collection of information",
    # Collection & use
    "unless you knowingly and specifically give it to us",
    "Full name",
    "Postal address",
    "Telephone number",
    "E-mail address",
    "Card number: required; we keep only its last four characters",
    "to take payment for a purchase",
    "What you give here is also passed to: Card payment processor",
    "We will not disclose personal information about you to any outside party unless we told you",
    "never shared, rented or sold",
    "general information on what pages visitors view",
    "to inform you of service updates, new projects and other important and relevant information",
    "unsubscribe",
    # Legal disclosures
    "We reserve the right to access and disclose individually identifiable information",
    "to comply with applicable laws",
    "to answer lawful requests from governmental authorities",
    "to operate our systems properly",
    "to protect our rights and property",
    "a second privacy officer must approve it",
    # Children
    "If you are under 18, be sure to obtain your parent's or guardian's permission",
    "We encourage parents to get involved with their children's online usage",
    # Changes
    "We may change this privacy policy from time to time",
    "Please check this page periodically for changes",
    "Your continued use of this site following the posting of changes constitutes your acceptance",
    # Cookies
    "A cookie is a small piece of information that is sent to your browser",
    "You may refuse cookies",
    "Refusing cookies may limit your use of some website features.",
    "Global Privacy Control",
    # Security
    "appropriate security measures",
    "encrypted with TLS (the successor of SSL)",
    "internally every 90 days",
    "access-controlled data centres",
    "ContactMonkey employees, contractors and agents who need to know",
    "bound by confidentiality obligations",
    # Contact
    "We welcome any questions regarding our privacy policy.",
]


@pytest.mark.parametrize("clause", SEED_CLAUSES)
def test_every_clause_of_the_seed_is_on_the_page(clause: str, page: Page, markdown: str) -> None:
    assert clause in page.words
    flat_md = " ".join(markdown.replace("\\", "").replace("**", "").split())
    assert clause in re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", flat_md)


def test_fields_are_named_in_the_policy_s_words_not_the_taxonomy_s(
    example: LoadedPolicy, page: Page, markdown: str
) -> None:
    written = EXAMPLE_POLICY.read_text(encoding="utf-8")
    fields = [
        f for point in example.policy.collection_points.values() for f in point.fields.values()
    ]
    taxonomy_names = {example.taxonomy.label("data_categories", f.category) for f in fields}
    # Names a reader would not know ("User Contact Email"), unless the policy uses them itself.
    unknown = {name for name in taxonomy_names if name not in written}
    assert {"User Contact Email", "Credit Card Information"} <= unknown
    for name in unknown:
        assert name not in page.words
        assert name not in markdown
    assert "Card number: required; we keep only its last four characters" in page.words
    # Tools still find the category of each field on the page, out of sight.
    categories = [a.get("data-category") for t, a in page.tags if t == "strong"]
    assert sorted(c for c in categories if c) == sorted(f.category for f in fields)


def test_version_is_shown_by_its_date_its_hash_only_in_json(
    example: LoadedPolicy, html: str, page: Page, markdown: str
) -> None:
    short = example.version_id[:12]
    assert "Version of 23 February 2017" in page.words
    assert "ContactMonkey. Version of 23 February 2017." in markdown
    assert page.find("time", datetime="2017-02-23")
    assert short not in html
    assert short not in markdown


def test_versions_note_names_versions_by_their_dates(example: LoadedPolicy) -> None:
    def note(short_id: str, day: str, iso: str) -> VersionNote:
        return VersionNote(short_id, day, iso, f"/privacy/versions/{short_id}", None, False, None)

    history = History(
        in_effect=note("6a5d5710f281", "23 February 2017", "2017-02-23"),
        upcoming=(),
        earlier=(note("0123456789ab", "1 May 2016", "2016-05-01"),),
    )
    page = Page(render_html(example, history=history))
    assert "Earlier versions: the version of 1 May 2016." in page.words
    assert page.find("a", href="/privacy/versions/0123456789ab")
    assert "0123456789ab" not in page.words
    assert "6a5d5710f281" not in page.words


def test_cookie_table_has_a_row_for_each_cookie(example: LoadedPolicy, page: Page) -> None:
    assert page.rows[0] == ["Name", "Provider", "Category", "Lifetime", "Purpose"]
    body = {row[0]: row for row in page.rows[1:]}
    assert list(body) == [c.name for c in example.policy.cookies]
    assert body["cm_consent"][1:4] == ["ContactMonkey", "Strictly necessary", "12 months"]
    assert body["cm_usage"][2:4] == ["Analytics", "13 months"]
    assert body["cm_content"][2:] == [
        "Advertising",
        "30 days",
        "Makes sure our ads and dynamic content are served correctly.",
    ]
    assert body["cm_perf"][2:4] == ["Performance", "Until you close your browser"]


def test_contact_address_is_a_mailto_link(html: str, markdown: str) -> None:
    link = '<a href="mailto:support@contactmonkey.com">support@contactmonkey.com</a>'
    assert link in html
    assert "[support@contactmonkey.com](mailto:support@contactmonkey.com)" in markdown


def test_policy_text_is_escaped() -> None:
    def change(d: dict[str, Any]) -> None:
        d["policy"]["introduction"] = 'We <script>alert("x")</script> care & "promise".'
        d["organisation"]["name"] = "Evil <img src=x onerror=alert(1)> Ltd"

    html = render_html(parse_text(policy_text(change)))
    assert "<script" not in html
    assert "<img" not in html
    assert (
        "We &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; care &amp; &#34;promise&#34;." in html
    )
    assert "Evil &lt;img src=x onerror=alert(1)&gt; Ltd" in html
    assert Page(html).problems == []


def test_privacy_routes_serve_page_markdown_and_stylesheet(sqlite_client: TestClient) -> None:
    page = sqlite_client.get("/privacy")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # The tag names the version and the evidence shown with it.
    version, _, evidence = page.headers["etag"].strip('"').partition(".")
    assert version == load_file(EXAMPLE_POLICY).version_id
    assert len(evidence) == 16
    assert 'id="cookies"' in page.text

    # Its hash names the version for machines only: the JSON form and the tag, not the page
    # (its evidence lines included).
    version_id = load_file(EXAMPLE_POLICY).version_id
    assert version_id[:12] not in page.text
    assert "This policy (the version of 23 February 2017) names no buyer" in page.text
    assert sqlite_client.get("/v1/policy").json()["version_id"] == version_id
    assert "Version of 23 February 2017" in Page(page.text).words

    md = sqlite_client.get("/privacy.md")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Privacy Policy\n")

    (sheet,) = Page(page.text).find("link", rel="stylesheet")
    css = sqlite_client.get(str(sheet["href"]))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "max-age=31536000" in css.headers["cache-control"]
    assert "immutable" in css.headers["cache-control"]
    assert css.text == sqlite_client.get("/assets/privacy.css").text


def test_stylesheet_is_responsive_and_printable(sqlite_client: TestClient) -> None:
    css = sqlite_client.get("/assets/privacy.css").text
    assert "@media print" in css
    print_rules = css[css.index("@media print") :]
    assert re.search(r"\.contents[^{]*\{\s*display: none", print_rules)
    assert 'content: " (" attr(href) ")"' in print_rules
    assert re.search(r"\.table-scroll \{[^}]*overflow-x: auto", css)
