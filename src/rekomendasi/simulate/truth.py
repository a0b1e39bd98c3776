"""The truth folder: what no model may read, used only to score recommendations against an oracle."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from rekomendasi.contract.enums import JENIS_JABATAN
from rekomendasi.contract.schemas import (
    Catalog,
    CatalogCompetencies,
    Employees,
    Positions,
    TrainingHistory,
    jenis_eligibility,
)
from rekomendasi.simulate import dynamics
from rekomendasi.simulate.assumptions import DEFAULT, Assumptions
from rekomendasi.simulate.history import History
from rekomendasi.simulate.people import People
from rekomendasi.simulate.tables import categorical
from rekomendasi.simulate.world import World

_README = """# truth/ (simulated ground truth; never an input to any model)

Written by `rekomendasi simulate` beside the data tables. No code path of training or serving reads it;
it exists only to score recommendations and feature estimates against the simulated world.

| file | one row per | columns |
|---|---|---|
| true_levels | employee x standard competency | nip, competency_id, required_level, true_level |
| benefit | employee x active catalogue entry (every pair) | nip, training_id, eligible, benefit |
| text_competency | free-text row generated about one competency | table, row, column, competency_id |
| agencies | agency | instansi_id, name, kind, province, daily_reports, periodic_skp |
| catalog_effects | catalogue entry | training_id, effect (latent), popularity (drives the policy) |

true_level is a float in [1, 5] on the as-of date. agencies.kind is central or regional;
daily_reports and periodic_skp say whether the agency keeps those records.

