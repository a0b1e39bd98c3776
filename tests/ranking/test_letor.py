"""``bench letor``: the learning-to-rank file reader, its grading, NDCG@10 by the published convention,
cross-validation by query, and the command end to end, on tiny synthetic files of the Yandex layout."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.metrics import ndcg_score
from typer.testing import CliRunner

from rekomendasi.bench.letor import cross_validate, grade, ndcg, ndcg_per_query, read_letor
from rekomendasi.cli import app
from rekomendasi.errors import DataContractError
from rekomendasi.ranking import LambdaRanker

runner = CliRunner()


def _lines(queries: int, per_query: int, seed: int, features: int = 5) -> list[str]:
    """Lines of the layout: query id, relevance in [0, 1] driven by f0 + 0.5 f1, URL, features (the rest
    noise). Rows of the queries interleave, as in the real file."""
    rng = np.random.default_rng(seed)
    n = queries * per_query
    X = rng.normal(size=(n, features))
    relevance = 1 / (1 + np.exp(-(2 * X[:, 0] + X[:, 1] - 2.5 + rng.normal(0, 0.3, n))))
    qid = np.tile(np.arange(100, 100 + queries), per_query)
    return [
        "\t".join([str(q), f"{r:.4f}", f"http://example.ru/{i}", *(f"{v:.5g}" for v in x)])
        for i, (q, r, x) in enumerate(zip(qid, relevance, X, strict=True))
    ]


def _write(path: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reads_gzip_and_plain_alike_whatever_the_name(tmp_path: Path) -> None:
    lines = _lines(6, 4, seed=0)
    zipped = read_letor(_write(tmp_path / "a.tsv.gz", lines))
    plain = read_letor(_write(tmp_path / "b.tsv", lines))
    renamed = tmp_path / "c.tsv"
    renamed.write_bytes((tmp_path / "a.tsv.gz").read_bytes())  # gzip under a plain name
    for other in (plain, read_letor(renamed)):
        assert np.array_equal(zipped.X, other.X) and np.array_equal(zipped.qid, other.qid)
    assert zipped.X.shape == (24, 5) and zipped.queries == 6
    assert list(zipped.qid[:7]) == [100, 101, 102, 103, 104, 105, 100]
    assert np.allclose(zipped.X[0], [float(v) for v in lines[0].split("\t")[3:]])
    assert np.array_equal(zipped.grade, grade(zipped.relevance))


def test_grades_at_the_published_edges() -> None:
    relevance = np.array([0.0, 0.069, 0.07, 0.1, 0.14, 0.4, 0.41, 0.6, 0.61, 1.0])
    assert grade(relevance).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_ndcg_by_hand() -> None:
    # One query, grades 0, 2, 1 ranked in that order: DCG = 0 + 3/log2(3) + 1/log2(4);
    # the ideal order 2, 1, 0: IDCG = 3/log2(2) + 1/log2(3).
    expected = (3 / math.log2(3) + 1 / 2) / (3 + 1 / math.log2(3))
    assert ndcg(np.array([0, 2, 1]), np.array([3.0, 2.0, 1.0]), np.zeros(3)) == pytest.approx(expected)
    assert expected == pytest.approx(0.659, abs=1e-3)
    # Rows of a query need not be contiguous; the result is per sorted query id.
    per = ndcg_per_query(
        np.array([1, 0, 0, 2, 1]), np.array([0.1, 0.9, 0.5, 0.3, 0.2]), np.array([7, 3, 7, 3, 3])
    )
    # Query 3: grades 0, 2, 1 by score 0.9, 0.3, 0.2 (the case above); query 7: the relevant one last.
    assert per == pytest.approx([expected, 1 / math.log2(3)])


def test_a_query_without_relevant_documents_scores_one_and_only_the_top_ten_count() -> None:
    qid = np.repeat([1, 2], 12)
    grades = np.zeros(24, dtype=int)
    grades[12 + 11] = 4  # query 2: its one relevant document ranked 12th
    scores = -np.arange(24.0)  # row order
    assert ndcg_per_query(grades, scores, qid).tolist() == [1.0, 0.0]
    assert ndcg(grades, scores, qid) == 0.5
    assert ndcg(grades, -scores, qid) == 1.0  # ranked first: perfect
    assert ndcg_per_query(grades, scores, qid, k=12)[1] == pytest.approx(1 / math.log2(13))


def test_ndcg_agrees_with_sklearn_and_lightgbm() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 30, 40)
    qid = np.repeat(np.arange(40), sizes)
    grades = np.minimum(rng.poisson(0.8, len(qid)), 4)
    grades[qid == 0] = 0  # a query with no relevant document
    scores = rng.normal(size=len(qid))
    per = ndcg_per_query(grades, scores, qid)
    for q in np.unique(qid):
        rows = qid == q
        if grades[rows].any() and rows.sum() > 1:
            gains = 2.0 ** grades[rows][None, :] - 1
            assert per[q] == pytest.approx(ndcg_score(gains, scores[rows][None, :], k=10))
    assert per[0] == 1.0
    # LightGBM's own ndcg@10 (gain 2^grade - 1, a query without relevant documents scores 1) of a model's
    # scores, ties included (few leaves: many equal scores, kept in row order by both).
    X = np.column_stack([grades + rng.normal(0, 1.5, len(qid)), rng.normal(size=len(qid))])
    data = lgb.Dataset(X, label=grades, group=sizes)
    record: dict[str, dict[str, list[float]]] = {}
    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "num_leaves": 3, "verbosity": -1}
    booster = lgb.train(
        params, data, 5, valid_sets=[data], valid_names=["own"], callbacks=[lgb.record_evaluation(record)]
    )
    predicted = booster.predict(X)
    assert len(np.unique(predicted)) < len(predicted) / 2
    assert ndcg(grades, predicted, qid) == pytest.approx(record["own"]["ndcg@10"][-1], abs=1e-9)


def test_cross_validation_by_query_learns_the_signal(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.tsv.gz", _lines(40, 15, seed=1))
    result = cross_validate(path, folds=4, params={"n_estimators": 40})
    assert len(result.folds) == 4 and result.mean == pytest.approx(np.mean(result.folds))
    assert result.mean > 0.8 and result.sd >= 0
    with pytest.raises(DataContractError, match="40 queries cannot make 50 folds"):
        cross_validate(path, folds=50)


def test_the_command_scores_a_test_file(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.tsv.gz", _lines(60, 15, seed=1))
    test = _write(tmp_path / "test.tsv", _lines(30, 10, seed=2))
    record = tmp_path / "results.jsonl"
    args = [
        "bench",
        "letor",
        "--train",
        str(train),
        "--test",
        str(test),
        "--seed",
        "3",
        "--record",
        str(record),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "NDCG@10 " in result.output and "(30 queries, 300 rows)" in result.output
    (line,) = [json.loads(x) for x in record.read_text(encoding="utf-8").splitlines()]
    assert line["bench"] == "letor" and line["test_rows"] == 300 and line["train_queries"] == 60
    assert line["seed"] == 3 and line["fit_seconds"] >= 0
    assert 0.85 < line["ndcg@10"] <= 1
    assert f"NDCG@10 {line['ndcg@10']:.4f}" in result.output
    cv = runner.invoke(app, ["bench", "letor", "--train", str(train), "--cv", "3", "--record", str(record)])
    assert cv.exit_code == 0, cv.output
    folds = json.loads(record.read_text(encoding="utf-8").splitlines()[-1])
    assert folds["folds"] == 3 and len(folds["per_fold"]) == 3 and folds["cv_ndcg@10"] > 0.8
    neither = runner.invoke(app, ["bench", "letor", "--train", str(train)])
    assert neither.exit_code == 2 and "--cv" in neither.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: lines.__setitem__(4, lines[4] + "\t1.0"), r"line 5: 9 tab-separated fields"),
        (lambda lines: lines.__setitem__(6, lines[6].rsplit("\t", 1)[0]), r"line 7, field 8 .*empty"),
        (lambda lines: lines.__setitem__(2, lines[2].replace("\t", "\tabc\t", 1)), r"line 3"),
        (
            lambda lines: lines.__setitem__(8, "\t".join(["5", "0.3", "u", "1", "x2", "3", "4", "5"])),
            "line 9",
        ),
        (lambda lines: lines.__setitem__(3, "\t".join(["5", "1.7", "u", "1", "2", "3", "4", "5"])), "line 4"),
        (lambda lines: lines.__setitem__(1, ""), r"line 2, field 1 \(the query id\): empty"),
    ],
)
def test_a_malformed_file_is_named_with_its_line(tmp_path: Path, change: object, message: str) -> None:
    lines = _lines(4, 3, seed=5)
    change(lines)  # type: ignore[operator]
    path = _write(tmp_path / "bad.tsv", lines)
    with pytest.raises(DataContractError, match=message) as err:
        read_letor(path)
    assert str(path) in err.value.message
    good = _write(tmp_path / "good.tsv", _lines(4, 3, seed=5))
    result = runner.invoke(app, ["bench", "letor", "--train", str(good), "--test", str(path)])
    assert result.exit_code == 2 and "bad.tsv" in result.output and "Traceback" not in result.output


def test_missing_empty_and_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="no such file"):
        read_letor(tmp_path / "absent.tsv")
    with pytest.raises(DataContractError, match="empty"):
        read_letor(_write(tmp_path / "empty.tsv", []))
    cut = tmp_path / "cut.tsv.gz"
    cut.write_bytes(gzip.compress(b"1\t0.5\tu\t1\n" * 50)[:30])  # a truncated gzip
    with pytest.raises(DataContractError, match="not a readable gzip"):
        read_letor(cut)
    train = _write(tmp_path / "train.tsv", _lines(8, 4, seed=1))
    narrow = _write(tmp_path / "narrow.tsv", _lines(8, 4, seed=1, features=3))
    result = runner.invoke(app, ["bench", "letor", "--train", str(train), "--test", str(narrow)])
    assert result.exit_code == 2 and "3 features per line" in result.output


def _ranking_data(tmp_path: Path, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = read_letor(_write(tmp_path / f"rank-{seed}.tsv", _lines(queries, 12, seed)))
    return data.X, data.grade, data.qid


def test_refit_fits_every_row_for_the_rounds_early_stopping_chose(tmp_path: Path) -> None:
    X, y, qid = _ranking_data(tmp_path, 60, seed=7)
    stopped = dict(n_estimators=400, early_stopping_rounds=10, learning_rate=0.2, random_state=1)
    refitted = LambdaRanker(**stopped).fit(X, y, qid)
    assert refitted.get_params()["refit"] is True and 0 < len(refitted.validation_queries_) < 60
    rounds = refitted.best_iteration_
    assert rounds < 400 and refitted.booster_.current_iteration() == rounds
    # The same as fitting every row for that many rounds without a split.
    direct = LambdaRanker(**{**stopped, "n_estimators": rounds, "early_stopping_rounds": 0}).fit(X, y, qid)
    assert np.array_equal(refitted.predict(X), direct.predict(X))
    held_out = LambdaRanker(**stopped, refit=False).fit(X, y, qid)
    assert held_out.best_iteration_ == rounds and not np.array_equal(held_out.predict(X), direct.predict(X))
    # With an eval set of its own, the caller's training rows were all fitted already: no refit.
    Xv, yv, qv = _ranking_data(tmp_path, 20, seed=8)
    given = LambdaRanker(**stopped).fit(X, y, qid, eval_set=(Xv, yv, qv))
    kept = LambdaRanker(**stopped, refit=False).fit(X, y, qid, eval_set=(Xv, yv, qv))
    assert len(given.evals_result_["validation"]["ndcg@10"]) == given.best_iteration_ + 10
    assert np.array_equal(given.predict(X), kept.predict(X))
    with pytest.raises(ValueError, match="refit must be True or False"):
        LambdaRanker(refit="yes").fit(X, y, qid)  # type: ignore[arg-type]


def test_new_params_roundtrip_and_old_saved_rankers_load_as_fitted(tmp_path: Path) -> None:
    X, y, qid = _ranking_data(tmp_path, 30, seed=9)
    model = LambdaRanker(n_estimators=20, extra_trees=False, refit=False).fit(X, y, qid)
    loaded = LambdaRanker.load(model.save(tmp_path / "new"))
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # A ranker saved before refit and extra_trees existed: its ranker.json lacks them.
    old = model.save(tmp_path / "old")
    fitted = json.loads((old / "ranker.json").read_text(encoding="utf-8"))
    for name in ("refit", "extra_trees"):
        del fitted["params"][name]
    (old / "ranker.json").write_text(json.dumps(fitted), encoding="utf-8")
    legacy = LambdaRanker.load(old)
    assert legacy.get_params()["extra_trees"] is False and legacy.get_params()["refit"] is False
    assert np.array_equal(legacy.predict(X), model.predict(X))
    assert LambdaRanker().get_params()["extra_trees"] is True  # today's default differs
