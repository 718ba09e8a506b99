"""Typeset benchmark briefs with pdfLaTeX and write their truth files.

Each brief below is written once, as plain text, and typeset by ``pdflatex`` in one of
five layouts (two columns with running header and "Page N of M" footer, three unbalanced
columns, a one-page brief, a brief with a booktabs table and a captioned figure, a brief
with a "Key points" sidebar and endnotes). The same text, minus note markers, becomes
the truth file's ``body``; everything printed outside the reading flow goes to
``floats``.

Notes are written inline as ``[[note text]]`` and typeset as footnotes or endnotes.
Apostrophes are written as ``'`` and typeset (and recorded) as ``’``.

Run ``python benchmarks/producers/gen_latex.py`` to (re)build ``pdfs/latex-*.pdf``.
Output is reproducible: ``SOURCE_DATE_EPOCH`` is fixed and the trailer ID is empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
PDF_AUTHOR = "Vellmar Institute for International Affairs, Publications Office"
SOURCE_DATE_EPOCH = "1700000000"  # 2023-11-14, deliberately not any printed date


class Brief(InlineNotesBrief):
    @property
    def file(self) -> str:
        return f"latex-{self.layout}.pdf"


# --------------------------------------------------------------------------- text helpers


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def esc(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(c, c) for c in typo(text))


def tex_par(text: str, note_cmd: str = r"\footnote") -> str:
    out, pos = [], 0
    for m in INLINE_NOTE.finditer(text):
        out.append(esc(text[pos : m.start()]))
        out.append(note_cmd + "{" + esc(m.group(1)) + "}")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def tex_sections(
    brief: Brief,
    note_cmd: str = r"\footnote",
    before: dict[int, str] | None = None,
    after: dict[int, str] | None = None,
) -> str:
    """Section headings and paragraphs; ``before``/``after`` map a body paragraph index
    (1 = first paragraph after the lead) to TeX inserted just before/after it."""
    before, after = before or {}, after or {}
    parts, i = [], 1
    for heading, paras in brief.sections:
        parts.append(r"\section*{" + esc(heading) + "}")
        for p in paras:
            if i in before:
                parts.append(before[i])
            parts.append(tex_par(p, note_cmd) + "\n")
            if i in after:
                parts.append(after[i])
            i += 1
    return "\n".join(parts)


def preamble(
    brief: Brief,
    cls_opts: str,
    font: str,
    geometry: str,
    extra: str = "",
    heading: str = r"\sffamily",
) -> str:
    return rf"""\documentclass[{cls_opts}]{{article}}
\pdfinfoomitdate=0
\pdftrailerid{{}}
\usepackage[T1]{{fontenc}}
\usepackage[utf8]{{inputenc}}
{font}
\usepackage[{geometry}]{{geometry}}
\usepackage{{microtype}}
\usepackage{{xcolor}}
\usepackage{{titlesec}}
\titleformat*{{\section}}{{\normalsize\bfseries\raggedright{heading}}}
\titlespacing*{{\section}}{{0pt}}{{1.6ex plus .5ex}}{{.6ex}}
\setlength{{\parindent}}{{1.2em}}
{extra}
\usepackage[hidelinks]{{hyperref}}
\hypersetup{{pdfauthor={{{PDF_AUTHOR}}},pdftitle={{{esc(brief.title)}}},
  pdfsubject={{VIIA Bulletin}},pdfcreator={{pdfLaTeX}}}}
