"""Mechanism parameters: the one place where every coefficient of the model lives.

Every parameter has a default, a plausible range (used by sensitivity analysis) and a source,
either a seed line (``001:1746`` = line 1746 of the three-site study), a research digest
(``research B.4``) or the word *assumption*. Site scenario files never set these; experiments may
override them through a scenario's ``[parameters]`` table, within the range.

``docs/ODD.md`` documents each parameter; ``tests/test_odd.py`` checks that it names them all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, make_dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Parameter:
    """One mechanism parameter.

    Attributes:
        name: Identifier used in code, scenario overrides and sensitivity factor lists.
        default: Value used unless an experiment overrides it.
        low: Lower end of the plausible range.
        high: Upper end of the plausible range.
        group: Sensitivity-analysis group (leadership, partnership, money, workforce,
            referrals, outcomes).
        source: Evidence, or ``assumption``.
        label: Short readable description.
        integer: Whether the value must be a whole number.
        reason: Why the range is what it is: the evidence, or what the mechanism's meaning
            allows. Ranges are priors, fixed before any calibration (ODD §8.1).
        shape: ``uniform`` or ``log`` (log-uniform: a rate or multiplier spanning a factor of
            four or more).
    """

    name: str
    default: float
    low: float
    high: float
    group: str
    source: str
    label: str
    integer: bool = False
    reason: str = ""
    shape: str = "uniform"


def _p(name, default, low, high, group, source, label, integer=False, *, reason="",
       shape="uniform") -> Parameter:
    return Parameter(name, default, low, high, group, source, label, integer, reason, shape)


PARAMETERS: tuple[Parameter, ...] = (
    # --- leadership churn (§3.2 Leader, §5.2) -------------------------------------------------
    _p("dcs_exit_rate", 0.33, 0.2, 0.45, "leadership", "research B.4 (ADCS tenure 33-37 months)",
       "Director of children's services exit hazard per year",
       reason=("DCS turnover rose from 19.7% (2008-09) to 34.2% (2012-13) (anchors-peers.md:316). 0.31–0.43 "
               "changes per LA a year, and a 33–37-month permanent tenure, give 0.33–0.36 "
               "(anchors-peers.md:321).")),
    _p("chief_executive_exit_rate", 0.12, 0.06, 0.2, "leadership", "assumption (lower than DCS, ODD 7.1)",
       "Chief executive exit hazard per year",
       reason=("Assumption: the base rate is lower than the DCS's (MODEL §5.2), so it is kept below the DCS's "
               "range. One anchor: EC's chief executive \"only lasted 12 -18 months\" (001:1544).")),
    _p("assistant_director_exit_rate", 0.2, 0.1, 0.35, "leadership", "assumption; research B.4",
       "Assistant director / head of service exit hazard per year",
       reason=("Assumption. Less exposed than a DCS (anchors-peers.md:321), but still subject to the same "
               "inspection churn (001:101).")),
    _p("partner_director_exit_rate", 0.15, 0.08, 0.3, "leadership", "assumption",
       "Partner agency director exit hazard per year",
       reason="Assumption. No figure for health or YOS directors. The range spans half to about the DCS's rate."),
    _p("inadequate_exit_multiplier", 1.3, 1.0, 1.5, "leadership", "research B.4-B.5 (2.9 vs 2.3 DCS posts)",
       "Multiplier on children's-services leader exits after an inadequate inspection",
       reason=("DCS posts held 2008–14: good 2.3, inadequate 2.9 (anchors-peers.md:317). That is a ratio of 1.26"
               " in posts and 1.9/1.3 = 1.46 in changes. Above 1.5 exceeds the national gradient even before "
               "hostility adds its own factor (see next row).")),
    _p("hostility_exit_multiplier", 1.5, 0.0, 1.5, "leadership", "assumption; 001:1710",
       "Extra exit hazard per unit hostility (children's-services leaders)",
       reason=("The only evidence is the same grade gradient (1.46 in changes). With `OFSTED_HOSTILITY` rising "
               "from 0.2 (good) to 0.6 (inadequate), a multiplier of 1.5 reproduces it alone, so larger values, "
               "on top of `inadequate_exit_multiplier`, exceed the evidence.")),
    _p("interim_share", 0.45, 0.3, 0.6, "leadership",
       "anchors-peers.md:318-319 (27 of 65 DCS appointments interim in 2017/18, 28 of 62 in 2023/24)",
       "Share of leader vacancies first filled by an interim",
       reason=("27 of 65 (0.42) and 28 of 62 (0.45) DCS appointments were interim (anchors-peers.md:318–319). "
               "The range allows for year-to-year variation.")),
    _p("interim_months", 8.0, 4.0, 12.0, "leadership", "research B.4 (interim tenure ~8 months)",
       "Mean length of an interim leader's spell (months)",
       reason="Current interims' average tenure is 8 months (anchors-peers.md:319)."),
    _p("interim_influence", 0.5, 0.3, 0.8, "leadership", "assumption; 001:1578",
       "Influence of an interim relative to the permanent post",
       reason=("A share of the post's influence, below 1. Interims are \"Not really fighting our corner\" "
               "(thesis-frameworks.md:274). An interim at full influence would not be an interim.")),
    _p("newcomer_support_sd", 0.35, 0.15, 0.5, "leadership", "assumption",
       "Spread of a newcomer leader's initial support",
       reason=("On the −1..1 stance scale the rubric steps are 0.2–0.4 apart (MODEL §9). An SD above 0.5 would "
               "make a newcomer's stance nearly uniform.")),
    _p("culture_attraction", 0.9043, 0.0, 1.5, "leadership", "001:1677-1679, 001:1999 (self-replicating culture)",
       "How strongly the LA's collaborative / evidence culture shapes newcomers' support",
       reason=("The culture term is at most 0.6 (climate and learning both \"very high\"). At 1.5 the mean "
               "newcomer is a champion (0.9), the most that \"a self-replicating system\" (001:1677, 001:1999) "
               "can mean.")),
    _p("hostile_newcomer_shift", 0.7639, 0.0, 1.0, "leadership", "001:1524, 001:1557 (clique, quick cuts)",
       "Negative shift of newcomer support per unit hostility",
       reason=("At 1, an inadequate authority (hostility 0.6) shifts newcomers by −0.6, from neutral to "
               "\"opposed\". That matches a clique that was \"quite anti-MST\" (001:1524).")),
    _p("knowledge_gain_rate", 0.1, 0.03, 0.25, "leadership", "assumption; 001:1933",
       "Monthly knowledge gain of a fully briefed leader",
       shape="log",
       reason=("Time to half knowledge under full briefing: 2.4 to 23 months. Briefings build knowledge over "
               "months, and agreements are lost when people leave (001:1931, 001:1933).")),
    _p("stance_evidence_rate", 0.0232, 0.0, 0.04, "leadership", "assumption; 001:2155 (views fixed early)",
       "Monthly move of a leader's own stance per unit of visible local evidence x knowledge",
       reason=("Stances are \"fixed quite early on\", though some \"changed over time ... as a direct result of "
               "experience\" (001:2155). At 0.04 and moderately good evidence (0.5), full knowledge moves a "
               "stance one rubric step (sceptical to supportive, 0.6) in 2.5 years. Faster would not be "
               "\"fixed\".")),
    _p("coalition_pull", 0.1325, 0.0, 0.3, "leadership", "assumption; 001:2155",
       "Share of the gap to the coalition's view in a leader's current support",
       reason=("Support moves \"only a little with the coalition\" (MODEL §3.2). Above 0.5 current support would"
               " sit nearer the group than the person's own stance: the inert-patronage failure of MODEL §0.")),
    _p("resentment_recovery_months", 14.8355, 6.0, 24.0, "leadership", "001:1850; MODEL 5.1 (about a year)",
       "Months over which a leader's current support returns to their own stance",
       reason="MODEL §5.1: \"about a year\". Half to twice that."),
    _p("patron_boost", 1.7675, 1.0, 3.0, "leadership", "001:1605, 001:1848-1850 (protective wing)",
       "Multiplier of a patron's shield over an ordinary leader's",
       reason=("At 1 patronage acts only through its practical channels (review, cut proposals, strain). At 3 a "
               "supportive assistant-director patron shields like a champion chief executive: the \"protective "
               "wing\" (001:1848) that shields most (MODEL §5.1).")),
    _p("patron_review_relief", 0.7704, 0.25, 1.0, "leadership", "001:1605, 001:1850",
       "Share of the viability review's extra strictness a patron removes",
       reason=("A patron \"can authorise a permanent appointment\" (MODEL §5.1), and MC's patron kept line "
               "management of the supervisor (001:1605). A share, at most 1; the review still uses the full "
               "cost.")),
    _p("patron_strain_relief", 0.0131, 0.0, 0.05, "leadership", "001:1605, 001:1850",
       "Monthly strain relief of the supervisor while a patron is in post",
       reason=("Monthly. Patronage \"created freedoms and protection from adversity\" (001:1850). At most it "
               "cancels a large share of carrying the group alone (`carrying_strain` ≤ 0.08); 0 = only the other"
               " channels.")),
    _p("patron_loss_resentment", 0.1899, 0.0, 0.5, "leadership", "001:1850 (suppressed resentment)",
       "Drop in other leaders' support when patronage ends unplanned",
       reason=("The end of patronage reveals \"suppressed jealousy\" (001:1850). At 0.5 a supportive leader "
               "(0.4) turns sceptical, a full rubric step. It now moves current support, not stance (MODEL "
               "§5.1).")),
    _p("champion_cultivation_rate", 0.06, 0.02, 0.15, "leadership", "assumption; 001:2335, 001:2341",
       "Monthly chance a supportive, informed leader becomes a patron under champion cultivation",
       shape="log",
       reason=("Lever. Expected time to a new champion is 7–50 months. \"Energy required to find new ones\" "
               "(thesis-frameworks.md:256) rules out quicker; 001:2341 asks for it \"in advance\" of turnover, "
               "which rules out much slower.")),
    _p("cut_proposal_rate", 0.04, 0.0, 0.1, "money", "001:1557 (new director proposes quick cuts)",
       "Monthly chance that a short-termist, unsupportive senior leader proposes cutting MST",
       reason=("At 0.1, a short-termist (0.6) opposed (−0.5) newcomer proposes a cut in about 30% of first "
               "years. Two EC directors did so within a few years (001:1557, 001:1586).")),
    # --- partnership and steering group (§3.2 Partner, §3.3) ---------------------------------
    _p("partner_turnover_rate", 0.27, 0.1, 0.35, "partnership", "assumption; 001:1542, 001:2349",
       "Partner representative turnover per year (x site turnover history)",
       reason=("Assumption. Representatives are managers, between social workers (0.15, anchors-peers.md:307) "
               "and DCSs (0.33). The site's turnover history multiplies it.")),
    _p("replacement_seniority", 0.66, 0.5, 1.0, "partnership", "001:1542 (replacements less senior)",
       "Seniority of a replacement representative relative to the predecessor",
       reason=("A share. Replacements \"may not be replaced with the same seniority\" (001:2349, 001:1542), so "
               "below 1. Below 0.5 each replacement would halve seniority.")),
    _p("chair_uptake_rate", 0.1, 0.0, 0.5, "partnership",
       "assumption; 001:1547 (in Expanded City the chair drifted down to the supervisor)",
       "Chance per meeting that an informed, supportive leader takes up a vacant or "
       "supervisor-held chair",
       reason=("A chance per meeting. At EC the chair never went back up once the supervisor held it (001:1547);"
               " at MC the group was \"maintained and refreshed\" (thesis-frameworks.md:180).")),
    _p("uninformed_attendance", 0.6712, 0.4, 1.0, "partnership", "001:1542, 001:2349",
       "Relative attendance of a representative who does not know the original commitment",
       reason=("A share, at most 1. A new representative \"may not be as invested\" (001:2349). Below 0.4 one "
               "replacement would empty the group.")),
    _p("grant_pull", 0.7029, 0.0, 1.0, "partnership", "001:1734 (grant money draws reluctant partners)",
       "Extra attendance pull of the grant on partners, at full grant",
       reason=("The share of the commitment gap that the grant closes: 0–1 by meaning. \"The money drew a "
               "reluctant partner\" (001:1734).")),
    _p("commitment_learning_rate", 0.03, 0.0, 0.08, "partnership", "assumption; 001:1997",
       "Monthly rise of partner commitment with joint work and reported success",
       reason=("Monthly. At 0.08, with full attendance and good evidence, the gap halves in about 9 months. "
               "Partnership \"has to be built and nurtured consistently\" (001:2349), so it is not faster.")),
    _p("partner_austerity_erosion", 0.04, 0.0, 0.1, "partnership", "001:1997; research B.6",
       "Monthly fall of partner commitment per unit own-budget pressure",
       reason="Per unit of own-budget cut. Agencies' own cuts erode commitment (001:1997; anchors-peers.md:342)."),
    _p("climate_adjust_rate", 0.088, 0.01, 0.1, "partnership", "assumption; 001:1677, 001:1710",
       "Monthly adjustment of collaboration climate and hostility toward their targets",
       shape="log",
       reason=("Time constant 10–100 months. Collaboration was built over about five years (001:1270), \"only "
               "slowly (years)\" (thesis-frameworks.md:190), while hostility \"is liable to sudden change\" "
               "(001:1710). One rate serves both (see §6).")),
    _p("churn_climate_erosion", 0.0418, 0.0, 0.1, "partnership", "001:1710; 001:1524",
       "Fall in the collaboration climate's target per senior leader change in the last year",
       reason=("At 0.1, a year of three leader changes lowers the climate's target by 0.3 (medium 0.5 to 0.2, "
               "below \"low\"). That is the most \"complete churn\" (001:1544) can mean. The default is near the"
               " edge but inside.")),
    _p("co_funder_withdrawal_rate", 0.1, 0.02, 0.3, "money", "research B.1 (Barnsley/Rotherham, CNWL)",
       "Yearly hazard that an uncommitted co-funding partner withdraws its share",
       shape="log",
       reason=("Rotherham gave notice after three years of sharing Barnsley's cost (about 0.3 a year); the CNWL "
               "CCGs withdrew (anchors-peers.md:269–270).")),
    # --- referral pipeline (§3.2 Referrer) -----------------------------------------------------
    _p("referrer_turnover_rate", 0.15, 0.13, 0.2, "referrals", "research B.3 (DfE census 13.5-17%)",
       "Referrer (social worker) turnover per year",
       reason=("DfE census: 13.5–17.1% a year; suggested prior 0.13–0.17, plus 0.20 for high-churn authorities "
               "(anchors-peers.md:300–307).")),
    _p("referrers_per_100_lac", 2.7961, 1.5, 4.0, "referrals", "assumption",
       "Active referrers per 100 looked-after children",
       reason=("Assumption. England has about 42 children's social workers per 100 looked-after children (30,670"
               " / 72,670: anchors-peers.md:300, 001:93). The range is the 4–10% of them who meet eligible "
               "adolescents.")),
    _p("eligible_per_lac", 0.1856, 0.06, 0.2, "referrals", "assumption (room for ~3 teams at Metro City)",
       "Eligible families per year per looked-after child",
       reason=("START: 1,076 families were referred to nine panels over 31 months and 684 were randomised "
               "(anchors-peers.md:289). That is about 46 referred and 29 randomised per site a year, against "
               "about 480 looked-after children in a mean LA (001:93; 152 LAs, anchors-peers.md:317), so at "
               "least 0.06 eligible per child. At 0.2 even Isolated Coastal (375 children) would meet about 73 "
               "eligible families a year, nearly two teams' worth (about 10 families per therapist a year, "
               "anchors-peers.md:262).")),
    _p("promotion_awareness_gain", 0.2178, 0.03, 0.3, "referrals", "001:1475 (refreshing the pipeline)",
       "Monthly awareness gain of a referrer from full promotion effort",
       shape="log",
       reason=("The pipeline needs \"constant refreshing\" (001:1475). At 0.3 full promotion informs a referrer "
               "within about 3 months; at 0.03 it takes years.")),
    _p("awareness_decay", 0.0, 0.0, 0.05, "referrals", "assumption",
       "Monthly decay of referrer awareness without contact",
       reason="Assumption. Up to a half-life of about 14 months without contact."),
    _p("attitude_stickiness", 0.9, 0.7, 0.98, "referrals", "001:2155 (sticky attitudes)",
       "Share of a referrer's attitude kept each time it is updated",
       reason="The share of attitude kept at each update: \"fixed quite early on\" (001:2155), so it stays high."),
    _p("came_back_oversold_weight", 2.0, 1.0, 3.0, "referrals", "001:1296, 001:1941",
       "Weight of a family coming back when MST was oversold",
       reason=("Failures were recognised \"more readily than the successes\" (001:1941), and the \"no further "
               "services\" promise came back to haunt the service (001:1298). At least 1 by meaning.")),
    _p("jealousy", 0.01, 0.0, 0.03, "referrals", "001:1300 (pay and caseload envy)",
       "Monthly pull of attitude downward per unit of values misfit",
       reason=("Pay and caseload envy (001:1300). At 0.03 full misfit pulls attitude down 0.36 a year, before "
               "other terms.")),
    _p("referral_propensity", 0.9938, 0.5, 1.0, "referrals", "assumption; 001:5101",
       "Chance an aware, favourable referrer refers an eligible family",
       reason="A probability. Referrers have to be \"harangued\" (001:5101), but aware, favourable ones mostly refer."),
    _p("waiting_list_limit_months", 2.0, 1.0, 4.0, "referrals", "assumption (edge-of-care cannot wait)",
       "Months a family waits before another service is found",
       reason="Edge-of-care families cannot wait long; a usual-care route was ready (001:5112)."),
    # --- workforce (§3.2 Therapist, Supervisor) ---------------------------------------------
    _p("therapist_exit_rate", 0.15, 0.08, 0.35, "workforce", "assumption (research B.3 gives no MST figure)",
       "Therapist base turnover per year",
       reason=("No UK MST figure. English social workers leave at 0.135–0.17, and US child-welfare turnover "
               "(0.20–0.40) is the upper bound (anchors-peers.md:309–310).")),
    _p("supervisor_exit_rate", 0.165, 0.08, 0.3, "workforce", "assumption",
       "Supervisor base turnover per year",
       reason=("\"Supervisor turnover was experienced in all of the sites\" (001:1541) within about 2–5 years, "
               "which makes rates far below 0.1 unlikely. EC's supervisor stayed about four years (001:1586).")),
    _p("strain_exit_multiplier", 3.0, 0.0, 3.0, "workforce", "000:139, 001:1489",
       "Extra exit hazard per unit strain",
       reason=("The strain→exit link is inferred, not observed (therapist-level.md:308), so 0 must be allowed. "
               "At 3, full strain takes a therapist from 0.15 to 0.6 a year, already above the US upper bound of"
               " 0.40 (anchors-peers.md:309).")),
    _p("supervisor_strain_cap", 2.2358, 1.0, 3.0, "workforce", "001:1489, 001:1586 (stayed ~4 years)",
       "Cap on the supervisor's strain multiplier",
       reason=("The EC supervisor stayed about four years through \"my ninth Director\" (001:1489, 001:1586). "
               "The cap bounds strain's effect. 1 = no effect, matching 0 in the row above.")),
    _p("therapist_fill_months", 3.0, 1.0, 6.0, "workforce", "assumption",
       "Mean months to fill a therapist vacancy",
       reason="Assumption. Social-work vacancies run at about 20% (anchors-peers.md:304); no time-to-fill figure."),
    _p("supervisor_fill_months", 5.0, 2.0, 9.0, "workforce", "assumption; 001:1586",
       "Mean months to recruit and train a supervisor",
       reason=("Recruiting supervisors \"was often difficult\" and they then need training (001:1576). MC "
               "appointed one \"quickly\" (001:1999).")),
    _p("therapist_posts", 4, 3, 4, "workforce", "001:62", "Therapist posts per team", True,
       reason="\"three or four full time therapists\" (001:62; anchors-peers.md:259)."),
    _p("caseload_cap", 4, 4, 6, "workforce", "001:1300; research B.1", "Families per therapist", True,
       reason="4 or 5 cases (001:62); 4 to 6 families (anchors-peers.md:259)."),
    _p("episode_months", 4.0, 3.0, 5.0, "outcomes", "001:62; research B.1", "Mean treatment length (months)",
       reason="A \"3-5 month intervention period\" (001:62; anchors-peers.md:260)."),
    _p("strain_rate", 0.08, 0.02, 0.2, "workforce", "000:122, 000:139",
       "Monthly strain gain per unit of overload, cover or failure",
       shape="log",
       reason=("Cover and failures raise strain (000:139, 000:122). No size is given. Full overload saturates "
               "strain in 5–50 months.")),
    _p("strain_recovery", 0.1, 0.03, 0.25, "workforce", "000:122, 000:141",
       "Monthly strain recovery with supportive supervision",
       shape="log",
       reason="Supportive supervision relieves strain (000:141). No size is given; same span as `strain_rate`."),
    _p("adherence_rate", 0.15, 0.05, 0.3, "outcomes", "000:49, 003:122",
       "Monthly adjustment of adherence toward its supported level",
       reason="Monthly adjustment: weekly consultation and quarterly boosters act within months (002:18, 002:24)."),
    _p("booster_effect", 0.1, 0.0, 0.2, "outcomes", "002:18, 002:24 (quarterly boosters); 001:1818-1830",
       "Adherence support from quarterly boosters with a regional network",
       reason="Network boosters and peer support (001:1818). At most about one rubric step of adherence."),
    _p("pir_fail_adherence", 0.45, 0.35, 0.6, "outcomes", "002:26 (six-monthly PIR)",
       "Team mean adherence below which a programme implementation review fails",
       reason="A threshold for the six-monthly PIR (002:26). No published cut-off was found."),
    _p("supervisor_churn_strain", 0.1349, 0.0, 0.15, "workforce", "001:1489 ('my ninth Director')",
       "Supervisor strain added by each senior leader change",
       reason="\"My ninth Director\" (001:1489): at 0.15, nine changes would add 1.35, more than saturating strain."),
    _p("carrying_strain", 0.0266, 0.0, 0.08, "workforce", "001:1528, 001:1544, 001:1547",
       "Monthly supervisor strain from carrying a weak steering group alone",
       reason=("Carrying the group alone (001:1528, 001:1547). At 0.08 it saturates strain within a year without"
               " relief.")),
    _p("advocacy_memory_months", 8.9135, 2.0, 12.0, "workforce", "assumption; 001:1528, 001:2335",
       "Months over which the service's standing from system work follows its advocates",
       reason=("After the supervisor left, the system leadership \"was lost and the service never recovered, "
               "closing a year later\" (001:1586). The standing fades within months, within a year at most.")),
    _p("isolation_strain", 0.0653, 0.0, 0.08, "workforce", "001:1818-1830 (peer support); assumption",
       "Monthly supervisor strain from professional isolation (scaled by 1 - network)",
       reason=("An isolated team can \"crumble under pressure\" (001:1818). No evidence separates its size from "
               "carrying the group alone, so it gets the same prior as `carrying_strain`.")),
    _p("successor_system_leadership", 0.4271, 0.1, 0.6, "workforce", "001:1586, 001:1828",
       "System leadership of a replacement supervisor without succession planning",
       reason=("EC's replacement did the clinical work but lacked system leadership (001:1586, 001:1750). 0.3 is"
               " the rubric's \"low\"; 0.6 is still below the first supervisors' \"very high\" (0.9).")),
    _p("interim_clinical", 0.6, 0.4, 0.8, "workforce", "001:1578 (acting up)",
       "Clinical quality of an interim supervisor relative to the predecessor",
       reason="An acting-up interim (001:1578) is a share of the predecessor's skill, below 1."),
    _p("staffing_collapse_months", 6, 2, 6, "workforce", "ODD 7.15; assumption",
       "Months without supervisor cover or with <= 1 therapist before the team cannot deliver", True,
       reason="Assumption. A team cannot deliver for long without a supervisor or with one therapist."),
    # --- outcomes -------------------------------------------------------------------------------
    _p("base_success", 0.6, 0.4, 0.8, "outcomes", "assumption; 000:49, 001:517",
       "Chance of success at full adherence and engagement",
       reason=("Assumption. Adherence drives outcomes (000:49, 001:517). START found no placement difference at "
               "18 months (OR 1.25, 0.77–2.05; anchors-peers.md:290), so values near 1 are implausible.")),
    _p("dropout_rate", 0.12, 0.05, 0.25, "outcomes", "000:122", "Share of families that drop out",
       reason="Essex SIB: 335 of 388 young people completed, about 14% did not (anchors-peers.md:266)."),
    _p("came_back_share", 0.4, 0.2, 0.5, "outcomes", "001:1943, 001:1947; research B.1 (48% needed further support)",
       "Mean share of families that come back to social care after MST",
       reason=("48% needed further council support in Barnsley (anchors-peers.md:269). The outcome multipliers "
               "(0.5–1.6) spread the mean around this value.")),
    _p("placement_months_avoided", 9.0, 3.0, 18.0, "outcomes", "assumption; 001:115",
       "Placement months avoided by a success",
       reason=("Essex: care days 10.8% against 55% historically over two years (anchors-peers.md:266), about "
               "10.6 months per family treated, against a historical comparison (an upper estimate).")),
    _p("placement_cost_week", 1500.0, 579.0, 2594.0, "outcomes", "001:115 (fostering 579, residential 2,594)",
       "Weekly cost of the placement a success avoids (GBP)",
       reason="In-house fostering £579 to private residential £2,594 a week (001:115)."),
    # --- money and decisions (§5.1) -------------------------------------------------------------
    _p("team_cost", 400000.0, 300000.0, 550000.0, "money", "001:1718; research B.1",
       "Annual cost of one team (GBP)",
       reason=("\"£300 thousand pounds wasted\" (001:1718); £550k for a team and programme management in "
               "Rotherham (anchors-peers.md:264).")),
    _p("fixed_cost", 70000.0, 40000.0, 100000.0, "money",
       "assumption; anchors-peers.md:263 (US licence fees; UK fees not found)",
       "Fixed licence / consultation / QA block per team per year (GBP)",
       reason=("US licence $4,000 a year plus $2,500 per team, plus consultation and QA (anchors-peers.md:263). "
               "UK fees were not found.")),
    _p("austerity_rate", 0.05, 0.03, 0.07, "money", "research B.6 (40-48% over a decade)",
       "Real fall of discretionary budgets per year from April 2010",
       reason=("Early intervention fell 40–48% in a decade, about 4–6% a year (anchors-peers.md:351–358); "
               "local-government funding fell 22% in 2010–17 (001:107).")),
    _p("cut_elasticity", 1.0, 0.5, 2.0, "money", "assumption (ODD 7.13: a 20% cut must bite)",
       "Elasticity of pressure to cuts in the LA's discretionary budget",
       shape="log",
       reason=("1 = pressure proportional to the cut budget's inverse (a 20% cut raises pressure by 25%). 0.5–2 "
               "is half to twice proportional.")),
    _p("burden_elasticity", 0.7301, 0.25, 1.0, "money", "assumption (ODD 7.13: size must not decide alone)",
       "Elasticity of pressure to the cost share of the budget",
       reason=("Below 1 compresses differences in size: size \"must not dominate people\" (MODEL §5.1). Being a "
               "single team did make IC vulnerable (001:1919), so it stays above 0.")),
    _p("hostility_pressure", 0.8656, 0.25, 1.5, "money", "ODD 7.13 (pressure x (1 + hostility)); 001:1710",
       "How strongly the climate of threat amplifies cost pressure",
       reason=("The hostile environment is made of \"budget cuts, service reviews and organisational changes\" "
               "(001:1710), so it must amplify pressure. At 1.5, an inadequate authority (0.6) faces 1.9×. The "
               "first ODD form used 1.")),
    _p("unit_cost_penalty", 3.0, 0.0, 3.0, "money", "001:1929",
       "Pressure added per unit of under-utilisation or of excess cost per funded post",
       reason=("A cut leaves \"the relatively expensive infrastructure\" on fewer cases and makes a case "
               "\"appear much more expensive\" (001:1929, 001:5761). At 1, a 34% unit-cost excess weighs like a "
               "34% rise in cost; at 3, finance sees it three times as sharply.")),
    _p("w_evidence", 0.128, 0.0, 0.5, "outcomes", "001:2333", "Reserve weight of local evidence",
       reason=("Fed-back evidence \"may have been a means of generating long term support\" (001:2333). When "
               "shown, it did not outweigh the cost (\"enough information about the money saved ... £300 "
               "thousand pounds wasted\", 001:1718), so at most half a typical pressure.")),
    _p("w_embedded", 0.6982, 0.1, 0.8, "money", "001:1658, 001:2311", "Reserve weight of embeddedness",
       reason=("\"An established part of the landscape\" (001:1658), and critical mass \"secured the future\" "
               "(001:5800). But integration \"will not happen organically through maturation and the passage of "
               "time alone\" (001:649), so it stays below one typical pressure unit.")),
    _p("embed_months", 31.6268, 24.0, 120.0, "money", "001:1658", "Months to become part of the landscape",
       reason="MC was mainstreamed after the three-year grant (001:2120). EC was not embedded at five years."),
    _p("decision_scale", 0.4951, 0.05, 0.5, "money", "assumption",
       "Spread of the logistic budget decision in margin units",
       shape="log",
       reason=("At 0.05, 0.1 units of margin multiply the odds of closure about 7×, close to deterministic. At "
               "0.5, a full unit of pressure only multiplies them 7.4×, so decisions would hardly follow the "
               "margin the thesis explains them by (001:1746–1750). Chance matters: \"an opportunistic moment\" "
               "(001:1923), \"a matter of luck\" (001:1752).")),
    _p("close_margin", -0.1, -1.0, -0.1, "money", "assumption (ODD 7.13)",
       "Margin at which closure at a budget round is a coin flip",
       reason=("It must lie below the cut threshold (cut before close, MODEL §5.1). Below −1, even a typical "
               "service with no shield and no reserve would usually survive a round, against IC \"starved of "
               "support ... led to service collapse\" (001:2048).")),
    _p("expand_margin", 0.0, 0.0, 0.5, "money", "assumption; 001:5118",
       "Margin above which a round with unmet demand expands by a team",
       reason=("The test already carries the new team's full cost, so a margin of at least 0 means the LA can "
               "afford it. Up to half a unit of headroom expresses \"a large positive margin\" (MODEL §5.1).")),
    _p("review_strictness", 0.0046, 0.0, 0.5, "money", "001:1576-1578",
       "Extra margin a supervisor viability review demands",
       reason=("Extra strictness beyond the full-cost basis: the review comes \"with the urgency of a crisis\" "
               "(001:1576), and an acting-up interim signals weak commitment (001:1578).")),
    # --- buffers against pressure (§5.1, ODD 7.13) -------------------------------------------
    _p("leader_shield", 0.5, 0.5, 1.5, "leadership", "001:1746, 001:1748",
       "Shield of one informed leader of full support, per unit influence",
       reason=("\"Strong leadership could defend against the other two\" (thesis-frameworks.md:207; 001:1748), "
               "so one informed champion at the top (influence 1, support 0.8) must shield substantially: 0.4 at"
               " 0.5. At 1.5 even a supportive assistant director (0.6 × 0.4) gives 0.36, and a champion chief "
               "executive is capped at 1.")),
    _p("newcomer_shield", 0.1623, 0.0, 0.4, "leadership", "001:1933, 001:2349",
       "Share of an informed leader's shield that a well-disposed leader without knowledge gives",
       reason=("A well-disposed newcomer \"shields little\" (MODEL §3.2). A share above 0.5 would mean losing an"
               " informed supporter costs less than half the shield, against \"the agreement was not carried on "
               "to the next Director\" (001:1931) and \"all of those people had gone\" (001:1933).")),
    _p("exposure_floor", 0.02, 0.02, 0.3, "money", "assumption (no service is fully shielded)",
       "Share of pressure that reaches the service with every buffer full",
       reason=("\"No service is fully shielded\" (MODEL §5.1): finance challenged even Metro City (001:1995), "
               "whose stability was partly luck (001:1752). Above 0.3 a fully buffered service would still take "
               "a third of the pressure, and buffers would hardly matter, against leadership as \"the most "
               "important implementation driver\" (thesis-frameworks.md:217).")),
    _p("gamma_leadership", 1.4337, 0.5, 2.0, "leadership", "001:1748 (buffers stand in for one another)",
       "Exponent of the leadership gap in exposure",
       shape="log",
       reason=("The degree of substitution. γ = 1 is the plain product. At 2 a half-strength buffer removes 75% "
               "of the exposure; at 0.5, 29%. No evidence sets it.")),
    _p("gamma_partnership", 1.255, 0.5, 2.0, "partnership", "001:1748, 001:2347",
       "Exponent of the partnership gap in exposure",
       shape="log",
       reason=("Same prior as leadership: 001:1748 is symmetric (\"the defence to a weak partnership could be a "
               "strong leader and the counter to a weak or absent leader could be a strong partnership\").")),
    _p("gamma_system", 1.3367, 0.5, 2.0, "workforce", "001:1828, 001:2086",
       "Exponent of the system-leadership gap in exposure",
       shape="log",
       reason=("The same prior. The supervisor's system leadership mattered (001:1828, 001:2086), but \"too much"
               " on one person\" (001:1528) does not make it a stronger buffer than the others.")),
    _p("status_quo", 0.0396, 0.0, 0.3, "money", "assumption (stopping what runs has a cost)",
       "Reserve every running service has",
       reason=("Stopping a running service has costs (IC paid statutory redundancy from the remaining grant, "
               "001:1923). Above 0.3 an unshielded, unproven service would mostly survive a full-cost round, "
               "against IC closing \"pre-emptively\" (001:2048).")),
    _p("opposition_pressure", 0.3465, 0.1, 1.0, "leadership", "001:1524, 001:1557",
       "Pressure per unit of opponents' influence x opposition",
       reason=("Opponents add pressure (MODEL §5.1): IC's provider was \"successively blocked by the Director\" "
               "(001:1844), and a new EC director made it \"obvious\" the service was at risk (001:1586). At 1 a"
               " hostile chief executive (influence 1, −0.8) adds 0.8 units, nearly doubling typical pressure.")),
    _p("under_use_weight", 0.1653, 0.05, 0.5, "money", "001:1929; 001:1919 (bounded: performing well)",
       "Pressure of a fully idle team (the bound on under-use pressure)",
       reason=("Poor use gets a new service \"into trouble very quickly\" (001:194), so it is above 0. It is "
               "bounded so that size does not decide (MODEL §0, §5.1): an empty team adds at most half a typical"
               " cost pressure, less than a hostile chief executive. **FLAG** against today's 3.8.")),
    _p("savings_evidence", 0.2751, 0.0, 1.0, "outcomes", "001:113, 001:115",
       "Weight of placement savings against cost in the evidence leaders see when fed back",
       reason=("The weight of a pound of placement savings against a pound of cost. Above 1 leaders would value "
               "notional savings above budget, against \"enough information about the money saved ... £300 "
               "thousand pounds wasted\" (001:1718) and savings that \"failed to materialise\" as cash "
               "(001:1941).")),
    _p("trial_credibility_cost", 0.0189, 0.0, 0.02, "referrals", "001:5095",
       "Monthly fall in social-care leaders' stance and referrers' attitude while randomising",
       reason=("Randomisation was \"damaging to the credibility of the service in the eyes of Social Care\" at "
               "EC (001:5095), but \"not perceived as being controversial\" at MC (001:5116). At 0.02 over the "
               "31 months of randomisation (anchors-peers.md:289), views fall by 0.6, a full rubric step.")),
    _p("succession_review_relief", 0.5, 0.25, 1.0, "workforce", "MODEL 5.2 (a successor is ready)",
       "Share of the viability review's extra strictness a succession plan removes",
       reason=("Succession planning makes the crisis \"less threatening\" (001:2341): the review is \"eased, not"
               " skipped\" (MODEL §5.2).")),
    _p("programme_manager_exit_rate", 0.15, 0.08, 0.3, "workforce", "assumption (as a supervisor)",
       "Programme manager turnover per year",
       reason=("No evidence specific to the post. MC's programme manager was an elevated supervisor (001:1999), "
               "so it gets the supervisor's base-rate prior.")),
    _p("programme_manager_fill_months", 5.0, 2.0, 9.0, "workforce", "assumption",
       "Mean months to fill a programme manager vacancy",
       reason=("A senior specialist post: recruiting to such posts \"was often difficult\" (001:1576). Same "
               "prior as the supervisor's.")),
    # --- site descriptors' effects (constants acting on one site; MODEL 10) --------------------
    _p("host_embedding_voluntary", 0.6, 0.3, 1.0, "money", "001:1270-1278 (a hosted service sits outside)",
       "Embeddedness of a voluntary-sector-hosted service relative to a council-run one",
       reason=("IC's voluntary host \"remained outsiders ... disconnected to their Authority\" (001:2307), a "
               "\"plug in\" (001:5746), with a strategic gap \"never closed\" (001:1923). At most as embedded as"
               " an LA host (1.0). Acts on one site only (MODEL §10).")),
    _p("host_embedding_nhs", 0.8, 0.5, 1.0, "money", "assumption",
       "Embeddedness of an NHS-trust-hosted service relative to a council-run one",
       reason=("An NHS host sits outside the LA's own budget line (EC's seconded NHS staff were \"quickly\" "
               "redeployed, 001:1961; CNWL closed when its CCGs withdrew, anchors-peers.md:270). At most 1.0.")),
    _p("ofsted_hostility_outstanding", 0.1, 0.0, 0.2, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated outstanding",
       reason=("Good or outstanding authorities tend to have \"stable leadership, confident risk management\" "
               "(001:101). Ordered below good.")),
    _p("ofsted_hostility_good", 0.2, 0.1, 0.3, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated good",
       reason=("As above. Note: `hostility_exit_multiplier` and these levels jointly must not exceed the "
               "national DCS gradient (anchors-peers.md:317).")),
    _p("ofsted_hostility_adequate", 0.35, 0.25, 0.45, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated adequate / requires improvement",
       reason=("Between good and inadequate (001:101). It is also the national-average climate behind"
               " the national exit rates (the hostility factor on leader exits is 1 here).")),
    _p("ofsted_hostility_inadequate", 0.6, 0.45, 0.8, "partnership", "001:1710; research B.5",
       "Base hostility of an authority rated inadequate",
       reason=("\"A negative downward spiral of staff vacancies ... instability and risk aversion\" (001:101); "
               "every inadequate LA was also inadequate on leadership (anchors-peers.md:332). Below 1: the "
               "climate can still improve (001:1710).")),
    _p("prior_mst_adherence", 0.6, 0.45, 0.75, "outcomes", "001:1599",
       "Therapists' starting adherence with an MST-experienced supervisor",
       reason=("\"A leader who hit the ground running because the leader was steeped in MST\" (001:1599; \"Load "
               "the dice for success\", thesis-frameworks.md:361). At least the 0.45 without such a supervisor; "
               "above 0.75 would start a new team at a mature team's adherence.")),
    _p("start_adherence", 0.45, 0.35, 0.6, "outcomes", "assumption; 000:49",
       "Therapists' starting adherence with a supervisor new to MST",
       reason=("A new team's starting fidelity without an MST-experienced supervisor: below the experienced "
               "start (prior_mst_adherence) and around the PIR line (002:26), since new teams are trained but "
               "not yet consulted into the model (000:49).")),
    _p("prior_mst_awareness", 0.2, 0.0, 0.3, "referrals", "001:1599 (early referrer trust)",
       "Extra starting awareness of referrers when the supervisor is MST-experienced",
       reason=("The same evidence of early referrer trust (001:1599). At 0.3 launch awareness is 0.8. Larger "
               "values would have referrers knowing the criteria better than after years of promotion.")),
    # --- national events and levers ------------------------------------------------------------
    _p("regional_support_loss", 0.5, 0.0, 0.8, "workforce", "ODD 6 (regional structures end 2011)",
       "Share of regional network support lost when regional structures end (April 2011)",
       reason=("A share of support lost when regional structures end (001:1816). A network such as the UK MST "
               "network persisted (001:2357), so the loss is below 1.")),
    _p("competing_programme_diversion", 0.15, 0.0, 0.3, "referrals", "ODD 6 (Troubled Families 2012)",
       "Share of eligible families diverted by a competing programme",
       reason="Troubled Families competed for referrals (001:1985, 001:1987). No size is given."),
    _p("trial_null_shock", 0.2, 0.0, 0.4, "outcomes", "research B.2 (null START result, Jan 2018)",
       "Fall in leaders' view of the evidence after the national trial's null result",
       reason=("The null START result (OR 1.25, anchors-peers.md:290) was read \"as confirmatory evidence of "
               "ineffectiveness by many\" (001:79). At 0.4, up to a rubric step.")),
    _p("lever_learning_boost", 0.2, 0.1, 0.3, "referrals", "assumption; 001:1462, 001:2345",
       "Learning-climate rise from investment (learning_climate lever)",
       reason="Lever. About one rubric step (001:2345)."),
    _p("lever_network_boost", 0.3, 0.1, 0.5, "workforce", "assumption; 001:1818-1830",
       "Regional-network rise from joint boosters and peer support (regional_network lever)",
       reason="Lever. Joint boosters and peers (001:1818, 001:2357)."),
    _p("promotion_lever_multiplier", 2.0, 1.5, 3.0, "referrals", "assumption; 001:1475",
       "Multiplier on promotion visits under the referral_promotion lever",
       reason="Lever. Extra visits to referrer teams (001:2355)."),
    _p("programme_manager_system", 0.7, 0.5, 0.9, "workforce", "001:1999, 001:2311",
       "System leadership supplied by a programme manager",
       reason=("The MC programme manager was an elevated, experienced supervisor (001:1999, 001:5800): \"high\" "
               "to \"very high\".")),
    _p("programme_manager_cost", 60000.0, 40000.0, 80000.0, "money", "assumption",
       "Annual cost of a programme manager (GBP)",
       reason="Rotherham's £550k covers a team and programme management (anchors-peers.md:264). A senior post."),
    _p("induction_knowledge", 0.5, 0.2, 0.8, "partnership", "001:1933, 001:1989",
       "Knowledge a newcomer receives from steering-group induction",
       reason=("New members \"were never inducted\" at EC (001:1629). Induction passes on part of the memory, "
               "not all of it.")),
)

PARAMETER_INDEX: dict[str, Parameter] = {p.name: p for p in PARAMETERS}

MechanismParams = make_dataclass(
    "MechanismParams",
    [(p.name, int if p.integer else float) for p in PARAMETERS],
    frozen=True,
    slots=True,
)
MechanismParams.__doc__ = "Frozen values of every mechanism parameter for one run."


def mechanism_params(overrides: dict[str, Any] | None = None) -> Any:
    """Build the parameter set for a run.

    Args:
        overrides: Parameter values to replace the defaults (already validated).

    Returns:
        A frozen ``MechanismParams`` instance.
    """
    values = {p.name: p.default for p in PARAMETERS}
    if overrides:
        values.update(overrides)
    return MechanismParams(**{
        p.name: int(round(values[p.name])) if p.integer else float(values[p.name])
        for p in PARAMETERS
    })


@lru_cache(maxsize=256)
def scenario_params(parameters: tuple[tuple[str, Any], ...]) -> Any:
    """:func:`mechanism_params` of a scenario's ``parameters`` (name-value pairs), memoised.

    The result is frozen, so runs of one scenario share it; building it costs more than a
    short run's month (every run of an ensemble would otherwise rebuild it).
    """
    return mechanism_params(dict(parameters))


def as_dict(params: Any) -> dict[str, float]:
    """Return a parameter set as a plain dictionary."""
    return {f.name: getattr(params, f.name) for f in fields(params)}
