"""Briefs typeset by Chromium (headless ``--print-to-pdf``) from HTML and CSS.

Five bulletins of the fictional Meridian Institute for Public Policy, each built from the
Python data below into an HTML page, printed by Chromium, and written down as a
:class:`~truth.Truth` next to the PDF. The layouts: CSS multi-column (two and three
columns), a lead set beside a floated "photo" (a grey box) with its caption and credit,
a floated "Key points" aside inside the columns, endnotes with superscript markers, a ruled
and an unruled table, and a one-page brief whose second column ends short.

Headless Chromium does not hyphenate (``hyphens: auto`` needs a dictionary it downloads
as a component, which is switched off here), so the soft-hyphen briefs carry U+00AD in
their long words; Chromium breaks there and keeps the U+00AD characters in the PDF's text.
The PDFs' /Title is the page's <title>, a template name, never the printed title.

Usage: ``python benchmarks/producers/gen_chromium.py`` (writes into ``pdfs/``).
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __package__:
    from .common import MARKER, PDFS, byline, hyphenation_points, soft, unmarked
    from .truth import Float, Person, Truth
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import MARKER, PDFS, byline, hyphenation_points, soft, unmarked
    from truth import Float, Person, Truth

INSTITUTE = "MERIDIAN INSTITUTE FOR PUBLIC POLICY"


@dataclass
class Table:
    caption: str
    rows: list[list[str]]  # the first row is the header
    ruled: bool
    after_section: int  # placed after this section's paragraphs (0-based)


@dataclass
class Brief:
    layout: str
    features: list[str]
    title: str
    masthead: str  # the issue line as printed
    number: str
    date: str
    authors: list[Person]
    lead: str
    sections: list[tuple[str, list[str]]]
    template_title: str  # the HTML <title>, i.e. the PDF's /Title
    columns: int = 2
    font: str = "DejaVu Serif"
    size: float = 9.6
    justify: bool = True
    soft_hyphens: bool = False
    image: tuple[str, str] | None = None  # (caption, credit): lead beside a grey box
    sidebar: tuple[str, list[str], int] | None = None  # (title, items, after section)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # endnotes, [^n] in the text
    one_page_height: str | None = None  # fixed column height, filled column by column


# ----------------------------------------------------------------------------- content

WATER = Brief(
    layout="two-column-lead-image",
    features=[
        "two-columns",
        "lead-beside-image",
        "caption",
        "justified",
        "masthead",
        "byline-roles",
        "hard-hyphens",
    ],
    title="Drought-Proofing the Danube: Water Security Moves Up the Agenda",
    masthead="No. 117 (2236) 31.08.2023",
    number="117 (2236)",
    date="2023-08-31",
    authors=[
        Person("Maria Lopez", "analyst in the Economic Security Programme"),
        Person("Tomasz Wrona", "head of the Climate and Resources Programme"),
    ],
    template_title="Meridian Bulletin – web template v4",
    image=(
        "Low water near the port of Vidin exposes sandbanks that normally lie beneath "
        "the navigation channel.",
        "Photo: Ilko Petrov/Meridian Archive",
    ),
    lead=(
        "Three consecutive summers of low water on the Danube have exposed how dependent "
        "Central and South-Eastern Europe remain on a single river for shipping, irrigation, "
        "drinking water and the cooling of power plants. Governments along the basin are "
        "drafting drought plans, but they are doing so separately, with incompatible data "
        "and little money set aside for long-term storage. A basin-wide approach, financed "
        "partly from EU cohesion funds, would reduce the risk that the next dry year turns "
        "into an energy crisis and a food crisis at the same time."
    ),
    sections=[
        (
            "A River Under Pressure",
            [
                "In August 2022 the water gauge at Novi Sad fell to its lowest level since "
                "measurements began, and barges on the lower Danube sailed with less than half "
                "of their usual cargo. The pattern repeated itself, in milder form, in the two "
                "following summers. Hydrologists attribute the change to a combination of "
                "warmer winters, which reduce the snowpack in the Alps and the Carpathians, and "
                "longer heatwaves, which raise evaporation from reservoirs and wetlands.",
                "The economic consequences are no longer confined to river transport. Serbian "
                "and Bulgarian thermal power stations had to curtail output because the river "
                "water used for cooling was too warm, and the nuclear plant at Kozloduy operated "
                "close to its environmental limits for several weeks. Farmers in the Pannonian "
                "Plain, who depend on irrigation canals fed by the Danube and the Tisza, "
                "reported yield losses of up to a third for maize and sunflower.",
            ],
        ),
        (
            "Competing Claims on Scarce Water",
            [
                "When the river runs low, every user competes for the same shrinking volume. "
                "Shipping companies want minimum depths guaranteed by dredging and by releases "
                "from upstream reservoirs; hydropower operators want to keep their reservoirs "
                "full for the winter; municipalities insist that drinking-water intakes take "
                "priority. The existing allocation rules were written for average years and say "
                "little about how to ration water during a prolonged drought.",
                "The disagreements are sharpest where the river forms a border. Romania and "
                "Bulgaria share more than four hundred kilometres of the lower Danube, yet "
                "their emergency plans use different thresholds and are not published in a "
                "common format. Hungary and Serbia have begun to exchange gauge data every "
                "hour, but the arrangement is informal and depends on the goodwill of two "
                "state-owned water companies rather than on a binding agreement.",
            ],
        ),
        (
            "Fragmented Governance",
            [
                "The International Commission for the Protection of the Danube River "
                "coordinates water-quality monitoring and flood management, but its mandate "
                "on water quantity is weak. Its river-basin management plan treats drought as "
                "a secondary risk, and the commission has no budget of its own for "
                "investment. EU member states in the basin report to Brussels under the Water "
                "Framework Directive, while the non-member states follow their own timetables.",
                "Money is the other missing ingredient. Most drought-related spending in the "
                "region goes to compensating farmers after the harvest has failed rather than "
                "to measures that would reduce the damage in advance, such as restoring "
                "floodplains, modernising irrigation or building small retention reservoirs. "
                "Cohesion-policy programmes for 2021–2027 contain funds for climate "
                "adaptation, but few national authorities have prepared projects that cross a "
                "border.",
            ],
        ),
        (
            "Recommendations",
            [
                "The basin states should agree on a common drought index and publish gauge, "
                "reservoir and abstraction data in near-real time on a shared platform. A "
                "binding protocol to the Danube convention could set out who cuts consumption "
                "first when the index crosses agreed thresholds, so that rationing decisions "
                "are made before a crisis rather than improvised during one.",
                "The European Commission could reserve part of the Interreg budget for "
                "cross-border retention and floodplain projects, and the European Investment "
                "Bank could offer long-term loans for irrigation efficiency. Poland, which "
                "faces similar low-water episodes on the Vistula and the Oder, has an interest "
                "in supporting such a framework and in transferring its lessons to its own "
                "river basins.",
            ],
        ),
    ],
)

CHIPS = Brief(
    layout="three-column-key-points",
    features=[
        "three-columns",
        "sidebar",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "masthead",
        "byline-roles",
    ],
    title="Europe’s Chip Ambitions and the Cost of Fabrication Plants",
    masthead="No. 121 (2240) 14.09.2023",
    number="121 (2240)",
    date="2023-09-14",
    authors=[Person("Jonas Keller", "analyst in the Technology Policy Programme")],
    template_title="Meridian Institute",
    columns=3,
    size=9.6,
    soft_hyphens=True,
    sidebar=(
        "Key points",
        [
            "The Chips Act aims at a 20% share of global output by 2030.",
            "A leading-edge fab costs more than €20 billion to build.",
            "Mature nodes matter most for cars and industrial equipment.",
            "Skilled technicians are scarcer than subsidies.",
        ],
        0,
    ),
    lead=(
        "The European Chips Act promises to double the Union’s share of global semiconductor "
        "production by the end of the decade. Public money is flowing into new fabrication "
        "plants in Germany, France and Italy, but the economics of the industry work against "
        "latecomers: construction costs keep rising, the most advanced customers are located "
        "in Asia and the United States, and qualified engineers are in short supply. Europe "
        "would get more security per euro by concentrating on mature manufacturing processes, "
        "equipment and design skills."
    ),
    sections=[
        (
            "Subsidies on an Unprecedented Scale",
            [
                "Under the Chips Act the European Union and its member states intend to "
                "mobilise more than €43 billion of public and private investment. The largest "
                "single commitment, roughly €10 billion of German state aid for a leading-edge "
                "plant in Magdeburg, exceeds the annual research budget of most member states. "
                "Smaller packages support a joint venture in Dresden, an extension of an "
                "existing site near Grenoble and a packaging facility in northern Italy.",
                "The rationale is mainly strategic. The shortages of 2021, when car factories "
                "across the continent stood idle for lack of inexpensive microcontrollers, "
                "convinced governments that dependence on a handful of Asian suppliers is a "
                "vulnerability comparable to the reliance on Russian gas. Subsidy competition "
                "with the American CHIPS and Science Act added a sense of urgency.",
            ],
        ),
        (
            "The Economics of Latecomers",
            [
                "Semiconductor manufacturing rewards scale and continuous learning. A plant "
                "producing chips with the smallest structures costs more than €20 billion and "
                "becomes profitable only if it runs at high utilisation for many years. The "
                "customers that need such chips, above all designers of smartphone processors "
                "and artificial-intelligence accelerators, are concentrated outside Europe and "
                "have long-standing relationships with established foundries.",
                "Mature processes, by contrast, are the backbone of European industry. "
                "Automotive electronics, power semiconductors for renewable-energy inverters "
                "and sensors for industrial machinery use structures that are ten or twenty "
                "times larger than the frontier, and European firms are already competitive "
                "in several of these segments. Supporting them costs less and strengthens "
                "supply chains that the continent’s manufacturers actually depend on.",
            ],
        ),
        (
            "People Before Plants",
            [
                "Every new fabrication plant needs between two and three thousand employees, "
                "most of them technicians and engineers with specialised training. Industry "
                "associations estimate that the European semiconductor sector will lack tens "
                "of thousands of qualified workers by 2030. Universities in the Netherlands, "
                "Belgium and Germany are expanding their programmes, but graduates take years "
                "to become productive, and competition from software companies for the same "
                "people is intense.",
                "Immigration rules compound the problem. Recruiting experienced staff from "
                "Taiwan, South Korea or India involves lengthy procedures for recognising "
                "qualifications and obtaining work permits. A fast-track scheme for "
                "semiconductor specialists, modelled on the EU Blue Card but with shorter "
                "deadlines, would cost little and could be introduced quickly.",
            ],
        ),
        (
            "Security of Supply in a Crisis",
            [
                "Factories on European soil do not by themselves guarantee supplies in an "
                "emergency. Most plants belong to multinational companies that allocate output "
                "according to global contracts, and a foundry in Saxony may well serve "
                "customers in California before carmakers in Bavaria. The Chips Act gives the "
                "Commission powers to request priority orders during a declared shortage, but "
                "these powers have never been tested and companies have lobbied to keep them "
                "narrow.",
                "Stockpiles offer a cheaper form of insurance. Chips for cars and industrial "
                "controls are small, durable and inexpensive to store, and a modest buffer of "
                "the most widely used components would have shortened the production stoppages "
                "of 2021 considerably. Such reserves could be held by the manufacturers "
                "themselves, with tax incentives, rather than by public agencies.",
            ],
        ),
        (
            "Conclusions",
            [
                "The Chips Act should be judged by the resilience it buys rather than by the "
                "market share it reaches. A realistic strategy would direct most of the "
                "remaining subsidies to mature-node capacity, chip-design start-ups and the "
                "equipment makers in which Europe already leads, and would condition aid on "
                "commitments to supply European customers in a crisis. Member states without "
                "large plants, Poland among them, should seek a role in packaging, testing and "
                "training, where investment thresholds are lower.",
            ],
        ),
    ],
)

PENSIONS = Brief(
    layout="two-column-endnotes",
    features=[
        "two-columns",
        "endnotes",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "masthead",
    ],
    title="Pay-As-You-Go Pensions in an Ageing Workforce",
    masthead="No. 130 (2249) 12.10.2023",
    number="130 (2249)",
    date="2023-10-12",
    authors=[Person("Helena Varga")],
    template_title="Bulletin (draft) – do not circulate",
    font="Liberation Serif",
    size=11.0,
    soft_hyphens=True,
    notes=[
        "Eurostat, population projections EUROPOP2023, baseline variant.",
        "Calculated from national social-insurance statistics for 2022; the ratio compares "
        "contributors with recipients of old-age pensions only.",
        "The Swedish notional defined-contribution system adjusts benefits automatically when "
        "the balance ratio falls below one.",
        "OECD, Pensions at a Glance 2023, chapter on retirement ages.",
    ],
    lead=(
        "Most European pension systems pay current pensions out of the contributions of "
        "current workers. As the baby-boom generation retires and fewer young people enter "
        "the labour market, the number of contributors per pensioner is falling quickly. "
        "Governments can raise contributions, cut benefits, lengthen working lives or "
        "bring in more workers from abroad; in practice they will have to combine all four, "
        "and the sooner they announce the mix, the less painful it will be."
    ),
    sections=[
        (
            "A Shrinking Base of Contributors",
            [
                "The working-age population of the European Union is projected to decline by "
                "about 57 million people between 2022 and 2100.[^1] In Central Europe the "
                "decline is steeper, because low fertility since the 1990s has been compounded "
                "by large-scale emigration of young adults. In several countries of the region "
                "there are already fewer than two contributors for every pensioner.[^2]",
                "Demography is not the only driver. Early-retirement schemes, introduced in the "
                "1990s to ease industrial restructuring, still allow some occupational groups "
                "to retire in their mid-fifties. Self-employment and platform work, which often "
                "carry lower contribution rates, are growing faster than conventional "
                "employment, further narrowing the base on which the system rests.",
            ],
        ),
        (
            "Automatic Stabilisers",
            [
                "A number of countries have built automatic adjustment mechanisms into their "
                "pension formulas. Sweden links benefits to the ratio between the system’s "
                "assets and liabilities,[^3] while Finland and Portugal adjust initial pensions "
                "to changes in life expectancy. Such rules depoliticise painful decisions and "
                "spread the burden gradually across generations instead of concentrating it in "
                "sudden reforms.",
                "Their weakness is that they can be suspended. Several governments froze or "
                "reversed automatic adjustments during the financial crisis and again during "
                "the pandemic, undermining the credibility of the mechanism. Where adjustments "
                "are written into ordinary legislation, each suspension tends to become the "
                "precedent for the next one.",
                "Funded pillars were supposed to complement pay-as-you-go schemes, but their "
                "record in the region is mixed. Several governments that introduced mandatory "
                "private accounts in the early 2000s later transferred the accumulated assets "
                "back to the state system to reduce reported public debt, leaving savers with "
                "lower confidence in any long-term promise.",
            ],
        ),
        (
            "Working Longer, Working More",
            [
                "Raising the statutory retirement age remains the most effective single "
                "measure, but also the most unpopular. Linking it to life expectancy, as "
                "Denmark, the Netherlands and Italy have done, makes the increase predictable "
                "and easier to defend.[^4] It must, however, be accompanied by investment in "
                "occupational health and retraining, or older workers in physically demanding "
                "jobs will simply move from pensions to disability benefits.",
                "Higher employment among women and migrants offers a less controversial "
                "reserve. Countries with generous childcare provision and flexible working-time "
                "arrangements have markedly higher participation rates among mothers, and "
                "faster recognition of foreign qualifications would allow immigrants to pay "
                "contributions commensurate with their skills.",
                "Labour-market policy matters at the other end of working life as well. "
                "Employers remain reluctant to hire or retrain people over fifty-five, and "
                "seniority-based pay scales make older employees expensive to keep. Wage "
                "subsidies for older jobseekers and a gradual move towards pay that reflects "
                "performance rather than age would make longer careers realistic for more "
                "people.",
            ],
        ),
        (
            "Conclusions",
            [
                "Pension reform works best when it is announced long before it takes effect. "
                "Governments should publish long-term projections every three years, commit to "
                "an automatic link between retirement age and life expectancy, and protect that "
                "link with a constitutional or supermajority requirement. Measures that raise "
                "employment among underrepresented groups should be treated as pension policy, "
                "not merely as social policy.",
            ],
        ),
    ],
)

FOOD = Brief(
    layout="one-column-tables",
    features=[
        "table-ruled",
        "table-unruled",
        "caption",
        "hard-hyphens",
        "masthead",
        "byline-roles",
    ],
    title="Food Prices After the Fertiliser Shock",
    masthead="No. 4 (2265) 11.01.2024",
    number="4 (2265)",
    date="2024-01-11",
    authors=[
        Person("Kofi Mensah", "senior analyst in the Global Economy Programme"),
        Person("Ewa Nowicka", "analyst in the Global Economy Programme"),
    ],
    template_title="MIPP – Bulletin",
    columns=1,
    font="Liberation Serif",
    size=11.0,
    justify=False,
    tables=[
        Table(
            "Table 1. Consumer food price inflation in December, year on year (%)",
            [
                ["Economy", "Dec 2021", "Dec 2022", "Dec 2023"],
                ["Euro area", "1.5", "9.0", "10.9"],
                ["Poland", "3.2", "15.4", "14.7"],
                ["Hungary", "5.2", "26.0", "22.4"],
                ["United States", "3.9", "9.9", "5.8"],
            ],
            ruled=True,
            after_section=0,
        ),
        Table(
            "Table 2. Selected policy responses to high food prices",
            [
                ["Measure", "Where used", "Drawback"],
                ["Price caps on staples", "Hungary, Croatia", "Shortages in shops"],
                ["Zero VAT on basic food", "Poland, Spain, Portugal", "Poorly targeted"],
                ["Export restrictions", "India, Indonesia", "Higher world prices"],
                ["Targeted cash transfers", "Greece, Ireland", "Slow to disburse"],
            ],
            ruled=False,
            after_section=2,
        ),
    ],
    lead=(
        "Food prices in Europe rose faster in 2022 and 2023 than at any time since the 1970s. "
        "The immediate causes were the surge in gas prices, which made nitrogen fertiliser "
        "far more expensive, and Russia’s invasion of Ukraine, which disrupted grain exports "
        "from the Black Sea. Wholesale prices have since fallen back, but shop prices have "
        "not, and households on low incomes continue to spend a much larger share of their "
        "budgets on food than before the shock."
    ),
    sections=[
        (
            "From Gas to Grain to Groceries",
            [
                "Natural gas is the main feedstock for ammonia, the basis of most nitrogen "
                "fertilisers. When European gas prices increased tenfold in the second half of "
                "2021, producers in Germany, Lithuania and other member states cut output or "
                "stopped it altogether, and fertiliser prices more than tripled. Farmers "
                "responded by applying less fertiliser, which reduced yields in the following "
                "season, and by passing higher costs on to processors.",
                "The war added a second shock. Ukraine and Russia together supplied almost a "
                "third of world wheat exports before February 2022. The temporary closure of "
                "Ukrainian ports, followed by the uncertain operation of the grain corridor, "
                "pushed international wheat and maize prices to record levels in the spring of "
                "that year. Central European economies, with a higher weight of food in their "
                "consumer baskets, were hit hardest, as Table 1 shows.",
            ],
        ),
        (
            "Why Shop Prices Stay High",
            [
                "By the end of 2023 world prices for wheat, vegetable oils and fertiliser had "
                "returned close to their pre-war levels, yet consumer prices for bread, dairy "
                "products and meat remained well above them. Part of the gap reflects labour, "
                "energy and packaging costs further down the supply chain, which adjust more "
                "slowly. Part of it, according to competition authorities in several member "
                "states, reflects wider margins in food processing and retail.",
                "Price rigidity of this kind is typical after large shocks: firms raise prices "
                "quickly when costs rise and lower them reluctantly when costs fall. Where "
                "retail markets are concentrated in the hands of a few chains, the asymmetry is "
                "more pronounced, and consumers have fewer alternatives. The burden falls "
                "unevenly: households in the lowest income quintile spend between a quarter "
                "and a third of their budgets on food in much of Central and Eastern Europe, "
                "compared with about a tenth among the richest fifth.",
            ],
        ),
        (
            "What Governments Tried",
            [
                "Governments reacted with a wide range of instruments, summarised in Table 2. "
                "Broad measures such as lower value-added tax on food were quick to introduce "
                "but costly and poorly targeted, since richer households spend more on food in "
                "absolute terms. Price caps produced shortages and were abandoned within "
                "months. Export bans by some large producers helped domestic consumers at the "
                "expense of importing countries.",
            ],
        ),
        (
            "Recommendations",
            [
                "Future food-price shocks should be met with targeted income support rather "
                "than with tax cuts or price controls. Governments should prepare the "
                "administrative channels for such payments in advance, for example by linking "
                "them to existing social-assistance registers. Competition authorities should "
                "publish regular reviews of margins along the food supply chain, and the EU "
                "should reduce its dependence on imported fertiliser by supporting "
                "low-carbon ammonia production and more precise application of nutrients on "
                "farms.",
            ],
        ),
    ],
)

RAIL = Brief(
    layout="one-page-uneven",
    features=[
        "one-page",
        "two-columns",
        "uneven-last-columns",
        "justified",
        "soft-hyphens",
        "hard-hyphens",
        "masthead",
        "byline-roles",
    ],
    title="Rail Freight’s Missing Cross-Border Links",
    masthead="No. 19 (2280) 07.03.2024",
    number="19 (2280)",
    date="2024-03-07",
    authors=[Person("Pieter de Vries", "head of the Transport and Infrastructure Programme")],
    template_title="Untitled document",
    font="DejaVu Serif",
    size=9.2,
    soft_hyphens=True,
    one_page_height="206mm",
    lead=(
        "The European Union wants to increase the share of freight carried by rail to 30% of "
        "long-distance tonnage, yet rail’s share has stagnated at around 17% for two decades. "
        "The main obstacles are not in the middle of national networks but at their edges: "
        "border crossings where locomotives must be changed, drivers swapped and paperwork "
        "checked. Removing these bottlenecks would cost far less than building new lines."
    ),
    sections=[
        (
            "Stuck at the Border",
            [
                "A freight train from Rotterdam to northern Italy crosses three or four "
                "national networks, each with its own signalling system, electrical supply "
                "and operating rules. Although the European Rail Traffic Management System "
                "was designed to replace these differences, its deployment is years behind "
                "schedule, and most locomotives still need several national systems on "
                "board. Delays at borders account for a large share of the unreliability that "
                "shippers cite as the main reason for choosing road haulage.",
                "Language requirements compound the problem. Train drivers must speak the "
                "operating language of each country they enter, so crews are often changed "
                "at the border even when the locomotive could continue. Capacity allocation is "
                "also national: an operator must book paths separately with each "
                "infrastructure manager, and a delay on one network can cost the slot on the "
                "next.",
            ],
        ),
        (
            "The Cost of Doing Nothing",
            [
                "Road haulage already carries three quarters of inland freight in the Union, "
                "and its volume is forecast to grow by a further quarter by 2050. Every "
                "lorry-kilometre that could have been moved by rail adds to congestion on the "
                "motorways of the Alpine and Pyrenean crossings, to the wear of bridges built "
                "for much lighter traffic and to emissions that the transport sector has so "
                "far failed to reduce. Driver shortages in road haulage, now estimated at "
                "several hundred thousand vacancies across the continent, make the status quo "
                "more expensive every year.",
                "Rail operators, for their part, lose customers each time a consignment arrives "
                "a day late. Shippers of automotive parts, chemicals and consumer goods run "
                "just-in-time supply chains and cannot hold large buffer stocks; once they "
                "switch to road, they rarely come back.",
            ],
        ),
        (
            "What Would Help",
            [
                "The revision of the rules on capacity management, now being negotiated, "
                "should oblige infrastructure managers to coordinate cross-border paths and "
                "to give freight trains reliable slots. Funding from the Connecting Europe "
                "Facility should favour the short missing links, electrification gaps and "
                "terminal extensions that yield the greatest gains per euro. Many of these "
                "projects are small enough to be completed within a single budget period.",
                "Member states should also accept English as an operating language on "
                "designated freight corridors, as aviation has done for decades. Digital "
                "consignment notes, recognised by customs and rail authorities alike, would "
                "remove most of the remaining paperwork at the border, and a common register of "
                "locomotive authorisations would let operators run the same vehicles across "
                "the whole corridor without repeated approval procedures.",
            ],
        ),
    ],
)

BRIEFS = [WATER, CHIPS, PENSIONS, FOOD, RAIL]

# Hyphenation points for the long words of the soft-hyphen briefs (from the en_US
# patterns), so that the U+00AD placement is fixed in this file rather than computed.
_HYPHENATED = """
ac-cel-er-a-tors ac-com-pa-nied ac-cord-ing ac-cu-mu-lat-ed ad-just-ment ad-just-ments
al-lo-ca-tion an-nounced ar-range-ments ar-ti-fi-cial as-so-ci-a-tions au-tho-ri-sa-tions
au-thor-i-ties au-to-mat-ic au-to-mo-tive bot-tle-necks cal-i-for-nia car-mak-ers
chem-i-cals child-care co-or-di-nate com-men-su-rate com-mis-sion com-mit-ment com-mit-ments
com-pa-nies com-pa-ra-ble com-pe-ti-tion com-pet-i-tive com-ple-ment com-plet-ed
com-po-nents com-pound-ed con-cen-trat-ed con-cen-trat-ing con-di-tion con-fi-dence
con-ges-tion con-nect-ing con-sid-er-ably con-sign-ment con-sti-tu-tion-al con-struc-tion
con-ti-nent con-tin-u-ous con-tracts con-tri-bu-tion con-tri-bu-tions con-trib-u-tors
con-tro-ver-sial con-ven-tion-al con-vinced cor-ri-dors coun-tries cred-i-bil-i-ty
cross-ings cus-tomers de-ci-sions de-mand-ing de-mog-ra-phy de-pen-dence de-ploy-ment
de-politi-cise de-sign-ers dead-lines des-ig-nat-ed dif-fer-ences dis-abil-i-ty eco-nom-ics
ef-fec-tive elec-tri-cal elec-tri-fi-ca-tion elec-tron-ics em-i-gra-tion em-ploy-ees
em-ploy-ers em-ploy-ment emer-gen-cy emis-sions en-gi-neers equip-ment es-tab-lished
es-ti-mat-ed ex-pand-ing ex-pe-ri-enced ex-pectan-cy ex-pen-sive ex-ten-sion ex-ten-sions
fab-ri-ca-tion fac-to-ries fer-til-i-ty fi-nan-cial gen-er-a-tion gen-er-a-tions
gov-ern-ments grad-u-al-ly grad-u-ates guar-an-tee im-mi-gra-tion im-mi-grants in-cen-tives
in-dus-tri-al in-ex-pen-sive in-fra-struc-ture in-sur-ance in-tel-li-gence in-tro-duced
in-vert-ers in-vest-ment job-seek-ers kilo-me-tre late-com-ers leg-is-la-tion
li-a-bil-i-ties lo-co-mo-tive lo-co-mo-tives ma-chin-ery magde-burg man-age-ment
man-u-fac-tur-ers man-u-fac-tur-ing manda-to-ry mech-a-nism mech-a-nisms mi-cro-con-trollers
mo-tor-ways multi-na-tion-al nar-row-ing ne-go-ti-at-ed nether-lands ob-sta-cles ob-tain-ing
oc-cu-pa-tion-al op-er-a-tors op-er-at-ing pa-per-work pack-ag-ing par-tic-i-pa-tion
pen-sion-er per-for-mance phys-i-cal-ly pop-u-la-tion pre-dictable prece-dent pro-ce-dures
pro-ces-sors pro-cess-es pro-duc-ing pro-duc-tion pro-duc-tive pro-grammes pro-jec-tions
pro-ject-ed pro-vi-sion prof-itable qual-i-fi-ca-tions qual-i-fied ra-tio-nale re-al-is-tic
re-cruit-ing re-la-tion-ships re-luc-tant re-main-ing re-new-able re-quire-ment
re-quire-ments re-silience re-struc-tur-ing re-tire-ment re-train-ing recog-ni-tion
recog-nis-ing recog-nised rot-ter-dam se-nior-i-ty semi-con-duc-tor semi-con-duc-tors
sep-a-rate-ly short-ages short-ened sig-nalling smart-phone spe-cial-ists spe-cialised
stag-nat-ed statu-to-ry stock-piles stop-pages strate-gic strength-ens struc-tures
su-per-ma-jor-i-ty sub-si-dies sup-pli-ers sup-port-ing sus-pen-sion sus-pend-ed
tech-ni-cians them-selves thou-sands thresh-olds trans-ferred trans-port un-der-min-ing
un-der-rep-re-sent-ed un-pop-u-lar un-re-li-a-bil-i-ty uni-ver-si-ties util-i-sa-tion
va-can-cies vul-ner-a-bil-i-ty
"""
HYPHENATION = hyphenation_points(_HYPHENATED)


def soft_texts() -> list[str]:
    """The texts that get soft hyphens (what ``_HYPHENATED`` was made from)."""
    return [
        text
        for brief in BRIEFS
        if brief.soft_hyphens
        for text in [brief.lead] + [p for _, ps in brief.sections for p in ps]
    ]


# ----------------------------------------------------------------------------- rendering


def inline(brief: Brief, text: str) -> str:
    """A paragraph's HTML: escaped, soft-hyphenated, note markers as superscripts."""
    body = html.escape(text, quote=False)
    if brief.soft_hyphens:
        body = soft(body, HYPHENATION)
    return MARKER.sub(lambda m: f'<sup class="ref">{m.group(1)}</sup>', body)


