import math

import pytest
import torch

from cnnlessons.models import cifar_resnet
from cnnlessons.experiments.recipe import PAPER, SLIDE, Recipe, ablations, run_recipe


def test_paper_and_slide_differ_only_in_weight_decay():
    assert (PAPER.lr, PAPER.momentum, PAPER.batch_size) == (SLIDE.lr, SLIDE.momentum, SLIDE.batch_size) == (0.1, 0.9, 256)
    assert PAPER.weight_decay == 1e-4 and SLIDE.weight_decay == 1e-5


def test_optimizer_is_sgd_with_the_recipes_settings():
    model = cifar_resnet(8)
    opt = PAPER.optimizer(model)
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.1, 0.9, 1e-4)
    assert sum(p.numel() for p in group["params"]) == sum(p.numel() for p in model.parameters())


def test_scheduler_divides_by_ten_on_plateau():
    model = cifar_resnet(8)
    opt = PAPER.with_(patience=1).optimizer(model)
    sched = PAPER.with_(patience=1).scheduler(opt)
    for error in (0.5, 0.5, 0.5):   # improvement once, then two evaluations without
        sched.step(error)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_one_step_matches_torch_sgd_by_hand():
    # SGD with momentum and L2 weight decay: v = g + wd * w; w -= lr * v (first step, v0 = 0)
    torch.manual_seed(0)
    model = cifar_resnet(8, num_classes=3)
    before = model.fc.weight.detach().clone()
    opt = PAPER.optimizer(model)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
    torch.nn.functional.cross_entropy(model(x), y).backward()
    grad = model.fc.weight.grad.clone()
    opt.step()
    assert torch.allclose(model.fc.weight, before - 0.1 * (grad + 1e-4 * before), atol=1e-7)


def test_ablations_remove_one_ingredient_each():
    variants = ablations(PAPER.with_(batch_size=32))
    assert variants["full recipe"].batch_size == 32
    assert variants["no BN"].model_kwargs == {"batch_norm": False, "init": "he"}
    assert variants["no He init"].model_kwargs == {"batch_norm": True, "init": "small"}
    assert variants["no momentum"].momentum == 0.0
    model = cifar_resnet(8, **variants["no BN"].model_kwargs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("kwargs, word", [({"lr": 0}, "lr"), ({"momentum": 1.0}, "momentum"),
                                          ({"batch_size": 0}, "batch_size"), ({"init": "xavier"}, "init"),
                                          ({"weight_decay": -1}, "weight_decay")])
def test_bad_settings_name_the_parameter(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Recipe("bad", **kwargs)


def test_run_recipe_trains_with_fit_and_steps_the_scheduler():
    torch.manual_seed(0)
    x, y = torch.randn(64, 3, 8, 8), torch.arange(64) % 4
    run = run_recipe(PAPER.with_(batch_size=16, patience=0), (x, y), (x[:32], y[:32]), depth=8, steps=8,
                     eval_every=2, widths=(4, 8, 8), show_progress=False)
    assert run.history.eval_step == [2, 4, 6, 8] and len(run.history.val_error) == 4
    assert run.params == sum(p.numel() for p in cifar_resnet(8, num_classes=4, widths=(4, 8, 8)).parameters())
    assert 0 <= run.val_error <= 1 and not run.diverged and run.test_error is None


def test_run_recipe_reports_the_mean_of_the_last_validation_errors_and_reads_the_test_split_once():
    from cnnlessons.experiments.recipe import VAL_WINDOW

    torch.manual_seed(0)
    x, y = torch.randn(64, 3, 8, 8), torch.arange(64) % 4
    run = run_recipe(PAPER.with_(batch_size=16), (x, y), (x[:32], y[:32]), test=(x[32:], y[32:]), depth=8, steps=12,
                     eval_every=2, widths=(4, 8, 8), show_progress=False)
    assert run.val_error == pytest.approx(sum(run.history.val_error[-VAL_WINDOW:]) / VAL_WINDOW)
    assert 0 <= run.test_error <= 1 and run.status in ("trains", "stuck at chance")
    assert run_recipe(PAPER.with_(batch_size=16), (x, y), (x[:32], y[:32]), depth=8, steps=2, eval_every=2,
                      widths=(4, 8, 8), show_progress=False).test_error is None


def test_cosine_warmup_and_milestone_schedules_in_steps():
    model = cifar_resnet(8)
    cosine = PAPER.with_(cosine=True, warmup_steps=20)
    opt = cosine.optimizer(model)
    sched = cosine.scheduler(opt, steps=100, eval_every=10)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        opt.step()  # no gradients: nothing moves, but the scheduler sees the order it expects
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    # warm-up: (t + 10) / 20 of the cosine's value at t = 0 and 10; then the cosine alone, down to 0 at t = 100
    assert lrs[0] == pytest.approx(0.1 * 0.5 * 1.0) and lrs[1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.1)))
    assert lrs[5] == pytest.approx(0.05) and lrs[10] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="warmup_steps"):
        PAPER.with_(warmup_steps=10)          # the plateau rule has no warm-up here
    with pytest.raises(ValueError, match="not both"):
        PAPER.with_(cosine=True, milestones=(0.5,))
    with pytest.raises(ValueError, match="steps="):
        cosine.scheduler(opt)


