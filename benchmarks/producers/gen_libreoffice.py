"""Typeset benchmark briefs with LibreOffice Writer and write their truth files.

Each brief below is written once, as plain text, put into a flat ODF text document
(``.fodt``) in one of five layouts and exported to PDF by ``soffice --headless``:
a two-column section with running header, footnotes and a "Page N of M" footer; a
"Key points" sidebar frame beside the text; endnotes; a ruled table with caption and
source; a one-page brief whose lead runs beside a grey "photo" frame with caption and
credit. Body text is justified with automatic hyphenation (en-US, from
``/usr/share/hyphen``). The same text, minus note markers, becomes the truth file's
``body``; everything printed outside the reading flow goes to ``floats``.

Notes are written inline as ``[[note text]]``. Apostrophes are written as ``'`` and
typeset (and recorded) as ``’``.

Run ``python benchmarks/producers/gen_libreoffice.py`` to (re)build
``pdfs/libreoffice-*.pdf``. LibreOffice stamps the export time and a random file ID into
each PDF; both are overwritten with fixed values of the same length, so the output is
reproducible.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

if __package__:
    from .common import (
        INLINE_NOTE,
        PDFS,
        InlineNotesBrief,
        check_hyphen_features,
        typo,
        without_notes,
    )
    from .truth import Float, Person, Truth
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import (
        INLINE_NOTE,
        PDFS,
        InlineNotesBrief,
        check_hyphen_features,
        typo,
        without_notes,
    )
    from truth import Float, Person, Truth

INSTITUTE = "Vellmar Institute for International Affairs"
DOC_AUTHOR = "VIIA Publications Office"  # the document properties' author, not the byline
DOC_DATE = "2024-09-02T10:15:00"  # the document properties' date, not the printed one
PDF_DATE = "20240902101500"  # written over the export time in the PDF
HYPHEN_DICT = Path("/usr/share/hyphen/hyph_en_US.dic")


class Brief(InlineNotesBrief):
    @property
    def file(self) -> str:
        return f"libreoffice-{self.layout}.pdf"


# --------------------------------------------------------------------------- text helpers


def x(text: str) -> str:
    return escape(typo(text))


def xml_par(text: str, note_class: str = "footnote") -> str:
    """Paragraph content with ``[[...]]`` turned into ODF footnotes or endnotes."""
    out, pos = [], 0
    for m in INLINE_NOTE.finditer(text):
        out.append(x(text[pos : m.start()]))
        n = zlib.crc32(m.group(1).encode())  # a stable id; LibreOffice numbers the notes itself
        out.append(
            f'<text:note text:id="note{n}" text:note-class="{note_class}">'
            "<text:note-citation>1</text:note-citation><text:note-body>"
            f'<text:p text:style-name="{note_class.capitalize()}">{x(m.group(1))}</text:p>'
            "</text:note-body></text:note>"
        )
        pos = m.end()
    out.append(x(text[pos:]))
    return "".join(out)


def p(style: str, content: str) -> str:
    return f'<text:p text:style-name="{style}">{content}</text:p>'


def h(text: str) -> str:
    return f'<text:h text:style-name="Heading" text:outline-level="2">{x(text)}</text:h>'


def body_xml(
    b: Brief,
    note_class: str = "footnote",
    inside: dict[int, str] | None = None,
    after: dict[int, str] | None = None,
) -> str:
    """Headings and paragraphs after the lead. ``inside`` maps a paragraph index (1 = first
    after the lead) to XML put at the start of that paragraph (an anchored frame),
    ``after`` to XML placed after it."""
    inside, after = inside or {}, after or {}
    parts, i = [], 1
    for heading, paras in b.sections:
        parts.append(h(heading))
        for para in paras:
            parts.append(p("Body", inside.get(i, "") + xml_par(para, note_class)))
            parts.append(after.get(i, ""))
            i += 1
    return "".join(parts)


def masthead_xml(b: Brief) -> str:
    return p("Masthead", f"VIIA BULLETIN<text:tab/>{x(b.masthead)}")


def byline_xml(b: Brief, per_line: bool) -> str:
    if per_line:
        return p(
            "Byline",
            "<text:line-break/>".join(
                f'<text:span text:style-name="Bold">{x(a.name)}</text:span>, {x(a.role)}'
                for a in b.authors
            ),
        )
    return p("Byline", x(b.byline))


def bullet_list(items: list[str], style: str) -> str:
    return (
        '<text:list text:style-name="LBullet">'
        + "".join(f"<text:list-item>{p(style, x(i))}</text:list-item>" for i in items)
        + "</text:list>"
    )


# ---------------------------------------------------------------------------- the document

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:loext="urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"'
)

HYPH = (
    'fo:hyphenate="true" fo:hyphenation-remain-char-count="3" fo:hyphenation-push-char-count="3" '
    'fo:language="en" fo:country="US"'
)

STYLES = f"""<office:font-face-decls>
<style:font-face style:name="Liberation Serif" svg:font-family="'Liberation Serif'"
  style:font-family-generic="roman" style:font-pitch="variable"/>
<style:font-face style:name="Liberation Sans" svg:font-family="'Liberation Sans'"
  style:font-family-generic="swiss" style:font-pitch="variable"/>
</office:font-face-decls>
<office:styles>
<style:default-style style:family="paragraph">
 <style:paragraph-properties style:writing-mode="lr-tb"/>
 <style:text-properties style:font-name="Liberation Serif" fo:font-size="10pt" fo:language="en"
   fo:country="US"/>
</style:default-style>
<style:default-style style:family="graphic"><style:graphic-properties
  draw:shadow="hidden"/></style:default-style>
<style:style style:name="Standard" style:family="paragraph" style:class="text"/>
<style:style style:name="Body" style:family="paragraph" style:parent-style-name="Standard"
  style:class="text">
 <style:paragraph-properties fo:text-align="justify" fo:margin-top="0cm" fo:margin-bottom="0.16cm"
   fo:line-height="118%" fo:orphans="2" fo:widows="2"/>
 <style:text-properties {HYPH}/>
</style:style>
<style:style style:name="Lead" style:family="paragraph" style:parent-style-name="Body">
 <style:paragraph-properties fo:margin-bottom="0.3cm"/>
 <style:text-properties fo:font-size="11pt" fo:font-weight="bold"/>