CSS = """
@page {{ size: A4; margin: 15mm 17mm 16mm 17mm; }}
html {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
body {{ margin: 0; font-family: '{font}'; font-size: {size}pt; line-height: 1.36;
  color: #111; hyphens: auto; -webkit-hyphens: auto; }}
.masthead {{ display: flex; justify-content: space-between; align-items: baseline;
  font-family: 'DejaVu Sans'; font-size: 8.5pt; color: #fff; background: #1d3b5a;
  padding: 2.2mm 3mm; letter-spacing: 0.04em; }}
.masthead .issue {{ font-weight: bold; }}
h1 {{ font-family: 'DejaVu Sans'; font-size: 19pt; line-height: 1.15; margin: 5mm 0 2mm;
  color: #1d3b5a; }}
.byline {{ font-family: 'DejaVu Sans'; font-size: 8.5pt; font-style: italic; margin: 0 0 4mm;
  color: #333; }}
.lead {{ font-weight: bold; margin: 0 0 3mm; }}
.cols {{ column-count: {columns}; column-gap: 6.5mm; }}
.cols p, .one p {{ margin: 0 0 2mm; text-align: {align}; }}
h2 {{ font-family: 'DejaVu Sans'; font-size: 10.5pt; color: #1d3b5a; margin: 3.5mm 0 1.5mm;
  break-after: avoid; }}
figure {{ float: left; width: 78mm; margin: 0.5mm 5mm 2mm 0; }}
figure .photo {{ height: 50mm; background: #9a9a9a; }}
figcaption {{ font-family: 'DejaVu Sans'; font-size: 7.5pt; line-height: 1.3;
  margin-top: 1.2mm; color: #333; }}
figcaption .credit {{ display: block; font-size: 6.5pt; color: #666; margin-top: 0.6mm; }}
.clear {{ clear: both; }}
aside {{ float: left; width: 100%; box-sizing: border-box; margin: 1mm 0 3mm;
  padding: 2mm 2.5mm; background: #e3e9ef; border-top: 2.5pt solid #1d3b5a;
  font-family: 'DejaVu Sans'; font-size: 8pt; line-height: 1.3; break-inside: avoid; }}
aside h3 {{ margin: 0 0 1mm; font-size: 9pt; color: #1d3b5a; }}
aside ul {{ margin: 0; padding-left: 4mm; }}
aside li {{ margin-bottom: 1mm; }}
sup.ref {{ font-size: 65%; line-height: 0; }}
ol.notes {{ margin: 4mm 0 0; padding: 2mm 0 0 5mm; border-top: 0.6pt solid #555;
  font-size: 7.8pt; line-height: 1.3; column-span: all; }}
table {{ border-collapse: collapse; margin: 1mm 0 4mm; font-family: inherit;
  font-size: 8.5pt; break-inside: avoid; }}
table caption {{ caption-side: top; text-align: left; font-weight: bold; font-size: 8.5pt;
  margin-bottom: 1.5mm; }}
table.ruled td, table.ruled th {{ border: 0.6pt solid #333; padding: 1mm 2.5mm; }}
table.ruled td + td {{ text-align: right; }}
table.plain td, table.plain th {{ border: none; padding: 0.8mm 6mm 0.8mm 0; }}
th {{ text-align: left; }}
.fixed {{ height: {height}; column-fill: auto; }}
"""