def test_label_smoothing_is_the_recipes_loss():
    logits, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    assert PAPER.loss_fn(logits, y) == torch.nn.functional.cross_entropy(logits, y)
    smooth = PAPER.with_(label_smoothing=0.1).loss_fn(logits, y)
    assert smooth == pytest.approx(torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1).item())
    with pytest.raises(ValueError, match="label_smoothing"):
        PAPER.with_(label_smoothing=1.0)


def _tiny_data():
    from cnnlessons.experiments import shapes_task

    (x, y), test = shapes_task(160, 64, classes=4)
    return ((x[:96], y[:96]), (x[96:], y[96:]), test)


def test_compare_searches_each_variant_on_the_first_seed_and_reuses_the_choice():
    from cnnlessons.experiments.recipe import Variant, choose, compare, paired

    base = PAPER.with_(batch_size=16)
    variants = [Variant("full recipe", base), Variant("no momentum", base.with_(momentum=0.0)),
                Variant("cosine", base.with_(cosine=True), lr_from="full recipe")]
    got = compare(variants, _tiny_data(), [3, 4], grid=(0.01, 0.1), steps=6, eval_every=2, depth=8, widths=(4, 8, 8),
                  show_progress=False)
    full = got["full recipe"]
    assert set(full.search) == {0.01, 0.1} and all(r.seed == 3 for r in full.search.values())
    assert full.lr == choose(full.search) and full.runs[0] is full.search[full.lr] and full.at_edge
    assert [r.seed for r in full.runs] == [3, 4] and all(r.recipe.lr == full.lr for r in full.runs)
    assert got["cosine"].lr == full.lr and got["cosine"].search == {} and [r.seed for r in got["cosine"].runs] == [3, 4]
    assert paired(got["no momentum"], full) == [round(a - b, 4) for a, b in zip(got["no momentum"].per_seed(),
                                                                                full.per_seed())]
    # the test split never decides: other test labels, the same choices
    (tr, va, (xt, yt)) = _tiny_data()
    again = compare(variants, (tr, va, (xt, (yt + 1) % 4)), [3, 4], grid=(0.01, 0.1), steps=6, eval_every=2, depth=8,
                    widths=(4, 8, 8), show_progress=False)
    assert {n: c.lr for n, c in again.items()} == {n: c.lr for n, c in got.items()}
    # given learning rates: no search
    given = compare(variants[:2], _tiny_data(), [3], grid=None, lrs={"full recipe": 0.1, "no momentum": 1.0}, steps=4,
                    eval_every=2, depth=8, widths=(4, 8, 8), show_progress=False)
    assert given["no momentum"].lr == 1.0 and given["no momentum"].search == {}
    for bad, word in ((dict(grid=None), "chosen lrs"), (dict(grid=None, lrs={"full recipe": 0.1}), "no momentum")):
        with pytest.raises(ValueError, match=word):
            compare(variants[:2], _tiny_data(), [3], steps=4, **bad)
    with pytest.raises(ValueError, match="lr_from"):
        compare([Variant("a", base, lr_from="b")], _tiny_data(), [3], steps=4)


def test_choose_prefers_runs_that_train():
    from types import SimpleNamespace

    from cnnlessons.experiments.recipe import choose

    runs = {0.1: SimpleNamespace(status="stuck at chance", val_error=0.1), 0.01: SimpleNamespace(status="trains", val_error=0.5),
            0.03: SimpleNamespace(status="trains", val_error=0.4)}
    assert choose(runs) == 0.03
    assert choose({0.1: SimpleNamespace(status="diverged", val_error=0.9),
                   0.3: SimpleNamespace(status="stuck at chance", val_error=0.95)}) == 0.1


def test_parallel_runs_equal_runs_in_this_process():
    from cnnlessons.experiments.parallel import run_all

    assert run_all(abs, [-1, 2, -3], workers=2) == [1, 2, 3]
    with pytest.raises(ValueError, match="workers"):
        run_all(abs, [1], workers=0)
