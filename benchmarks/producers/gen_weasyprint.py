"""Briefs typeset by WeasyPrint from HTML and CSS (paged media).

Five bulletins of the fictional Meridian Institute for Public Policy, built from the Python
data below into HTML pages and rendered with the ``weasyprint`` command. The layouts use
what WeasyPrint does and browsers do not: ``@page`` margin boxes for a running header and a
"Page N of M" footer, ``float: footnote`` for footnotes at the foot of the page, and
``hyphens: auto`` (pyphen's patterns; WeasyPrint sets U+2010 at a hyphenated line end).
Also covered: two and three columns, a masthead between rule lines, a floated sidebar box
and a table floated beside the text.

The PDFs' /Title, /Author and /CreationDate come from <title>, <meta name=author> and
<meta name=dcterms.created>: a template's name, the institute and the template's date,
never the printed title, byline or date.

Usage: ``python benchmarks/producers/gen_weasyprint.py`` (writes into ``pdfs/``).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __package__:
    from .common import MARKER, PDFS, byline, unmarked
    from .truth import Float, Person, Truth
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import MARKER, PDFS, byline, unmarked
    from truth import Float, Person, Truth

INSTITUTE = "Meridian Institute for Public Policy"


@dataclass
class Table:
    caption: str
    rows: list[list[str]]  # the first row is the header
    after: tuple[int, int]  # floated after this (section, paragraph)


@dataclass
class Brief:
    layout: str
    features: list[str]
    title: str
    number: str
    printed_date: str
    date: str
    authors: list[Person]
    lead: str
    sections: list[tuple[str, list[str]]]
    template_title: str
    template_date: str  # <meta name=dcterms.created>, the PDF's /CreationDate
    columns: int = 1
    size: float = 10.0
    font: str = "DejaVu Serif"
    running_header: bool = True
    footer: bool = True
    hyphenate: bool = True
    justify: bool = True
    notes: list[str] = field(default_factory=list)  # footnotes, [^n] in the text
    sidebar: tuple[str, list[str], tuple[int, int]] | None = None  # title, items, after
    table: Table | None = None

    @property
    def masthead(self) -> str:
        return f"Bulletin No. {self.number} · {self.printed_date}"

    @property
    def header(self) -> str:
        return f"{INSTITUTE} · Bulletin No. {self.number}"


# ----------------------------------------------------------------------------- content

ARCTIC = Brief(
    layout="two-column-running-header",
    features=[
        "two-columns",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
    ],
    title="Arctic Shipping Routes Between Opportunity and Hazard",
    number="58",
    printed_date="2 May 2024",
    date="2024-05-02",
    authors=[
        Person("Tomasz Wrona", "head of the Arctic Programme"),
        Person("Ingrid Solberg", "analyst in the Arctic Programme"),
    ],
    template_title="Meridian bulletin template",
    template_date="2021-11-30",
    columns=2,
    size=9.8,
    lead=(
        "The retreat of summer sea ice is opening the Northern Sea Route along Russia’s Arctic "
        "coast and, less reliably, the Northwest Passage through the Canadian archipelago. "
        "Shipping companies are tempted by voyages between Asia and Europe that are up to a "
        "third shorter than the route through the Suez Canal. Yet the Arctic remains a "
        "dangerous, expensive and increasingly militarised place to sail, and most of the "
        "traffic growth serves Russian energy exports rather than international trade."
    ),
    sections=[
        (
            "A Shorter Route on Paper",
            [
                "On paper the arithmetic is compelling. A container ship travelling from "
                "Shanghai to Rotterdam via the Northern Sea Route covers roughly 15,000 "
                "kilometres instead of 21,000, saving ten days and a corresponding amount of "
                "fuel. During the record-low ice season of 2020 the route stayed open for "
                "almost four months, and the number of transit voyages reached a new high.",
                "In practice the savings are smaller. Ships must slow down in floating ice, "
                "wait for icebreaker escorts and carry ice-class hulls that are heavier and "
                "more expensive to build. Insurance premiums are higher, weather forecasts are "
                "less dependable and port infrastructure along the Siberian coast is sparse. "
                "For liner shipping, which depends on reliable weekly schedules, a route that "
                "is navigable for only part of the year is of limited use.",
            ],
        ),
        (
            "Russian Control and Western Sanctions",
            [
                "Russia treats the Northern Sea Route as a national transport corridor and "
                "requires foreign vessels to obtain permission, take Russian pilots on board "
                "and pay for icebreaker assistance. Since 2022 the state nuclear-energy "
                "corporation Rosatom has administered the route, and traffic has shifted "
                "towards tankers and bulk carriers carrying liquefied natural gas, oil and coal "
                "from Arctic fields to China and India.",
                "Western sanctions have made the route even less attractive for European and "
                "Asian shipowners. Several major container lines have announced that they will "
                "not use it, citing both environmental commitments and reputational risk. "
                "Chinese shipping companies have increased their voyages, but the volumes "
                "remain a fraction of those passing through the Suez Canal.",
            ],
        ),
        (
            "Environmental and Safety Risks",
            [
                "An oil spill in ice-covered waters would be extraordinarily difficult to "
                "contain. Response vessels are few, distances are enormous and oil trapped "
                "under ice degrades slowly. The International Maritime Organization’s ban on "
                "heavy fuel oil in Arctic waters, which entered into force in 2024, contains "
                "exemptions and waivers that will delay its full effect until the end of the "
                "decade.",
                "Black carbon emitted by ships accelerates melting when it settles on snow and "
                "ice, and underwater noise disturbs marine mammals that depend on sound to "
                "navigate and feed. Search-and-rescue capabilities along most of the route are "
                "rudimentary, so an accident involving a cruise ship or a large tanker could "
                "quickly become a humanitarian emergency.",
            ],
        ),
        (
            "Military Competition in the High North",
            [
                "The commercial debate cannot be separated from security. Russia has reopened "
                "Soviet-era airfields and radar stations along its Arctic coast, based new "
                "air-defence systems on the Kola Peninsula and uses the Northern Sea Route to "
                "move warships between its Northern and Pacific fleets. The accession of "
                "Finland and Sweden to NATO has turned the European Arctic into a frontier "
                "between the Alliance and Russia, with the Barents Sea at its centre.",
                "China describes itself as a near-Arctic state and has sent research vessels "
                "and icebreakers into the region with growing frequency. Its interest in the "
                "shipping route is partly commercial and partly strategic: a northern corridor "
                "would reduce its dependence on the Strait of Malacca. Joint Russian and "
                "Chinese coast-guard patrols near Alaska in 2024 showed that cooperation "
                "between the two countries in the Arctic is moving beyond economics.",
                "For the Nordic states this means that infrastructure built for civilian "
                "shipping, such as ports, satellite ground stations and undersea cables, must "
                "also be protected against sabotage and espionage.",
            ],
        ),
        (
            "Recommendations",
            [
                "The European Union and its Nordic partners should press for the swift "
                "elimination of the exemptions from the heavy-fuel-oil ban and for a black "
                "carbon emission standard for Arctic shipping. Investments in satellite "
                "monitoring, ice forecasting and search-and-rescue cooperation among Norway, "
                "Iceland, Denmark and Canada would improve safety on the routes that remain "
                "open to Western shipping.",
                "Governments should also resist pressure to present the Arctic as a "
                "commercial alternative to the Suez Canal. Diversifying trade routes is "
                "better served by investment in overland rail connections and in the "
                "resilience of existing maritime chokepoints than by encouraging traffic in "
                "one of the most fragile environments on the planet.",
            ],
        ),
    ],
)

AI_ACT = Brief(
    layout="three-column",
    features=[
        "three-columns",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
    ],
    title="Implementing the AI Act: Sandboxes, Standards and Supervisors",
    number="61",
    printed_date="23 May 2024",
    date="2024-05-23",
    authors=[Person("Lena Fischer", "analyst in the Technology Policy Programme")],
    template_title="Bulletin",
    template_date="2022-02-14",
    columns=3,
    size=9.4,
    font="DejaVu Sans",
    lead=(
        "The European Union’s Artificial Intelligence Act is the first comprehensive law "
        "regulating artificial intelligence according to the risks it poses. Its success "
        "will depend less on the text adopted in Brussels than on the technical standards "
        "still being written, on the capacity of national supervisory authorities and on "
        "whether regulatory sandboxes can help smaller companies comply without stifling "
        "innovation."
    ),
    sections=[
        (
            "A Risk-Based Framework",
            [
                "The regulation sorts AI systems into categories. A short list of practices, "
                "such as social scoring by public authorities and manipulative techniques that "
                "exploit vulnerable people, is prohibited outright. High-risk systems, "
                "including those used in recruitment, credit scoring, critical infrastructure "
                "and law enforcement, must meet requirements on data quality, documentation, "
                "human oversight and accuracy before they can be placed on the market.",
                "General-purpose models, which were added during the negotiations after the "
                "rapid spread of large language models, face transparency obligations. The "
                "most capable of them, those deemed to pose systemic risks, must also be "
                "evaluated, tested against adversarial attacks and reported to the "
                "Commission’s newly created AI Office when serious incidents occur.",
            ],
        ),
        (
            "Standards Still Missing",
            [
                "The legal requirements for high-risk systems are deliberately general. "
                "Companies will demonstrate compliance mainly by following harmonised "
                "standards, which the European standardisation organisations CEN and CENELEC "
                "are drafting at the Commission’s request. The work is behind schedule: "
                "several standards on risk management, data governance and robustness are "
                "unlikely to be ready before the obligations apply.",
                "Without standards, providers face legal uncertainty and may hesitate to "
                "launch products in Europe, while notified bodies responsible for conformity "
                "assessment lack a common yardstick. The Commission can adopt common "
                "specifications as a fallback, but doing so would sideline industry experts "
                "and could produce rules that are difficult to apply in practice.",
                "Standardisation bodies have also struggled to involve civil-society "
                "organisations and smaller companies, whose experts rarely have time to "
                "attend lengthy technical meetings. Standards written mainly by large "
                "technology firms risk reflecting their products and business practices, "
                "which would raise compliance costs for competitors.",
            ],
        ),
        (
            "Stretched Supervisors",
            [
                "Each member state must designate market-surveillance authorities for AI. "
                "Some governments have given the task to data-protection authorities, others "
                "to telecommunications regulators or newly established agencies. All of them "
                "compete with private employers for a small pool of specialists able to audit "
                "machine-learning systems, and few have budgets that match their new "
                "responsibilities.",
                "Fragmented supervision risks uneven enforcement, the problem that weakened "
                "the early years of the General Data Protection Regulation. The AI Board, "
                "which brings national authorities together, should develop common audit "
                "methods and pool expertise, for example through joint investigation teams for "
                "systems deployed in several countries.",
            ],
        ),
        (
            "Sandboxes for Smaller Firms",
            [
                "Every member state must establish at least one regulatory sandbox in which "
                "companies can test AI systems under the supervision of the authorities before "
                "bringing them to market. Sandboxes have worked well in financial regulation, "
                "where they helped start-ups understand their obligations and gave regulators "
                "early insight into new business models.",
                "To be useful, sandboxes must be accessible to small and medium-sized "
                "enterprises, which cannot afford lengthy procedures or specialised legal "
                "advice. Simple application forms, fixed response deadlines and the mutual "
                "recognition of sandbox results across member states would make them "
                "attractive.",
            ],
        ),
        (
            "Enforcement Against General-Purpose Models",
            [
                "Oversight of the most powerful models rests with the AI Office in Brussels "
                "rather than with national authorities. The office can request documentation, "
                "order evaluations and, as a last resort, impose fines of up to 3% of a "
                "provider’s worldwide turnover. Its credibility will depend on recruiting "
                "researchers who can test models independently instead of relying on the "
                "providers’ own reports.",
                "A code of practice, drafted with industry and academic experts, is meant to "
                "translate the obligations into concrete commitments until standards exist. "
                "Its value will depend on whether the leading developers, most of them based "
                "in the United States, sign it and report honestly on incidents and "
                "safeguards. A weak code would set a precedent that is hard to reverse once "
                "standards are finally adopted.",
            ],
        ),
        (
            "Conclusions",
            [
                "The AI Act will be judged by its implementation. The Commission and member "
                "states should accelerate standardisation, invest in the technical capacity "
                "of supervisors and design sandboxes with smaller companies in mind. Poland, "
                "with a large community of software developers, has an interest in "
                "an implementation that is predictable and proportionate.",
            ],
        ),
    ],
)

MINERALS = Brief(
    layout="footnotes",
    features=[
        "footnotes",
        "page-footer",
        "masthead",
        "byline-roles",
        "justified",
        "soft-hyphens",
    ],
    title="Critical Raw Materials: Diversifying Beyond Single Suppliers",
    number="64",
    printed_date="13 June 2024",
    date="2024-06-13",
    authors=[
        Person("Daniel Okafor", "senior analyst in the Economic Security Programme"),
        Person("Marta Zielińska", "analyst in the Economic Security Programme"),
    ],
    template_title="Meridian Institute for Public Policy",
    template_date="2023-01-09",
    running_header=False,
    size=10.6,
    font="Liberation Serif",
    notes=[
        "European Commission, Study on the Critical Raw Materials for the EU 2023, final "
        "report, Annex 1.",
        "Figures for refining capacity refer to 2022 and include processing of imported ore.",
        "Regulation (EU) 2024/1252 establishing a framework for ensuring a secure and "
        "sustainable supply of critical raw materials.",
        "Estimates by the International Energy Agency, Global Critical Minerals Outlook 2024.",
        "The Commission opened the first call for strategic projects in May 2024.",
        "Eurostat, statistics on waste electrical and electronic equipment, reference year 2021.",
    ],
    lead=(
        "Batteries, wind turbines, semiconductors and weapons all depend on raw materials "
        "that Europe mines in small quantities or not at all. For many of them a single "
        "country, usually China, dominates either extraction or refining. The Critical Raw "
        "Materials Act sets targets for domestic mining, processing and recycling, but "
        "meeting them will require faster permitting, public co-financing and partnerships "
        "with producer countries that offer them more than a market for their ore."
    ),
    sections=[
        (
            "Concentrated Supply Chains",
            [
                "Of the thirty-four raw materials on the Union’s critical list, China is the "
                "largest supplier of more than half.[^1] Its dominance is greatest in "
                "processing: Chinese refineries handle about 90% of rare earth elements, "
                "roughly two thirds of lithium and cobalt and almost all natural graphite "
                "used in battery anodes.[^2] The Democratic Republic of Congo supplies most "
                "of the world’s mined cobalt, and Turkey most of its borates.",
                "Such concentration is a vulnerability rather than an abstraction. In 2023 "
                "China introduced export licensing for gallium, germanium and graphite, "
                "signalling that it is prepared to use its position in response to Western "
                "technology controls. Prices for the affected materials jumped within days, "
                "and European manufacturers had few alternative sources to turn to.",
            ],
        ),
        (
            "What the Act Requires",
            [
                "The Critical Raw Materials Act sets non-binding benchmarks for 2030: at "
                "least 10% of the Union’s annual consumption of strategic raw materials "
                "should be extracted in Europe, 40% processed there and 25% recovered from "
                "recycling, and no more than 65% of any strategic material should come from a "
                "single third country.[^3] Strategic projects are to receive faster permits, "
                "with deadlines of twenty-seven months for mines and fifteen months for "
                "processing plants.",
                "The benchmarks are ambitious. Opening a new mine in Europe has typically "
                "taken ten to fifteen years, and local opposition to mining is strong in "
                "several member states. Demand for lithium in the Union could increase "
                "more than tenfold by 2040,[^4] so even successful projects may only keep "
                "import dependence from rising.",
            ],
        ),
        (
            "Partnerships and Financing",
            [
                "Most of the required supply will continue to come from abroad. The Union has "
                "signed strategic partnerships with Canada, Chile, Kazakhstan, Namibia and "
                "others, but these agreements contain few concrete commitments. Producer "
                "countries increasingly want processing plants, jobs and technology transfer "
                "rather than simple off-take contracts, and China offers infrastructure "
                "financing on terms that European lenders struggle to match.",
                "Financing is the weakest element of the European approach. The Act itself "
                "contains no new money; projects must compete for existing instruments such "
                "as the Innovation Fund and loans from the European Investment Bank. A "
                "dedicated raw-materials fund, or a joint purchasing platform similar to the "
                "one created for gas, would give strategic projects[^5] the certainty they "
                "need to attract private investors.",
            ],
        ),
        (
            "Recycling and Substitution",
            [
                "Recycling can cover a growing share of demand only once large volumes of "
                "batteries, magnets and electronics reach the end of their lives, which for "
                "electric-vehicle batteries will not happen before the mid-2030s. In the "
                "meantime, collection rates for small electronic devices remain below half,[^6] "
                "and much of the scrap that is collected is exported for processing in Asia.",
                "Substitution offers a second route. Lithium-iron-phosphate batteries avoid "
                "cobalt and nickel altogether, and several carmakers are developing motors "
                "that require no rare earths. Public research programmes should support such "
                "alternatives, and public procurement could create early markets for them, "
                "reducing demand for the most concentrated materials.",
            ],
        ),
        (
            "Conclusions",
            [
                "Diversification will be slow and costly, and Europe will remain dependent on "
                "imports for most critical raw materials for the foreseeable future. The "
                "priority should therefore be resilience: stockpiles of the most exposed "
                "materials, long-term supply contracts with several producers, investment in "
                "recycling and research into substitutes, such as sodium-ion batteries and "
                "magnets that use fewer rare earths.",
            ],
        ),
    ],
)

HEAT = Brief(
    layout="sidebar",
    features=[
        "sidebar",
        "masthead",
        "running-header",
        "page-footer",
        "byline-roles",
        "soft-hyphens",
        "hard-hyphens",
    ],
    title="Heat Pumps and Energy Poverty: Designing Fair Subsidies",
    number="70",
    printed_date="18 July 2024",
    date="2024-07-18",
    authors=[
        Person("Sofia Marques", "analyst in the Energy Programme"),
        Person("Adam Kowal", "analyst in the Energy Programme"),
    ],
    template_title="MIPP bulletin – layout B",
    template_date="2023-06-01",
    size=10.2,
    justify=False,
    sidebar=(
        "Recommendations at a glance",
        [
            "Scale grants to household income, not to the price of the device.",
            "Pay subsidies to installers so that households need no upfront cash.",
            "Pair heat pumps with insulation in the worst-performing buildings.",
            "Cut electricity taxes relative to taxes on gas and heating oil.",
            "Train installers through regional vocational schools.",
        ],
        (0, 0),
    ),
    lead=(
        "Heat pumps are central to Europe’s plans for decarbonising heating, and sales grew "
        "rapidly after the energy crisis of 2022. Most subsidies, however, have gone to "
        "owner-occupiers with above-average incomes, while low-income households, who spend "
        "the largest share of their budgets on heating, remain dependent on gas, coal and "
        "oil boilers. Unless support is redesigned, the transition risks deepening energy "
        "poverty instead of reducing it."
    ),
    sections=[
        (
            "Who Benefits from Current Schemes",
            [
                "Nearly every member state offers grants, tax credits or cheap loans for "
                "installing heat pumps. Typical schemes reimburse a fixed share of the "
                "purchase price after the work is completed. This design favours households "
                "that can pay several thousand euros upfront and wait months for "
                "reimbursement, and it rewards those who install the most expensive systems.",
                "Evaluations in Germany, France and Italy show that recipients of heating "
                "subsidies are disproportionately homeowners in detached houses with incomes "
                "in the top two quintiles. Tenants, who make up a large share of the "
                "energy-poor, rarely benefit at all, because landlords have little incentive "
                "to invest when tenants pay the energy bills.",
                "Rural households in older, poorly insulated buildings face a further barrier. "
                "A heat pump installed in a leaky house may need a larger unit and new "
                "radiators to keep rooms warm, and running costs can exceed those of the old "
                "boiler when electricity is expensive relative to gas.",
            ],
        ),
        (
            "Installers and Supply Chains",
            [
                "Even generous subsidies cannot work without enough qualified installers. "
                "Trade associations report waiting times of several months in many regions, "
                "and shortages are most acute outside large cities, precisely where older "
                "buildings and coal-fired stoves are most common. Training schemes for "
                "plumbers and electricians are short of teachers, and small firms are "
                "reluctant to release staff for courses that last several weeks.",
                "Supply chains have recovered since the shortages of 2022, and European "
                "manufacturers have expanded capacity, but stop-and-go subsidy policies have "
                "undermined their confidence. When Germany and Poland suddenly changed the "
                "conditions of their schemes, sales fell sharply and installers laid off "
                "workers. Predictable, multi-year programmes would allow the industry to "
                "invest in training and production.",
            ],
        ),
        (
            "The Price Signal",
            [
                "In most member states electricity carries far higher taxes and levies than "
                "natural gas, partly because the costs of supporting renewable energy were "
                "historically recovered through electricity bills. The resulting price ratio "
                "makes heat pumps less attractive to run even where their efficiency is "
                "three times that of a gas boiler. Rebalancing energy taxation, as Denmark and "
                "the Netherlands have begun to do, would strengthen the business case without "
                "additional public spending.",
                "The extension of emissions trading to buildings from 2027 will raise the "
                "price of fossil heating fuels. Revenues flowing into the Social Climate Fund "
                "should be used to protect vulnerable households, and directing part of them "
                "to heat pumps for low-income homes would address both the cost of the "
                "transition and its distribution.",
            ],
        ),
        (
            "Conclusions",
            [
                "Subsidy schemes should be redesigned around income and building condition "
                "rather than technology alone. Grants covering most of the cost for the "
                "poorest households, paid directly to certified installers, and combined with "
                "insulation where it is needed, would reach the people who need help most. "
                "Landlords should be offered support conditional on limiting rent increases "
                "after renovation, so that tenants share in the savings.",
            ],
        ),
    ],
)

NURSES = Brief(
    layout="floated-table",
    features=[
        "one-page",
        "two-columns",
        "table-ruled",
        "caption",
        "page-footer",
        "masthead",
        "justified",
        "soft-hyphens",
    ],
    title="The Nurse Drain: Health Workforce Mobility in the European Union",
    number="77",
    printed_date="3 October 2024",
    date="2024-10-03",
    authors=[Person("Ana Petrescu"), Person("Johan Lind")],
    template_title="Bulletin template (2023)",
    template_date="2023-03-15",
    running_header=False,
    columns=2,
    size=9.8,
    font="Liberation Serif",
    table=Table(
        "Table 1. Practising nurses per 1,000 inhabitants",
        [
            ["Country", "2013", "2022"],
            ["Finland", "13.8", "18.6"],
            ["Ireland", "12.4", "13.0"],
            ["Czechia", "8.0", "8.6"],
            ["Hungary", "6.4", "6.5"],
            ["Latvia", "4.6", "4.1"],
            ["Greece", "3.5", "3.8"],
        ],
        after=(0, 0),
    ),
    lead=(
        "Free movement allows nurses and doctors to work anywhere in the European Union, "
        "and many from Central and Eastern Europe have moved west in search of higher pay "
        "and better working conditions. Their departure has left hospitals in their home "
        "countries understaffed, while the destination countries have come to rely on "
        "recruitment rather than on training enough staff of their own. The Union needs a "
        "fairer balance between the right to move and the duty to train."
    ),
    sections=[
        (
            "Uneven Flows",
            [
                "Since the enlargements of 2004 and 2007, tens of thousands of nurses have left "
                "Romania, Bulgaria, Poland and the Baltic states. Germany, Austria, the Nordic "
                "countries and, until Brexit, the United Kingdom were the main destinations. "
                "Differences in salaries remain large: a nurse in Munich can earn three times "
                "as much as a colleague in Bucharest, even after adjusting for the cost of "
                "living.",
                "The result is visible in staffing ratios. The number of practising nurses per "
                "thousand inhabitants is two to four times higher in the wealthiest member "
                "states than in the poorest, and in several of the latter it has fallen over "
                "the past decade. Rural hospitals are hit hardest, as departing staff are "
                "seldom replaced. The pressure is growing as the nursing workforce itself "
                "ages: in some regions of Romania and Bulgaria more than a third of nurses "
                "are over fifty and will retire within the next decade, while the number of "
                "applicants to nursing schools has barely changed since the mid-2010s.",
            ],
        ),
        (
            "Costs for Sending Countries",
            [
                "Training a nurse takes three to four years and is financed largely by public "
                "money. When graduates emigrate, the sending country loses both the "
                "investment and the service it was meant to buy. Some governments have tried "
                "to bind graduates with obligations to work at home for several years, but "
                "such rules are difficult to reconcile with free movement and are easily "
                "circumvented.",
                "Staff shortages feed on themselves. Those who remain work longer shifts and "
                "care for more patients, which increases burnout and encourages further "
                "departures. Waiting lists grow, and patients who can afford it turn to "
                "private clinics or travel abroad for treatment.",
            ],
        ),
        (
            "Towards Fairer Mobility",
            [
                "The Union could establish a mechanism through which destination countries "
                "co-finance training places in the countries from which they recruit most "
                "heavily, for example through the European Social Fund Plus. Bilateral "
                "agreements on circular mobility, allowing nurses to work abroad for some "
                "years and return with recognised experience and seniority, would turn "
                "emigration into an exchange of skills.",
                "Sending countries, for their part, must raise wages and improve working "
                "conditions, which recent increases in Romania and Poland show to be "
                "effective in slowing departures. Destination countries should commit to "
                "training more staff themselves and to ethical recruitment codes that rule "
                "out active recruitment in regions with critical shortages.",
            ],
        ),
    ],
)

BRIEFS = [ARCTIC, AI_ACT, MINERALS, HEAT, NURSES]


# ----------------------------------------------------------------------------- rendering

CSS = """
@page {{
  size: A4; margin: 20mm 18mm 20mm 18mm;
  @top-center {{ content: {header}; font: 7.5pt 'DejaVu Sans'; color: #555;
    border-bottom: 0.5pt solid #999; vertical-align: bottom; padding-bottom: 1.5mm; }}
  @bottom-right {{ content: {footer}; font: 7.5pt 'DejaVu Sans'; color: #555; }}
  @footnote {{ border-top: 0.5pt solid #777; padding-top: 1.5mm; margin-top: 3mm; }}
}}
body {{ margin: 0; font-family: '{font}'; font-size: {size}pt; line-height: 1.38; color: #111;
  hyphens: {hyphens}; }}
.institute {{ font-family: 'DejaVu Sans'; font-size: 8pt; letter-spacing: 0.08em;
  text-transform: uppercase; color: #7a1f1f; margin: 0 0 1.5mm; }}
.masthead {{ font-family: 'DejaVu Sans'; font-size: 9pt; font-weight: bold;
  border-top: 1.5pt solid #7a1f1f; border-bottom: 0.6pt solid #7a1f1f; padding: 1.5mm 0;
  margin: 0 0 4mm; }}
h1 {{ font-family: 'DejaVu Sans'; font-size: 18pt; line-height: 1.18; margin: 0 0 2mm;
  hyphens: manual; }}
.byline {{ font-family: 'DejaVu Sans'; font-size: 8.5pt; color: #333; margin: 0 0 4mm;
  hyphens: manual; }}
.lead {{ font-weight: bold; }}
.cols {{ columns: {columns}; column-gap: 6mm; }}
p {{ margin: 0 0 2mm; text-align: {align}; orphans: 2; widows: 2; }}
h2 {{ font-family: 'DejaVu Sans'; font-size: 10.5pt; color: #7a1f1f; margin: 3.5mm 0 1.5mm;
  break-after: avoid; hyphens: manual; }}
.fn {{ float: footnote; font-size: 7.8pt; line-height: 1.3; text-align: left; }}
::footnote-call {{ font-size: 65%; vertical-align: super; line-height: 0; }}
::footnote-marker {{ content: counter(footnote) ". "; }}
aside {{ float: right; width: 62mm; margin: 1mm 0 3mm 5mm; padding: 2.5mm 3mm;
  border: 0.8pt solid #7a1f1f; background: #f3ecec; font-family: 'DejaVu Sans';
  font-size: 8.2pt; line-height: 1.3; hyphens: manual; }}
aside h3 {{ font-size: 9pt; margin: 0 0 1.5mm; color: #7a1f1f; }}
aside ul {{ margin: 0; padding-left: 4mm; }}
aside li {{ margin-bottom: 1.2mm; }}
table {{ float: right; width: 52mm; margin: 1mm 0 2mm 4mm; border-collapse: collapse;
  font-family: 'DejaVu Sans'; font-size: 7.8pt; hyphens: manual; }}
caption {{ caption-side: top; text-align: left; font-weight: bold; margin-bottom: 1.2mm; }}
td, th {{ border: 0.5pt solid #333; padding: 0.8mm 1.5mm; }}
td + td, th + th {{ text-align: right; }}
"""


def css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def inline(brief: Brief, text: str) -> str:
    """A paragraph's HTML: escaped, footnote markers replaced by the notes themselves."""
    body = html.escape(text, quote=False)
    return MARKER.sub(
        lambda m: f'<span class="fn">{html.escape(brief.notes[int(m.group(1)) - 1])}</span>',
        body,
    )


def to_html(brief: Brief) -> str:
    css = CSS.format(
        header=css_string(brief.header) if brief.running_header else "none",
        footer='"Page " counter(page) " of " counter(pages)' if brief.footer else "none",
        font=brief.font,
        size=brief.size,
        hyphens="auto" if brief.hyphenate else "manual",
        columns=brief.columns,
        align="justify" if brief.justify else "left",
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(brief.template_title)}</title>",
        f'<meta name="author" content="{html.escape(INSTITUTE)}">',
        f'<meta name="dcterms.created" content="{brief.template_date}">',
        f"<style>{css}</style></head><body>",
        f'<div class="institute">{html.escape(INSTITUTE)}</div>',
        f'<div class="masthead">{html.escape(brief.masthead)}</div>',
        f"<h1>{html.escape(brief.title)}</h1>",
        f'<p class="byline">{html.escape(byline(brief.authors))}</p>',
    ]
    if brief.columns > 1:
        out.append('<div class="cols">')
    out.append(f'<p class="lead">{inline(brief, brief.lead)}</p>')
    for index, (heading, paragraphs) in enumerate(brief.sections):
        out.append(f"<h2>{html.escape(heading)}</h2>")
        for number, paragraph in enumerate(paragraphs):
            if brief.sidebar and brief.sidebar[2] == (index, number):
                title, items, _ = brief.sidebar
                lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
                out.append(f"<aside><h3>{html.escape(title)}</h3><ul>{lis}</ul></aside>")
            if brief.table and brief.table.after == (index, number):
                out.append(table_html(brief.table))
            out.append(f"<p>{inline(brief, paragraph)}</p>")
    if brief.columns > 1:
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def table_html(table: Table) -> str:
    head, *rows = table.rows
    ths = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table><caption>{html.escape(table.caption)}</caption>"
        f"<thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"
    )


def page_count(pdf: Path) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:  # count the page objects
        return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    return len(PdfReader(pdf).pages)


def truth(brief: Brief, name: str, pages: int) -> Truth:
    floats = [
        Float("masthead", INSTITUTE.upper()),
        Float("masthead", brief.masthead),
        Float("byline", byline(brief.authors)),
    ]
    if brief.sidebar:
        floats.append(Float("sidebar", brief.sidebar[0]))
        floats += [Float("sidebar", item) for item in brief.sidebar[1]]
    if brief.table:
        floats.append(Float("caption", brief.table.caption))
        floats += [Float("table", cell) for row in brief.table.rows for cell in row]
    floats += [Float("note", note) for note in brief.notes]
    if brief.running_header:
        floats.append(Float("header", brief.header))
    if brief.footer:
        floats += [Float("footer", f"Page {n} of {pages}") for n in range(1, pages + 1)]
    body = [unmarked(brief.lead)] + [unmarked(p) for _, ps in brief.sections for p in ps]
    return Truth(
        file=name,
        producer="weasyprint",
        features=brief.features,
        title=brief.title,
        number=brief.number,
        date=brief.date,
        authors=brief.authors,
        body=body,
        headings=[heading for heading, _ in brief.sections],
        floats=floats,
    )


def weasyprint() -> list[str]:
    found = shutil.which("weasyprint")
    if found:
        return [found]
    python = shutil.which("python3", path="/usr/bin")
    if python and subprocess.run([python, "-c", "import weasyprint"]).returncode == 0:
        return [python, "-m", "weasyprint"]
    raise RuntimeError(
        "WeasyPrint is not installed (no weasyprint command, and /usr/bin/python3 cannot "
        "import weasyprint); install it (Debian: apt-get install weasyprint) to build the "
        "WeasyPrint briefs"
    )


def generate(out: Path) -> list[Path]:
    """Render every brief with WeasyPrint into ``out``; returns the PDFs written."""
    command = weasyprint()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="briefqa-weasyprint-") as tmp:
        for brief in BRIEFS:
            name = f"weasyprint-{brief.layout}.pdf"
            page = Path(tmp) / f"{brief.layout}.html"
            page.write_text(to_html(brief), encoding="utf-8")
            pdf = out / name
            done = subprocess.run(
                [*command, str(page), str(pdf)], capture_output=True, text=True, timeout=300
            )
            if done.returncode != 0 or not pdf.is_file():
                raise RuntimeError(f"weasyprint failed on {page.name}: {done.stderr[-2000:]}")
            truth(brief, name, page_count(pdf)).save(out)
            written.append(pdf)
    return written


if __name__ == "__main__":
    for path in generate(PDFS):
        print(path.relative_to(PDFS.parent), path.stat().st_size, "bytes")