</style:style>
<style:style style:name="Heading" style:family="paragraph" style:parent-style-name="Standard"
  style:class="text" style:default-outline-level="2">
 <style:paragraph-properties fo:margin-top="0.3cm" fo:margin-bottom="0.12cm"
   fo:keep-with-next="always"/>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="10.5pt"
   fo:font-weight="bold" fo:hyphenate="false"/>
</style:style>
<style:style style:name="Title" style:family="paragraph" style:parent-style-name="Standard"
  style:class="chapter">
 <style:paragraph-properties fo:margin-top="0.35cm" fo:margin-bottom="0.25cm"
   fo:line-height="105%"/>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="19pt" fo:font-weight="bold"
   fo:hyphenate="false"/>
</style:style>
<style:style style:name="Masthead" style:family="paragraph" style:parent-style-name="Standard">
 <style:paragraph-properties fo:padding="0.08cm" fo:background-color="#d9d9d9"
   fo:border-bottom="1.1pt solid #000000">
  <style:tab-stops><style:tab-stop style:position="16.8cm" style:type="right"/></style:tab-stops>
 </style:paragraph-properties>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="9pt" fo:font-weight="bold"/>
</style:style>
<style:style style:name="Byline" style:family="paragraph" style:parent-style-name="Standard">
 <style:paragraph-properties fo:margin-bottom="0.35cm"/>
 <style:text-properties fo:font-size="9.5pt" fo:hyphenate="false"/>
</style:style>
<style:style style:name="Header" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:border-bottom="0.5pt solid #000000" fo:padding-bottom="0.05cm">
  <style:tab-stops><style:tab-stop style:position="17cm" style:type="right"/></style:tab-stops>
 </style:paragraph-properties>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="8pt"/>
</style:style>
<style:style style:name="Footer" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:text-align="center">
  <style:tab-stops><style:tab-stop style:position="17cm" style:type="right"/></style:tab-stops>
 </style:paragraph-properties>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="8pt"/>
</style:style>
<style:style style:name="FooterLeft" style:family="paragraph" style:parent-style-name="Footer">
 <style:paragraph-properties fo:text-align="start"/>
</style:style>
<style:style style:name="Caption" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:margin-top="0.1cm" fo:margin-bottom="0.1cm"/>
 <style:text-properties fo:font-size="8.5pt" fo:font-style="italic" fo:hyphenate="false"/>
</style:style>
<style:style style:name="Credit" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:text-align="end"/>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="7pt" fo:color="#555555"/>
</style:style>
<style:style style:name="SideTitle" style:family="paragraph" style:parent-style-name="Standard">
 <style:paragraph-properties fo:margin-bottom="0.12cm"/>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="10pt"
   fo:font-weight="bold"/>
</style:style>
<style:style style:name="SideItem" style:family="paragraph" style:parent-style-name="Standard">
 <style:paragraph-properties fo:margin-bottom="0.1cm"/>
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="8.5pt"
   fo:hyphenate="false"/>
</style:style>
<style:style style:name="TableHead" style:family="paragraph" style:parent-style-name="Standard">
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="8.5pt"
   fo:font-weight="bold"/>
</style:style>
<style:style style:name="TableCell" style:family="paragraph" style:parent-style-name="Standard">
 <style:text-properties style:font-name="Liberation Sans" fo:font-size="8.5pt"/>
</style:style>
<style:style style:name="Footnote" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:margin-left="0.4cm" fo:text-indent="-0.4cm"/>
 <style:text-properties fo:font-size="8pt"/>
</style:style>
<style:style style:name="Endnote" style:family="paragraph" style:parent-style-name="Standard"
  style:class="extra">
 <style:paragraph-properties fo:margin-left="0.5cm" fo:text-indent="-0.5cm"
   fo:margin-bottom="0.12cm"/>
 <style:text-properties fo:font-size="9pt"/>
</style:style>
<style:style style:name="Bold" style:family="text"><style:text-properties
  fo:font-weight="bold"/></style:style>
<style:style style:name="NoteAnchor" style:family="text"><style:text-properties
  style:text-position="super 58%"/></style:style>
<text:list-style style:name="LBullet">
 <text:list-level-style-bullet text:level="1" text:bullet-char="•">
  <style:list-level-properties text:list-level-position-and-space-mode="label-alignment">
   <style:list-level-label-alignment text:label-followed-by="listtab"
     text:list-tab-stop-position="0.4cm" fo:text-indent="-0.4cm" fo:margin-left="0.4cm"/>
  </style:list-level-properties>
 </text:list-level-style-bullet>
</text:list-style>
<text:notes-configuration text:note-class="footnote" text:citation-style-name="NoteAnchor"
  style:num-format="1" text:start-value="0" text:footnotes-position="page"
    text:start-numbering-at="document"/>
<text:notes-configuration text:note-class="endnote" text:citation-style-name="NoteAnchor"
  style:num-format="1" text:start-value="0" text:master-page-name="Standard"/>
</office:styles>"""

AUTO_STYLES = """<style:page-layout style:name="pm1">
 <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="1.2cm"
   fo:margin-bottom="1.2cm" fo:margin-left="2cm" fo:margin-right="2cm"
     style:footnote-max-height="0cm">
  <style:footnote-sep style:width="0.018cm" style:distance-before-sep="0.1cm"
    style:distance-after-sep="0.1cm" style:adjustment="left" style:rel-width="25%"
      style:color="#000000"/>
 </style:page-layout-properties>
 <style:header-style><style:header-footer-properties fo:min-height="0.5cm"
   fo:margin-bottom="0.5cm"/></style:header-style>
 <style:footer-style><style:header-footer-properties fo:min-height="0.5cm"
   fo:margin-top="0.5cm"/></style:footer-style>
