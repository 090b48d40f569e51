"""Mechanism parameters: the one place where every coefficient of the model lives.

Every parameter has a default, a plausible range (used by sensitivity analysis) and a source,
either a seed line (``001:1746`` = line 1746 of the three-site study), a research digest
(``research B.4``) or the word *assumption*. Site scenario files never set these; experiments may
override them through a scenario's ``[parameters]`` table, within the range.

``docs/ODD.md`` documents each parameter; ``tests/test_odd.py`` checks that it names them all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, make_dataclass
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
    """

    name: str
    default: float
    low: float
    high: float
    group: str
    source: str
    label: str
    integer: bool = False


def _p(name, default, low, high, group, source, label, integer=False) -> Parameter:
    return Parameter(name, default, low, high, group, source, label, integer)


PARAMETERS: tuple[Parameter, ...] = (
    # --- leadership churn (§3.2 Leader, §5.2) -------------------------------------------------
    _p("dcs_exit_rate", 0.33, 0.20, 0.45, "leadership", "research B.4 (ADCS tenure 33-37 months)",
       "Director of children's services exit hazard per year"),
    _p("chief_executive_exit_rate", 0.12, 0.06, 0.20, "leadership", "assumption (lower than DCS, ODD 7.1)",
       "Chief executive exit hazard per year"),
    _p("assistant_director_exit_rate", 0.20, 0.10, 0.35, "leadership", "assumption; research B.4",
       "Assistant director / head of service exit hazard per year"),
    _p("partner_director_exit_rate", 0.15, 0.08, 0.30, "leadership", "assumption",
       "Partner agency director exit hazard per year"),
    _p("inadequate_exit_multiplier", 1.3, 1.0, 2.0, "leadership", "research B.4-B.5 (2.9 vs 2.3 DCS posts)",
       "Multiplier on children's-services leader exits after an inadequate inspection"),
    _p("hostility_exit_multiplier", 1.9, 0.0, 2.0, "leadership", "assumption; 001:1710",
       "Extra exit hazard per unit hostility (children's-services leaders)"),
    _p("interim_share", 0.45, 0.30, 0.60, "leadership",
       "anchors-peers.md:318-319 (27 of 65 DCS appointments interim in 2017/18, 28 of 62 in 2023/24)",
       "Share of leader vacancies first filled by an interim"),
    _p("interim_months", 8.0, 4.0, 12.0, "leadership", "research B.4 (interim tenure ~8 months)",
       "Mean length of an interim leader's spell (months)"),
    _p("interim_influence", 0.5, 0.3, 0.8, "leadership", "assumption; 001:1578",
       "Influence of an interim relative to the permanent post"),
    _p("newcomer_support_sd", 0.35, 0.15, 0.5, "leadership", "assumption",
       "Spread of a newcomer leader's initial support"),
    _p("culture_attraction", 0.882, 0.0, 1.5, "leadership", "001:1677-1679, 001:1999 (self-replicating culture)",
       "How strongly the LA's collaborative / evidence culture shapes newcomers' support"),
    _p("hostile_newcomer_shift", 0.313, 0.0, 1.0, "leadership", "001:1524, 001:1557 (clique, quick cuts)",
       "Negative shift of newcomer support per unit hostility"),
    _p("knowledge_gain_rate", 0.10, 0.03, 0.25, "leadership", "assumption; 001:1933",
       "Monthly knowledge gain of a fully briefed leader"),
    _p("stance_evidence_rate", 0.01, 0.0, 0.03, "leadership", "assumption; 001:2155 (views fixed early)",
       "Monthly move of a leader's own stance per unit of visible local evidence x knowledge"),
    _p("coalition_pull", 0.1, 0.0, 0.3, "leadership", "assumption; 001:2155",
       "Share of the gap to the coalition's view in a leader's current support"),
    _p("resentment_recovery_months", 12.0, 6.0, 18.0, "leadership", "001:1850; MODEL 5.1 (about a year)",
       "Months over which a leader's current support returns to their own stance"),
    _p("patron_boost", 2.0, 1.0, 3.0, "leadership", "001:1605, 001:1848-1850 (protective wing)",
       "Multiplier of a patron's shield over an ordinary leader's"),
    _p("patron_review_relief", 0.5, 0.0, 1.0, "leadership", "001:1605, 001:1850",
       "Share of the viability review's extra strictness a patron removes"),
    _p("patron_strain_relief", 0.01, 0.0, 0.03, "leadership", "001:1605, 001:1850",
       "Monthly strain relief of the supervisor while a patron is in post"),
    _p("patron_loss_resentment", 0.25, 0.0, 0.5, "leadership", "001:1850 (suppressed resentment)",
       "Drop in other leaders' support when patronage ends unplanned"),
    _p("champion_cultivation_rate", 0.06, 0.02, 0.15, "leadership", "assumption; 001:2335, 001:2341",
       "Monthly chance a supportive, informed leader becomes a patron under champion cultivation"),
    _p("cut_proposal_rate", 0.04, 0.0, 0.10, "money", "001:1557 (new director proposes quick cuts)",
       "Monthly chance that a short-termist, unsupportive senior leader proposes cutting MST"),
    # --- partnership and steering group (§3.2 Partner, §3.3) ---------------------------------
    _p("partner_turnover_rate", 0.285, 0.10, 0.35, "partnership", "assumption; 001:1542, 001:2349",
       "Partner representative turnover per year (x site turnover history)"),
    _p("replacement_seniority", 0.66, 0.5, 1.0, "partnership", "001:1542 (replacements less senior)",
       "Seniority of a replacement representative relative to the predecessor"),
    _p("chair_uptake_rate", 0.1, 0.0, 0.5, "partnership",
       "assumption; 001:1547 (in Expanded City the chair drifted down to the supervisor)",
       "Chance per meeting that an informed, supportive leader takes up a vacant or "
       "supervisor-held chair"),
    _p("uninformed_attendance", 0.703, 0.4, 1.0, "partnership", "001:1542, 001:2349",
       "Relative attendance of a representative who does not know the original commitment"),
    _p("grant_pull", 0.154, 0.0, 1.0, "partnership", "001:1734 (grant money draws reluctant partners)",
       "Extra attendance pull of the grant on partners, at full grant"),
    _p("commitment_learning_rate", 0.03, 0.0, 0.08, "partnership", "assumption; 001:1997",
       "Monthly rise of partner commitment with joint work and reported success"),
    _p("partner_austerity_erosion", 0.04, 0.0, 0.10, "partnership", "001:1997; research B.6",
       "Monthly fall of partner commitment per unit own-budget pressure"),
    _p("climate_adjust_rate", 0.0639, 0.01, 0.10, "partnership", "assumption; 001:1677, 001:1710",
       "Monthly adjustment of collaboration climate and hostility toward their targets"),
    _p("churn_climate_erosion", 0.0864, 0.0, 0.1, "partnership", "001:1710; 001:1524",
       "Fall in the collaboration climate's target per senior leader change in the last year"),
    _p("co_funder_withdrawal_rate", 0.10, 0.02, 0.30, "money", "research B.1 (Barnsley/Rotherham, CNWL)",
       "Yearly hazard that an uncommitted co-funding partner withdraws its share"),
    # --- referral pipeline (§3.2 Referrer) -----------------------------------------------------
    _p("referrer_turnover_rate", 0.15, 0.13, 0.20, "referrals", "research B.3 (DfE census 13.5-17%)",
       "Referrer (social worker) turnover per year"),
    _p("referrers_per_100_lac", 2.5, 1.5, 4.0, "referrals", "assumption",
       "Active referrers per 100 looked-after children"),
    _p("eligible_per_lac", 0.15, 0.05, 0.20, "referrals", "assumption (room for ~3 teams at Metro City)",
       "Eligible families per year per looked-after child"),
    _p("promotion_awareness_gain", 0.12, 0.03, 0.30, "referrals", "001:1475 (refreshing the pipeline)",
       "Monthly awareness gain of a referrer from full promotion effort"),
    _p("awareness_decay", 0.02, 0.0, 0.05, "referrals", "assumption",
       "Monthly decay of referrer awareness without contact"),
    _p("attitude_stickiness", 0.9, 0.7, 0.98, "referrals", "001:2155 (sticky attitudes)",
       "Share of a referrer's attitude kept each time it is updated"),
    _p("came_back_oversold_weight", 2.0, 1.0, 3.0, "referrals", "001:1296, 001:1941",
       "Weight of a family coming back when MST was oversold"),
    _p("jealousy", 0.01, 0.0, 0.03, "referrals", "001:1300 (pay and caseload envy)",
       "Monthly pull of attitude downward per unit of values misfit"),
    _p("referral_propensity", 0.9, 0.5, 1.0, "referrals", "assumption; 001:5101",
       "Chance an aware, favourable referrer refers an eligible family"),
    _p("waiting_list_limit_months", 2.0, 1.0, 4.0, "referrals", "assumption (edge-of-care cannot wait)",
       "Months a family waits before another service is found"),
    # --- workforce (§3.2 Therapist, Supervisor) ---------------------------------------------
    _p("therapist_exit_rate", 0.15, 0.08, 0.35, "workforce", "assumption (research B.3 gives no MST figure)",
       "Therapist base turnover per year"),
    _p("supervisor_exit_rate", 0.142, 0.08, 0.30, "workforce", "assumption",
       "Supervisor base turnover per year"),
    _p("strain_exit_multiplier", 1.48, 0.5, 4.0, "workforce", "000:139, 001:1489",
       "Extra exit hazard per unit strain"),
    _p("supervisor_strain_cap", 1.92, 1.5, 3.0, "workforce", "001:1489, 001:1586 (stayed ~4 years)",
       "Cap on the supervisor's strain multiplier"),
    _p("therapist_fill_months", 3.0, 1.0, 6.0, "workforce", "assumption",
       "Mean months to fill a therapist vacancy"),
    _p("supervisor_fill_months", 5.0, 2.0, 9.0, "workforce", "assumption; 001:1586",
       "Mean months to recruit and train a supervisor"),
    _p("therapist_posts", 4, 3, 4, "workforce", "001:62", "Therapist posts per team", True),
    _p("caseload_cap", 4, 4, 6, "workforce", "001:1300; research B.1", "Families per therapist", True),
    _p("episode_months", 4.0, 3.0, 5.0, "outcomes", "001:62; research B.1", "Mean treatment length (months)"),
    _p("strain_rate", 0.08, 0.02, 0.20, "workforce", "000:122, 000:139",
       "Monthly strain gain per unit of overload, cover or failure"),
    _p("strain_recovery", 0.10, 0.03, 0.25, "workforce", "000:122, 000:141",
       "Monthly strain recovery with supportive supervision"),
    _p("adherence_rate", 0.15, 0.05, 0.30, "outcomes", "000:49, 003:122",
       "Monthly adjustment of adherence toward its supported level"),
    _p("booster_effect", 0.1, 0.0, 0.2, "outcomes", "002:18, 002:24 (quarterly boosters); 001:1818-1830",
       "Adherence support from quarterly boosters with a regional network"),
    _p("pir_fail_adherence", 0.45, 0.35, 0.6, "outcomes", "002:26 (six-monthly PIR)",
       "Team mean adherence below which a programme implementation review fails"),
    _p("supervisor_churn_strain", 0.0641, 0.0, 0.15, "workforce", "001:1489 ('my ninth Director')",
       "Supervisor strain added by each senior leader change"),
    _p("carrying_strain", 0.0297, 0.0, 0.08, "workforce", "001:1528, 001:1544, 001:1547",
       "Monthly supervisor strain from carrying a weak steering group alone"),
    _p("advocacy_memory_months", 5.17, 2.0, 12.0, "workforce", "assumption; 001:1528, 001:2335",
       "Months over which the service's standing from system work follows its advocates"),
    _p("isolation_strain", 0.0418, 0.0, 0.05, "workforce", "001:1818-1830 (peer support); assumption",
       "Monthly supervisor strain from professional isolation (scaled by 1 - network)"),
    _p("successor_system_leadership", 0.3, 0.1, 0.6, "workforce", "001:1586, 001:1828",
       "System leadership of a replacement supervisor without succession planning"),
    _p("interim_clinical", 0.6, 0.4, 0.8, "workforce", "001:1578 (acting up)",
       "Clinical quality of an interim supervisor relative to the predecessor"),
    _p("staffing_collapse_months", 4, 2, 6, "workforce", "ODD 7.15; assumption",
       "Months without supervisor cover or with <= 1 therapist before the team cannot deliver", True),
    # --- outcomes -------------------------------------------------------------------------------
    _p("base_success", 0.6, 0.4, 0.8, "outcomes", "assumption; 000:49, 001:517",
       "Chance of success at full adherence and engagement"),
    _p("dropout_rate", 0.12, 0.05, 0.25, "outcomes", "000:122", "Share of families that drop out"),
    _p("came_back_share", 0.4, 0.2, 0.5, "outcomes", "001:1943, 001:1947; research B.1 (48% needed further support)",
       "Mean share of families that come back to social care after MST"),
    _p("placement_months_avoided", 9.0, 3.0, 18.0, "outcomes", "assumption; 001:115",
       "Placement months avoided by a success"),
    _p("placement_cost_week", 1500.0, 579.0, 2594.0, "outcomes", "001:115 (fostering 579, residential 2,594)",
       "Weekly cost of the placement a success avoids (GBP)"),
    # --- money and decisions (§5.1) -------------------------------------------------------------
    _p("team_cost", 400_000.0, 300_000.0, 550_000.0, "money", "001:1718; research B.1",
       "Annual cost of one team (GBP)"),
    _p("fixed_cost", 70_000.0, 40_000.0, 100_000.0, "money",
       "assumption; anchors-peers.md:263 (US licence fees; UK fees not found)",
       "Fixed licence / consultation / QA block per team per year (GBP)"),
    _p("austerity_rate", 0.05, 0.03, 0.07, "money", "research B.6 (40-48% over a decade)",
       "Real fall of discretionary budgets per year from April 2010"),
    _p("cut_elasticity", 1.0, 0.5, 2.0, "money", "assumption (ODD 7.13: a 20% cut must bite)",
       "Elasticity of pressure to cuts in the LA's discretionary budget"),
    _p("burden_elasticity", 0.376, 0.25, 1.0, "money", "assumption (ODD 7.13: size must not decide alone)",
       "Elasticity of pressure to the cost share of the budget"),
    _p("hostility_pressure", 0.4, 0.25, 1.5, "money", "ODD 7.13 (pressure x (1 + hostility)); 001:1710",
       "How strongly the climate of threat amplifies cost pressure"),
    _p("unit_cost_penalty", 0.623, 0.0, 1.0, "money", "001:1929",
       "Pressure added per unit of under-utilisation or of excess cost per funded post"),
    _p("w_evidence", 0.134, 0.0, 0.4, "outcomes", "001:2333", "Defence weight of local evidence"),
    _p("w_embedded", 0.289, 0.0, 0.4, "money", "001:1658, 001:2311", "Defence weight of embeddedness"),
    _p("embed_months", 39.7, 24.0, 120.0, "money", "001:1658", "Months to become part of the landscape"),
    _p("decision_scale", 0.158, 0.03, 0.2, "money", "assumption",
       "Spread of the logistic budget decision in margin units"),
    _p("close_margin", -0.431, -0.7, -0.2, "money", "assumption (ODD 7.13)",
       "Margin at which closure at a budget round is a coin flip"),
    _p("expand_margin", 0.0224, 0.0, 0.3, "money", "assumption; 001:5118",
       "Margin above which a round with unmet demand expands by a team"),
    _p("review_strictness", 0.0247, 0.0, 0.3, "money", "001:1576-1578",
       "Extra margin a supervisor viability review demands"),
    # --- buffers against pressure (§5.1, ODD 7.13) -------------------------------------------
    _p("leader_shield", 0.8, 0.3, 1.0, "leadership", "001:1746, 001:1748",
       "Shield of one informed leader of full support, per unit influence"),
    _p("newcomer_shield", 0.2, 0.0, 0.4, "leadership", "001:1933, 001:2349",
       "Share of an informed leader's shield that a well-disposed leader without knowledge gives"),
    _p("exposure_floor", 0.1, 0.02, 0.3, "money", "assumption (no service is fully shielded)",
       "Share of pressure that reaches the service with every buffer full"),
    _p("gamma_leadership", 1.0, 0.5, 2.0, "leadership", "001:1748 (buffers stand in for one another)",
       "Exponent of the leadership gap in exposure"),
    _p("gamma_partnership", 1.0, 0.5, 2.0, "partnership", "001:1748, 001:2347",
       "Exponent of the partnership gap in exposure"),
    _p("gamma_system", 1.0, 0.5, 2.0, "workforce", "001:1828, 001:2086",
       "Exponent of the system-leadership gap in exposure"),
    _p("status_quo", 0.15, 0.0, 0.3, "money", "assumption (stopping what runs has a cost)",
       "Reserve every running service has"),
    _p("opposition_pressure", 0.2, 0.0, 0.5, "leadership", "001:1524, 001:1557",
       "Pressure per unit of opponents' influence x opposition"),
    _p("under_use_weight", 0.1, 0.0, 0.2, "money", "001:1929; 001:1919 (bounded: performing well)",
       "Pressure of a fully idle team (the bound on under-use pressure)"),
    _p("savings_evidence", 0.3, 0.0, 0.6, "outcomes", "001:113, 001:115",
       "Weight of placement savings against cost in the evidence leaders see when fed back"),
    _p("trial_credibility_cost", 0.005, 0.0, 0.02, "referrals", "001:5095",
       "Monthly fall in social-care leaders' stance and referrers' attitude while randomising"),
    _p("succession_review_relief", 0.5, 0.0, 1.0, "workforce", "MODEL 5.2 (a successor is ready)",
       "Share of the viability review's extra strictness a succession plan removes"),
    _p("programme_manager_exit_rate", 0.15, 0.08, 0.30, "workforce", "assumption (as a supervisor)",
       "Programme manager turnover per year"),
    _p("programme_manager_fill_months", 4.0, 2.0, 9.0, "workforce", "assumption",
       "Mean months to fill a programme manager vacancy"),
    # --- site descriptors' effects (constants acting on one site; MODEL 10) --------------------
    _p("host_embedding_voluntary", 0.6, 0.4, 0.9, "money", "001:1270-1278 (a hosted service sits outside)",
       "Embeddedness of a voluntary-sector-hosted service relative to a council-run one"),
    _p("host_embedding_nhs", 0.8, 0.6, 1.0, "money", "assumption",
       "Embeddedness of an NHS-trust-hosted service relative to a council-run one"),
    _p("ofsted_hostility_outstanding", 0.1, 0.0, 0.3, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated outstanding"),
    _p("ofsted_hostility_good", 0.2, 0.05, 0.4, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated good"),
    _p("ofsted_hostility_adequate", 0.35, 0.15, 0.55, "partnership", "assumption; 001:1710",
       "Base hostility of an authority rated adequate / requires improvement"),
    _p("ofsted_hostility_inadequate", 0.6, 0.4, 0.9, "partnership", "001:1710; research B.5",
       "Base hostility of an authority rated inadequate"),
    _p("prior_mst_adherence", 0.6, 0.45, 0.75, "outcomes", "001:1599",
       "Therapists' starting adherence with an MST-experienced supervisor"),
    _p("start_adherence", 0.45, 0.3, 0.6, "outcomes", "assumption; 000:49",
       "Therapists' starting adherence with a supervisor new to MST"),
    _p("prior_mst_awareness", 0.2, 0.0, 0.4, "referrals", "001:1599 (early referrer trust)",
       "Extra starting awareness of referrers when the supervisor is MST-experienced"),
    # --- national events and levers ------------------------------------------------------------
    _p("regional_support_loss", 0.5, 0.0, 0.8, "workforce", "ODD 6 (regional structures end 2011)",
       "Share of regional network support lost when regional structures end (April 2011)"),
    _p("competing_programme_diversion", 0.15, 0.0, 0.3, "referrals", "ODD 6 (Troubled Families 2012)",
       "Share of eligible families diverted by a competing programme"),
    _p("trial_null_shock", 0.2, 0.0, 0.4, "outcomes", "research B.2 (null START result, Jan 2018)",
       "Fall in leaders' view of the evidence after the national trial's null result"),
    _p("lever_learning_boost", 0.2, 0.1, 0.3, "referrals", "assumption; 001:1462, 001:2345",
       "Learning-climate rise from investment (learning_climate lever)"),
    _p("lever_network_boost", 0.3, 0.1, 0.5, "workforce", "assumption; 001:1818-1830",
       "Regional-network rise from joint boosters and peer support (regional_network lever)"),
    _p("promotion_lever_multiplier", 2.0, 1.5, 3.0, "referrals", "assumption; 001:1475",
       "Multiplier on promotion visits under the referral_promotion lever"),
    _p("programme_manager_system", 0.7, 0.5, 0.9, "workforce", "001:1999, 001:2311",
       "System leadership supplied by a programme manager"),
    _p("programme_manager_cost", 60_000.0, 40_000.0, 80_000.0, "money", "assumption",
       "Annual cost of a programme manager (GBP)"),
    _p("induction_knowledge", 0.5, 0.2, 0.8, "partnership", "001:1933, 001:1989",
       "Knowledge a newcomer receives from steering-group induction"),
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


def as_dict(params: Any) -> dict[str, float]:
    """Return a parameter set as a plain dictionary."""
    return {f.name: getattr(params, f.name) for f in fields(params)}
