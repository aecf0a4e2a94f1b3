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
    assert 0 <= run.val_error <= 1 and not run.diverged