</style:page-layout>"""


def document(b: Brief, content: str, header: str = "", footer: str = "", auto: str = "") -> str:
    """A complete .fodt: ``header``/``footer`` are paragraph XML for every page."""
    head = f"<style:header>{header}</style:header>" if header else ""
    foot = f"<style:footer>{footer}</style:footer>" if footer else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {NS} office:version="1.3"
  office:mimetype="application/vnd.oasis.opendocument.text">
<office:meta>
<dc:title>{x(b.title)}</dc:title>
<dc:subject>VIIA Bulletin</dc:subject>
<meta:initial-creator>{DOC_AUTHOR}</meta:initial-creator>
<dc:creator>{DOC_AUTHOR}</dc:creator>
<meta:creation-date>{DOC_DATE}</meta:creation-date>
<dc:date>{DOC_DATE}</dc:date>
</office:meta>
{STYLES}
<office:automatic-styles>
{AUTO_STYLES}
{auto}
</office:automatic-styles>
<office:master-styles>
<style:master-page style:name="Standard"
  style:page-layout-name="pm1">{head}{foot}</style:master-page>
</office:master-styles>
<office:body><office:text>
{content}
</office:text></office:body>
</office:document>
"""


PAGE_N_OF_M = (
    'Page <text:page-number text:select-page="current">1</text:page-number> of '
    "<text:page-count>1</text:page-count>"
)
PAGE_N = '<text:page-number text:select-page="current">1</text:page-number>'


# ---------------------------------------------------------------------------- the briefs