def to_html(brief: Brief) -> str:
    css = CSS.format(
        font=brief.font,
        size=brief.size,
        columns=brief.columns,
        align="justify" if brief.justify else "left",
        height=brief.one_page_height or "auto",
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(brief.template_title)}</title>",
        '<meta name="author" content="Meridian Institute for Public Policy">',
        f"<style>{css}</style></head><body>",
        '<div class="masthead"><span class="inst">'
        f"{html.escape(INSTITUTE)}</span>"
        f'<span class="issue">{html.escape(brief.masthead)}</span></div>',
        f"<h1>{html.escape(brief.title)}</h1>",
        f'<p class="byline">{html.escape(byline(brief.authors))}</p>',
    ]
    lead = f'<p class="lead">{inline(brief, brief.lead)}</p>'
    if brief.image:
        caption, credit = brief.image
        out.append(
            '<figure><div class="photo"></div><figcaption>'
            f'{html.escape(caption)}<span class="credit">{html.escape(credit)}</span>'
            "</figcaption></figure>"
        )
        out.append(lead)
        out.append('<div class="clear"></div>')
        lead = ""
    classes = "cols" if brief.columns > 1 else "one"
    if brief.one_page_height:
        classes += " fixed"
    out.append(f'<div class="{classes}">')
    if lead:
        out.append(lead)
    for index, (heading, paragraphs) in enumerate(brief.sections):
        out.append(f"<h2>{html.escape(heading)}</h2>")
        out.extend(f"<p>{inline(brief, p)}</p>" for p in paragraphs)
        if brief.sidebar and brief.sidebar[2] == index:
            title, items, _ = brief.sidebar
            lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
            out.append(f"<aside><h3>{html.escape(title)}</h3><ul>{lis}</ul></aside>")
        for table in brief.tables:
            if table.after_section == index:
                out.append(table_html(table))
    if brief.notes:
        lis = "".join(f"<li>{html.escape(n)}</li>" for n in brief.notes)
        out.append(f'<ol class="notes">{lis}</ol>')
    out.append("</div></body></html>")
    return "\n".join(out) + "\n"


