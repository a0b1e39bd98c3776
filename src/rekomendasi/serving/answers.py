"""The API's answers built from the engine's values: recommendations with their explanations, gap
profiles, catalogue entries and model information. What a key's role may see is decided here (a
platform key gets the competencies, never the evidence or levels)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Catalog, CatalogCompetencies, list_items, optional_text
from rekomendasi.explain import GapAddressed, Lang, contribution_words, evidence_words
from rekomendasi.features.schemas import CompetencyGaps
from rekomendasi.recommend import NO_OBJECTIONS, Filters, Objections, Recommendation
from rekomendasi.serving import schemas as s
from rekomendasi.serving.auth import Principal
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
