"""Meaning of every scenario parameter (used by the docs table and a test)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

#: Tables documented as one value (their keys are settings, reasons or centres).
WHOLE = (
    "policy.center_start", "policy.prefecture_start", "temporary_protection.exit_reasons", "care.exit_setting_factor.",
    "care.moves.rate", "care.moves.first_year_factor", "care.moves.destination.",
    "contacts.exchange_type", "contacts.caregiver_present",
)


def flatten(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every documented parameter, in file order."""
    for k, v in d.items():
        key = f"{prefix}{k}"
        whole = any(key == w or (w.endswith(".") and key.startswith(w)) for w in WHOLE)
        if isinstance(v, Mapping) and not whole:
            yield from flatten(v, key + ".")
        else:
            yield key, v


PARAM_DOCS: dict[str, str] = {
    "name": "scenario name (written to meta.json `source`)",
    "description": "one-line description (Japanese / English)",
    "prefecture": "prefecture written to meta.json",
    "calendar.history_start": "first day of the history window: children with a placement overlapping "
                              "[history_start, as_of] are written, with all their earlier rows",
    "calendar.as_of": "data cut-off: histories are simulated past it and cut there",
    "calendar.burn_in_years": "years of arrivals simulated before history_start so the stock at "
                              "history_start is in equilibrium (≥ 18 recommended)",
    "calendar.events_start": "first day of the event tables (contacts, reviews, plans, surveys): "
                             "records before it are not kept",
    "centers.codes": "child guidance centre codes",
    "centers.weights": "share of arrivals per centre (normalised)",
    "centers.permanency_factor": "per-centre multiplier of every permanent-exit hazard (centres differ; "
                                 "constant over time)",
    "centers.contact_factor": "per-centre multiplier of every contact rate",
    "centers.names_ja": "Japanese name of each centre, written to the centers table (empty: the "
                        "default names of the Nagano codes; needed for other codes)",
    "centers.names_en": "English name of each centre (empty: the defaults, else the code)",
    "centers.prefectures": "prefecture of each centre (empty: the scenario's `prefecture`)",
    "policy.start_date": "policy (permanency planning) start date of every centre …",
    "policy.center_start": "… unless given here per centre (`{chuo = \"2025-04-01\"}`): staggered roll-out",
    "policy.prefecture_start": "… or here per prefecture of `centers.prefectures` (`{\"長野県\" = "
                               "\"2025-04-01\"}`); a date after as_of = not adopted within the data",
    "policy.effects.permanency_hr": "hazard ratio multiplying every permanent-exit hazard "
                                    "(reunification, kinship, guardianship, adoptions) from the policy date",
    "policy.effects.interviews_rr": "rate ratio of child_interview and family_interview",
    "policy.effects.family_exchanges_rr": "rate ratio of family_exchange",
    "policy.effects.family_calls_rr": "rate ratio of family_call",
    "policy.effects.review_compliance_rr": "multiplies the probability that a review is on time (capped 0.99)",
    "policy.effects.foster_share_rr": "multiplies the family-based share of care entrants (capped)",
    "policy.effects.plan_coverage_rr": "multiplies the share of care episodes with a permanency plan "
                                       "(capped at plans.max_coverage)",
    "policy.effects.support_meetings_rr": "rate ratio of support meetings and of the early-meeting share",
    "policy.effects.kin_search_rr": "multiplies the share of care episodes with a kin search",
    "policy.effects.lsw_rr": "rate ratio of life-story-work sessions",
    "policy.effects.self_esteem_rr": "multiplies the mean self-esteem score",
    "policy.effects.permanency_sense_rr": "multiplies the probability of permanency_sense = 1",
    "arrivals.children_per_year": "new children starting a first episode per year (all centres); "
                                  "`--children-scale` multiplies it",
    "arrivals.secular_trend": "annual log change of the arrival rate (0 = none; hazards never depend "
                              "on calendar time)",
    "arrivals.male_share": "share of boys (0.2% sex unknown)",
    "age.infant_share": "share of first episodes starting before age 1",
    "age.young_share": "share from the young component (gamma, mode ≈ 2 years)",
    "age.young_shape": "gamma shape of the young component",
    "age.young_scale": "gamma scale (years) of the young component",
    "age.older_mean": "mean age (years) of the older (normal) component",
    "age.older_sd": "sd (years) of the older component",
    "age.max_age": "ages are clipped to [0, max_age] years",
    "temporary_protection.direct_to_care_share": "share of episodes going straight into care without "
                                                 "temporary protection",
    "temporary_protection.entrusted_share": "share of protection that is entrusted (tp_entrusted)",
    "temporary_protection.median_days": "median length of temporary protection (lognormal)",
    "temporary_protection.sigma": "log-sd of the length of temporary protection",
    "temporary_protection.max_days": "maximum length of temporary protection (days)",
    "temporary_protection.care_probability": "probability that protection ends in care, by age band "
                                             "at its end",
    "temporary_protection.in_home_guidance_share": "of protections not ending in care, the share "
                                                   "followed by in-home guidance (then reunification)",
    "temporary_protection.in_home_guidance_median_days": "median length of in-home guidance",
    "temporary_protection.exit_reasons": "discharge reasons of protections not ending in care "
                                         "(probabilities)",
    "care.age_bands": "age band edges (years) used by all arrays 'by age band'",
    "care.duration_bands": "edges (years since care start) of the piecewise-constant hazards",
    "care.first_setting.family_based_share": "share of care entrants placed in family-based care, by "
                                             "age band (× foster_share_rr after the policy date)",
    "care.first_setting.max_family_based_share": "cap of the family-based share",
    "care.first_setting.residential.*": "relative weight of this residential setting for entrants "
                                        "not placed in family-based care, by age band",
    "care.first_setting.family.*": "relative weight of this family-based setting, by age band",
    "care.exit_base.*": "baseline hazard (per year) of this discharge reason by duration band "
                        "(time since care start): front-loaded with a long tail",
    "care.exit_age_factor.*": "multiplier of the cause's hazard by current age band",
    "care.exit_setting_factor.*": "multiplier of the cause's hazard by current setting (1 if absent)",
    "care.moves.rate": "hazard (per year) of a move out of each setting",
    "care.moves.first_year_factor": "multiplier of the move hazard in the first year in a setting "
                                    "(foster disruptions are early)",
    "care.moves.infant_home_leave_age": "uniform range (years) of the age at which a child still in "
                                        "an infant home is moved on",
    "care.moves.destination.*": "destination weights of a move out of this setting (infant_home_leave: "
                                "of the move at the infant-home leaving age); infants only to infant "
                                "homes under 2, adoptive foster under 6, self-reliance from 10",
    "care.independence.extension_share": "share of children staying beyond the school year in which they "
                                         "turn 18 (措置延長)",
    "care.independence.extension_years": "extra school years for those staying (drawn uniformly)",
    "care.independence.disability_other_service_share": "children leaving a disability facility at the "
                                                        "age limit go to other_service with this probability",
    "reentry.bands": "edges (years since discharge) of the re-entry hazard",
    "reentry.rate": "re-entry hazard (per year) by band: highest right after return",
    "reentry.after": "discharge reasons after which re-entry can happen",
    "reentry.after_tp_factor": "multiplier of the re-entry hazard after a protection-only episode",
    "reentry.max_age": "no re-entry from this age (years)",
    "contacts.frailty_shape": "shape of the per-child gamma frailty (mean 1, variance 1/shape); one "
                              "frailty for child-side and one for family-side contacts",
    "contacts.exchange_type": "probabilities of visit / outing / overnight for family exchanges",
    "contacts.caregiver_present": "probability that the carer attends an exchange, residential or "
                                  "family-based setting",
    "contacts.early_support_meeting_share": "share of care starts with a support meeting within 1 month "
                                            "(× support_meetings_rr)",
    "contacts.family_participated_share": "share of support meetings with the child or family taking part",
    "contacts.kin_search_share": "share of care episodes with a kin search between 60 days before the "
                                 "episode start and the care start (× kin_search_rr)",
    "contacts.lsw_min_age": "life-story work only from this age (years)",
    "contacts.rate.*": "rate per year in care of this contact kind (at care start)",
    "contacts.decay.*": "decay per year in care: rate × exp(−decay × years in care)",
    "contacts.tp_rate.*": "rate per year during temporary protection",
    "reviews.care_compliance": "probability that a review in care is held on time (before the policy)",
    "reviews.tp_compliance": "same during temporary protection (weekly cadence)",
    "reviews.late_mean_days": "mean days by which a late review is late (monthly/3-monthly cadence; "
                              "scaled down for weekly)",
    "reviews.case_conference_share": "share of care starts and of discharges from care preceded by a "
                                     "case conference",
    "plans.coverage": "share of care episodes given a permanency plan (before the policy)",
    "plans.max_coverage": "cap of the coverage after the policy",
    "plans.delay_mean_days": "mean delay from care start to the first plan (halved after the policy)",
    "plans.revision_months": "a plan is revised every U{a..b} months while in care",
    "plans.target_months": "target date = plan date + U{a..b} months",
    "plans.target_missing_share": "share of plans without a target date",
    "plans.review_condition_share": "share of plans with a review condition (見直し条件)",
    "surveys.start_date": "first annual survey date (then yearly)",
    "surveys.min_age": "children in care of at least this age are eligible",
    "surveys.sample_share": "share of eligible children answering",
    "surveys.self_esteem_mean": "mean self-esteem score (0–100) in residential care",
    "surveys.self_esteem_sd": "sd of the self-esteem score",
    "surveys.self_esteem_family_bonus": "added to the mean in family-based care",
    "surveys.permanency_sense": "probability of permanency_sense = 1 in residential care",
    "surveys.permanency_sense_family_bonus": "added in family-based care",
}