## How benefit is defined
A catalogue entry targets competencies c, each with a target level T. For a person at true level L with
position requirement R (0 when c is not in the position's standard):

- level match m = exp(-(L - (T - 1))^2 / (2 * {w:g}^2)): highest one level below the target, small far
  below (cannot follow) or at and above the target (nothing new);
- expected gain g = effect * m * clip(T - L, 0, 1.2) / sqrt(number of targeted competencies), where
  effect is the entry's latent effectiveness (modality x quality x saturating JP dose);
- value = min(g, max(R - L, 0)) + 0.25 * (the rest of g), or 0.1 * g when c is not required;
- benefit = P(complete) * sum of values over targeted competencies, with
  P(complete) = clip({c0:g} + {c1:g} * mean m + {c2:g} * tanh(ability), 0.05, 0.98).

So benefit is the expected number of competency-gap levels the entry closes for that person, in [0, ~3].
`eligible` is false where the entry excludes the person's jenis_jabatan, or the person already completed
it, or is enrolled in it now; such pairs keep their benefit value for analysis but an oracle should skip
them. Mandatory programmes (catalog.mandatory_for) are included; personal rankings should skip them.

The simulated training history uses the same model with noise: completion is drawn with P(complete),
realised gains are g times a log-normal factor, and later assessments, SKP ratings, indicators and
feedback are generated from the levels these gains produce.

## text_competency
`row` is the 1-based data row of `table` (header excluded), `column` the free-text column, and
`competency_id` the competency the text was generated about (also when the table leaves competency_id
empty). Use it to measure text-to-competency accuracy.
"""

_ASSUMPTIONS = """
## This world's assumptions
This world was simulated with assumptions other than the defaults (`rekomendasi simulate --assumptions`;
knobs in bold differ). Benefit above follows them: the level match m uses this world's match_width; with
a match_floor f, the expected gain uses f + (1 - f) * m in place of m; effect is the entry's latent
effectiveness quality x efficiency^modality_weight x dose^jp_weight (x a provider factor when
provider_effect_sd > 0), rescaled to the mean effect of the default formula; realised gains are g times
a log-normal factor of log-SD gain_noise (median 1; benefit takes the median). In the YAML form
`rekomendasi simulate --assumptions` reads:

```yaml
{changed}```

{table}"""


def truth_readme(assumptions: Assumptions = DEFAULT) -> str:
    """``truth/README.md``: benefit's definition with this world's numbers, and, when any assumption
    differs from its default, a section listing them all (a default world's README is the one it had
    before the assumptions were knobs)."""
    a = assumptions
    text = _README.format(w=a.match_width, c0=a.completion_base, c1=a.completion_fit, c2=a.completion_ability)
    changed = assumptions.changed()
    if not changed:
        return text
    block = "".join(f"{name}: {value:g}\n" for name, value in changed.items())
    return text + _ASSUMPTIONS.format(changed=block, table=assumptions.markdown())


TRUTH_README = truth_readme()


def true_levels(world: World, people: People, final_levels: np.ndarray) -> pd.DataFrame:
    """True levels at the as-of date for each employee's standard competencies (nip and competency_id
    as categoricals)."""
    required = world.required[people.frame["pos_idx"].to_numpy()]
    emp, comp = np.nonzero(required > 0)
    return pd.DataFrame(
        {
            "nip": people.nips(emp),
            "competency_id": categorical(comp, world.competency_ids),
            "required_level": required[emp, comp].astype(int),
            "true_level": np.round(final_levels[emp, comp], 3),
        }
    )


def benefit_chunks(
    world: World,
    people: People,
    history: History,
    final_levels: np.ndarray,
    chunk: int = 5000,
    assumptions: Assumptions = DEFAULT,
) -> Iterator[pd.DataFrame]:
    """Expected benefit of every (employee, active entry) pair, ``chunk`` employees at a time, under the
    ``assumptions`` that generated the history."""
    frame = people.frame
    active = np.flatnonzero(world.catalog[Catalog.active].to_numpy())
    targets = world.targets[active]
    valid = targets >= 0
    safe = np.where(valid, targets, 0)
    target_levels = world.target_levels[active].astype(np.float64)
    effect = world.catalog["effect"].to_numpy()[active]
    positions = world.positions
    jenis_of = dict(zip(positions[Positions.position_id], positions[Positions.jenis_jabatan], strict=True))
    jenis_idx = (
        frame[Employees.position_id].map(jenis_of).map({j: i for i, j in enumerate(JENIS_JABATAN)}).to_numpy()
    )
    eligible_jenis = jenis_eligibility(world.catalog[Catalog.eligible_jenis_jabatan])[:, active]
    training = history.training
    ongoing = training[training[TrainingHistory.status] == "enrolled"]
    enrolled = np.zeros(history.completed.shape, dtype=bool)
    enrolled[ongoing["emp"].to_numpy(dtype=np.int64), ongoing["entry"].to_numpy(dtype=np.int64)] = True
    required_all = world.required[frame["pos_idx"].to_numpy()]  # [employee, competency]
    ability = frame["ability"].to_numpy()
    training_ids = pd.CategoricalDtype(
        pd.Index(world.catalog[Catalog.training_id].to_numpy(dtype=object)[active], dtype=str)
    )
    n_active = len(active)
    for start in range(0, len(frame), chunk):
        emp = np.arange(start, min(start + chunk, len(frame)))
        e_rep = np.repeat(emp, n_active)
        t_rep = np.tile(np.arange(n_active), len(emp))
        # Row (employee i, entry t) is row i * n_active + t of each [employee, entry, slot] gather.
        level = final_levels[emp][:, safe].reshape(-1, safe.shape[1]).astype(np.float64)
        required = required_all[emp][:, safe].reshape(-1, safe.shape[1]).astype(np.float64)
        benefit = dynamics.pair_benefit(
            level, required, target_levels[t_rep], valid[t_rep], effect[t_rep], ability[e_rep], assumptions
        )
        eligible = (
            eligible_jenis[jenis_idx[emp]] & ~history.completed[emp][:, active] & ~enrolled[emp][:, active]
        ).reshape(-1)
        yield pd.DataFrame(
            {
                "nip": people.nips(e_rep),
                "training_id": pd.Categorical.from_codes(t_rep, dtype=training_ids),
                "eligible": eligible,
                "benefit": np.round(benefit, 5),
            }
        )


def text_competency(world: World, labelled: list[tuple[str, str, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """``truth/text_competency``: the ``(table, column, rows, competency indices)`` of each text table,
    then the catalogue descriptions of entries with a primary competency (string columns as
    categoricals)."""
    catalog = world.catalog
    primary = world.catalog_competencies.drop_duplicates(CatalogCompetencies.training_id)
    entries = catalog[Catalog.training_id]
    comp_index = {c: i for i, c in enumerate(world.competency_ids)}
    catalog_rows = entries.map({t: i + 1 for i, t in enumerate(entries)}).to_numpy()[
        entries.isin(primary[CatalogCompetencies.training_id]).to_numpy()
    ]
    catalog_comp = (
        primary.set_index(CatalogCompetencies.training_id)
        .reindex(entries)[CatalogCompetencies.competency_id]
        .dropna()
        .map(comp_index)
        .to_numpy()
    )
    parts = [*labelled, ("catalog", Catalog.description, catalog_rows, catalog_comp)]
    tables = [table for table, _, _, _ in parts]
    columns = list(dict.fromkeys(column for _, column, _, _ in parts))
    sizes = [len(rows) for _, _, rows, _ in parts]
    return pd.DataFrame(
        {
            "table": categorical(np.repeat(np.arange(len(parts)), sizes), tables),
            "row": np.concatenate([np.asarray(rows, dtype=np.int64) for _, _, rows, _ in parts]),
            "column": categorical(
                np.repeat([columns.index(column) for _, column, _, _ in parts], sizes), columns
            ),
            "competency_id": categorical(
                np.concatenate([np.asarray(comp, dtype=np.int64) for _, _, _, comp in parts]),
                world.competency_ids,
            ),
        }
    )
