"""The API's answers built from the engine's values: recommendations with their explanations, gap
profiles, catalogue entries and their measured effectiveness, and model information. What a key's role
may see is decided here (a platform key gets the competencies, never the evidence or levels)."""

from __future__ import annotations

import dataclasses
from typing import TypedDict

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Catalog, CatalogCompetencies, list_items, optional_text
from rekomendasi.explain import GapAddressed, Lang, contribution_words, evidence_words
from rekomendasi.features.schemas import CompetencyGaps
from rekomendasi.recommend import NO_OBJECTIONS, Filters, Objections, Recommendation
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Principal
from rekomendasi.serving.effect_schemas import EffectivenessOut, GroupEffectOut
from rekomendasi.serving.effects import EntryEffect, Estimate
from rekomendasi.serving.engine import Employee, Engine


def _gap_out(gap: GapAddressed, lang: Lang) -> s.GapOut:
    return s.GapOut(
        competency_id=gap.competency_id,
        name=gap.name,
        required_level=gap.required_level,
        estimated_level=None if gap.estimated_level is None else round(gap.estimated_level, 3),
        uncertainty=None if gap.uncertainty is None else round(gap.uncertainty, 3),
        gap=round(gap.gap, 3),
        target_level=gap.target_level,
        evidence=evidence_words(gap.evidence, lang),
    )


def recommendation_out(
    engine: Engine, rec: Recommendation, sees_evidence: bool, lang: Lang
) -> s.RecommendationOut:
    """One recommendation as the API answers it.

    For keys that may not see evidence (learning platforms) it has no number drawn from the person's
    evidence: the gaps are competency names, the reason names them without levels, the expected benefit
    keeps only what earlier participants did (not the person's gap size), and there are no model
    contributions (they are read off the person's gaps and SKP rating)."""
    entry = engine.entry_info[rec.training_id]
    past = engine.past_outcomes(rec.training_id)
    gaps: list[s.GapOut] | list[s.GapNameOut]
    if sees_evidence:
        gaps = [_gap_out(g, lang) for g in rec.gaps]
    else:
        gaps = [s.GapNameOut(competency_id=g.competency_id, name=g.name) for g in rec.gaps]
    return s.RecommendationOut(
        rank=rec.rank,
        training_id=rec.training_id,
        title=str(entry[Catalog.title]),
        provider=optional_text(entry[Catalog.provider]),
        modality=str(entry[Catalog.modality]),
        jp=int(entry[Catalog.jp]),  # type: ignore[call-overload]
        cost_idr=None if entry[Catalog.cost_idr] is None else int(entry[Catalog.cost_idr]),  # type: ignore[call-overload]
        score=rec.score,
        reason=rec.reason(lang, levels=sees_evidence),
        explanation=s.Explanation(
            gaps=gaps,
            expected_benefit=s.ExpectedBenefit(
                gap_closed_levels=rec.expected_gap_closed if sees_evidence else None,
                past_participants=float(past["participants"] or 0.0),
                completion_rate=past["completion_rate"],
                mean_score=past["mean_score"],
            ),
            model_contributions=[
                s.ContributionOut(
                    feature=c.feature, description=contribution_words(c.feature, lang), value=c.value
                )
                for c in (rec.contributions if sees_evidence else ())
            ],
        ),
    )