"""


# ---------------------------------------------------------------------------- the briefs

ENERGY = Brief(
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
    title="Small Modular Reactors: A Realistic Option for Central Europe's Energy Transition?",
    number="117 (2236)",
    masthead="No. 117 (2236) · 31 August 2023",
    date="2023-08-31",
    authors=[
        Person("Anna Kowalczyk", "analyst in the Energy Programme"),
        Person("Piotr Nowak", "head of the Security Programme"),
    ],
    lead=(
        "Governments across Central Europe have embraced small modular reactors as a flexible, "
        "low-carbon complement to large nuclear plants and renewables. The technology is "
        "promising, but no Western design has yet been licensed, built and operated on a "
        "commercial basis. Policymakers should treat the first deployments as demonstration "
        "projects, secure long-term financing arrangements early and coordinate licensing across "
        "borders to avoid a fragmented market."
    ),
    sections=[
        (
            "Why Small Reactors Are Attractive",
            [
                "Small modular reactors, usually defined as units with an electrical output below "
                "300 megawatts, promise to shorten construction times by moving much of the "
                "fabrication work from the building site to the factory. Their smaller size allows "
                "them to replace coal-fired units at existing sites, reusing grid connections, "
                "cooling-water infrastructure and a trained workforce. For countries such as "
                "Poland, the Czech Republic and Romania, which still depend heavily on coal, this "
                "possibility of brownfield redevelopment is particularly appealing.[[The "
                "International Atomic Energy Agency counted more than 80 small reactor designs "
                "under development worldwide in 2022.]]",
                "The reactors are also presented as a source of low-carbon heat for district "
                "heating networks and energy-intensive industry. Chemical plants, refineries and "
                "steelworks need steady high-temperature heat that wind and solar power cannot "
                "easily provide. Several industrial groups in the region have therefore signed "
                "letters of intent with reactor vendors, hoping to secure decarbonised supplies "
                "before the carbon price rises further.",
            ],
        ),
        (
            "The Gap between Announcements and Reality",
            [
                "Enthusiasm has run far ahead of engineering practice. Only a handful of small "
                "reactors operate anywhere in the world,[[As of mid-2023, operating units included "
                "a floating plant in Russia and a high-temperature demonstration plant in "
                "China.]] and the most visible Western project, a six-unit plant planned in the "
                "United States, faced repeated cost increases before its cancellation. Vendors "
                "have yet to demonstrate the serial production that is supposed to bring costs "
                "down, and the first-of-a-kind units will almost certainly be more expensive per "
                "megawatt than conventional large reactors.",
                "Licensing is another bottleneck. Each national regulator reviews designs "
                "according to its own procedures, and few authorities in the region have "
                "experience with light-water technologies other than Soviet-era models. Without "
                "closer cooperation, a vendor could face four or five separate, sequential "
                "assessments, each taking several years. This would undermine the business case "
                "for factory-built units, which depends on selling identical reactors to many "
                "customers.",
                "Supply chains are thin as well. Fuel for some advanced designs, known as "
                "high-assay low-enriched uranium, is currently produced at commercial scale only "
                "in Russia. Reliance on that source would contradict the region's efforts to "
                "reduce energy dependence on Moscow, yet Western enrichment capacity will take "
                "years to expand.",
            ],
        ),
        (
            "Financing the First Units",
            [
                "The economics of nuclear power are dominated by the cost of capital. Because "
                "construction takes many years before any revenue is earned, even a small increase "
                "in interest rates can raise the final electricity price substantially. Private "
                "investors are reluctant to carry the construction risk of an untested technology, "
                "and industrial customers rarely sign contracts longer than ten years.[[Contracts "
                "for difference were used for Hinkley Point C in the United Kingdom and remain "
                "compatible with the EU state aid guidelines adopted in 2022.]]",
                "Governments will therefore need to share risks through instruments such as "
                "contracts for difference, state guarantees or regulated asset base models, in "
                "which consumers begin paying for the plant during construction. Each option "
                "shifts costs to taxpayers or electricity users, and the arrangements must be "
                "compatible with EU state aid rules. Early dialogue with the European Commission "
                "would reduce the danger that projects stall at the approval stage.",
            ],
        ),
        (
            "Recommendations",
            [
                "Central European governments should frame the first small reactors as "
                "demonstration projects rather than as a ready-made solution for the coal "
                "phase-out. Large reactors, grid modernisation and energy efficiency must remain "
                "the backbone of national plans, while small units are tested at one or two "
                "carefully selected sites.",
                "Regulators in the region should establish a joint pre-licensing procedure, "
                "building on the cooperation already developing among authorities in North "
                "America and the United Kingdom. A shared assessment of one or two reference "
                "designs would cut costs for vendors and improve the quality of safety reviews. "
                "Finally, the EU should support investment in Western fuel-cycle capacity, so that "
                "the new generation of reactors strengthens rather than weakens the region's "
                "energy security.",
            ],
        ),
    ],
    extra={
        "header_left": "Vellmar Institute for International Affairs",
        "header_right": "Bulletin No. 117 (2236)",
    },
)

MIGRATION = Brief(
    layout="three-column",
    features=[
        "three-columns",
        "uneven-last-columns",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Labour Migration after the Pandemic: Rebuilding Legal Pathways to Europe",
    number="42",
    masthead="No. 42 | 14.03.2024",
    date="2024-03-14",
    authors=[
        Person("Marta Zielińska", "senior analyst in the Migration Programme"),
        Person("Daniel Hoffmann", "research fellow in the European Union Programme"),
    ],
    lead=(
        "Labour shortages in construction, care and logistics have pushed European governments to "
        "reopen and expand legal migration channels that were frozen during the pandemic. National "
        "schemes have multiplied, but they remain slow, fragmented and poorly connected to the "
        "skills that employers actually need. A coordinated approach based on talent "
        "partnerships, faster recognition of qualifications and stronger protection against "
        "exploitation would serve both the economies and the migrants concerned."
    ),
    sections=[
        (
            "A Tight Labour Market",
            [
                "Unemployment in the European Union fell to a historic low of around six percent "
                "in 2023, while the share of working-age people continued to decline. Demographic "
                "projections suggest that the labour force in most member states will shrink "
                "further over the coming decade, even if participation among women and older "
                "workers keeps rising. Employers in sectors such as healthcare, road transport, "
                "agriculture and information technology report persistent vacancies that domestic "
                "recruitment can no longer fill.",
                "In Central Europe the change has been especially rapid. Countries that for "
                "decades were primarily sources of emigration have become destinations in their "
                "own right. Poland, Czechia and Slovakia now issue hundreds of thousands of work "
                "permits every year, many of them to citizens of Ukraine, Georgia, India and the "
                "Philippines. Administrative systems designed for a few thousand applications have "
                "struggled to cope with this volume.",
            ],
        ),
        (
            "Fragmented National Schemes",
            [
                "Member states retain broad competence over the admission of third-country "
                "workers, and most have responded to shortages with their own programmes. The "
                "result is a patchwork of occupational lists, salary thresholds and procedural "
                "requirements that varies considerably from one country to the next. Recruitment "
                "agencies have become indispensable intermediaries, and some charge excessive fees "
                "or misrepresent working conditions to prospective migrants.",
                "The EU Blue Card, reformed in 2021, remains relevant mainly for highly qualified "
                "professionals. Medium-skilled workers, who are most in demand, fall between the "
                "cracks. Processing times for visas and residence permits often exceed several "
                "months, which discourages employers and pushes some workers towards irregular "
                "arrangements or short-term posting schemes.",
            ],
        ),
        (
            "Lessons from Talent Partnerships",
            [
                "The European Commission has promoted talent partnerships with countries such as "
                "Morocco, Tunisia, Egypt, Pakistan and Bangladesh. These frameworks combine "
                "vocational training in the country of origin with mobility opportunities in "
                "Europe and support for reintegration upon return. Early pilot projects showed "
                "that well-designed partnerships can improve the match between skills and "
                "vacancies, but their scale has so far been modest, often involving only a few "
                "hundred participants.",
                "The pilots also revealed practical obstacles. Language training takes longer than "
                "planners expected, and the recognition of vocational qualifications remains "
                "cumbersome, particularly in regulated professions such as nursing. Partner "
                "countries expect visible benefits, including remittances, skills transfer and "
                "cooperation on visas, and they are increasingly wary of arrangements that appear "
                "to focus solely on returns.",
            ],
        ),
        (
            "Protecting Workers and Public Trust",
            [
                "Labour migration enjoys broader public support when it is seen as orderly and "
                "fair. Reports of exploitation in agriculture and logistics, including withheld "
                "wages and overcrowded housing, damage that trust and harm legitimate employers. "
                "Stronger labour inspections, clear rules on recruitment fees and accessible "
                "complaint mechanisms are therefore in the interest of host societies as well as "
                "migrants.",
                "Integration measures matter too. Workers who arrive with their families, learn "
                "the language and have access to affordable housing are more likely to stay and "
                "contribute over the long term. Municipalities, which bear much of the practical "
                "burden, need predictable funding and better data on new arrivals.",
            ],
        ),
        (
            "Recommendations",
            [
                "National governments should digitise and accelerate permit procedures, setting "
                "binding maximum processing times for shortage occupations. The EU should scale up "
                "talent partnerships, linking them to its development cooperation budget and "
                "offering partner countries tangible incentives. A common framework for the "
                "recognition of vocational qualifications, starting with care and construction, "
                "would reduce delays considerably.",
                "Finally, member states should license and monitor recruitment agencies more "
                "strictly and ban fees charged to workers. Only a legal migration system that is "
                "fast, transparent and fair will be able to compete for workers in an increasingly "
                "global labour market.",
            ],
        ),
    ],
)

DEFENCE = Brief(
    layout="one-page",
    features=[
        "one-page",
        "justified",
        "running-header",
        "masthead",
    ],
    title="Joint Ammunition Procurement: Making the EU Instrument Deliver",
    number="88 (2207)",
    masthead="No. 88 (2207) · 12 June 2023",
    date="2023-06-12",
    authors=[Person("Tomasz Brzeziński")],
    lead=(
        "The war in Ukraine has exposed how little artillery ammunition European armed forces hold "
        "and how slowly the defence industry can expand production. The EU's new joint "
        "procurement instrument is a useful first step, but its budget is small and its rules "
        "are complex. Member states should commit to multi-year orders, simplify procedures and "
        "invest in the production of explosives and propellants, where the real bottlenecks lie."
    ),
    sections=[
        (
            "Stocks Depleted by Solidarity",
            [
                "Since February 2022 European countries have transferred large quantities of "
                "155-millimetre shells to Ukraine, drawing down stocks that were already modest "
                "after decades of budget cuts. Restocking has proved difficult because "
                "manufacturers, uncertain about future demand, kept production lines at peacetime "
                "levels. Delivery times for some calibres now exceed two years, and prices have "
                "risen steeply.",
                "The shortfall is not only a matter of quantity. Different armed forces use "
                "shells, charges and fuses that are not always interchangeable, even when they "
                "formally meet NATO standards. Each national variant requires separate testing and "
                "certification, which fragments demand and prevents manufacturers from achieving "
                "economies of scale.",
            ],
        ),
        (
            "A Small but Symbolic Instrument",
            [
                "The instrument agreed in 2023 offers EU co-financing to groups of at least three "
                "member states that purchase ammunition together. Joint orders can secure better "
                "prices, standardise equipment and give industry the predictability it needs to "
                "invest. However, the budget of roughly 300 million euros is modest compared with "
                "national spending, and negotiations over eligibility rules, including the share "
                "of components that must be produced in Europe, delayed implementation.",
            ],
        ),
        (
            "Lessons from Earlier Initiatives",
            [
                "Joint procurement is not a new idea in European defence cooperation. Earlier "
                "schemes for helicopters, transport aircraft and air-to-air refuelling showed that "
                "pooled purchases can work when a lead nation takes responsibility for contracting "
                "and when participants agree on a common configuration in advance. They also "
                "showed that projects stall when every government insists on national "
                "modifications or on a guaranteed share of the industrial work. The ammunition "
                "instrument risks repeating these mistakes unless member states accept "
                "standardised products and a simple division of labour.",
            ],
        ),
        (
            "Industrial Bottlenecks",
            [
                "Assembling shells is only the final stage of a long chain. Producers of "
                "nitrocellulose, explosives and fuses operate at full capacity, and new plants "
                "require environmental permits that can take years to obtain. Without targeted "
                "support for these upstream suppliers, larger orders will simply lengthen waiting "
                "lists rather than increase deliveries.",
                "Skilled labour is another constraint. Chemical engineers and experienced "
                "machinists are in short supply, and training new staff takes time that the "
                "current security situation hardly allows.",
            ],
        ),
        (
            "Recommendations",
            [
                "Member states should sign framework contracts covering at least five years, "
                "giving manufacturers the confidence to build new capacity. The European Defence "
                "Agency should act as a central purchasing body for smaller states lacking "
                "specialised procurement staff. National authorities should also introduce "
                "fast-track permitting for defence-critical chemical plants, while keeping "
                "environmental safeguards in place. Finally, the EU should publish regular, "
                "aggregated data on orders and deliveries, so that parliaments and partners can "
                "assess whether the instrument is actually increasing output.",
            ],
        ),
    ],
    extra={
        "header_left": "Vellmar Institute for International Affairs",
        "header_right": "Security and Defence",
    },
)

TRADE = Brief(
    layout="table-figure",
    features=[
        "caption",
        "table-unruled",
        "justified",
        "soft-hyphens",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Critical Raw Materials: The Limits of Friend-Shoring",
    number="131 (2250)",
    masthead="No. 131 (2250) · 9 October 2023",
    date="2023-10-09",
    authors=[
        Person("Katarzyna Lis", "analyst in the International Economics Programme"),
        Person("Jonas Weber", "head of the Trade and Investment Programme"),
    ],
    lead=(
        "The European Union depends on a small number of suppliers, above all China, for the raw "
        "materials that underpin its green and digital transitions. The Critical Raw Materials Act "
        "sets ambitious benchmarks for domestic extraction, processing and recycling, yet meeting "
        "them will take far longer than the current decade. Diversification through partnerships "
        "with resource-rich countries is indispensable, but it will succeed only if Europe offers "
        "investment, technology and market access on competitive terms."
    ),
    sections=[
        (
            "A Concentrated Supply",
            [
                "The EU imports almost all of its rare earth elements, most of its gallium and "
                "magnesium, and a large share of its processed lithium from a handful of "
                "countries. Even where ore is mined elsewhere, refining is frequently concentrated "
                "in Chinese facilities. Export restrictions announced in 2023 on gallium and "
                "germanium demonstrated that Beijing is willing to use this position as leverage "
                "in broader trade disputes. Table 1 summarises the EU's dependence for selected "
                "materials.",
                "Demand for these materials is set to grow rapidly. Electric vehicle batteries, "
                "wind turbines, electrolysers and semiconductors all depend on them, and the "
                "Commission expects EU demand for lithium to increase more than tenfold by 2050. "
                "Any disruption would therefore affect not only individual industries but the pace "
                "of the energy transition as a whole.",
            ],
        ),
        (
            "What the Act Proposes",
            [
                "The Critical Raw Materials Act establishes targets for 2030. At least ten percent "
                "of annual consumption should be extracted in the EU, forty percent processed "
                "there and fifteen percent recycled, while no single third country should supply "
                "more than sixty-five percent of any strategic material. Strategic projects will "
                "benefit from shorter permitting procedures and easier access to finance. Member "
                "states have also been asked to prepare national exploration programmes, which had "
                "been neglected for decades.",
                "These benchmarks are politically significant but legally non-binding. New mines "
                "in Europe face long permitting processes, local opposition and high energy costs, "
                "and processing plants require investments that private firms hesitate to make "
                "without guaranteed demand.",
            ],
        ),
        (
            "Partnerships with Resource-Rich Countries",
            [
                "The EU has signed strategic partnerships on raw materials with Canada, Ukraine, "
                "Kazakhstan, Namibia, Chile and several other countries. Partner governments "
                "increasingly insist that a greater share of value creation, including refining "
                "and component manufacturing, takes place on their own territory. European offers "
                "must therefore go beyond purchasing agreements to include infrastructure "
                "financing, vocational training and technology transfer.",
                "Competition is fierce. China has invested in mines across Africa and Latin "
                "America for two decades, and the United States offers generous subsidies under "
                "the Inflation Reduction Act to materials sourced from countries with which it has "
                "free-trade agreements. Friend-shoring, the idea of relocating supply chains to "
                "allied countries, sounds appealing, but the group of friends is being courted by "
                "everyone.",
            ],
        ),
        (
            "Recommendations",
            [
                "The EU should pool national export-credit and development-finance instruments "
                "behind a limited number of flagship projects, rather than spreading funds thinly. "
                "Joint purchasing and strategic stockpiling, modelled on the gas purchasing "
                "platform, could give smaller importers bargaining power. Investment in recycling "
                "and material substitution deserves equal priority, because every tonne recovered "
                "at home reduces exposure to external coercion. Finally, the EU should align its "
                "raw materials diplomacy with its trade agreements, offering partners tariff "
                "preferences and regulatory cooperation in exchange for reliable access and high "
                "environmental standards.",
            ],
        ),
    ],
    extra={
        "header_left": "VIIA Bulletin No. 131 (2250)",
        "header_right": "Critical Raw Materials",
        "table_caption": "Table 1. EU import dependence for selected critical raw materials",
        "table_head": ["Material", "Main supplier", "Share of EU imports"],
        "table_rows": [
            ["Heavy rare earth elements", "China", "100%"],
            ["Magnesium", "China", "97%"],
            ["Gallium", "China", "71%"],
            ["Germanium", "China", "45%"],
            ["Lithium (processed)", "Chile", "79%"],
            ["Cobalt", "DR Congo", "63%"],
        ],
        "table_source": "Source: European Commission, study on critical raw materials (2023).",
        "figure_caption": "Figure 1. Lithium brine evaporation ponds in the Atacama Desert, Chile.",
        "figure_credit": "Photo: Elena Ruiz / VIIA",
    },
)

HEALTH = Brief(
    layout="sidebar-endnotes",
    features=[
        "sidebar",
        "endnotes",
        "justified",
        "soft-hyphens",
        "page-footer",
        "masthead",
        "byline-roles",
    ],
    title="Antimicrobial Resistance: Turning Pledges into Practice",
    number="7",
    masthead="No. 7 | 22.01.2024",
    date="2024-01-22",
    authors=[
        Person("Sofia Lindqvist", "senior fellow in the Global Health Programme"),
        Person("Paweł Kamiński", "analyst in the European Union Programme"),
    ],
    lead=(
        "Drug-resistant infections already cause more than 35,000 deaths a year in the European "
        "Economic Area, and the toll is rising. Governments have adopted national action plans and "
        "signed ambitious international declarations, yet antibiotic consumption in many countries "
        "has barely changed and the pipeline of new drugs remains thin. Closing this "
        "implementation gap requires binding targets, new financing models for antibiotic "
        "development and closer cooperation between human and veterinary medicine."
    ),
    sections=[
        (
            "A Silent Pandemic",
            [
                "Bacteria evolve resistance whenever antibiotics are used, but overuse and misuse "
                "accelerate the process dramatically. The European Centre for Disease Prevention "
                "and Control estimates that resistant infections in Europe cause a burden "
                "comparable to that of influenza, tuberculosis and HIV combined.[[European Centre "
                "for Disease Prevention and Control, Assessing the health burden of infections "
                "with antibiotic-resistant bacteria in the EU/EEA, Stockholm 2022.]] Hospital "
                "patients undergoing surgery, chemotherapy or intensive care are particularly "
                "vulnerable, because routine procedures depend on effective prophylaxis.",
                "Consumption patterns differ strikingly across the continent. Southern and Eastern "
                "European countries prescribe up to three times more antibiotics per inhabitant "
                "than the Netherlands or Sweden, and a large share of prescriptions is for viral "
                "infections that antibiotics cannot treat. Over-the-counter sales without "
                "prescription persist in some places despite being formally prohibited.",
            ],
        ),
        (
            "The Broken Market for New Antibiotics",
            [
                "Developing a new antibiotic costs as much as developing any other medicine, yet a "
                "successful product is deliberately kept in reserve to slow the emergence of "
                "resistance. Low sales volumes mean that companies cannot recover their "
                "investment, and several small biotechnology firms have gone bankrupt shortly "
                "after winning market approval. Most large pharmaceutical companies have left the "
                "field altogether. Only a small number of the antibiotics currently in clinical "
                "development target the pathogens that the World Health Organization considers "
                "most dangerous.",
                "Economists therefore recommend pull incentives that reward developers for the "
                "value of a new drug rather than for the quantity sold. The United Kingdom "
                "introduced a subscription model in 2022, paying fixed annual fees for access to "
                "selected antibiotics.[[National Institute for Health and Care Excellence, "
                "Antimicrobial subscription model: evaluation of the pilot, London 2023.]] The "
                "EU's pharmaceutical reform proposes a transferable exclusivity voucher instead, "
                "which has been criticised for shifting costs onto health systems in an "
                "unpredictable way.",
            ],
        ),
        (
            "One Health in Practice",
            [
                "A large share of the antibiotics sold in Europe is used in animals, although "
                "volumes in livestock farming have fallen considerably since the ban on growth "
                "promoters. Resistant bacteria and resistance genes move between animals, people "
                "and the environment through food, water and direct contact. Policies that address "
                "hospitals while neglecting farms, or the reverse, will therefore fall short.",
                "Several countries have shown that change is possible. Denmark and the Netherlands "
                "cut veterinary antibiotic use by more than half within a decade through mandatory "
                "reporting, benchmarking of farms and close cooperation between veterinarians and "
                "producers. Similar approaches could be adopted in countries where data on "
                "farm-level use are still incomplete.",
            ],
        ),
        (
            "Recommendations",
            [
                "The Council's 2023 recommendation set a target to reduce total human consumption "
                "of antibiotics by twenty percent by 2030.[[Council Recommendation on stepping up "
                "EU actions to combat antimicrobial resistance in a One Health approach, 13 June "
                "2023.]] Member states should translate these targets into binding national "
                "commitments with regular public reporting. The EU should finance a joint pull "
                "incentive, pooling contributions from member states, instead of relying on "
                "exclusivity vouchers. Finally, surveillance systems for human and veterinary use "
                "should be integrated so that outbreaks of resistant infections can be traced "
                "across sectors.",
            ],
        ),
    ],
    extra={
        "sidebar_title": "Key points",
        "sidebar_items": [
            "Resistant infections kill more than 35,000 people a year in Europe.",
            "Antibiotic use varies threefold between member states.",
            "Pull incentives can revive private investment in new antibiotics.",
            "Farm and hospital policies must be aligned under a One Health approach.",
        ],
        "footer_left": "Vellmar Institute for International Affairs",
    },
)

BRIEFS = [ENERGY, MIGRATION, DEFENCE, TRADE, HEALTH]


# ------------------------------------------------------------------------------ layouts


def tex_two_column(b: Brief) -> str:
    x = b.extra
    pre = preamble(
        b,
        "11pt,a4paper,twocolumn",
        r"\usepackage{mathptmx}\usepackage[scaled=.92]{helvet}",
        "margin=2.2cm,top=2.6cm,bottom=2.4cm,columnsep=0.7cm",
        r"""\usepackage{fancyhdr}\usepackage{lastpage}
