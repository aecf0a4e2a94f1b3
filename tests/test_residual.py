import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlessons.models import cifar_resnet
from cnnlessons.models.cifar_resnet import BasicBlock
from cnnlessons.experiments import (deepen, degradation_experiment, gradient_norms, make_identity_,
                                 max_output_difference, plot_curves, shortcut_deviation)


def _trained_like(model):
    """Give every BN non-trivial running statistics and affine parameters (as after training)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return model.eval()


@pytest.mark.parametrize("residual", [True, False])
def test_deepen_keeps_the_function_in_eval_mode(residual):
    torch.manual_seed(0)
    shallow = _trained_like(cifar_resnet(8, residual=residual, num_classes=5))
    deep = deepen(shallow, 26)
    assert deep.depth == 26 and len(deep.layer2) == 4
    assert sum(p.numel() for p in deep.parameters()) > sum(p.numel() for p in shallow.parameters())
    x = torch.randn(8, 3, 16, 16)
    reference = shallow(x)
    assert (deep(x) - reference).abs().max().item() < 1e-5
    assert max_output_difference(shallow, deep, x) < 1e-5
    # the deeper net really has different layers: perturbing a new block changes the output
    with torch.no_grad():
        deep.layer1[-1].conv2.weight.add_(0.1)
        deep.layer1[-1].bn2.weight.add_(0.1)
    assert max_output_difference(shallow, deep, x) > 1e-3


def test_deepen_does_not_touch_the_original():
    shallow = cifar_resnet(8)
    before = {k: v.clone() for k, v in shallow.state_dict().items()}
    deepen(shallow, 20)
    assert all(torch.equal(before[k], v) for k, v in shallow.state_dict().items())


def test_residual_identity_also_holds_in_train_mode_but_plain_does_not():
    torch.manual_seed(0)
    x = torch.randn(16, 3, 16, 16)
    res = _trained_like(cifar_resnet(8))
    plain = _trained_like(cifar_resnet(8, residual=False))
    assert max_output_difference(res, deepen(res, 14), x, train_mode=True) < 1e-5
    # BN with batch statistics normalises the copied activations: not the identity any more
    assert max_output_difference(plain, deepen(plain, 14), x, train_mode=True) > 1e-2


def test_make_identity_block_by_hand():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 6, 6).relu()  # a block's input comes out of a ReLU
    for residual in (True, False):
        block = make_identity_(BasicBlock(8, 8, residual=residual)).eval()
        assert torch.allclose(block(x), x, atol=1e-6)
    with pytest.raises(ValueError, match="shortcut"):
        make_identity_(BasicBlock(8, 16, stride=2))


def test_deepen_with_se_residual():
    torch.manual_seed(0)
    shallow = _trained_like(cifar_resnet(8, se=True))
    x = torch.randn(4, 3, 16, 16)
    assert max_output_difference(shallow, deepen(shallow, 20), x) < 1e-5


def test_deepen_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        deepen(cifar_resnet(20), 14)
    with pytest.raises(ValueError, match="depth"):
        deepen(cifar_resnet(20), 27)
    with pytest.raises(TypeError, match="CifarResNet"):
        deepen(torch.nn.Linear(2, 2), 20)  # type: ignore[arg-type]


def test_zero_init_makes_every_block_its_shortcut():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16)
    zero = cifar_resnet(20, zero_init_residual=True)
    deviations = shortcut_deviation(zero, x)
    assert len(deviations) == 9 and max(deviations) == 0.0
    # the whole body is then the stem followed by the shortcuts: compare with a hand computation
    zero.eval()
    h = F.relu(zero.bn1(zero.conv1(x)))
    h = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, 0, 16))          # stage 2 entry: option A
    h = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, 0, 32))          # stage 3 entry
    expected = zero.fc(h.mean((2, 3)))
    assert torch.allclose(zero(x), expected, atol=1e-5)
    assert min(shortcut_deviation(cifar_resnet(20), x)) > 1e-2  # the default init is not


def test_shortcut_deviation_leaves_bn_statistics_alone():
    model = cifar_resnet(8)
    before = model.layer1[0].bn1.running_mean.clone()
    shortcut_deviation(model, torch.randn(4, 3, 16, 16))
    assert torch.equal(before, model.layer1[0].bn1.running_mean)


def test_gradient_norms_match_autograd():
    torch.manual_seed(0)
    model = cifar_resnet(8, num_classes=4)
    x, y = torch.randn(6, 3, 16, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    norms = gradient_norms(model, x, y)
    assert list(norms)[0] == "conv1" and list(norms)[-1] == "fc" and len(norms) == 8
    assert all(p.grad is None for p in model.parameters())  # the model is untouched
    F.cross_entropy(model(x), y).backward()
    assert norms["layer2.0.conv1"] == pytest.approx(model.layer2[0].conv1.weight.grad.norm().item(), rel=1e-5)


def test_degradation_experiment_runs_and_records():
    result = degradation_experiment((8,), seeds=(3,), steps=4, eval_every=2, n_train=64, n_test=32,
                                    widths=(4, 8, 8), classes=4, show_progress=False)
    assert [r.name for r in result.runs] == ["plain-8", "residual-8"]
    run = result.runs[0]
    assert run.history.eval_step == [2, 4] and 0 <= run.eval_train_error <= 1 and 0 <= run.test_error <= 1
    assert result.per_seed("plain", 8) == [run.eval_train_error]
    assert run.final_train_error == run.history.final_train_error and run.converged == run.history.converged
    summary = result.summary()
    assert summary["plain-8 converged"] == [int(run.converged)]
    assert set(summary) == {f"{net} {key}" for net in ("plain-8", "residual-8") for key in
                            ("final training error", "training error change", "converged", "training error (eval)",
                             "test error")}
    # the paper's CIFAR schedule: lr 0.1, divided by 10 at 50% and 75% of the steps
    assert run.history.lr == [0.1, 0.1, pytest.approx(0.01), pytest.approx(0.01)]
    # eval mode on the whole training set: the same number evaluate() gives on all 64 images
    from cnnlessons.experiments import shapes_task
    from cnnlessons.train import Batches, evaluate

    (x, y), _ = shapes_task(64, 32, classes=4)
    assert run.eval_train_error == evaluate(run.model, Batches(x, y, 64, shuffle=False))[1]
    with pytest.raises(ValueError, match="families"):
        degradation_experiment((8,), families=("dense",))


def test_an_unfinished_run_says_so_in_the_table_and_the_rows():
    result = degradation_experiment((8,), seeds=(0,), steps=4, schedule_steps=10, eval_every=2, n_train=64,
                                    n_test=32, widths=(4, 8, 8), classes=4, families=("plain",), show_progress=False)
    row = result.rows()[0]
    assert (row["steps"], row["schedule steps"], row["finished"], row["converged"]) == (4, 10, False, False)
    assert "stopped at step 4 of 10" in row["reason"]
    assert result.table().rows[0][3] == "0/1"   # finished


def test_budget_check_trains_the_chosen_seeds_on_twice_the_schedule():
    result = degradation_experiment((8,), seeds=(0, 1), steps=6, eval_every=2, n_train=64, n_test=32,
                                    widths=(4, 8, 8), classes=4, budget_seeds=(1,), show_progress=False)
    longer = result.longer.runs
    assert [(r.name, r.seed, r.steps) for r in longer] == [("plain-8", 1, 12), ("residual-8", 1, 12)]
    # the longer schedule divides the lr at 50% and 75% of ITS steps
    assert longer[0].history.lr[5] == 0.1 and longer[0].history.lr[6] == pytest.approx(0.01)
    checks = result.budget_checks()
    assert set(checks) == {"plain-8 seed 1", "residual-8 seed 1"}
    short = result.get("plain", 8)[1]
    assert checks["plain-8 seed 1"].final_train_error == short.final_train_error
    assert checks["plain-8 seed 1"].longer_final_train_error == longer[0].final_train_error
    assert [r["steps"] for r in result.rows()] == [6, 6, 6, 6, 12, 12]
    with pytest.raises(ValueError, match="finished schedule"):
        degradation_experiment((8,), seeds=(0,), steps=4, schedule_steps=8, budget_seeds=(0,))
    with pytest.raises(ValueError, match="among seeds"):
        degradation_experiment((8,), seeds=(0,), steps=4, budget_seeds=(2,))
    with pytest.raises(ValueError, match="no budget check"):
        result.longer.budget_checks()


def test_parallel_workers_give_the_same_runs_as_one_process():
    kwargs = dict(seeds=(0, 1), steps=4, eval_every=2, n_train=64, n_test=32, widths=(4, 8, 8), classes=4,
                  families=("plain",), show_progress=False)
    from cnnlessons.experiments.parallel import threads_per_worker

    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_worker(2))  # what each of the 2 workers uses: the same summation order
    try:
        alone = degradation_experiment((8,), **kwargs)
    finally:
        torch.set_num_threads(threads)
    parallel = degradation_experiment((8,), workers=2, **kwargs)
    assert [r.seed for r in parallel.runs] == [0, 1]
    assert [r.history.loss for r in alone.runs] == [r.history.loss for r in parallel.runs]
    assert [r.test_error for r in alone.runs] == [r.test_error for r in parallel.runs]
    with pytest.raises(ValueError, match="workers"):
        degradation_experiment((8,), workers=0)


def test_layer_responses_are_the_std_of_each_bn_output_in_eval_mode():
    from cnnlessons.experiments.degradation import layer_responses

    torch.manual_seed(0)
    model = cifar_resnet(8, widths=(4, 8, 8)).train()
    x = torch.randn(16, 3, 16, 16)
    stds = layer_responses(model, x)
    assert len(stds) == 6 and model.training  # two 3x3 layers per block, three blocks; mode restored
    model.eval()
    with torch.no_grad():
        h = model.layer1[0].bn1(model.layer1[0].conv1(model.relu(model.bn1(model.conv1(x)))))
    assert stds[0] == pytest.approx(h.std().item(), rel=1e-5)
    with pytest.raises(TypeError, match="BasicBlock"):
        layer_responses(nn.Sequential(nn.Conv2d(3, 4, 3)), x)


def test_plot_curves_colours_follow_depth_and_dashes_the_plain_nets():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = {"step": [1, 2], "error": [[0.5, 0.4], [0.6, 0.3]]}
    styles = []
    for names in (["plain-8", "plain-32", "residual-8"], ["plain-32", "plain-8", "residual-8"]):  # as run, as a record stores
        _, ax = plt.subplots()
        plot_curves({name: curve for name in names}, ax, chance=0.95, lr_drops=[1])
        styles.append({line.get_label(): (line.get_color(), line.get_linestyle()) for line in ax.get_lines()
                       if line.get_label() in names})
        assert len(ax.collections) == 3  # one band per net: the seeds' range
        plt.close(ax.figure)
    assert styles[0] == styles[1] == {"plain-8": ("C0", "--"), "plain-32": ("C1", "--"), "residual-8": ("C0", "-")}


def test_degradation_claims_skip_unconverged_runs_and_fail_them_when_required():
    from cnnlessons.claims import Claims
    from cnnlessons.experiments import degradation_claims

    def summary(converged):
        return {f"{net} {key}": values for net, final in (("plain-8", [0.05, 0.06]), ("plain-32", [0.07, 0.08]),
                                                            ("residual-8", [0.05, 0.05]), ("residual-32", [0.04, 0.05]))
                for key, values in (("final training error", final), ("converged", converged))}

    claims = Claims()
    numbers = degradation_claims(claims, summary([1, 1]), 8, 32, steps=100, require_convergence=False)
    assert numbers["plain gap"] == [0.02, 0.02] and numbers["residual gap"] == [-0.01, 0.0]
    assert "end of the schedule" in claims.items[2].claim
    assert [c.status for c in claims.items] == ["holds"] * 4
    claims = Claims()
    degradation_claims(claims, summary([1, 0]), 8, 32, steps=100, require_convergence=False)
    assert [c.status[:7] for c in claims.items] == ["holds", "holds", "skipped", "skipped"]
    claims = Claims()
    degradation_claims(claims, summary([1, 0]), 8, 32, steps=100, require_convergence=True)
    assert [c.status for c in claims.items][2:] == ["FAILED", "FAILED"]
    assert "NOT converged: plain-8 seed 1" in claims.items[2].expected


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_degradation_speed_claims_hold_for_another_seed():
    """Lesson 03's claims (a) and (b) at its default budget (300 steps, 4,000 images, the paper's
    CIFAR recipe, depths 8 and 32), for seed 3: neither of the notebook's [0, 1] nor the seed 2
    that ``test_lessons`` runs the whole lesson on (its demo preset: the same budget, one seed)."""
    from cnnlessons.claims import Claims
    from cnnlessons.experiments import degradation_claims

    result = degradation_experiment((8, 32), seeds=(3,), steps=300, show_progress=False)
    claims = Claims()
    degradation_claims(claims, result.summary(), 8, 32, steps=300, require_convergence=False)
    assert [c.status for c in claims.items[:2]] == ["holds", "holds"], claims.rows()


def test_resnet_stages_reads_torchvision_structure():
    from torchvision.models import resnet34, resnet50

    from cnnlessons.models import resnet_stages

    s34 = resnet_stages(resnet34())
    assert [s.blocks for s in s34] == [3, 4, 6, 3]
    assert [s.kernel_sizes for s in s34] == [(3, 3)] * 4 and [s.first_stride for s in s34] == [1, 2, 2, 2]
    s50 = resnet_stages(resnet50())
    assert [(s.block, s.kernel_sizes, s.width, s.out_channels) for s in s50] == [
        ("Bottleneck", (1, 3, 1), w, 4 * w) for w in (64, 128, 256, 512)]


def test_with_se_matches_the_se_resnet50_builder():
    from torchvision.models import resnet50

    from cnnlessons.models.se import SEBlock
    from cnnlessons.models import with_se

    ours = with_se(resnet50())
    assert sum(isinstance(m, SEBlock) for m in ours.modules()) == 16
    try:
        from cnnlessons.models.se_resnet import se_resnet50
    except ImportError:  # the other builder not there: compare with the SE blocks' own counts
        extra = sum(sum(p.numel() for p in m.parameters()) for m in ours.modules() if isinstance(m, SEBlock))
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in resnet50().parameters()) + extra
    else:
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in se_resnet50().parameters())
    x = torch.randn(1, 3, 64, 64)
    assert ours.eval()(x).shape == (1, 1000)


def test_lesson_03_full_preset_runs_the_whole_schedule():
    from cnnlessons.course.lessons import get_lesson
    from cnnlessons.experiments.degradation import SCHEDULE_STEPS

    assert get_lesson("03").preset("full")["steps"] == SCHEDULE_STEPS


def test_degradation_claims_at_zero_error_fail_rather_than_pass_silently():
    """Claim (b) compares residual-deep with plain-deep as a ratio; where plain-deep reached zero
    training error the ratio is undefined, and the claim must fail, not pass with a made-up 0."""
    from cnnlessons.claims import Claims
    from cnnlessons.experiments import degradation_claims

    summary = {f"{net} {key}": values for net, final in (("plain-8", [0.0, 0.01]), ("plain-32", [0.0, 0.0]),
                                                         ("residual-8", [0.0, 0.0]), ("residual-32", [0.01, 0.0]))
               for key, values in (("final training error", final), ("converged", [1, 1]))}
    claims = Claims()
    numbers = degradation_claims(claims, summary, 8, 32, steps=100, require_convergence=False)
    ratios = numbers["residual/plain"]
    assert ratios[0] == float("inf") and ratios[1] != ratios[1]   # residual > 0 = plain: inf; both 0: NaN
    assert claims.items[1].status == "FAILED"


def test_workers_never_use_more_threads_than_the_machine_has_cores():
    from cnnlessons.experiments.parallel import threads_per_worker

    assert threads_per_worker(4, threads=2, cores=2) == 1  # 4 workers x 2 threads on 2 cores would spin
    assert threads_per_worker(2, threads=8, cores=16) == 8  # room enough: the kernel's own count
    assert threads_per_worker(3, threads=8, cores=16) == 5
    assert threads_per_worker(1, threads=2, cores=2) == 2