def employee_out(
    engine: Engine,
    principal: Principal,
    who: Employee,
    k: int,
    lang: Lang,
    filters: Filters,
    objections: Objections = NO_OBJECTIONS,
) -> s.EmployeeRecommendations:
    """An employee's top ``k`` (without the entries of their standing ``objections``), the mandatory
    programmes due and the year's JP status."""
    recs = engine.recommend(who.nip, k, filters, objections)
    jp = engine.jp_status(who.nip)
    return s.EmployeeRecommendations(
        nip=who.nip,
        as_of=engine.snapshot.as_of.isoformat(),
        model_version=engine.model_version.version,
        k=k,
        lang=lang,
        recommendations=[recommendation_out(engine, r, principal.sees_evidence, lang) for r in recs],
        mandatory_due=[
            s.MandatoryOut(
                training_id=str(row["training_id"]),
                title=str(
                    engine.entry_info.get(str(row["training_id"]), {}).get("title", row["training_id"])
                ),
                condition=str(row["condition"]),
                rule=str(row["rule_en"] if lang == "en" else row["rule_id"]),
                enrolled=bool(row["enrolled"]),
            )
            for row in engine.mandatory_due(who.nip)
        ],
        jp=s.JpStatus(**dataclasses.asdict(jp)) if jp is not None else None,
    )


def gap_profile_out(engine: Engine, who: Employee, lang: Lang) -> s.GapProfile:
    """The competency-gap profile with the evidence behind each estimate, largest gap first."""
    gaps = []
    for row in engine.gap_profile(who.nip):
        required = float(row[CompetencyGaps.required_level])
        competency = str(row[CompetencyGaps.competency_id])
        gaps.append(
            s.GapOut(
                competency_id=competency,
                name=engine.catalogue.names.get(competency, competency),
                required_level=required if required > 0 else None,
                estimated_level=round(float(row[CompetencyGaps.estimated_level]), 3),
                uncertainty=round(float(row[CompetencyGaps.uncertainty]), 3),
                gap=round(max(float(row[CompetencyGaps.gap]), 0.0), 3),
                evidence=evidence_words(row, lang),
            )
        )
    return s.GapProfile(nip=who.nip, as_of=engine.snapshot.as_of.isoformat(), gaps=gaps)


def catalog_entries(engine: Engine) -> list[s.CatalogEntry]:
    """The whole catalogue of the snapshot as API entries, by training_id."""
    links = engine.snapshot.catalog_competencies.groupby(CatalogCompetencies.training_id)[
        CatalogCompetencies.competency_id
    ].agg(list)
    out = []
    for row in engine.snapshot.catalog.sort_values(Catalog.training_id).to_dict("records"):
        out.append(
            s.CatalogEntry(
                training_id=str(row[Catalog.training_id]),
                title=str(row[Catalog.title]),
                description=optional_text(row[Catalog.description]),
                provider=optional_text(row[Catalog.provider]),
                modality=str(row[Catalog.modality]),
                jp=int(row[Catalog.jp]),
                cost_idr=None if pd.isna(row[Catalog.cost_idr]) else int(row[Catalog.cost_idr]),
                eligible_jenis_jabatan=sorted(list_items(row[Catalog.eligible_jenis_jabatan])),
                mandatory_for=sorted(list_items(row[Catalog.mandatory_for])),
                province=optional_text(row[Catalog.province]),
                language=optional_text(row[Catalog.language]),
                active=bool(row[Catalog.active]) if not pd.isna(row[Catalog.active]) else False,
                competencies=list(links.get(row[Catalog.training_id], [])),
            )
        )
    return out


def model_info(engine: Engine) -> s.ModelInfo:
    """The serving model, the snapshot it scores and the scores store it reads."""
    version = engine.model_version
    return s.ModelInfo(
        name="rekomendasi-ranker",
        version=version.version,
        aliases=list(version.aliases),
        run_id=version.run_id,
        trained_as_of=version.tags.get("as_of") or None,
        data_fingerprint=version.tags.get("data_fingerprint"),
        embedding_model=version.tags.get("embedding_model"),
        metrics={k: float(v) for k, v in version.metrics.items() if np.isfinite(v)},
        snapshot=engine.snapshot_id,
        snapshot_as_of=engine.snapshot.as_of.isoformat(),
        employees=engine.active_count,
        catalogue_entries=len(engine.entry_info),
        loaded_at=engine.loaded_at.isoformat(),
    )


