"""Briefs typeset by fpdf2, the pure-Python PDF writer, drawn line by line from Python.

Four policy briefs of the fictional Meridian Institute for Public Policy, written straight
from the data below: two columns of justified text (``text_columns``) under a running
header and a "Page N of M" footer (``header()``/``footer()`` overrides), three columns,
a one-column brief with a boxed sidebar drawn with ``rect()`` and footnotes set at the foot
of the page that refers to them, and a one-page brief with a ruled table (``table()``)
above two balanced columns.

Long words carry U+00AD at their hyphenation points (fixed in this file); fpdf2 breaks
there and prints a plain "-" (U+002D) at the line end, exactly like the hyphen of a real
compound, and drops the soft hyphens it does not break at. Document info (/Title,
/Author, /CreationDate) is set to a template's name, the institute and a fixed date that
is not the printed one.

Usage: ``python benchmarks/producers/gen_fpdf2.py`` (writes into ``pdfs/``).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    from fpdf import FPDF
    from fpdf.fonts import FontFace
except ImportError:  # generate() says so
    FPDF = object

if __package__:
    from .common import MARKER, PDFS, byline, hyphenation_points, soft, unmarked
    from .truth import Float, Person, Truth
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import MARKER, PDFS, byline, hyphenation_points, soft, unmarked
    from truth import Float, Person, Truth

FONTS = Path("/usr/share/fonts/truetype")
INSTITUTE = "Meridian Institute for Public Policy"
NAVY = (22, 52, 86)


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
    template_date: dt.datetime  # the PDF's /CreationDate
    columns: int = 2
    size: float = 9.5
    header_from_page: int | None = 1  # running header on pages >= this; None: none
    footer: bool = True
    notes: list[str] = field(default_factory=list)  # footnotes, [^n] in the text
    sidebar: tuple[str, list[str], int] | None = None  # title, items, after section
    table: tuple[str, list[list[str]]] | None = None  # caption, rows (header first)

    @property
    def masthead(self) -> str:
        return f"Policy Brief No. {self.number} | {self.printed_date}"

    @property
    def header(self) -> str:
        return f"{INSTITUTE} | Policy Brief No. {self.number}"


def utc(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 0, tzinfo=dt.UTC)


# ----------------------------------------------------------------------------- content

PORTS = Brief(
    layout="two-column-justified",
    features=[
        "two-columns",
        "justified",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
        "soft-hyphens",
        "uneven-last-columns",
    ],
    title="Ports as the Bottleneck of Offshore Wind Expansion",
    number="9",
    printed_date="20 February 2025",
    date="2025-02-20",
    authors=[
        Person("Erik Halvorsen", "analyst in the Energy Programme"),
        Person("Julia Brandt", "senior analyst in the Energy Programme"),
    ],
    template_title="Policy brief – master layout",
    template_date=utc(2024, 9, 2),
    size=10.0,
    lead=(
        "The countries around the North Sea and the Baltic Sea have pledged to install more "
        "than 300 gigawatts of offshore wind capacity by 2050. Turbines, foundations and "
        "cables are usually discussed as the critical components of this expansion, yet the "
        "most immediate constraint lies on land: there are too few ports with the quays, "
        "storage areas and heavy-lift cranes needed to assemble and ship today’s giant "
        "turbines. Without coordinated investment in port infrastructure, the targets will "
        "slip by years."
    ),
    sections=[
        (
            "Bigger Turbines, Bigger Ports",
            [
                "A modern offshore turbine has blades longer than a hundred metres and a "
                "nacelle weighing more than 800 tonnes. Installation ports must offer quays "
                "that can bear loads of up to 30 tonnes per square metre, laydown areas of "
                "twenty to forty hectares for pre-assembly, and deep water close to the "
                "berth for jack-up installation vessels. Only a handful of ports in Europe, "
                "among them Esbjerg, Eemshaven and Cuxhaven, meet these requirements today.",
                "Each increase in turbine size renders part of the existing infrastructure "
                "obsolete. Ports that invested in the previous generation of equipment "
                "a decade ago now find that their quays are too weak or their storage yards "
                "too small. Port authorities hesitate to commit hundreds of millions of euros "
                "to new facilities without long-term contracts from developers, who in turn "
                "cannot plan installation campaigns without knowing which ports will be "
                "available.",
            ],
        ),
        (
            "A Coordination Problem",
            [
                "National targets are set independently, and each government tends to plan "
                "its own installation base. The result is a patchwork of overlapping projects "
                "in some regions and gaps in others. Studies by the wind-energy industry "
                "estimate that European ports need investment of roughly €6.5 billion by 2030 "
                "to keep pace with the planned build-out, a sum that public port authorities "
                "with modest balance sheets cannot raise alone.",
                "Competition between ports is healthy, but duplication is costly. A regional "
                "approach would allocate installation, manufacturing and operations roles "
                "among ports according to their geography and capacity, and would align "
                "investment with the auction calendars of neighbouring countries, so that "
                "facilities built for one country’s projects remain busy when its pipeline "
                "slows down.",
            ],
        ),
        (
            "Skills and Supply Chains",
            [
                "Port upgrades alone will not suffice if the surrounding supply chain is "
                "missing. Factories for monopiles, transition pieces and cables need sites "
                "next to deep water, and installation campaigns depend on a small fleet of "
                "specialised vessels that are booked years in advance. Ports that combine "
                "manufacturing with installation capture far more jobs than those used only "
                "for loading, which is why regional governments compete so fiercely for "
                "factories.",
                "Labour is another constraint. Welders, crane operators and offshore "
                "technicians are in short supply throughout the region, and training "
                "programmes take years to expand. Coordinating vocational education with "
                "the expected timeline of port projects would help coastal communities that "
                "lost jobs in shipbuilding and fishing to benefit from the energy "
                "transition.",
            ],
        ),
        (
            "Military Mobility and Dual Use",
            [
                "Many of the ports suited for offshore wind are also important for the "
                "reception of allied forces in a crisis. Heavy-lift quays, large storage "
                "areas and rail connections are equally valuable for moving armoured "
                "vehicles and ammunition. Planning the two functions together would allow "
                "defence budgets and military-mobility funds to share the cost of "
                "infrastructure that serves both purposes.",
            ],
        ),
        (
            "Recommendations",
            [
                "The North Seas Energy Cooperation and the Baltic Offshore Wind Forum should "
                "prepare a joint port strategy that identifies the facilities required for "
                "each phase of the build-out. The European Commission could make port "
                "upgrades eligible for funding under the Connecting Europe Facility’s energy "
                "window, and the European Investment Bank could offer guarantees that reduce "
                "the risk borne by port authorities.",
                "Governments should include port capacity in the criteria of offshore wind "
                "auctions and publish auction schedules several years in advance. Poland, "
                "whose first offshore farms in the Baltic are under construction, should "
                "ensure that the installation terminal in Świnoujście is completed on time "
                "and that Gdańsk and Gdynia develop service and manufacturing roles that "
                "complement it.",
            ],
        ),
    ],
)

HOSPITALS = Brief(
    layout="sidebar-footnotes",
    features=[
        "sidebar",
        "footnotes",
        "page-footer",
        "masthead",
        "byline-roles",
        "soft-hyphens",
    ],
    title="Ransomware in Hospitals: Closing the Resilience Gap",
    number="13",
    printed_date="20 March 2025",
    date="2025-03-20",
    authors=[Person("Marek Dudek", "analyst in the Cybersecurity Programme")],
    template_title="Meridian Institute for Public Policy",
    template_date=utc(2023, 12, 11),
    columns=1,
    size=10.5,
    header_from_page=None,
    notes=[
        "ENISA, Threat Landscape: Health Sector, covering incidents reported in 2021–2023.",
        "Estimate based on the number of hospitals using end-of-life operating systems in "
        "national surveys.",
        "Directive (EU) 2022/2555 on measures for a high common level of cybersecurity "
        "across the Union.",
        "The plan was announced by the European Commission in January 2025.",
    ],
    sidebar=(
        "Key facts",
        [
            "Health care was the sector most often hit by ransomware in Europe in 2023.",
            "Attacks typically disable patient records, laboratory systems and imaging.",
            "Recovery after a major attack has taken hospitals up to six months.",
            "Most incidents began with stolen passwords or unpatched remote-access software.",
        ],
        0,
    ),
    lead=(
        "Hospitals have become favourite targets of ransomware gangs. An attack that "
        "encrypts patient records and laboratory systems can force a hospital to cancel "
        "operations and divert ambulances for weeks, and criminals count on the pressure to "
        "restore services quickly to extract a ransom. Most hospitals in Europe are poorly "
        "prepared: their information technology budgets are small, their systems are "
        "outdated, and cybersecurity competes for money with beds and staff."
    ),
    sections=[
        (
            "A Growing Threat",
            [
                "The health sector accounted for more ransomware incidents reported to "
                "European authorities in 2023 than any other sector.[^1] High-profile attacks "
                "on hospitals in Ireland, Germany, France and the Czech Republic disrupted "
                "emergency care and cancer treatment, and in some cases the stolen data of "
                "patients were published online after the hospital refused to pay. Studies "
                "of American hospitals suggest that mortality among patients admitted during "
                "an attack rises measurably, because delays in diagnosis and transfers to "
                "other hospitals cost precious time.",
                "Criminal groups choose hospitals because downtime is intolerable for them "
                "and because their defences are weak. Many hospitals still run medical "
                "devices and administrative systems on operating systems that no longer "
                "receive security updates,[^2] and networks are often flat, so that an "
                "intruder who compromises one workstation can reach the entire "
                "infrastructure.",
            ],
        ),
        (
            "New Obligations, Old Budgets",
            [
                "Since the revised Network and Information Security Directive took effect, "
                "larger hospitals have been subject to binding obligations on risk "
                "management, incident reporting and supply-chain security.[^3] Management "
                "boards can be held personally responsible for failures. The obligations are "
                "welcome, but they arrive without dedicated funding, and hospitals that are "
                "already in deficit struggle to hire security specialists whose salaries "
                "exceed those of senior physicians.",
                "Smaller hospitals and clinics fall outside the directive altogether, yet "
                "they are connected to the same regional networks and laboratories. An "
                "attack on a small provider can spread to larger partners or interrupt "
                "services, such as pathology or radiology, on which many institutions "
                "depend.",
            ],
        ),
        (
            "Building Resilience",
            [
                "Resilience starts with basic measures: offline backups tested regularly, "
                "multi-factor authentication for remote access, segmentation of networks and "
                "a plan for running the hospital on paper for several days. Exercises "
                "involving clinical staff, not only the information technology department, "
                "reveal dependencies that are otherwise overlooked.",
                "Shared services can lower costs. Regional security operations centres, "
                "serving several hospitals, would give smaller institutions access to "
                "round-the-clock monitoring that none of them could afford alone. The "
                "European action plan on the cybersecurity of hospitals[^4] proposes such "
                "centres and support for procurement of secure equipment, but its "
                "implementation depends on national co-financing.",
            ],
        ),
        (
            "Recommendations",
            [
                "Governments should earmark a fixed share of hospital investment budgets for "
                "cybersecurity and fund regional security centres. Procurement rules should "
                "require suppliers of medical devices to provide security updates for the "
                "whole lifetime of their products. Paying ransoms should be discouraged by "
                "mandatory reporting of payments, and law-enforcement cooperation against "
                "the groups responsible should be a priority for Europol.",
            ],
        ),
    ],
)

SEABED = Brief(
    layout="three-column",
    features=[
        "three-columns",
        "justified",
        "running-header",
        "page-footer",
        "masthead",
        "byline-roles",
        "soft-hyphens",
        "uneven-last-columns",
    ],
    title="Deep-Sea Mining: The Case for a Precautionary Pause",
    number="15",
    printed_date="3 April 2025",
    date="2025-04-03",
    authors=[
        Person("Claire Dubois", "analyst in the Climate and Resources Programme"),
        Person("Rui Santos", "head of the Ocean Governance Project"),
    ],
    template_title="MIPP brief",
    template_date=utc(2024, 1, 15),
    columns=3,
    size=9.6,
    header_from_page=2,
    lead=(
        "Companies backed by a few governments want to begin commercial mining of "
        "polymetallic nodules on the Pacific seabed, arguing that the cobalt, nickel and "
        "manganese they contain are needed for batteries. Scientists warn that the deep "
        "ocean is among the least understood environments on Earth and that the damage "
        "caused by mining could be irreversible. Until binding environmental rules exist, "
        "the European Union should support a precautionary pause."
    ),
    sections=[
        (
            "The Rush to the Seabed",
            [
                "The Clarion-Clipperton Zone, a vast abyssal plain between Hawaii and Mexico, "
                "holds billions of tonnes of potato-sized nodules rich in metals. The "
                "International Seabed Authority, created under the United Nations Convention "
                "on the Law of the Sea, has issued exploration contracts covering more than a "
                "million square kilometres there, sponsored by states including China, "
                "India, Japan, South Korea and several small island states.",
                "The authority has been negotiating a mining code for more than a decade. In "
                "2021 Nauru triggered a treaty provision obliging the authority to consider "
                "applications for exploitation even if the code is not finished. Negotiations "
                "have since continued without agreement, and some contractors have signalled "
                "that they may seek permits from national governments outside the "
                "international framework.",
            ],
        ),
        (
            "What Is at Stake",
            [
                "Mining machines would scrape the top layer of sediment from the seabed, "
                "destroying the nodules on which many species live and creating plumes of "
                "sediment that could drift for hundreds of kilometres. Scientific expeditions "
                "to the Clarion-Clipperton Zone regularly find species that have never been "
                "described, and experimental disturbances carried out decades ago show "
                "little sign of recovery.",
                "The deep ocean also plays a role in the global carbon cycle, storing carbon "
                "in sediments over long periods. The consequences of large-scale disturbance "
                "for this function are unknown. Because deep-sea ecosystems recover over "
                "centuries rather than years, mistakes could not be corrected within any "
                "timeframe relevant to policy.",
            ],
        ),
        (
            "Questionable Demand",
            [
                "The economic case for seabed mining rests on forecasts of metal demand that "
                "are changing rapidly. Battery chemistries that use no cobalt and less nickel "
                "are gaining market share, and recycling will supply a growing proportion of "
                "metals from the next decade. Land-based deposits of nickel in Indonesia and "
                "elsewhere have expanded much faster than expected, pushing prices down.",
                "Seabed mining would not necessarily reduce Europe’s dependence on China "
                "either. Processing of the ore would require new refineries, and most of the "
                "existing capacity for nickel and cobalt refining is Chinese. Investors "
                "appear to share these doubts: several car and technology companies have "
                "pledged not to buy metals from the deep sea until the environmental risks "
                "are understood, and some of the early financial backers of mining "
                "contractors have withdrawn.",
            ],
        ),
        (
            "The European Position",
            [
                "The European Parliament has called for a moratorium, and France, Germany, "
                "Spain and a growing group of other states support a precautionary pause. "
                "Other member states remain undecided, and Norway has moved in the opposite "
                "direction by opening parts of its continental shelf to exploration, though "
                "it postponed the first licensing round after domestic criticism. The "
                "divisions matter because the Union and its member states together make up "
                "a large bloc in the Assembly and Council of the International Seabed "
                "Authority, where decisions are normally taken by consensus.",
                "The Union should adopt a common position supporting a pause until the "
                "science allows a reliable assessment of environmental impacts and the "
                "mining code contains enforceable standards. It should fund deep-sea research "
                "and insist that the International Seabed Authority remain the only "
                "framework for mining beyond national jurisdiction, rejecting unilateral "
                "permits.",
            ],
        ),
    ],
)

GRID = Brief(
    layout="one-page-table",
    features=[
        "one-page",
        "two-columns",
        "justified",
        "table-ruled",
        "caption",
        "masthead",
        "byline-roles",
    ],
    title="Interconnectors and the Price of Electricity Islands",
    number="11",
    printed_date="March 6, 2025",
    date="2025-03-06",
    authors=[Person("Nikos Papadakis", "analyst in the Energy Programme")],
    template_title="brief_template_v2.docx",
    template_date=utc(2022, 5, 30),
    size=9.0,
    header_from_page=None,
    footer=False,
    table=(
        "Table 1. Cross-border transmission capacity relative to installed generation",
        [
            ["Member state", "Share in 2023", "EU target for 2030"],
            ["Spain", "4.5%", "15%"],
            ["Italy", "8.2%", "15%"],
            ["Romania", "7.4%", "15%"],
            ["Cyprus", "0%", "15%"],
        ],
    ),
    lead=(
        "Electricity prices in Europe diverge sharply between countries that are well "
        "connected to their neighbours and those that remain energy islands. Where "
        "cross-border lines are scarce, surplus wind and solar power cannot be exported and "
        "shortages cannot be covered by imports, so prices swing more widely and "
        "renewable output is curtailed. Building interconnectors is among the cheapest ways "
        "to lower prices and strengthen security of supply."
    ),
    sections=[
        (
            "Uneven Integration",
            [
                "The Union has set a target for each member state to have cross-border "
                "transmission capacity equivalent to at least 15 per cent of its installed "
                "generation by 2030. Several states fall far short. The Iberian Peninsula "
                "is connected to France by lines that carry only a small fraction of Spanish "
                "and Portuguese output, and one island state in the eastern Mediterranean has "
                "no electrical link to any neighbour at all. Ireland’s only connections run "
                "to Great Britain, which left the internal energy market in 2021.",
                "The consequences became visible during the energy crisis, when wholesale "
                "prices in poorly connected markets moved independently of their neighbours "
                "and the Iberian countries had to negotiate a special exemption to cap the "
                "price of gas used for power generation.",
                "Poor connections also waste renewable energy. On sunny and windy days, "
                "grid operators in isolated systems must switch off solar parks and wind "
                "farms because the surplus cannot be exported, and the owners demand "
                "compensation that consumers ultimately pay. Better links would let the "
                "same installations replace more fossil generation elsewhere. Curtailment "
                "in the most isolated systems already reaches several per cent of annual "
                "solar and wind output, and it is rising as new capacity comes online faster "
                "than the grid can absorb it.",
            ],
        ),
        (
            "Obstacles",
            [
                "Interconnectors take a decade or more to plan, permit and build. Projects "
                "crossing mountains or seas, such as the planned cable across the Bay of "
                "Biscay, face technical difficulties and cost overruns, since seabed surveys, "
                "converter stations and specialised cable-laying ships are all in short "
                "supply. The benefits "
                "are often distributed unevenly: consumers in the cheaper market may see "
                "their prices rise when exports increase, which creates political "
                "resistance on that side of the border. National regulators, who approve "
                "network tariffs, tend to judge projects by their domestic effects alone, "
                "and transmission operators have little incentive to build lines whose "
                "benefits accrue mainly to their neighbours.",
            ],
        ),
        (
            "Recommendations",
            [
                "Cross-border cost allocation should compensate the country that bears the "
                "costs with a share of the benefits, and projects of common interest should "
                "receive priority permitting. The Connecting Europe Facility should "
                "concentrate its energy funding on links to the worst-connected member "
                "states. Regulators should assess projects against their regional benefits "
                "under a common methodology, and the Agency for the Cooperation of Energy "
                "Regulators should be able to settle disputes when national authorities "
                "disagree on how the costs are to be shared.",
            ],
        ),
    ],
)

BRIEFS = [PORTS, HOSPITALS, SEABED, GRID]

# Hyphenation points for long words (from pyphen's en patterns), fixed in this file.
_HYPHENATED = """
ac-cord-ing ac-count-ed ad-min-is-tra-tive agree-ment al-to-geth-er am-bu-lances
am-mu-ni-tion ap-pli-ca-tions as-sess-ment au-then-ti-ca-tion au-thor-i-ties au-thor-i-ty
avail-able bat-ter-ies cal-en-dars cam-paigns cen-turies clip-per-ton co-op-er-a-tion
co-or-di-nat-ed co-or-di-nat-ing com-mer-cial com-mis-sion com-mu-ni-ties com-pa-nies
com-pe-ti-tion com-ple-ment com-plet-ed com-po-nents com-pro-mis-es con-nec-tions
con-nect-ed con-nect-ing con-se-quences con-sen-sus con-straint con-struc-tion
con-ti-nen-tal con-tin-ued con-trac-tors con-tracts con-ven-tion cor-rect-ed coun-tries
crim-i-nals crit-i-cism cy-ber-se-cu-ri-ty de-ci-sions de-part-ment de-pen-den-cies
de-pen-dence de-scribed de-stroy-ing de-vel-op-ers ded-i-cat-ed di-ag-no-sis di-rec-tion
di-rec-tive di-vi-sions dis-cour-aged dis-cussed dis-rupt-ed dis-tur-bance dis-tur-bances
du-pli-ca-tion ecosys-tems ed-u-ca-tion else-where emer-gen-cy en-force-able en-force-ment
en-vi-ron-men-tal en-vi-ron-ments equip-ment ex-er-cis-es ex-pan-sion ex-pe-di-tions
ex-per-i-men-tal ex-plo-ration ex-ploita-tion fa-cil-i-ties fac-to-ries fi-nan-cial
fi-nanc-ing fore-casts foun-da-tions frame-work func-tions ge-og-ra-phy gen-er-a-tion
gi-gawatts gov-ern-ment gov-ern-ments guar-an-tees hos-pi-tals iden-ti-fies im-me-di-ate
im-ple-men-ta-tion im-por-tant in-ci-dents in-clud-ing in-de-pen-dent-ly in-done-sia
in-for-ma-tion in-fra-struc-ture in-stal-la-tion in-sti-tu-tions in-ter-na-tion-al
in-ter-rupt in-tol-er-a-ble in-vest-ment in-vestors in-volv-ing ir-re-versible
ju-ris-dic-tion kilo-me-tres lab-o-ra-to-ries lab-o-ra-to-ry li-cens-ing man-age-ment
man-ganese man-u-fac-tur-ing manda-to-ry mea-sur-ably mon-i-tor-ing mor-tal-i-ty
mora-to-ri-um ne-go-ti-a-tions ne-go-ti-at-ing nec-es-sar-i-ly neigh-bour-ing obli-ga-tions
op-er-a-tions op-er-a-tors op-er-at-ing oth-er-wise over-lap-ping over-looked par-lia-ment
patch-work pathol-o-gy per-son-al-ly physi-cians poly-metal-lic post-poned pre-cau-tion-ary
pro-cess-ing pro-cure-ment pro-grammes pro-por-tion pro-vi-sion pub-lished ra-di-ol-o-gy
ran-somware re-cep-tion re-cy-cling re-finer-ies re-ject-ing re-port-ing re-quire-ments
re-silience re-spon-si-ble reg-u-lar-ly sched-ules sci-en-tif-ic sci-en-tists sed-i-ments
seg-men-ta-tion ship-build-ing sig-nalled spe-cial-ists spe-cialised spon-sored stan-dards
sup-pli-ers sup-port-ing sur-round-ing tech-ni-cians tech-nol-o-gy through-out time-frame
tran-si-tion trans-fers treat-ment trig-gered un-de-cid-ed un-der-stood uni-lat-er-al
vo-ca-tion-al with-drawn work-sta-tion
"""
HYPHENATION = hyphenation_points(_HYPHENATED)


def soft_texts() -> list[str]:
    """The texts that get soft hyphens (what ``_HYPHENATED`` was made from)."""
    return [
        text
        for brief in BRIEFS
        if "soft-hyphens" in brief.features
        for text in [brief.lead] + [p for _, ps in brief.sections for p in ps]
    ]


# ----------------------------------------------------------------------------- rendering


class BriefPDF(FPDF):
    """An A4 page with the brief's running header (from ``header_from_page`` on) and its
    "Page N of M" footer."""

    def __init__(self, brief: Brief) -> None:
        super().__init__(format="A4", unit="mm")
        self.brief = brief
        for family, files in (
            ("Sans", ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")),
            ("Serif", ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf")),
        ):
            for style, file in zip(("", "B"), files, strict=True):
                path = FONTS / "dejavu" / file
                if not path.is_file():
                    raise RuntimeError(f"font {path} is missing (Debian: fonts-dejavu-core)")
                self.add_font(family, style, str(path))
        self.set_title(brief.template_title)
        self.set_author(INSTITUTE)
        self.set_creator("Meridian publishing scripts")
        self.set_creation_date(brief.template_date)
        self.set_lang("en")
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=18)

    def header(self) -> None:
        start = self.brief.header_from_page
        if start is None or self.page_no() < start:
            return
        self.set_font("Sans", "", 7.5)
        self.set_text_color(90, 90, 90)
        self.set_y(9)
        self.cell(0, 4, self.brief.header, align="C")
        self.set_draw_color(150, 150, 150)
        self.line(self.l_margin, 14, self.w - self.r_margin, 14)
        self.set_text_color(0, 0, 0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        if not self.brief.footer:
            return
        self.set_y(-13)
        self.set_font("Sans", "", 7.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    @property
    def width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def front_matter(self) -> None:
        """Institute line, masthead band, title and byline across the page."""
        brief = self.brief
        self.add_page()
        self.set_font("Sans", "B", 8)
        self.set_text_color(*NAVY)
        self.cell(self.width, 5, INSTITUTE.upper(), new_x="LMARGIN", new_y="NEXT")
        self.set_fill_color(*NAVY)
        self.set_text_color(255, 255, 255)
        self.set_font("Sans", "B", 9)
        self.cell(self.width, 7, brief.masthead, fill=True, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)
        self.set_text_color(*NAVY)
        self.set_font("Sans", "B", 18)
        self.multi_cell(self.width, 8, brief.title, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)
        self.set_text_color(60, 60, 60)
        self.set_font("Sans", "", 8.5)
        self.multi_cell(
            self.width, 4.2, byline(brief.authors), align="L", new_x="LMARGIN", new_y="NEXT"
        )
        self.set_text_color(0, 0, 0)
        self.ln(4)

    def ruled_table(self) -> None:
        assert self.brief.table is not None
        caption, rows = self.brief.table
        self.set_font("Sans", "B", 8)
        self.multi_cell(self.width, 4, caption, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)
        self.set_font("Sans", "", 8)
        self.set_draw_color(60, 60, 60)
        self.set_fill_color(255, 255, 255)
        self.set_line_width(0.2)
        with self.table(
            col_widths=(52, 32, 40),
            width=124,
            headings_style=FontFace(emphasis="BOLD", fill_color=(222, 228, 236)),
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT"),
            line_height=4.6,
            borders_layout="ALL",
            first_row_as_headings=True,
        ) as table:
            for row in rows:
                table.row(row)
        self.ln(4)

    def soft(self, text: str) -> str:
        return soft(text, HYPHENATION) if "soft-hyphens" in self.brief.features else text

    def columns(self) -> None:
        """Lead, headings and paragraphs flowed through ``text_columns``."""
        brief = self.brief
        size = brief.size
        with self.text_columns(
            ncols=brief.columns,
            gutter=6 if brief.columns == 3 else 7,
            text_align="J",
            line_height=1.32,
            balance=brief.table is not None,
        ) as cols:
            self.set_font("Serif", "B", size)
            with cols.paragraph(bottom_margin=2) as par:
                par.write(self.soft(brief.lead))
            for heading, paragraphs in brief.sections:
                self.set_font("Sans", "B", size + 1)
                self.set_text_color(*NAVY)
                with cols.paragraph(text_align="L", top_margin=2.5, bottom_margin=1.2) as par:
                    par.write(heading)
                self.set_text_color(0, 0, 0)
                self.set_font("Serif", "", size)
                for paragraph in paragraphs:
                    with cols.paragraph(bottom_margin=1.6) as par:
                        par.write(self.soft(paragraph))

    def flow_with_footnotes(self) -> None:
        """One column written with ``write()``; note markers raised, the notes set at the
        foot of the page where their marker fell; the sidebar a box drawn with rect()."""
        brief = self.brief
        size = brief.size
        line = size * 0.47
        note_pages: dict[int, list[int]] = {}
        self.set_auto_page_break(True, margin=42)  # room for the notes above the footer
        self.set_font("Serif", "B", size)
        self.multi_cell(
            self.width, line, self.soft(brief.lead), align="J", new_x="LMARGIN", new_y="NEXT"
        )
        for index, (heading, paragraphs) in enumerate(brief.sections):
            if self.y > self.page_break_trigger - 25:
                self.add_page()
            self.ln(3)
            self.set_font("Sans", "B", size + 1)
            self.set_text_color(*NAVY)
            self.multi_cell(
                self.width, line + 0.6, heading, align="L", new_x="LMARGIN", new_y="NEXT"
            )
            self.set_text_color(0, 0, 0)
            self.ln(1)
            for paragraph in paragraphs:
                self.set_font("Serif", "", size)
                for piece, number in pieces(paragraph):
                    if piece:
                        self.write(line, self.soft(piece))
                    if number:
                        self.char_vpos = "SUP"
                        self.write(line, str(number))
                        self.char_vpos = "LINE"
                        note_pages.setdefault(self.page, []).append(number)
                self.ln(line)
                self.ln(1.8)
            if brief.sidebar and brief.sidebar[2] == index:
                self.sidebar_box()
        self.notes_at_foot(note_pages)

    def sidebar_box(self) -> None:
        assert self.brief.sidebar is not None
        title, items, _ = self.brief.sidebar
        pad, inner = 3.5, self.width - 7
        self.set_font("Sans", "", 8.6)
        heights = [
            self.multi_cell(inner - 4, 4.2, item, dry_run=True, output="HEIGHT") for item in items
        ]
        height = pad * 2 + 6 + sum(heights) + 1.2 * len(items)
        if self.y + height + 4 > self.page_break_trigger:
            self.add_page()
        self.ln(1.5)
        top = self.y
        self.set_fill_color(228, 234, 241)
        self.set_draw_color(*NAVY)
        self.set_line_width(0.4)
        self.rect(self.l_margin, top, self.width, height, style="DF")
        self.set_xy(self.l_margin + pad, top + pad)
        self.set_font("Sans", "B", 9.5)
        self.set_text_color(*NAVY)
        self.cell(inner, 5, title, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(1)
        self.set_font("Sans", "", 8.6)
        for item in items:
            self.set_x(self.l_margin + pad)
            self.cell(4, 4.2, "•")
            self.multi_cell(inner - 4, 4.2, item, align="L", new_x="LMARGIN", new_y="NEXT")
            self.ln(1.2)
        self.set_y(top + height + 3)

    def notes_at_foot(self, note_pages: dict[int, list[int]]) -> None:
        last = self.page
        for page, numbers in sorted(note_pages.items()):
            self.page = page
            self.set_auto_page_break(False)
            y = self.h - 38
            self.set_draw_color(90, 90, 90)
            self.set_line_width(0.2)
            self.line(self.l_margin, y, self.l_margin + 50, y)
            self.set_y(y + 1.5)
            self.set_font("Serif", "", 7.6)
            for number in numbers:
                self.set_x(self.l_margin)
                self.cell(5, 3.5, f"{number}.")
                self.multi_cell(
                    self.width - 5,
                    3.5,
                    self.brief.notes[number - 1],
                    align="L",
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
                self.ln(0.6)
        self.page = last


def pieces(paragraph: str) -> list[tuple[str, int | None]]:
    """A paragraph cut at its note markers: (text before, marker number or None)."""
    out: list[tuple[str, int | None]] = []
    start = 0
    for match in MARKER.finditer(paragraph):
        out.append((paragraph[start : match.start()], int(match.group(1))))
        start = match.end()
    out.append((paragraph[start:], None))
    return out


def render(brief: Brief, path: Path) -> int:
    """Write the brief's PDF; returns its page count."""
    pdf = BriefPDF(brief)
    pdf.front_matter()
    if brief.notes or brief.sidebar:
        pdf.flow_with_footnotes()
    else:
        if brief.table:
            pdf.ruled_table()
        pdf.columns()
    pdf.output(str(path))
    return int(pdf.pages_count)


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
        floats.append(Float("caption", brief.table[0]))
        floats += [Float("table", cell) for row in brief.table[1] for cell in row]
    floats += [Float("note", note) for note in brief.notes]
    if brief.header_from_page is not None and pages >= brief.header_from_page:
        floats.append(Float("header", brief.header))
    if brief.footer:
        floats += [Float("footer", f"Page {n} of {pages}") for n in range(1, pages + 1)]
    body = [unmarked(brief.lead)] + [unmarked(p) for _, ps in brief.sections for p in ps]
    return Truth(
        file=name,
        producer="fpdf2",
        features=brief.features,
        title=brief.title,
        number=brief.number,
        date=brief.date,
        authors=brief.authors,
        body=body,
        headings=[heading for heading, _ in brief.sections],
        floats=floats,
    )


def generate(out: Path) -> list[Path]:
    """Draw every brief with fpdf2 into ``out``; returns the PDFs written."""
    if FPDF is object:
        raise RuntimeError(
            "fpdf2 is not installed (cannot import fpdf); install it (pip install fpdf2) "
            "to build the fpdf2 briefs"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for brief in BRIEFS:
        name = f"fpdf2-{brief.layout}.pdf"
        pages = render(brief, out / name)
        truth(brief, name, pages).save(out)
        written.append(out / name)
    return written


if __name__ == "__main__":
    for path in generate(PDFS):
        print(path.relative_to(PDFS.parent), path.stat().st_size, "bytes")
