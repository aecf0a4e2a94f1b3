"""Transfer learning: features, probes fitted to their optimum, fine-tuning, selection on validation
only, paired comparisons, the decision rule's verdicts and the recorded form."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cnnlessons.data.targets import TargetData, validation_split
from cnnlessons.experiments import transfer
from cnnlessons.models.cifar_resnet import cifar_resnet
from cnnlessons.records import record_rows
from cnnlessons.train import MIN_STEPS, History

WIDTHS = (4, 8, 8)


def _build(num_classes: int = 4):
    return cifar_resnet(8, num_classes=num_classes, widths=WIDTHS)


def _model(num_classes: int = 4):
    torch.manual_seed(0)
    return _build(num_classes).eval()


def _target(per_class: int = 40, num_classes: int = 4, size: int = 8, seed: int = 0) -> TargetData:
    """Small images a net can learn: class c is a bright square in quadrant c on noise."""
    g = torch.Generator().manual_seed(seed)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % num_classes
        x = torch.randn(n, 3, size, size, generator=g) * 0.5
        half = size // 2
        for i, c in enumerate(y.tolist()):
            r, q = divmod(c, 2)
            x[i, :, half * r:half * r + half, half * q:half * q + half] += 1.0
        return x, y
    x_tr, y_tr = make(per_class * num_classes)
    x_te, y_te = make(25 * num_classes)
    return TargetData("toy", tuple("abcd"[:num_classes]), x_tr, y_tr, x_te, y_te)


# -- features -------------------------------------------------------------------------------------

def test_extract_matches_a_manual_forward():
    model, x = _model(), torch.randn(5, 3, 8, 8)
    f = transfer.extract(model, x, batch_size=2)
    with torch.no_grad():
        h1 = model.layer1(model.relu(model.bn1(model.conv1(x))))
        h2 = model.layer2(h1)
        h3 = model.layer3(h2)
    for got, ref in zip(f.pooled, (h1, h2, h3)):
        assert torch.allclose(got, ref.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(f.last_input, h2, atol=1e-5) and f.stages == 3 and len(f) == 5
    assert torch.allclose(model.fc(f.pooled[-1]), model(x), atol=1e-5)


def test_a_network_with_one_stage_is_refused_not_given_its_images():
    model = torch.nn.Sequential()
    model.layer1 = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="at least two"):
        transfer.extract(model, torch.randn(2, 3, 8, 8))


# -- the probe ------------------------------------------------------------------------------------

def test_the_probe_reaches_the_optimum_scikit_learn_finds():
    """J = mean cross-entropy + lambda/2 ||W||^2 is scikit-learn's objective with C = 1 / (lambda N):
    both optimisers must land on the same (unique) minimum."""
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    f = 5 + torch.randn(60, 6, generator=g) + torch.nn.functional.one_hot(y, 6).float() * 1.5
    for l2 in (0.01, 1.0):
        fit = transfer.fit_probe(f, y, 3, l2=l2)
        assert fit.optimal and fit.gradient ** 2 / (2 * l2) <= transfer.probe.OPTIMALITY_GAP
        z = fit.probe.standardise(f).double().numpy()
        ref = LogisticRegression(C=1 / (l2 * len(y)), tol=1e-12, max_iter=100_000).fit(z, y.numpy())
        with torch.no_grad():
            ours = torch.softmax(fit.probe(f), 1).double().numpy()
        assert np.abs(ours - ref.predict_proba(z)).max() < 1e-4
    assert torch.allclose(fit.probe.mu, f.mean(0)) and not fit.probe.mu.requires_grad


def test_a_stronger_penalty_fits_the_training_data_less_and_the_path_is_the_single_fits():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(40) % 4
    f = torch.randn(40, 10, generator=g) + torch.nn.functional.one_hot(y, 10).float()
    fits = transfer.fit_probes(f, y, 4, (10.0, 0.01))
    assert [fit.l2 for fit in fits] == [10.0, 0.01]
    assert fits[0].objective > fits[1].objective and fits[0].train_error >= fits[1].train_error
    alone = transfer.fit_probe(f, y, 4, l2=0.01)  # from zero, not warm-started: the same minimum
    assert torch.allclose(alone.probe.linear.weight, fits[1].probe.linear.weight, atol=1e-3)
    with pytest.raises(ValueError, match="positive"):
        transfer.fit_probe(f, y, 4, l2=0.0)


# -- fine-tuning ----------------------------------------------------------------------------------

def test_fine_tuning_starts_from_the_probe_and_leaves_the_zoo_model_untouched():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 2
    feats = transfer.extract(model, x)
    probe = transfer.fit_probe(feats.pooled[-1], y, 2, l2=0.1).probe
    start = transfer.with_probe_head(model, probe).eval()
    with torch.no_grad():  # before any step, the network with the probe as its head is the probe
        assert torch.allclose(start(x), probe(feats.pooled[-1]), atol=1e-5)
        head = transfer.last_stage(model, probe).eval()
        assert torch.allclose(head(feats.last_input), probe(feats.pooled[-1]), atol=1e-5)
    losses = transfer.start_losses(model, probe, x, y, batch_size=4)
    with torch.no_grad():
        probe_loss = torch.nn.functional.cross_entropy(probe(feats.pooled[-1]), y).item()
    assert math.isclose(losses["source"], probe_loss, rel_tol=1e-5)  # frozen statistics start at the probe
    assert losses["target"] != losses["source"] and losses["batch"] != losses["target"]
    _, history = transfer.finetune_all(model, probe, x, y, lr=0.01, steps=2, batch_size=8, bn="frozen")
    assert math.isclose(history.loss[0], probe_loss, rel_tol=1e-5)  # the first step's loss is the probe's
    transfer.finetune_last(model, probe, feats.last_input, y, lr=0.01, steps=2, batch_size=4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_frozen_statistics_keep_the_running_statistics_and_train_the_rest():
    model = _model()
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 2
    probe = transfer.fit_probe(transfer.extract(model, x).pooled[-1], y, 2, l2=0.1).probe
    frozen, _ = transfer.finetune_all(model, probe, x, y, lr=0.01, steps=3, batch_size=4, bn="frozen")
    moved, _ = transfer.finetune_all(model, probe, x, y, lr=0.01, steps=3, batch_size=4, bn="train")
    assert isinstance(frozen, transfer.FrozenStatistics) and not frozen.module.bn1.training
    assert torch.equal(frozen.module.bn1.running_mean, model.bn1.running_mean)
    assert not torch.equal(frozen.module.bn1.weight, model.bn1.weight)  # gamma still trains
    assert not torch.equal(moved.bn1.running_mean, model.bn1.running_mean)
    with pytest.raises(ValueError, match="bn must be"):
        transfer.finetune_all(model, probe, x, y, lr=0.01, steps=1, batch_size=4, bn="eval")


def test_fitted_means_converged_and_training_error_at_most_fit_error():
    assert transfer.fitted(History(error=[0.0] * MIN_STEPS, loss=[0.1] * MIN_STEPS, classes=4))
    flat = History(error=[0.2] * MIN_STEPS, loss=[0.5] * MIN_STEPS, classes=4)
    assert flat.converged and not transfer.fitted(flat)  # converged, but at 20% training error
    assert not transfer.fitted(History(error=[0.0] * 99, loss=[0.1] * 99, classes=4))  # too short to judge
    assert not transfer.fitted(History(error=[0.5] * 90 + [0.0] * 10, loss=[1.0] * 100, classes=4))  # still falling
    edge = History(error=[transfer.FIT_ERROR] * MIN_STEPS, loss=[0.1] * MIN_STEPS, classes=4)
    assert transfer.fitted(edge)  # at most FIT_ERROR, the one threshold


def test_budget():
    b = transfer.Budget(epochs=4)
    assert (b.steps(40), b.batch(40), b.batch(50), b.steps(1297), b.batch(1297)) == (100, 20, 25, 164, 32)
    with pytest.raises(ValueError, match="bn must be"):
        transfer.Budget(epochs=1, bn="eval")
    with pytest.raises(ValueError, match="positive"):
        transfer.Budget(epochs=1, lr_grids={**transfer.LR_GRIDS, "scratch": ()})


def test_validation_split_is_fixed_disjoint_and_per_class():
    y = torch.arange(400) % 4
    rest, val = validation_split(y)
    assert torch.bincount(y[val]).tolist() == [20] * 4 and len(rest) == 320
    assert not set(rest.tolist()) & set(val.tolist())
    assert torch.equal(validation_split(y)[1], val)
    assert torch.bincount(y[validation_split(torch.arange(40) % 4)[1]]).tolist() == [2] * 4  # a quarter of 10


# -- the experiment: choices on validation, the test split read once per final run ------------------

BUDGET = dict(epochs=1, lr_grids={"scratch": (0.03, 0.3), "finetune_last": (0.003, 0.03), "finetune_all": (0.003, 0.03)},
              l2_grid=(1.0, 0.01))  # at least MIN_STEPS steps a run: the convergence windows differ


def _experiment(target: TargetData) -> transfer.Experiment:
    return transfer.Experiment(_model(), _build, target, transfer.Budget(**BUDGET))


@pytest.fixture(scope="module")
def toy_runs():
    """Every strategy at 6 labels a class and at ALL, seeds 0 and 1, on the toy target and on the same
    target with its test labels permuted (a few seconds: tiny nets, 100 steps a run)."""
    target = _target()
    shuffled = TargetData(target.name, target.classes, target.x_train, target.y_train, target.x_test,
                          target.y_test[torch.randperm(len(target.y_test), generator=torch.Generator().manual_seed(3))])
    out = {}
    for name, t in (("true", target), ("permuted", shuffled)):
        ex = _experiment(t)
        tests = []
        original = ex._accuracy

        def counting(run, idx, ex=ex, original=original, tests=tests):
            if idx is None:
                tests.append(run)
            return original(run, idx)
        ex._accuracy = counting  # count every read of the test split
        results = transfer.compare(ex, [6, transfer.ALL], [0, 1])
        stages = transfer.probe_each_stage(ex, 6, [0, 1])
        out[name] = (ex, results, stages, tests)
    return out


def _choices(ex: transfer.Experiment) -> dict:
    return {key: (s.chosen, s.at_edge, tuple((c[0], c[1]) for c in s.candidates))
            for key, (s, _) in ex._selections.items()}


def test_permuting_the_test_labels_changes_no_choice_only_the_test_accuracies(toy_runs):
    (ex, results, stages, _), (ex_p, results_p, stages_p, _) = toy_runs["true"], toy_runs["permuted"]
    assert _choices(ex) == _choices(ex_p)  # every learning rate, L2 penalty and stage, and every validation score
    assert set(ex._selections) >= {(s, n, 0, None) for s in transfer.TRAINS_WEIGHTS for n in (6, transfer.ALL)}
    for a, b in zip(results + stages, results_p + stages_p):
        assert (a.strategy, a.setting, a.val_accuracy, a.final_train_error) == \
               (b.strategy, b.setting, b.val_accuracy, b.final_train_error)
    assert any(a.accuracy != b.accuracy for a, b in zip(results, results_p))
    for among in (transfer.STRATEGIES, transfer.PRETRAINED):
        for n in (6, transfer.ALL):
            assert transfer.best_by_validation(results, among, labels_per_class=n) == \
                   transfer.best_by_validation(results_p, among, labels_per_class=n)


def test_the_test_split_is_read_once_per_final_run(toy_runs):
    ex, results, stages, tests = toy_runs["true"]
    finals = {id(r) for r in results + stages}
    assert len(tests) == len(finals) == len(ex._results)  # never for a candidate, never twice


def test_each_choice_is_the_best_validation_score_among_runs_that_completed(toy_runs):
    ex, results, _, _ = toy_runs["true"]
    for (strategy, n, seed, stage), (selection, run) in ex._selections.items():
        complete = [(s, a) for s, a, c in selection.candidates if c] or [(s, a) for s, a, _ in selection.candidates]
        best = max(a for _, a in complete)
        assert selection.chosen == next(s for s, a in complete if a == best)  # the first of equals
        grid = ex.budget.l2_grid if strategy in transfer.PROBES else ex.budget.lr_grids[strategy]
        value = selection.chosen.l2 if strategy in transfer.PROBES else selection.chosen.lr
        assert selection.at_edge == (value in (min(grid), max(grid)))
        if selection.at_edge:
            inward = sorted(grid)[1] if value == min(grid) else sorted(grid)[-2]
            neighbour = next(a for s, a, _ in selection.candidates
                             if (s.l2 if strategy in transfer.PROBES else s.lr) == inward and s.stage == selection.chosen.stage)
            assert selection.open_edge == (neighbour < best)
        else:
            assert not selection.open_edge
    for r in results:  # every seed reuses the setting chosen with seed 0
        assert r.setting == ex.select(r.strategy, r.labels_per_class, 0).chosen
        assert r.validation_per_class == 10 and (r.steps is None) == (r.strategy in transfer.PROBES)


def test_scratch_and_fine_tuning_train_their_budget_and_fit_the_toy_target(toy_runs):
    ex, results, _, _ = toy_runs["true"]
    trained = [r for r in results if r.strategy in transfer.TRAINS_WEIGHTS]
    assert {r.strategy for r in trained} == set(transfer.TRAINS_WEIGHTS)
    for r in trained:
        assert r.steps == ex.budget.steps(len(ex.labelled(r.labels_per_class, r.seed))) >= MIN_STEPS
        assert r.fitted == transfer.fitted(r.history) and r.optimal is None
        assert r.bn == ("frozen" if r.strategy != "scratch" else None)
    assert all(r.fitted for r in trained if r.labels_per_class == transfer.ALL)
    assert all(r.optimal and r.fitted is None for r in results if r.strategy in transfer.PROBES)
    assert all(r.accuracy > 0.8 for r in trained)  # chance is 0.25; the toy "pretrained" net is a random one


def test_fine_tuning_starts_from_the_linear_probe_of_the_same_images(toy_runs):
    ex, results, _, _ = toy_runs["true"]
    for seed in (0, 1):
        probe = ex.probe(6, seed, 0)
        idx = ex.labelled(6, seed)
        chosen = ex.select("linear_probe", 6, 0).chosen.l2
        ref = transfer.fit_probe(ex.features.pooled[-1][idx], ex.target.y_train[idx], 4, l2=chosen).probe
        assert torch.allclose(probe.linear.weight, ref.linear.weight, atol=1e-4)


def test_probe_each_stage_probes_every_stage_and_its_last_is_the_strategies_own(toy_runs):
    ex, results, stages, _ = toy_runs["true"]
    assert sorted({(r.strategy, r.setting.stage) for r in stages}) == sorted(
        (s, k) for s in ("linear_probe", "random_features") for k in (1, 2, 3))
    last = {(r.strategy, r.seed): r for r in stages if r.setting.stage == 3}
    for r in results:
        if r.strategy in ("linear_probe", "random_features") and r.labels_per_class == 6:
            assert last[(r.strategy, r.seed)] is r
    early = [r for r in results if r.strategy == "earlier_probe"]
    assert all(r.setting.stage in (1, 2) for r in early)
    with pytest.raises(ValueError, match="only linear_probe and random_features"):
        ex.run("earlier_probe", 6, [0], stage=1)


def test_budget_checks_train_the_same_runs_two_and_four_times_as_long(toy_runs):
    ex, results, _, _ = toy_runs["true"]
    checks = ex.budget_checks("scratch", 6, [0, 1])
    base = ex.run("scratch", 6, [0, 1])
    for factor in (2, 4):
        longer = ex.longer("scratch", 6, [0, 1], factor)
        assert [r.steps for r in longer] == [factor * r.steps for r in base]
        assert [r.setting for r in longer] == [r.setting for r in base] and all(r.factor == factor for r in longer)
        for check, r, f in zip(checks[factor], base, longer):
            assert (check.steps, check.longer_steps) == (r.steps, f.steps)
            assert check.moved == f.final_train_error - r.final_train_error
    with pytest.raises(ValueError, match="trains longer"):
        ex.longer("linear_probe", 6, [0], 2)


def test_usable_labels_per_class_names_the_target_that_is_short():
    short = TargetData("short", ("a", "b"), torch.zeros(24, 3, 4, 4), torch.tensor([0] * 16 + [1] * 8),
                       torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]))
    long = TargetData("long", ("a", "b"), torch.zeros(80, 3, 4, 4), torch.arange(80) % 2,
                      torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]))
    values, notes = transfer.usable_labels_per_class([short, long], [5, 10])
    assert values == [5, 6] and len(notes) == 1 and "'b' of 'short'" in notes[0]  # 8 - 2 validation images


# -- paired comparisons, the rule, the record -------------------------------------------------------

def _rows(accs: dict[str, list[float]], target="digits", n=5, fitted=True, val=None) -> list[dict]:
    return [{"target": target, "labels_per_class": n, "strategy": s, "seed": i, "accuracy": a,
             "val_accuracy": (val or {}).get(s, a), "fitted": fitted if s in transfer.TRAINS_WEIGHTS else None,
             "optimal": None if s in transfer.TRAINS_WEIGHTS else True}
            for s, values in accs.items() for i, a in enumerate(values)]


def test_paired_differences_their_spread_and_k_of_n():
    rows = _rows({"finetune_all": [0.80, 0.82, 0.84, 0.86, 0.88], "scratch": [0.70, 0.73, 0.71, 0.78, 0.76]})
    p = transfer.paired(rows, "finetune_all", "scratch")
    assert p.differences == pytest.approx((0.10, 0.09, 0.13, 0.08, 0.12))
    sd = np.std([0.10, 0.09, 0.13, 0.08, 0.12], ddof=1)
    assert p.spread == pytest.approx(2.7764451 * sd / math.sqrt(5), rel=1e-6)  # t(0.975, 4 degrees of freedom)
    assert (p.wins, p.n, p.outcome) == (5, 5, "better") and "better on 5 of 5 seeds" in p.words()
    q = transfer.paired(rows, "scratch", "finetune_all")
    assert q.outcome == "worse" and q.mean == pytest.approx(-p.mean)
    noisy = transfer.paired(_rows({"a": [0.9, 0.5, 0.9], "b": [0.6, 0.8, 0.6]}), "a", "b")
    assert noisy.mean > 0 and noisy.wins == 2 and noisy.outcome == "undecided"  # the spread exceeds the gap
    assert math.isinf(transfer.paired(_rows({"a": [0.9], "b": [0.6]}), "a", "b").spread)
    with pytest.raises(ValueError, match="ran seeds"):
        transfer.paired(_rows({"a": [0.9, 0.8]}) + _rows({"b": [0.6]}), "a", "b")
    with pytest.raises(KeyError, match="no runs of 'c'"):
        transfer.paired(rows, "finetune_all", "c")


RIVALS = {"scratch": [0.70, 0.72, 0.71, 0.73, 0.69], "linear_probe": [0.75, 0.74, 0.76, 0.75, 0.77],
          "finetune_last": [0.76, 0.78, 0.77, 0.75, 0.76], "finetune_all": [0.77, 0.79, 0.78, 0.80, 0.77],
          "random_features": [0.99] * 5}


@pytest.mark.parametrize("advised, outcome", [
    ([0.90, 0.92, 0.91, 0.93, 0.90], "holds"),      # ahead of every rival on every seed, by far
    ([0.70, 0.71, 0.70, 0.72, 0.70], "fails"),      # finetune_all and others ahead beyond the spread
    ([0.95, 0.60, 0.90, 0.70, 0.85], "undecided"),  # ahead on average, but the seeds disagree
])
def test_the_rule_verdict_can_say_holds_fails_or_undecided(advised, outcome):
    rows = _rows({**RIVALS, "earlier_probe": advised})
    v = transfer.verdict(rows, transfer.cell("different", "very little data"), "digits", 5)
    assert v.cell.advice == "You're in trouble... Try linear classifier from different stages"
    assert v.outcome == outcome and {p.b for p in v.comparisons} == set(RIVALS) - {"random_features"}
    assert v.reason()


def test_a_verdict_is_not_judged_from_runs_that_had_not_fitted_and_needs_its_advised_strategy():
    rows = _rows({**RIVALS, "earlier_probe": [0.9] * 5})
    for r in rows:
        if r["strategy"] == "scratch" and r["seed"] == 3:
            r["fitted"] = False
    v = transfer.verdict(rows, transfer.cell("different", "very little data"), "digits", 5)
    assert v.outcome == "not judged" and "had not fitted" in v.reason()
    with pytest.raises(KeyError, match="advised strategy 'finetune_last'"):
        transfer.verdict(_rows({"scratch": [0.5], "linear_probe": [0.6]}), transfer.cell("similar", "quite a lot of data"),
                         "digits", 5)


def test_the_rule_is_quoted_word_for_word():
    assert [(c.data, c.amount, c.advice) for c in transfer.RULE] == [
        ("similar", "very little data", "Use Linear Classifier on top layer"),
        ("similar", "quite a lot of data", "Finetune a few layers"),
        ("different", "very little data", "You're in trouble... Try linear classifier from different stages"),
        ("different", "quite a lot of data", "Finetune a larger number of layers")]


def test_negative_transfer_compares_like_with_like():
    rows = _rows({"finetune_all": [0.70, 0.71, 0.69, 0.70, 0.72], "scratch": [0.80, 0.82, 0.81, 0.80, 0.79],
                  "linear_probe": [0.90, 0.91, 0.92, 0.90, 0.91], "random_features": [0.70, 0.72, 0.71, 0.70, 0.69]})
    effects = transfer.transfer_effects(rows, "digits", 5)
    assert (effects["fine-tuning everything vs scratch"].outcome, effects["linear probe vs random features"].outcome) \
        == ("worse", "better")
    assert transfer.rule.TRANSFER_WORDS["worse"] == "negative transfer"


def test_best_by_validation_never_reads_the_test_accuracy():
    rows = _rows({"scratch": [0.9, 0.9], "linear_probe": [0.5, 0.5]}, val={"scratch": 0.6, "linear_probe": 0.7})
    assert transfer.best_by_validation(rows, transfer.STRATEGIES) == "linear_probe"
    with pytest.raises(KeyError, match="no runs"):
        transfer.best_by_validation(rows, ("finetune_all",))
    with pytest.raises(KeyError, match="labels_per_clas"):
        transfer.best_by_validation(rows, transfer.STRATEGIES, labels_per_clas=5)  # a misspelt field


def test_the_record_keeps_rows_curves_and_a_summary(toy_runs, tmp_path, monkeypatch):
    from cnnlessons.records import RECORD_ENV, save_record
    import json

    ex, results, stages, _ = toy_runs["true"]
    everything = results + stages
    rows = transfer.record.rows(everything)
    assert len(rows) == len({id(r) for r in everything})  # the shared last-stage probes once
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "r.json"))
    save_record(parameters={}, summary=transfer.record.summary(everything), curves=transfer.record.curves(results),
                rows=rows)
    record = json.loads((tmp_path / "r.json").read_text())
    back = record_rows(record, target="toy", labels_per_class=6)
    assert transfer.paired(back, "finetune_all", "scratch").differences == \
        transfer.paired(results, "finetune_all", "scratch", labels_per_class=6).differences
    curves = record["curves"]["runs"]
    assert len(curves) == sum(r.strategy in transfer.TRAINS_WEIGHTS for r in results)
    assert all(len(c["step"]) == len(c["error"]) > 1 for c in curves)
    assert all(len(v) == 2 for v in record["summary"].values())