def effectiveness_out(engine: Engine, found: EntryEffect) -> EffectivenessOut:
    """A catalogue entry's measured effectiveness (:meth:`Engine.effectiveness`), with its provider's and
    its modality's and one plain sentence saying what the number means."""
    entry = engine.entry_info[found.training_id]
    e = found.estimate
    return EffectivenessOut(
        training_id=found.training_id,
        title=str(entry[Catalog.title]),
        provider=found.provider,
        modality=str(found.modality or entry[Catalog.modality]),
        **_numbers(e),
        raw_effect=_round4(e.raw_effect),
        raw_low=_round4(e.raw_low),
        raw_high=_round4(e.raw_high),
        kind_effect=_round4(e.kind_effect),
        own_weight=None if e.own_weight is None else round(min(max(e.own_weight, 0.0), 1.0), 4),
        confidence=found.confidence,
        provider_estimate=_group(found.provider, found.by_provider),
        modality_estimate=_group(found.modality, found.by_modality),
        as_of=found.as_of.isoformat(),
        model_version=engine.model_version.version,
        explanation=effect_sentence(found),
    )


def effect_sentence(found: EntryEffect) -> str:
    """What an entry's estimate means, in one plain English sentence: the pooled effect with its interval,
    then its participants' own figure, what courses of its kind reached and the weight of the first (an
    estimate made before pooling: its participants' mean)."""
    e = found.estimate
    when = found.as_of.isoformat()
    if e.effect is None or e.ci_low is None or e.ci_high is None:
        return (
            f"No estimate yet: {e.reason}; estimates compare the participants' measured competency levels "
            f"with those of comparable staff who had not taken it (data up to {when})."
        )
    interval = f"{found.confidence:.0%} interval {_2(e.ci_low)} to {_2(e.ci_high)}"
    if not e.has_parts or e.raw_effect is None or e.kind_effect is None or e.own_weight is None:
        more = "more" if round(e.effect, 2) >= 0 else "less"
        return (
            f"Its {e.participants:,} measured participants gained {_2(abs(e.effect))} measured competency "
            f"levels {more} than comparable staff who had not taken it ({interval}; levels summed over the "
            f"competencies it targets; data up to {when})."
        )
    head = (
        f"Estimated gain {_2(e.effect)} measured competency levels beyond comparable staff who had not "
        f"taken it ({interval}; data up to {when})"
    )
    if e.indistinct:
        return (
            f"{head}: essentially what courses of its kind reached ({_2(e.kind_effect)}), as its "
            f"{e.participants:,} measured participants' data (own figure {_2(e.raw_effect)}) cannot yet tell "
            "it apart from courses of its kind."
        )
    own = f"its {e.participants:,} measured participants' own figure ({_2(e.raw_effect)})"
    kind = f"what courses of its kind reached ({_2(e.kind_effect)})"
    return f"{head}: {own} weighed at {e.own_weight:.0%} with {kind}."


def _2(value: float) -> str:
    """Two decimals, without a minus sign on a value that rounds to zero."""
    shown = round(value, 2)
    return f"{shown if shown != 0 else 0.0:.2f}"


class _Numbers(TypedDict):
    participants: int
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None
    naive: float | None
    naive_low: float | None
    naive_high: float | None


def _numbers(e: Estimate) -> _Numbers:
    """An estimate's fields as the API answers them (4 decimals: the intervals do not support more)."""
    return {
        "participants": e.participants,
        "effect": _round4(e.effect),
        "ci_low": _round4(e.ci_low),
        "ci_high": _round4(e.ci_high),
        "reason": e.reason,
        "naive": _round4(e.naive),
        "naive_low": _round4(e.naive_low),
        "naive_high": _round4(e.naive_high),
    }


def _group(name: str | None, e: Estimate | None) -> GroupEffectOut | None:
    if name is None or e is None:
        return None
    return GroupEffectOut(name=name, entries=e.entries or 0, **_numbers(e))


def _round4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