CYBER = Brief(
    layout="two-column",
    features=[
        "two-columns",
        "footnotes",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Ransomware in Hospitals: Closing the Security Gap in European Healthcare",
    number="64",
    masthead="No. 64 | 05.05.2024",
    date="2024-05-05",
    authors=[
        Person("Lena Baumann", "analyst in the Cyber Security Programme"),
        Person("Marek Dudek", "head of the Technology Policy Programme"),
    ],
    lead=(
        "Ransomware attacks on hospitals have become a routine threat to patient safety across "
        "Europe, disrupting emergency care, cancelling operations and exposing sensitive medical "
        "records. The revised Network and Information Security Directive extends binding "
        "obligations to many healthcare providers, but most hospitals lack the staff, budgets and "
        "expertise to meet them. Targeted funding, shared security services and realistic "
        "incident exercises would raise resilience faster than new regulation alone."
    ),
    sections=[
        (
            "A Lucrative Target",
            [
                "Healthcare organisations combine everything that criminal groups look for: "
                "valuable data, outdated systems and a strong incentive to restore operations "
                "quickly. Hospitals run thousands of connected devices, from infusion pumps to "
                "imaging scanners, many of which cannot be updated without the manufacturer's "
                "approval. Attackers who encrypt patient records know that every hour of downtime "
                "endangers lives, and they price their ransom demands accordingly.",
                "The criminal ecosystem behind these attacks has become highly professional. "
                "Ransomware-as-a-service groups rent out their malware to affiliates, who receive "
                "a share of the proceeds, while specialised brokers sell access to compromised "
                "networks. Many hospitals are breached through stolen credentials or unpatched "
                "remote-access software rather than sophisticated techniques, which means that "
                "basic security hygiene would prevent a large share of incidents.",
                "Recent incidents illustrate the consequences. Attacks on hospitals in Germany, "
                "France, Ireland and the Czech Republic forced emergency departments to divert "
                "ambulances, postponed cancer treatments and took weeks to resolve completely. In "
                "several cases stolen data were later published online after the hospital refused "
                "to pay.[[The attack on the Irish Health Service Executive in May 2021 affected "
                "all of its national and local IT systems; recovery took more than four months.]]",
            ],
        ),
        (
            "New Obligations under NIS2",
            [
                "The NIS2 Directive, which member states had to transpose by October 2024, "
                "classifies hospitals and many other healthcare entities as essential or important "
                "entities. They must implement risk-management measures, report significant "
                "incidents within twenty-four hours and ensure that their management bodies are "
                "trained in cybersecurity. Penalties for non-compliance can reach ten million "
                "euros or two percent of global turnover.[[Directive (EU) 2022/2555 of 14 December "
                "2022, Articles 21, 23 and 34.]]",
                "These requirements are sensible, but they assume organisational capacities that "
                "many hospitals simply do not have. Smaller district hospitals often employ only "
                "two or three information technology staff, who are responsible for everything "
                "from printers to electronic health records. Competition with the private sector "
                "for qualified security specialists is intense, and public salary scales rarely "
                "allow hospitals to win it.",
            ],
        ),
        (
            "Shared Services and Funding",
            [
                "Instead of expecting every hospital to build a complete security operation, "
                "governments should finance regional security operations centres that monitor "
                "networks for several institutions at once. Such centres already exist in some "
                "countries, run by health ministries or public-sector IT agencies, and they "
                "achieve economies of scale in detection and response. The EU's Digital Europe "
                "Programme and the Recovery and Resilience Facility can co-finance their creation.",
                "Procurement rules also matter. Hospitals should be able to require vendors of "
                "medical devices to provide security updates for the entire lifetime of a product, "
                "a principle that the Cyber Resilience Act will make mandatory for many connected "
                "devices. Until then, joint procurement with standardised security clauses would "
                "strengthen the bargaining position of individual buyers.",
            ],
        ),
        (
            "Preparing for the Worst",
            [
                "Even well-protected hospitals must assume that an attack will eventually succeed. "
                "Continuity plans should specify how emergency departments, laboratories and "
                "pharmacies will operate on paper for several days, and staff should practise "
                "these procedures regularly. Offline backups, tested restoration procedures and "
                "segmented networks determine whether a hospital recovers in days or in months.",
                "Cross-border cooperation is equally important. Patients may need to be "
                "transferred to hospitals in neighbouring regions or countries, and threat "
                "intelligence about a new ransomware variant is most valuable when it is shared "
                "quickly. The European cybersecurity competence network and the sector-specific "
                "information sharing centres created under earlier EU legislation provide a "
                "framework, but participation by hospitals remains patchy.",
            ],
        ),
        (
            "Recommendations",
            [
                "Health ministries should allocate dedicated cybersecurity budgets, equivalent to "
                "at least ten percent of hospital IT spending, and tie them to measurable "
                "improvements. National authorities should establish sector-specific incident "
                "response teams for healthcare and run annual cross-border exercises simulating "
                "large-scale attacks. Finally, governments should maintain a clear policy against "
                "paying ransoms with public money, while supporting affected hospitals with rapid "
                "technical assistance. Regulators should also publish anonymised lessons from "
                "major incidents, so that other institutions can learn from them without exposing "
                "the victims.",
            ],
        ),
    ],
    extra={"header_left": INSTITUTE, "header_right": "Bulletin No. 64"},
)

CLIMATE = Brief(
    layout="sidebar",
    features=[
        "sidebar",
        "justified",
        "soft-hyphens",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Mobilising Private Capital for Climate Adaptation in Developing Countries",
    number="150 (2269)",
    masthead="No. 150 (2269) · 20 November 2023",
    date="2023-11-20",
    authors=[Person("Aleksandra Nowicka", "analyst in the Climate and Energy Programme")],
    lead=(
        "Developed countries promised to double adaptation finance for developing countries by "
        "2025, yet public budgets are under strain and private investors have so far shown little "
        "interest. Adaptation projects rarely generate the revenue streams that attract commercial "
        "capital. Blended finance, risk-sharing guarantees and better climate-risk data can help, "
        "but only if donors accept that public money will remain the backbone of adaptation "
        "funding."
    ),
    sections=[
        (
            "An Expanding Finance Gap",
            [
                "The United Nations Environment Programme estimates that developing countries will "
                "need between 215 and 387 billion dollars a year this decade to adapt to a warming "
                "climate. International public flows reached only around 21 billion dollars in "
                "2021, and they declined compared with the previous year. Floods, droughts and "
                "heatwaves are already eroding development gains in South Asia, the Sahel and "
                "small island states, which have contributed least to global emissions.",
                "At the climate conference in Glasgow, developed countries pledged to double their "
                "adaptation finance from 2019 levels by 2025. Meeting that pledge would still "
                "close only a small fraction of the gap, which is why donors increasingly look to "
                "private capital to fill the difference.",
            ],
        ),
        (
            "Why Investors Hesitate",
            [
                "Adaptation measures such as flood defences, drought-resistant irrigation and "
                "early-warning systems produce public benefits that are difficult to monetise. "
                "Their returns take the form of avoided losses, which do not appear on any balance "
                "sheet. Investors also face currency risks, weak legal frameworks and a lack of "
                "reliable data on local climate hazards, all of which raise the cost of capital in "
                "the countries that need adaptation most.",
                "Some segments are more promising. Climate-resilient agriculture, water utilities, "
                "insurance and resilient infrastructure can generate revenues, particularly when "
                "combined with public concessions or tariffs. Small and medium-sized enterprises "
                "that supply climate-adapted seeds, cooling equipment or water-saving technologies "
                "represent another growing market.",
            ],
        ),
        (
            "Tools that Work",
            [
                "Blended finance structures, in which public or philanthropic funds take the first "
                "loss, have attracted commercial lenders into projects they would otherwise avoid. "
                "Guarantees from multilateral development banks can cover political and currency "
                "risks at a fraction of the cost of direct lending. Catastrophe bonds and regional "
                "risk pools allow governments to transfer part of the financial burden of "
                "disasters to capital markets and receive payouts within weeks instead of months.",
                "Local financial institutions are essential partners. Microfinance providers and "
                "regional banks know their clients and can bundle small adaptation loans into "
                "portfolios large enough for international investors, provided that technical "
                "assistance helps them assess climate risks. Development banks should therefore "
                "channel more of their adaptation lending through local intermediaries and in "
                "local currency.",
            ],
        ),
        (
            "Recommendations",
            [
                "The EU and its member states should expand guarantee instruments for adaptation "
                "under the Global Gateway strategy and require multilateral development banks to "
                "report adaptation co-benefits transparently. Donors should invest in open "
                "climate-risk data and local project-preparation capacities, which are "
                "prerequisites for any bankable pipeline. At the same time, they should protect "
                "grant-based funding for the least developed countries, where private finance is "
                "unlikely ever to play a major role.",
            ],
        ),
    ],
    extra={
        "sidebar_title": "Key points",
        "sidebar_items": [
            "Adaptation needs in developing countries exceed current flows by a factor of ten or "
            "more.",
            "Private capital accounts for less than five percent of adaptation finance.",
            "Guarantees and first-loss tranches can lower risks for investors.",
            "Grants remain essential for the poorest and most vulnerable countries.",
        ],
    },
)

AGRICULTURE = Brief(
    layout="endnotes",
    features=[
        "endnotes",
        "justified",
        "soft-hyphens",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Drought and European Agriculture: Adapting the Common Agricultural Policy",
    number="19",
    masthead="No. 19 | 11.02.2024",
    date="2024-02-11",
    authors=[
        Person("Joanna Wójcik", "analyst in the Economic Policy Programme"),
        Person("Henrik Sørensen", "visiting fellow in the Climate and Energy Programme"),
    ],
    lead=(
        "Repeated droughts have cut harvests, lowered groundwater levels and strained farm incomes "
        "across large parts of Europe. The Common Agricultural Policy still rewards production "
        "volume and area more than resilience, and its environmental schemes are too weakly "
        "funded to change practices at scale. Water-saving investment, soil protection and "
        "risk-management tools should move to the centre of the next reform."
    ),
    sections=[
        (
            "Droughts Become the Norm",
            [
                "The summer of 2022 brought one of the worst droughts in Europe for centuries, "
                "according to the European Commission's Joint Research Centre.[[European Drought "
                "Observatory, Drought in Europe, August 2022, Joint Research Centre, Ispra "
                "2022.]] Maize yields fell well below the five-year average, and river transport "
                "on the Rhine and the Danube was interrupted for weeks. Similar, if less extreme, "
                "events followed in 2023 in Spain, southern France and Italy.",
                "Climate projections suggest that such episodes will become more frequent and more "
                "intense, particularly in the Mediterranean and in Central and Eastern Europe. "
                "Groundwater tables in many agricultural regions are already declining because "
                "withdrawals exceed natural recharge. In Poland, a country with relatively modest "
                "water resources per inhabitant, agricultural drought is now reported almost every "
                "year.",
            ],
        ),
        (
            "A Policy Designed for Another Era",
            [
                "The Common Agricultural Policy distributes most of its budget as direct payments "
                "per hectare, which favour larger holdings and provide little incentive to invest "
                "in resilience. Eco-schemes introduced in the 2023–2027 period allow farmers to "
                "receive payments for environmentally beneficial practices, yet many member states "
                "designed them with low ambition to ensure broad uptake.[[European Court of "
                "Auditors, Common Agricultural Policy and climate, Special report 16/2021, "
                "Luxembourg 2021.]] Irrigation subsidies, meanwhile, sometimes encourage the "
                "expansion of water-intensive crops in regions that can least afford it.",
                "Risk-management instruments remain underdeveloped. Crop insurance covers only a "
                "small share of farms in most Central European countries, and governments tend to "
                "respond to each drought with ad hoc compensation packages. These payments ease "
                "immediate hardship but reduce the incentive for farmers to adapt.",
            ],
        ),
        (
            "Building Resilience from the Soil Up",
            [
                "Healthy soils retain more water, and practices such as cover cropping, reduced "
                "tillage and crop rotation can improve water retention substantially over time. "
                "Small-scale retention measures, including ponds, wetlands and the restoration of "
                "drainage ditches, help to keep water in the landscape instead of channelling it "
                "rapidly into rivers. Precision irrigation technologies can cut water use without "
                "reducing yields, although their upfront costs are prohibitive for many smaller "
                "farms.",
                "Advisory services are the missing link. Farmers are more likely to change "
                "long-established practices when they can see results on neighbouring farms and "
                "receive independent advice, yet public extension services in several member "
                "states have been cut back for years.",
            ],
        ),
        (
            "Recommendations",
            [
                "The next reform of the Common Agricultural Policy should shift funding from "
                "area-based payments towards investment in water efficiency, soil health and "
                "landscape retention. Member states should make subsidised crop insurance or "
                "mutual funds widely available and phase out ad hoc drought compensation for farms "
                "that have not taken reasonable precautions. Finally, water abstraction for "
                "agriculture should be metered and priced in all river basins facing structural "
                "scarcity, as the Water Framework Directive already requires in "
                "principle.[[Directive 2000/60/EC establishing a framework for Community action in "
                "the field of water policy, Article 9.]]",
            ],
        ),
    ],
    extra={"footer_left": INSTITUTE},
)

CHIPS = Brief(
    layout="table-ruled",
    features=[
        "table-ruled",
        "caption",
        "justified",
        "soft-hyphens",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Semiconductor Supply Chains: What the European Chips Act Can and Cannot Achieve",
    number="102 (2221)",
    masthead="No. 102 (2221) · 18 July 2023",
    date="2023-07-18",
    authors=[
        Person("Michał Kowalski", "analyst in the Technology Policy Programme"),
        Person("Clara Fontaine", "research fellow in the International Economics Programme"),
    ],
    lead=(
        "The European Chips Act aims to double the EU's share of global semiconductor production "
        "to twenty percent by 2030. New fabrication plants announced in Germany, Italy and France "
        "show that subsidies can attract investment, but the target is unlikely to be met, and the "
        "most advanced chips will continue to be produced in Asia. Europe should focus its "
        "resources on areas of genuine strength, such as equipment, power electronics and "
        "research, and on monitoring supply-chain risks."
    ),
    sections=[
        (
            "Europe's Position in the Value Chain",
            [
                "Europe accounts for roughly ten percent of global chip production, concentrated "
                "in mature technologies used in cars, industrial machinery and energy systems. Its "
                "strengths lie elsewhere in the value chain. The Dutch company ASML is the only "
                "supplier of extreme ultraviolet lithography machines, and European research "
                "centres in Belgium, France and Germany are world leaders in process development. "
                "By contrast, the EU has no manufacturing capacity for logic chips below ten "
                "nanometres.",
                "The shortages of 2021 and 2022, which halted car production lines across the "
                "continent, revealed how vulnerable European industry is to disruptions elsewhere. "
                "Most of the affected chips were not cutting-edge products but inexpensive "
                "microcontrollers produced in Taiwan and assembled in Southeast Asia.",
            ],
        ),
        (
            "The Subsidy Race",
            [
                "The Chips Act mobilises public and private investment of more than forty-three "
                "billion euros, largely through state aid approved by the European Commission. "
                "Member states are competing to host new plants, and the largest projects receive "
                "subsidies covering a third or more of their investment costs. Table 1 lists "
                "several of the major projects announced so far.",
                "The United States, Japan, South Korea and China are pursuing similar strategies, "
                "which drives up the price of attracting manufacturers. There is a risk that "
                "European governments will overpay for capacity in segments where global "
                "oversupply is likely later in the decade, while neglecting less visible "
                "bottlenecks such as advanced packaging and specialised chemicals.",
            ],
        ),
        (
            "Beyond Manufacturing",
            [
                "The most effective European policy may be one that builds on existing advantages. "
                "Continued support for equipment makers, materials suppliers and pilot lines would "
                "strengthen the EU's indispensability in global supply chains, giving it leverage "
                "in a crisis. Investment in chip design, where Europe lags behind, could help "
                "domestic industries develop specialised products for automotive and energy "
                "applications.",
                "Skills are a further constraint. The industry estimates that tens of thousands of "
                "additional engineers and technicians will be needed in Europe by the end of the "
                "decade, and universities cannot train them quickly enough. Targeted scholarships, "
                "vocational programmes and easier visa procedures for specialists from third "
                "countries should accompany any new investment.",
            ],
        ),
        (
            "Recommendations",
            [
                "The EU should set realistic, segment-specific objectives instead of a single "
                "market-share target. A European monitoring mechanism, with early-warning "
                "indicators and confidential data from companies, should be fully operational "
                "before the next shortage occurs. Finally, subsidy decisions should be coordinated "
                "at EU level to prevent a costly bidding war among member states for the same "
                "investors.",
            ],
        ),
    ],
    extra={
        "header_left": INSTITUTE,
        "header_right": "Technology Policy",
        "table_caption": "Table 1. Selected semiconductor investments announced in the EU",
        "table_head": ["Company", "Location", "Investment", "Status"],
        "table_rows": [
            ["Intel", "Magdeburg, Germany", "€30 billion", "Planned"],
            ["Infineon", "Dresden, Germany", "€5 billion", "Under construction"],
            [
                "GlobalFoundries and STMicroelectronics",
                "Crolles, France",
                "€7.5 billion",
                "Planned",
            ],
            ["Wolfspeed and ZF", "Ensdorf, Germany", "€2.7 billion", "Planned"],
        ],
        "table_source": "Source: company announcements, compiled by VIIA.",
    },
)

HEAT = Brief(
    layout="one-page-lead-image",
    features=[
        "one-page",
        "lead-beside-image",
        "caption",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "masthead",
        "byline-roles",
    ],
    title="Extreme Heat in Cities: An Agenda for Municipal Action",
    number="71",
    masthead="No. 71 | 27.06.2024",
    date="2024-06-27",
    authors=[Person("Ewa Malinowska", "analyst in the Climate and Energy Programme")],
    lead=(
        "Heatwaves have become the deadliest climate hazard in Europe, with tens of thousands of "
        "excess deaths recorded in recent summers. Cities are hotter than their surroundings, and "
        "older residents, outdoor workers and people in poorly insulated housing face the greatest "
        "risks. Municipalities can save lives with heat-health action plans, urban greening and "
        "better-designed buildings, but they need stable funding and clearer national guidance."
    ),
    sections=[
        (
            "A Growing Threat",
            [
                "Researchers estimate that more than 60,000 people died from heat-related causes "
                "in Europe during the summer of 2022. Dense urban areas with little vegetation can "
                "be several degrees warmer than nearby rural areas, particularly at night, when "
                "the human body needs to recover. Ageing populations mean that the number of "
                "people at high risk will continue to increase. Exposure is also unequal within "
                "cities, because low-income neighbourhoods tend to have fewer trees and more "
                "densely built housing.",
                "Heat also reduces labour productivity, strains electricity grids and damages "
                "transport infrastructure such as rails and roads. Hospitals report more "
                "admissions for cardiovascular and respiratory conditions during extended hot "
                "spells, adding pressure to already overstretched emergency services. Schools and "
                "nurseries in poorly ventilated buildings have had to shorten lessons or close "
                "during the hottest weeks.",
            ],
        ),
        (
            "What Cities Can Do",
            [
                "Heat-health action plans combine early warnings, outreach to vulnerable residents "
                "and the opening of cooling centres during heatwaves. Long-term measures include "
                "planting trees, unsealing paved surfaces, installing green roofs and adapting "
                "building codes to require external shading. Such measures also reduce flooding "
                "and improve air quality, which strengthens their case in municipal budget "
                "negotiations.",
                "Paris, Barcelona and Vienna have begun converting schoolyards into shaded green "
                "spaces open to local residents, while several German cities have appointed "
                "heat-protection officers to coordinate the work of different departments. "
                "Experience shows that success depends less on technology than on cooperation "
                "between social services, health authorities and urban planners.",
            ],
        ),
        (
            "The Funding Gap",
            [
                "Most adaptation measures are financed from municipal budgets that are already "
                "stretched by energy costs and investment backlogs. EU cohesion funds and national "
                "programmes can help, but application procedures are complex and favour larger "
                "cities with specialised staff. Smaller towns, where older residents make up a "
                "growing share of the population, often lack the capacity even to prepare a "
                "heat-vulnerability assessment. Simple templates, shared procurement and technical "
                "support from regional authorities would help them take the first steps.",
            ],
        ),
        (
            "Recommendations",
            [
                "National governments should make heat-health action plans mandatory for larger "
                "municipalities and finance them through dedicated climate-adaptation funds. "
                "Cities should map heat vulnerability at neighbourhood level and prioritise "
                "greening in districts with the highest risk. Labour law should set maximum "
                "temperatures for outdoor work, and building regulations should require passive "
                "cooling in all new public housing. Finally, public health agencies should publish "
                "timely data on heat-related mortality, so that the effectiveness of local "
                "measures can be evaluated and improved.",
            ],
        ),
    ],
    extra={
        "figure_caption": "A tram stop with a planted roof in a city centre during a heatwave.",
        "figure_credit": "Photo: Jan Kessler / VIIA",
    },
)

BRIEFS = [CYBER, CLIMATE, AGRICULTURE, CHIPS, HEAT]


# ------------------------------------------------------------------------------ layouts


def header_tab(left: str, right: str) -> str:
    return p("Header", f"{x(left)}<text:tab/>{x(right)}")


def fodt_two_column(b: Brief) -> str:
    auto = """<style:style style:name="Sect2" style:family="section">
 <style:section-properties text:dont-balance-text-columns="false" style:editable="false">
  <style:columns fo:column-count="2" fo:column-gap="0.7cm"><style:column-sep style:width="0.02cm"
    style:color="#999999" style:height="100%" style:style="solid"/></style:columns>
 </style:section-properties>
</style:style>"""
    content = (
        masthead_xml(b)
        + p("Title", x(b.title))
        + byline_xml(b, per_line=True)
        + p("Lead", xml_par(b.lead))
        + '<text:section text:style-name="Sect2" text:name="Columns">'
        + body_xml(b)
        + "</text:section>"
    )
    return document(
        b,
        content,
        header=header_tab(str(b.extra["header_left"]), str(b.extra["header_right"])),
        footer=p("Footer", PAGE_N_OF_M),
        auto=auto,
    )


def fodt_sidebar(b: Brief) -> str:
    auto = """<style:style style:name="frSide" style:family="graphic"
  style:parent-style-name="Frame">
 <style:graphic-properties style:wrap="left" style:number-wrapped-paragraphs="no-limit"
   style:wrap-contour="false"
  style:vertical-pos="top" style:vertical-rel="paragraph" style:horizontal-pos="right"
    style:horizontal-rel="paragraph"
  fo:margin-left="0.45cm" fo:margin-right="0cm" fo:margin-top="0.05cm" fo:margin-bottom="0.2cm"
  fo:padding="0.25cm" fo:border="0.6pt solid #404040" fo:background-color="#ececec"
    draw:fill="solid" draw:fill-color="#ececec" draw:stroke="none"/>
</style:style>"""
    sidebar = (
        '<draw:frame draw:style-name="frSide" draw:name="KeyPoints" text:anchor-type="paragraph" '
        'svg:width="6.2cm" svg:y="0cm" draw:z-index="0"><draw:text-box fo:min-height="2cm">'
        + p("SideTitle", x(str(b.extra["sidebar_title"])))
        + bullet_list(list(b.extra["sidebar_items"]), "SideItem")
        + "</draw:text-box></draw:frame>"
    )
    content = (
        masthead_xml(b)
        + p("Title", x(b.title))
        + byline_xml(b, per_line=False)
        + p("Lead", xml_par(b.lead))
        + body_xml(b, inside={1: sidebar})
    )
    return document(b, content, footer=p("Footer", PAGE_N), auto=auto)


def fodt_endnotes(b: Brief) -> str:
    content = (
        masthead_xml(b)
        + p("Title", x(b.title))
        + byline_xml(b, per_line=False)
        + p("Lead", xml_par(b.lead, "endnote"))
        + body_xml(b, "endnote")
    )
    return document(
        b, content, footer=p("FooterLeft", f"{x(str(b.extra['footer_left']))}<text:tab/>{PAGE_N}")
    )


def fodt_table(b: Brief) -> str:
    e = b.extra
    auto = """<style:style style:name="Tbl" style:family="table">
 <style:table-properties style:width="17cm" table:align="margins" fo:margin-top="0.2cm"
   fo:margin-bottom="0.1cm"/>
</style:style>
<style:style style:name="TblA" style:family="table-column"><style:table-column-properties
  style:column-width="6.6cm"/></style:style>
<style:style style:name="TblB" style:family="table-column"><style:table-column-properties
  style:column-width="4cm"/></style:style>
<style:style style:name="TblC" style:family="table-column"><style:table-column-properties
  style:column-width="2.8cm"/></style:style>
<style:style style:name="TblD" style:family="table-column"><style:table-column-properties
  style:column-width="3.6cm"/></style:style>
<style:style style:name="Cell" style:family="table-cell">
 <style:table-cell-properties fo:padding="0.08cm" fo:border="0.5pt solid #000000"/>
</style:style>
<style:style style:name="HeadCell" style:family="table-cell">
 <style:table-cell-properties fo:padding="0.08cm" fo:border="0.5pt solid #000000"
   fo:background-color="#d9d9d9"/>
</style:style>"""

    def row(cells: list[str], cell_style: str, par_style: str) -> str:
        return (
            "<table:table-row>"
            + "".join(
                f'<table:table-cell table:style-name="{cell_style}" office:value-type="string">'
                f"{p(par_style, x(c))}</table:table-cell>"
                for c in cells
            )
            + "</table:table-row>"
        )

    table = (
        p("Caption", x(str(e["table_caption"])))
        + '<table:table table:name="Table1" table:style-name="Tbl">'
        + "".join(f'<table:table-column table:style-name="Tbl{c}"/>' for c in "ABCD")
        + "<table:table-header-rows>"
        + row(list(e["table_head"]), "HeadCell", "TableHead")
        + "</table:table-header-rows>"
        + "".join(row(r, "Cell", "TableCell") for r in e["table_rows"])
        + "</table:table>"
        + p("Caption", x(str(e["table_source"])))
    )
    content = (
        masthead_xml(b)
        + p("Title", x(b.title))
        + byline_xml(b, per_line=True)
        + p("Lead", xml_par(b.lead))
        + body_xml(b, after={3: table})
    )
    return document(
        b,
        content,
        header=header_tab(str(e["header_left"]), str(e["header_right"])),
        footer=p("Footer", PAGE_N_OF_M),
        auto=auto,
    )


def fodt_lead_image(b: Brief) -> str:
    e = b.extra
    auto = """<style:style style:name="frPhoto" style:family="graphic"
  style:parent-style-name="Frame">
 <style:graphic-properties style:wrap="right" style:number-wrapped-paragraphs="no-limit"
   style:wrap-contour="false"
  style:vertical-pos="top" style:vertical-rel="paragraph" style:horizontal-pos="left"
    style:horizontal-rel="paragraph"
  fo:margin-left="0cm" fo:margin-right="0.45cm" fo:margin-top="0.05cm" fo:margin-bottom="0.2cm"
    fo:padding="0cm" fo:border="none" fo:background-color="transparent" draw:fill="none"
      draw:stroke="none"/>
</style:style>
<style:style style:name="frGrey" style:family="graphic" style:parent-style-name="Frame">
 <style:graphic-properties style:wrap="none" fo:padding="0cm" fo:border="none"
   fo:background-color="#a6a6a6" draw:fill="solid" draw:fill-color="#a6a6a6" draw:stroke="none"
  style:vertical-pos="top" style:vertical-rel="baseline"/>
</style:style>
<style:style style:name="PhotoP" style:family="paragraph" style:parent-style-name="Standard">
 <style:paragraph-properties fo:margin-bottom="0cm" fo:line-height="100%"/>
</style:style>"""
    photo = (
        '<draw:frame draw:style-name="frPhoto" draw:name="Photo" text:anchor-type="paragraph" '
        'svg:width="7.6cm" svg:y="0cm" draw:z-index="0"><draw:text-box fo:min-height="5cm">'
        + p(
            "PhotoP",
            '<draw:frame draw:style-name="frGrey" draw:name="GreyPhoto" text:anchor-type="as-char" '
            'svg:width="7.6cm" svg:height="5cm" draw:z-index="1">'
            '<draw:text-box fo:min-height="5cm">'
            + p("PhotoP", "")
            + "</draw:text-box></draw:frame>",
        )
        + p("Credit", x(str(e["figure_credit"])))
        + p("Caption", x(str(e["figure_caption"])))
        + "</draw:text-box></draw:frame>"
    )
    content = (
        masthead_xml(b)
        + p("Title", x(b.title))
        + byline_xml(b, per_line=False)
        + p("Lead", photo + xml_par(b.lead))
        + body_xml(b)
    )
    return document(b, content, auto=auto)


LAYOUTS = {
    "two-column": fodt_two_column,
    "sidebar": fodt_sidebar,
    "endnotes": fodt_endnotes,
    "table-ruled": fodt_table,
    "one-page-lead-image": fodt_lead_image,
}


# ------------------------------------------------------------------------------- truth


def floats_for(b: Brief, pages: int) -> list[Float]:
    e = b.extra
    fl = [Float("masthead", "VIIA BULLETIN"), Float("masthead", b.masthead)]
    if b.layout in ("two-column", "table-ruled"):
        fl += [Float("byline", f"{a.name}, {a.role}") for a in b.authors]  # one line each
    else:
        fl.append(Float("byline", b.byline))
    if "header_left" in e:
        for _ in range(pages):
            fl += [Float("header", str(e["header_left"])), Float("header", str(e["header_right"]))]
    if b.layout in ("two-column", "table-ruled"):
        fl += [Float("footer", f"Page {n} of {pages}") for n in range(1, pages + 1)]
    elif b.layout == "sidebar":
        fl += [Float("footer", str(n)) for n in range(1, pages + 1)]
    elif b.layout == "endnotes":
        for n in range(1, pages + 1):
            fl += [Float("footer", str(e["footer_left"])), Float("footer", str(n))]
    if b.layout == "sidebar":
        fl.append(Float("sidebar", str(e["sidebar_title"])))
        fl += [Float("sidebar", typo(i)) for i in e["sidebar_items"]]
    if b.layout == "table-ruled":
        fl.append(Float("caption", str(e["table_caption"])))
        fl.append(Float("table", " ".join(e["table_head"])))
        fl += [Float("table", " ".join(r)) for r in e["table_rows"]]
        fl.append(Float("caption", str(e["table_source"])))
    if b.layout == "one-page-lead-image":
        fl.append(Float("credit", str(e["figure_credit"])))
        fl.append(Float("caption", str(e["figure_caption"])))
    fl += [Float("note", n) for n in b.notes()]
    return fl


def truth_for(b: Brief, pages: int) -> Truth:
    if "one-page" in b.features and pages != 1:
        raise RuntimeError(f"{b.file}: meant to fit one page, typeset on {pages}")
    features = [f for f in b.features if f != "soft-hyphens" or HYPHEN_DICT.exists()]
    return Truth(
        file=b.file,
        producer="libreoffice",
        features=features,
        title=typo(b.title),
        number=b.number,
        date=b.date,
        authors=[Person(a.name, a.role) for a in b.authors],
        body=[without_notes(para) for para in b.paragraphs()],
        headings=[typo(hd) for hd, _ in b.sections],
        floats=floats_for(b, pages),
    )


# ------------------------------------------------------------------------------- build


def _soffice() -> str:
    for name in ("soffice", "libreoffice"):
        exe = shutil.which(name)
        if exe:
            return exe
    raise RuntimeError(
        "soffice not found: install LibreOffice Writer (e.g. apt-get install "
        "libreoffice-writer-nogui, plus hyphen-en-us and fonts-liberation2) to build the "
        "LibreOffice benchmark briefs"
    )


def _fix_pdf(data: bytes) -> bytes:
    """Overwrite the export time and the random file ID with fixed values of the same
    length, so that byte offsets (and the xref table) stay valid."""

    def date(m: re.Match[bytes]) -> bytes:
        return (
            m.group(1)
            + PDF_DATE.encode()
            + b"Z"
            + b" " * (len(m.group(2)) - len(PDF_DATE) - 1)
            + m.group(3)
        )

    data = re.sub(rb"(/(?:CreationDate|ModDate)\s*\(D:)([^)]*)(\))", date, data)
    data = re.sub(
        rb"(<xmp:(?:CreateDate|ModifyDate|MetadataDate)>)([^<]*)(<)",
        lambda m: (
            m.group(1)
            + b"2024-09-02T10:15:00Z".ljust(len(m.group(2)))[: len(m.group(2))]
            + m.group(3)
        ),
        data,
    )
    data = re.sub(
        rb"(/ID\s*\[\s*<)([0-9A-Fa-f]+)(>\s*<)([0-9A-Fa-f]+)(>)",
        lambda m: (
            m.group(1) + b"0" * len(m.group(2)) + m.group(3) + b"0" * len(m.group(4)) + m.group(5)
        ),
        data,
    )
    data = re.sub(
        rb"(xmpMM:(?:DocumentID|InstanceID)>uuid:)([0-9a-f-]+)",
        lambda m: m.group(1) + re.sub(rb"[0-9a-f]", b"0", m.group(2)),
        data,
    )
    # the checksum LibreOffice writes covers the export time too: recompute it
    blank = re.sub(
        rb"(/DocChecksum\s*/)([0-9A-F]+)", lambda m: m.group(1) + b"0" * len(m.group(2)), data
    )
    digest = hashlib.md5(blank).hexdigest().upper().encode()
    return re.sub(
        rb"(/DocChecksum\s*/)([0-9A-F]+)", lambda m: m.group(1) + digest[: len(m.group(2))], data
    )


def _pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def typeset(fodt: str, name: str, out: Path) -> tuple[Path, int]:
    exe = _soffice()
    with tempfile.TemporaryDirectory(prefix="gen-lo-") as tmp:
        work = Path(tmp)
        src = work / f"{name}.fodt"
        src.write_text(fodt, encoding="utf-8")
        run = subprocess.run(
            [
                exe,
                f"-env:UserInstallation=file://{work}/profile",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf:writer_pdf_Export",
                "--outdir",
                str(work),
                str(src),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ, HOME=str(work), TZ="UTC"),
        )
        pdf = work / f"{name}.pdf"
        if not pdf.exists():
            raise RuntimeError(f"soffice failed on {name}.fodt:\n{run.stdout}\n{run.stderr}")
        data = _fix_pdf(pdf.read_bytes())
        target = out / f"{name}.pdf"
        target.write_bytes(data)
    return target, _pages(data)


def generate(out: Path) -> list[Path]:
    _soffice()
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for b in BRIEFS:
        pdf, pages = typeset(LAYOUTS[b.layout](b), Path(b.file).stem, out)
        truth = truth_for(b, pages)
        truth.save(out)
        for warning in check_hyphen_features(pdf, truth):
            print("warning:", warning, file=sys.stderr)
        made.append(pdf)
    return made


if __name__ == "__main__":
    for path in generate(PDFS):
        print(path)