\pagestyle{fancy}\fancyhf{}
\fancyhead[L]{\small\sffamily """
        + esc(str(x["header_left"]))
        + r"""}\fancyhead[R]{\small\sffamily """
        + esc(str(x["header_right"]))
        + r"""}
\fancyfoot[C]{\small Page \thepage\ of \pageref*{LastPage}}
\renewcommand{\headrulewidth}{0.4pt}""",
    )
    authors = r" \\ ".join(r"\textbf{" + esc(a.name) + r"}, " + esc(a.role) for a in b.authors)
    return (
        pre
        + r"""\begin{document}
\twocolumn[{%
\noindent{\sffamily\bfseries VIIA BULLETIN}\hfill{\sffamily """
        + esc(b.masthead)
        + r"""}\par\vspace{2pt}\hrule\vspace{14pt}
\noindent{\LARGE\bfseries\sffamily\raggedright\hyphenpenalty=10000 """
        + esc(b.title)
        + r"""\par}\vspace{10pt}
\noindent{\small """
        + authors
        + r"""\par}\vspace{16pt}}]
\noindent\textbf{"""
        + tex_par(b.lead)
        + "}\n\n"
        + tex_sections(b)
        + "\n\\end{document}\n"
    )


def tex_three_column(b: Brief) -> str:
    pre = preamble(
        b,
        "12pt,a4paper",
        r"\usepackage{charter}\usepackage[scaled=.9]{helvet}",
        "margin=2cm,bottom=2.5cm",
        r"""\usepackage{multicol}\setlength{\columnsep}{1.1em}\pagestyle{plain}
\setlength{\parindent}{0.8em}""",
    )
    byline = r"\\ ".join(esc(a.name) + r", \emph{" + esc(a.role) + "}" for a in b.authors)
    return (
        pre
        + r"""\begin{document}
\noindent\colorbox{black!80}{\parbox{\dimexpr\textwidth-2\fboxsep}{\color{white}\sffamily
\textbf{VIIA BULLETIN}\hfill """
        + esc(b.masthead)
        + r"""}}\par\vspace{12pt}
\noindent{\huge\bfseries\raggedright\hyphenpenalty=10000 """
        + esc(b.title)
        + r"""\par}\vspace{8pt}
\noindent{\normalsize """
        + byline
        + r"""\par}\vspace{12pt}
\begin{multicols*}{3}
\noindent\textit{"""
        + tex_par(b.lead)
        + "}\n\n"
        + tex_sections(b)
        + "\n\\end{multicols*}\n\\end{document}\n"
    )


def tex_one_page(b: Brief) -> str:
    x = b.extra
    pre = preamble(
        b,
        "10pt,a4paper",
        r"\usepackage[scaled]{helvet}\renewcommand{\familydefault}{\sfdefault}",
        "margin=2.4cm,top=2.4cm",
        r"""\usepackage{fancyhdr}\pagestyle{fancy}\fancyhf{}
\fancyhead[L]{\footnotesize """
        + esc(str(x["header_left"]))
        + r"""}\fancyhead[R]{\footnotesize """
        + esc(str(x["header_right"]))
        + r"""}\renewcommand{\headrulewidth}{0pt}""",
    )
    return (
        pre
        + r"""\begin{document}
\noindent\rule{\textwidth}{1.2pt}\par\vspace{3pt}
\noindent{\bfseries VIIA BULLETIN}\hfill """
        + esc(b.masthead)
        + r"""\par\vspace{1pt}
\noindent\rule{\textwidth}{0.4pt}\par\vspace{14pt}
\noindent{\Large\bfseries\raggedright\hyphenpenalty=10000 """
        + esc(b.title)
        + r"""\par}\vspace{6pt}
\noindent{\small\itshape """
        + esc(b.byline)
        + r"""\par}\vspace{10pt}
\noindent{\bfseries """
        + tex_par(b.lead)
        + "}\n\n"
        + tex_sections(b)
        + "\n\\end{document}\n"
    )


def tex_table_figure(b: Brief) -> str:
    x = b.extra
    pre = preamble(
        b,
        "11pt,a4paper",
        r"\usepackage{mathpazo}",
        "margin=2.5cm",
        r"""\usepackage{booktabs}\usepackage[labelsep=period,font=small]{caption}
\usepackage{fancyhdr}\pagestyle{fancy}\fancyhf{}
\fancyhead[L]{\small """
        + esc(str(x["header_left"]))
        + r"""}\fancyhead[R]{\small\itshape """
        + esc(str(x["header_right"]))
        + r"""}\fancyfoot[C]{\small\thepage}""",
        heading="",
    )
    head = " & ".join(r"\textbf{" + esc(c) + "}" for c in x["table_head"])
    rows = "\n".join(" & ".join(esc(c) for c in r) + r" \\" for r in x["table_rows"])
    cap_table = str(x["table_caption"]).removeprefix("Table 1. ")
    cap_fig = str(x["figure_caption"]).removeprefix("Figure 1. ")
    table = (
        r"""\begin{table}[!htb]\centering
\caption{"""
        + esc(cap_table)
        + r"""}\label{tab:1}
\begin{tabular}{llr}\toprule
"""
        + head
        + r""" \\ \midrule
"""
        + rows
        + r"""
\bottomrule\end{tabular}\par\vspace{3pt}
{\footnotesize """
        + esc(str(x["table_source"]))
        + r"""\par}
\end{table}
"""
    )
    figure = (
        r"""\begin{figure}[t]\centering
\textcolor{black!28}{\rule{\textwidth}{5.2cm}}\par\vspace{1pt}
{\raggedleft\scriptsize\itshape """
        + esc(str(x["figure_credit"]))
        + r"""\par}
\caption{"""
        + esc(cap_fig)
        + r"""}
\end{figure}
"""
    )
    byline = r"\\ ".join(r"\textbf{" + esc(a.name) + r"}, " + esc(a.role) for a in b.authors)
    return (
        pre
        + r"""\captionsetup[table]{position=top}
\begin{document}
\noindent{\small\bfseries """
        + esc(b.masthead)
        + r"""}\par\vspace{8pt}
\noindent{\LARGE\bfseries\raggedright\hyphenpenalty=10000 """
        + esc(b.title)
        + r"""\par}\vspace{8pt}
\noindent{\small """
        + byline
        + r"""\par}\vspace{12pt}
\noindent\textit{"""
        + tex_par(b.lead)
        + "}\n\n"
        + tex_sections(b, after={1: table}, before={5: figure})
        + "\n\\end{document}\n"
    )


def tex_sidebar_endnotes(b: Brief) -> str:
    x = b.extra
    pre = preamble(
        b,
        "11pt,a4paper",
        r"\usepackage{newcent}\usepackage[scaled=.9]{helvet}",
        "margin=2.3cm,bottom=2.6cm",
        r"""\usepackage{endnotes}\let\footnote=\endnote
\usepackage{wrapfig}\usepackage[most]{tcolorbox}
\usepackage{fancyhdr}\usepackage{lastpage}\pagestyle{fancy}\fancyhf{}
\renewcommand{\headrulewidth}{0pt}
\fancyfoot[L]{\footnotesize\sffamily """
        + esc(str(x["footer_left"]))
        + r"""}\fancyfoot[R]{\footnotesize\sffamily \thepage/\pageref*{LastPage}}""",
    )
    items = "\n".join(r"\item " + esc(i) for i in x["sidebar_items"])
    sidebar = (
        r"""\begin{wrapfigure}{r}{0.38\textwidth}
\vspace{-10pt}
\begin{tcolorbox}[colback=black!6,colframe=black!55,boxrule=0.6pt,arc=0pt,
  title={\sffamily\bfseries """
        + esc(str(x["sidebar_title"]))
        + r"""},fonttitle=\small,left=4pt,right=4pt]
\raggedright\small\sffamily
\begin{itemize}\setlength{\leftmargin}{1em}\setlength{\itemsep}{2pt}\setlength{\parsep}{0pt}
"""
        + items
        + r"""
\end{itemize}
\end{tcolorbox}
\vspace{-10pt}
\end{wrapfigure}
"""
    )
    byline = "; ".join(esc(a.name) + r", \textit{" + esc(a.role) + "}" for a in b.authors)
    return (
        pre
        + r"""\begin{document}
\noindent{\sffamily\bfseries\color{black!70}VIIA BULLETIN \quad """
        + esc(b.masthead)
        + r"""}\par\vspace{10pt}
\noindent{\LARGE\bfseries\sffamily\raggedright\hyphenpenalty=10000 """
        + esc(b.title)
        + r"""\par}\vspace{8pt}
\noindent{\small """
        + byline
        + r"""\par}\vspace{12pt}
\noindent\textbf{"""
        + tex_par(b.lead, r"\endnote")
        + "}\n\n"
        + tex_sections(b, r"\endnote", before={3: sidebar})
        + r"""
\begingroup\small
\theendnotes
\endgroup
\end{document}
"""
    )


LAYOUTS = {
    "two-column": tex_two_column,
    "three-column": tex_three_column,
    "one-page": tex_one_page,
    "table-figure": tex_table_figure,
    "sidebar-endnotes": tex_sidebar_endnotes,
}


# ------------------------------------------------------------------------------- truth


def floats_for(b: Brief, pages: int) -> list[Float]:
    x = b.extra
    fl: list[Float] = [Float("masthead", "VIIA BULLETIN"), Float("masthead", b.masthead)]
    if b.layout == "table-figure":
        fl = [Float("masthead", b.masthead)]
    if b.layout in ("one-page", "sidebar-endnotes"):
        fl.append(Float("byline", b.byline))  # printed as one line
    else:
        fl += [Float("byline", f"{a.name}, {a.role}") for a in b.authors]  # one line each
    if "header_left" in x:
        for _ in range(pages):
            fl.append(Float("header", str(x["header_left"])))
            fl.append(Float("header", str(x["header_right"])))
    if b.layout == "two-column":
        fl += [Float("footer", f"Page {n} of {pages}") for n in range(1, pages + 1)]
    elif b.layout in ("three-column", "table-figure"):
        fl += [Float("footer", str(n)) for n in range(1, pages + 1)]
    elif b.layout == "sidebar-endnotes":
        for n in range(1, pages + 1):
            fl.append(Float("footer", str(x["footer_left"])))
            fl.append(Float("footer", f"{n}/{pages}"))
    if b.layout == "table-figure":
        fl.append(Float("caption", str(x["table_caption"])))
        fl.append(Float("table", " ".join(x["table_head"])))
        fl += [Float("table", " ".join(r)) for r in x["table_rows"]]
        fl.append(Float("caption", str(x["table_source"])))
        fl.append(Float("caption", str(x["figure_caption"])))
        fl.append(Float("credit", str(x["figure_credit"])))
    if b.layout == "sidebar-endnotes":
        fl.append(Float("sidebar", str(x["sidebar_title"])))
        fl += [Float("sidebar", typo(i)) for i in x["sidebar_items"]]
        fl.append(Float("note", "Notes"))
    fl += [Float("note", n) for n in b.notes()]
    return fl


def truth_for(b: Brief, pages: int) -> Truth:
    if "one-page" in b.features and pages != 1:
        raise RuntimeError(f"{b.file}: meant to fit one page, typeset on {pages}")
    return Truth(
        file=b.file,
        producer="pdflatex",
        features=list(b.features),
        title=typo(b.title),
        number=b.number,
        date=b.date,
        authors=[Person(a.name, a.role) for a in b.authors],
        body=[without_notes(p) for p in b.paragraphs()],
        headings=[typo(h) for h, _ in b.sections],
        floats=floats_for(b, pages),
    )


# ------------------------------------------------------------------------------- build


def _pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe is None:
        raise RuntimeError(
            "pdflatex not found: install TeX Live (texlive-latex-base, texlive-latex-recommended, "
            "texlive-latex-extra, texlive-fonts-recommended) to build the LaTeX benchmark briefs"
        )
    return exe


def typeset(tex: str, name: str, out: Path) -> tuple[Path, int]:
    exe = _pdflatex()
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, FORCE_SOURCE_DATE="1", TZ="UTC")
    with tempfile.TemporaryDirectory(prefix="gen-latex-") as tmp:
        work = Path(tmp)
        (work / f"{name}.tex").write_text(tex, encoding="utf-8")
        log = ""
        for _ in range(3):  # lastpage, endnotes and wrapfig need the .aux of a previous run
            run = subprocess.run(
                [exe, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
            )
            log = (
                (work / f"{name}.log").read_text(errors="replace")
                if (work / f"{name}.log").exists()
                else run.stdout
            )
            if run.returncode != 0:
                raise RuntimeError(f"pdflatex failed on {name}.tex:\n{log[-3000:]}")
            if "Rerun" not in log:
                break
        m = re.search(r"Output written on .*?\((\d+) pages?", log, re.S)
        pages = int(m.group(1)) if m else 0
        target = out / f"{name}.pdf"
        shutil.copyfile(work / f"{name}.pdf", target)
    return target, pages


def generate(out: Path) -> list[Path]:
    _pdflatex()
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for b in BRIEFS:
        tex = LAYOUTS[b.layout](b)
        pdf, pages = typeset(tex, Path(b.file).stem, out)
        truth = truth_for(b, pages)
        truth.save(out)
        for warning in check_hyphen_features(pdf, truth):
            print("warning:", warning, file=sys.stderr)
        made.append(pdf)
    return made


if __name__ == "__main__":
    for path in generate(PDFS):
        print(path)