def table_html(table: Table) -> str:
    head, *rows = table.rows
    ths = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    kind = "ruled" if table.ruled else "plain"
    return (
        f'<table class="{kind}"><caption>{html.escape(table.caption)}</caption>'
        f"<thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"
    )


def truth(brief: Brief, name: str) -> Truth:
    floats = [Float("masthead", INSTITUTE), Float("masthead", brief.masthead)]
    floats.append(Float("byline", byline(brief.authors)))
    if brief.image:
        floats += [Float("caption", brief.image[0]), Float("credit", brief.image[1])]
    if brief.sidebar:
        floats.append(Float("sidebar", brief.sidebar[0]))
        floats += [Float("sidebar", item) for item in brief.sidebar[1]]
    for table in brief.tables:
        floats.append(Float("caption", table.caption))
        floats += [Float("table", cell) for row in table.rows for cell in row]
    floats += [Float("note", note) for note in brief.notes]
    body = [unmarked(brief.lead)] + [unmarked(p) for _, ps in brief.sections for p in ps]
    return Truth(
        file=name,
        producer="chromium",
        features=brief.features,
        title=brief.title,
        number=brief.number,
        date=brief.date,
        authors=brief.authors,
        body=body,
        headings=[heading for heading, _ in brief.sections],
        floats=floats,
    )


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "Chromium is not installed (no chromium, chromium-browser or google-chrome on PATH); "
        "install it (Debian: apt-get install chromium) to build the Chromium briefs"
    )


def print_pdf(binary: str, page: Path, pdf: Path, profile: Path) -> None:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-pdf-header-footer",
        f"--user-data-dir={profile}",
        f"--print-to-pdf={pdf}",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not pdf.is_file():
        raise RuntimeError(f"chromium failed on {page.name}: {done.stderr[-2000:]}")


def generate(out: Path) -> list[Path]:
    """Print every brief with Chromium into ``out``; returns the PDFs written."""
    binary = chromium()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="briefqa-chromium-") as tmp:
        folder = Path(tmp)
        for brief in BRIEFS:
            name = f"chromium-{brief.layout}.pdf"
            page = folder / f"{brief.layout}.html"
            page.write_text(to_html(brief), encoding="utf-8")
            print_pdf(binary, page, out / name, folder / "profile")
            truth(brief, name).save(out)
            written.append(out / name)
    return written


if __name__ == "__main__":
    for path in generate(PDFS):
        print(path.relative_to(PDFS.parent), path.stat().st_size, "bytes")
