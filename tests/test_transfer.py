"""Transfer strategies: features, probes, fine-tuning, fair budgets, learning-rate choice, the decision rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlessons.data.targets import TargetData, validation_split
from cnnlessons.experiments import transfer
from cnnlessons.experiments import transfer_rule as rule
from cnnlessons.models.cifar_resnet import cifar_resnet


def _model(num_classes: int = 4):
    torch.manual_seed(0)
    return cifar_resnet(8, num_classes=num_classes).eval()


def _target(per_class: int = 30, num_classes: int = 4) -> TargetData:
    """Tiny separable images: class c is a bright square in quadrant c on noise."""
    g = torch.Generator().manual_seed(0)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % num_classes
        x = torch.randn(n, 3, 16, 16, generator=g) * 0.3
        for i, c in enumerate(y.tolist()):
            r, q = divmod(c, 2)
            x[i, :, 8 * r:8 * r + 8, 8 * q:8 * q + 8] += 1.5
        return x, y
    x_tr, y_tr = make(per_class * num_classes)
    x_te, y_te = make(10 * num_classes)
    return TargetData("toy", tuple("abcd"[:num_classes]), x_tr, y_tr, x_te, y_te)


def test_extract_matches_a_manual_forward():
    model, x = _model(), torch.randn(5, 3, 16, 16)
    f = transfer.extract(model, x, batch_size=2)
    with torch.no_grad():
        h1 = model.layer1(model.relu(model.bn1(model.conv1(x))))
        h2 = model.layer2(h1)
        h3 = model.layer3(h2)
    for got, ref in zip(f.pooled, (h1, h2, h3)):
        assert torch.allclose(got, ref.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(f.last_input, h2, atol=1e-5)
    assert torch.allclose(model.fc(f.pooled[-1]), model(x), atol=1e-5)


def test_probe_standardises_and_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    f = 5 + torch.randn(60, 8, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 8).float() * 3
    probe, history = transfer.fit_probe(f[:30], y[:30], 3, lr=0.1, steps=50)
    assert torch.allclose(probe.mu, f[:30].mean(0)) and probe.mu.requires_grad is False
    assert (transfer.predict(probe, f[30:]) == y[30:]).all() and history.final_train_error == 0.0


def test_fine_tuning_starts_from_the_probe_and_leaves_the_zoo_model_untouched():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 2
    feats = transfer.extract(model, x)
    probe, _ = transfer.fit_probe(feats.pooled[-1], y, 2, lr=0.1, steps=5)
    start = transfer.with_probe_head(model, probe).eval()
    with torch.no_grad():  # before any step, the network with the probe as its head is the probe
        assert torch.allclose(start(x), probe(feats.pooled[-1]), atol=1e-5)
    transfer.finetune_last(model, probe, feats.last_input, y, lr=0.01, steps=2)
    transfer.finetune_all(model, probe, x, y, lr=0.01, steps=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_frozen_statistics_keep_the_running_statistics_and_train_the_rest():
    model = _model()
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 2
    probe, _ = transfer.fit_probe(transfer.extract(model, x).pooled[-1], y, 2, lr=0.1, steps=5)
    frozen, _ = transfer.finetune_all(model, probe, x, y, lr=0.01, steps=3, bn="frozen")
    moved, _ = transfer.finetune_all(model, probe, x, y, lr=0.01, steps=3, bn="train")
    assert isinstance(frozen, transfer.FrozenStatistics) and not frozen.module.bn1.training
    assert torch.equal(frozen.module.bn1.running_mean, model.bn1.running_mean)
    assert not torch.equal(frozen.module.bn1.weight, model.bn1.weight)  # gamma still trains
    assert not torch.equal(moved.bn1.running_mean, model.bn1.running_mean)
    loss = transfer.start_loss(model, probe, x, y, batch_size=4)
    assert loss["eval"] != loss["train"]


def test_a_run_that_has_not_fit_its_training_images_has_not_finished():
    from cnnlessons.train import History

    flat = History(error=[0.2] * 100)
    assert flat.converged and transfer.finished("linear_probe", flat)
    assert not transfer.finished("scratch", flat)  # converged, but at 20% training error
    assert transfer.finished("scratch", History(error=[0.0] * 100))
    assert not transfer.finished("scratch", History(error=[0.5] * 90 + [0.0] * 10))  # still falling


def test_budget():
    b = transfer.Budget(epochs=4)
    assert (b.steps(40), b.batch(40), b.batch(50), b.steps(1297), b.batch(1297)) == (100, 20, 25, 164, 32)
    with pytest.raises(ValueError, match="bn must be"):
        transfer.Budget(epochs=1, bn="eval")


def test_validation_split_is_fixed_disjoint_and_per_class():
    y = torch.arange(400) % 4
    rest, val = validation_split(y)
    assert torch.bincount(y[val]).tolist() == [20] * 4 and len(rest) == 320
    assert not set(rest.tolist()) & set(val.tolist())
    assert torch.equal(validation_split(y)[1], val)
    assert torch.bincount(y[validation_split(torch.arange(40) % 4)[1]]).tolist() == [2] * 4  # a quarter of 10


def test_runner_chooses_the_learning_rate_on_the_validation_split():
    t = _target()
    runner = transfer.Runner(_model(), lambda k: cifar_resnet(8, num_classes=k), t,
                             transfer.Budget(epochs=1, min_steps=3, probe_steps=20))
    assert set(runner.methods) == set(transfer.STRATEGIES)
    selection, final = runner.labelled(3, seed=0)
    assert torch.equal(selection, final) and not set(selection.tolist()) & set(runner.val.tolist())
    assert torch.bincount(t.y_train[selection]).tolist() == [3] * 4
    r = runner.run("linear_probe", 3, seed=0)
    f = runner.f_train.pooled[-1]
    score = {}  # a finished run first, then the best validation accuracy, then the first of equals
    for lr in transfer.LR_GRID:
        probe, history = transfer.fit_probe(f[selection], t.y_train[selection], 4, lr=lr, steps=20, seed=0)
        val_acc = (transfer.predict(probe, f[runner.val]) == t.y_train[runner.val]).float().mean().item()
        score[lr] = (transfer.finished("linear_probe", history), val_acc, -transfer.LR_GRID.index(lr))
    assert r.lr == max(transfer.LR_GRID, key=score.get)
    assert r.val_accuracy == score[r.lr][1]
    assert r.accuracy == (r.predictions == t.y_test).float().mean().item()
    selection, final = runner.labelled(transfer.ALL, seed=0)
    assert len(final) == len(t.y_train) and len(selection) == len(t.y_train) - len(runner.val)
    r_all = runner.run("finetune_last", transfer.ALL, seed=0)
    assert r_all.lr in transfer.LR_GRID and r_all.steps == max(3, -(-len(final) // 32))
    early = runner.run("earlier_probe", 3, seed=0)
    assert early.stage in (1, 2)


def test_record_summary_round_trips():
    rows = [transfer.Result("digits", s, n, seed, 0.01, 0.5, 0.25 * seed, 0.0, seed != 1, 100, 1.0)
            for s in ("scratch", "finetune_all") for n in (5, transfer.ALL) for seed in (0, 1)]
    summary = transfer.record_summary(rows)
    assert summary["digits all/class scratch accuracy"] == [0.0, 0.25]
    back = transfer.rows_from_record({**summary, **transfer.record_summary(rows[:2], "frozen_bn")}, [0, 1])
    assert sorted(back, key=lambda r: (r["strategy"], str(r["labels_per_class"]), r["seed"])) == sorted(
        ({k: v for k, v in r.row().items() if k in ("target", "strategy", "labels_per_class", "seed", "accuracy",
                                                    "train_error", "lr", "converged")} for r in rows),
        key=lambda r: (r["strategy"], str(r["labels_per_class"]), r["seed"]))
    assert len(transfer.rows_from_record(transfer.record_summary(rows[:2], "frozen_bn"), [0, 1], "frozen_bn")) == 2


def test_summarise_and_best_strategy():
    rows = [{"target": "t", "labels_per_class": 5, "strategy": s, "seed": i, "accuracy": a}
            for s, accs in (("scratch", [0.2, 0.4]), ("linear_probe", [0.8, 0.9])) for i, a in enumerate(accs)]
    summary = transfer.summarise(rows)
    s = summary[("t", 5, "scratch")]
    assert np.isclose(s.mean, 0.3) and np.isclose(s.std, np.std([0.2, 0.4])) and (s.low, s.high) == (0.2, 0.4)
    assert np.isclose(s.spread, 0.2)
    assert transfer.best_strategy(summary, "t", 5) == "linear_probe"


def test_usable_labels_per_class_names_the_target_that_is_short():
    short = TargetData("short", ("a", "b"), torch.zeros(24, 3, 4, 4), torch.tensor([0] * 16 + [1] * 8),
                       torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]))
    long = TargetData("long", ("a", "b"), torch.zeros(80, 3, 4, 4), torch.arange(80) % 2,
                      torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]))
    values, notes = transfer.usable_labels_per_class([short, long], [5, 10])
    assert values == [5, 6] and len(notes) == 1 and "'b' of 'short'" in notes[0]  # 8 - 2 validation images


def _rows(accs: dict[str, list[float]], errors: dict[str, float] | None = None, n=5) -> list[dict]:
    return [{"target": "digits", "labels_per_class": n, "strategy": s, "seed": i, "accuracy": a,
             "train_error": (errors or {}).get(s, 0.0), "converged": True}
            for s, values in accs.items() for i, a in enumerate(values)]


def test_the_decision_rule_follows_the_numbers():
    rows = _rows({"scratch": [0.80, 0.84], "linear_probe": [0.70, 0.72], "earlier_probe": [0.78, 0.80],
                  "finetune_last": [0.81, 0.83], "finetune_all": [0.90, 0.92], "random_features": [0.95, 0.96]})
    acc, done = transfer.summarise(rows), rule.finished(rows)
    v = rule.verdict(rule.cell("different", "little"), "digits", 5, acc, done)
    assert (v.winner, v.holds) == ("finetune_all", False) and "does not hold" in v.sentence()
    v = rule.verdict(rule.cell("different", "lots"), "digits", 5, acc, done)
    assert v.holds and "random" not in v.sentence()  # the control never wins
    vs = rule.versus_scratch("digits", 5, acc, done, "linear_probe")
    assert vs.negative and "negative transfer" in vs.sentence()
    vs = rule.versus_scratch("digits", 5, acc, done, "finetune_last")  # -0.0, spread 0.04
    assert not vs.negative and "level with scratch" in vs.sentence()
    assert rule.versus_scratch("digits", 5, acc, done).strategy == "finetune_all"
    tie = rule.verdict(rule.cell("similar", "lots"), "digits", 5, acc, done)
    assert tie.advised == "finetune_all" and tie.holds


def test_no_verdict_and_no_negative_transfer_from_unfinished_runs():
    rows = _rows({"scratch": [0.9, 0.91], "linear_probe": [0.5, 0.52], "earlier_probe": [0.5, 0.5],
                  "finetune_last": [0.5, 0.5], "finetune_all": [0.5, 0.5], "random_features": [0.1, 0.1]},
                 errors={"finetune_all": 0.2})
    acc, done = transfer.summarise(rows), rule.finished(rows)
    assert not done[("digits", 5, "finetune_all")] and done[("digits", 5, "linear_probe")]
    vs = rule.versus_scratch("digits", 5, acc, done, "finetune_all")
    assert not vs.negative and "early training" in vs.sentence()
    v = rule.verdict(rule.cell("different", "lots"), "digits", 5, acc, done)
    assert not v.holds and "early training" in v.sentence()
    rows[0]["converged"] = False
    assert not rule.finished(rows)[("digits", 5, "scratch")]
