import pytest
import torch
from torch import nn

from cnnlessons import Batches, evaluate, fit, seed_everything
from cnnlessons.data import make_shapes


def small_cnn(classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes))


def train_once(seed: int, steps: int = 30):
    seed_everything(seed)
    x, y = make_shapes(256, size=16, classes=["stripes", "disk"], seed=seed)
    model = small_cnn(2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(model, Batches(x, y, 32, seed=seed), opt, steps=steps, show_progress=False)
    return model, history, (x, y)


def test_deterministic_on_cpu_for_a_seed():
    _, h1, _ = train_once(0)
    _, h2, _ = train_once(0)
    _, h3, _ = train_once(1)
    assert h1.loss == h2.loss
    assert h1.loss != h3.loss


def test_it_learns_and_records_history():
    model, h, (x, y) = train_once(0, steps=80)
    assert len(h.loss) == len(h.error) == len(h.lr) == len(h.step) == 80
    assert sum(h.loss[-10:]) < 0.6 * sum(h.loss[:10])
    loss, error = evaluate(model, Batches(x, y, 64, shuffle=False))
    assert error < 0.3 and loss > 0
    assert model.training  # evaluate restores the mode


def test_epochs_evaluate_once_per_pass_and_plateau_lowers_lr():
    seed_everything(0)
    x, y = make_shapes(64, size=8, classes=["disk", "square"], seed=0)
    model = small_cnn(2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # A plateau scheduler with patience 0 and a threshold no improvement can meet: lr drops every eval.
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0, threshold=10.0)
    train = Batches(x, y, 16, seed=0)
    h = fit(model, train, opt, epochs=3, scheduler=sched, val=Batches(x, y, 64, shuffle=False),
            show_progress=False)
    assert h.eval_step == [4, 8, 12]
    assert len(h.val_error) == 3
    assert h.lr[0] == pytest.approx(0.1) and h.lr[-1] < 0.1


def test_batches_cover_everything_once_per_pass_reproducibly():
    x, y = torch.arange(10).float().view(10, 1, 1, 1), torch.arange(10)
    b1, b2 = Batches(x, y, 3, seed=5), Batches(x, y, 3, seed=5)
    pass1 = torch.cat([yb for _, yb in b1])
    assert sorted(pass1.tolist()) == list(range(10)) and len(b1) == 4
    assert torch.equal(pass1, torch.cat([yb for _, yb in b2]))
    assert not torch.equal(pass1, torch.cat([yb for _, yb in b1]))  # a fresh shuffle each pass
    assert len(Batches(x, y, 3, drop_last=True)) == 3


def test_bad_arguments():
    x, y = torch.zeros(4, 3, 4, 4), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="x has 4 items but y has 3"):
        Batches(x, y[:3], 2)
    with pytest.raises(ValueError, match="batch_size"):
        Batches(x, y, 0)
    model = small_cnn(2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one of steps= or epochs="):
        fit(model, Batches(x, y, 2), opt)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        fit(model, Batches(x, y, 2), opt, steps=0)


def test_smoothed_is_a_trailing_mean():
    from cnnlessons import History

    h = History(loss=[4.0, 2.0, 0.0, 2.0])
    assert h.smoothed("loss", window=2) == [4.0, 3.0, 1.0, 1.0]


def test_fit_and_evaluate_default_to_the_models_device():
    """No silent move back to the CPU: without device=, a model trains where its parameters are."""
    import inspect

    from cnnlessons.train import _model_device

    assert _model_device(nn.Linear(2, 2).to("meta")) == torch.device("meta")
    assert _model_device(nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU
    assert inspect.signature(fit).parameters["device"].default is None
    assert inspect.signature(evaluate).parameters["device"].default is None


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_fit_refuses_a_meaningless_eval_every(bad):
    from cnnlessons.train import Batches, fit

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    data = Batches(torch.randn(8, 1, 2, 2), torch.randint(0, 2, (8,)), 4)
    with pytest.raises(ValueError, match="eval_every"):
        fit(model, data, torch.optim.SGD(model.parameters(), lr=0.1), steps=2, eval_every=bad, show_progress=False)


def test_evaluate_on_no_data_is_a_clear_error():
    from cnnlessons.train import evaluate

    with pytest.raises(ValueError, match="no examples"):
        evaluate(torch.nn.Linear(2, 2), [])


def test_convergence_rule_on_known_curves():
    from cnnlessons.train import MIN_STEPS, PLATEAU_TOLERANCE, convergence

    falling = [1 - i / 200 for i in range(200)]          # falls 0.2 over the last fifth
    dropped = [0.5] * 185 + [0.3] * 15                   # dropped inside the last tenth: not flat
    settled = [1.0] * 100 + [0.2] * 100                  # flat for the whole last half
    c = convergence(falling)
    assert c.finished and not c.plateaued and not c.converged
    assert c.change == pytest.approx(-0.2) and "still moving" in c.reason
    assert not convergence(dropped).converged
    s = convergence(settled)
    assert s.converged and s.reason == "" and s.final_train_error == pytest.approx(0.2)
    assert s.change == pytest.approx(0.0) and s.tolerance == PLATEAU_TOLERANCE
    # The tolerance does not grow with the error: a slow learner at 0.75 moving by 0.04 is not flat
    # (the old rule, max(0.01, 10% of the error), called it converged).
    slow = [0.80] * 140 + [0.78] * 20 + [0.77] * 20 + [0.75] * 20
    assert abs(convergence(slow).change) > PLATEAU_TOLERANCE and not convergence(slow).converged
    # Too short to judge, however flat: both windows would be a step or two.
    short = convergence([0.0] * 5)
    assert not short.converged and not short.plateaued and "too short" in short.reason
    assert convergence([0.0] * MIN_STEPS).converged
    with pytest.raises(ValueError, match="at least one"):
        convergence([])


def test_convergence_knows_diverged_at_chance_and_stopped_runs():
    from cnnlessons.train import convergence

    flat = [0.3] * 200
    assert not convergence(flat, losses=[1.0] * 199 + [float("nan")]).converged
    assert "diverged" in convergence(flat, losses=[float("inf")] * 200).reason
    at_chance = convergence([0.9] * 200, classes=10)               # chance is 0.9: flat, but learnt nothing
    assert at_chance.plateaued and at_chance.at_chance and not at_chance.converged
    assert "stuck at chance" in at_chance.reason
    assert convergence([0.5] * 200, classes=10).converged            # well below chance
    stopped = convergence(flat, planned_steps=400)
    assert not stopped.finished and not stopped.converged and "stopped at step 200 of 400" in stopped.reason


def _fit_task(lr: float, steps: int, *, poison: bool = False):
    """A linearly separable 2-class task (the net can fit it) with ``fit``'s real loop."""
    from cnnlessons.train import Batches, fit

    torch.manual_seed(0)
    x = torch.randn(512, 2)
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).long()
    if poison:
        x[7, 0] = float("nan")  # one bad input: its batch's loss is NaN, and so is every weight after it
    seed_everything(0)
    model = nn.Linear(2, 2)
    with torch.no_grad():  # start from a net that gets everything wrong: chance needs learning to leave
        model.weight.copy_(torch.tensor([[1.0, -0.5], [-1.0, 0.5]]))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(model, Batches(x, y, 64, seed=0), opt, steps=steps, eval_every=10, show_progress=False)


def test_fit_says_why_a_run_has_not_converged():
    nan = _fit_task(0.1, 400, poison=True)
    c = nan.convergence
    assert not c.converged and c.diverged and not c.finished and "diverged" in c.reason
    assert len(nan.error) < 400 and nan.planned_steps == 400     # it stopped: nothing more to learn

    frozen = _fit_task(0.0, 400)                                   # lr 0: flat, everything wrong
    c = frozen.convergence
    assert frozen.classes == 2 and c.plateaued and c.at_chance and not c.converged
    assert "stuck at chance" in c.reason

    short = _fit_task(0.1, 5).convergence
    assert not short.converged and "too short" in short.reason

    learnt = _fit_task(0.5, 400)
    assert learnt.converged, learnt.convergence
    assert learnt.final_train_error < 0.05 and str(learnt.convergence).startswith("converged")


def test_budget_check_compares_the_same_run_at_twice_the_steps():
    from cnnlessons.train import BudgetCheck, budget_check

    calls = []

    def train(steps):
        calls.append(steps)
        return _fit_task(0.5, steps)
    check = budget_check(train, 200)
    assert calls == [200, 400] and check.steps == 200 and check.longer_steps == 400
    assert check.moved == pytest.approx(check.longer_final_train_error - check.final_train_error)
    assert check.holds(abs(check.moved) + 0.01) and not check.holds(abs(check.moved) / 2)
    assert BudgetCheck(100, 200, 0.30, 0.10).moved == pytest.approx(-0.2)
    assert not BudgetCheck(100, 200, 0.30, 0.10).holds(0.05)   # a 0.05 gap means nothing if errors move 0.2
    with pytest.raises(ValueError, match="factor"):
        budget_check(train, 10, factor=1)


def test_a_run_stopped_early_has_not_converged_and_a_finished_one_has():
    from cnnlessons.experiments.recipe import CIFAR

    torch.manual_seed(0)
    x = torch.randn(1024, 2)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).long()
    x[:, 0] += 3  # the boundary is far from the origin: the bias has a long way to go
    histories = {}
    for steps in (40, 400):  # the same run (same lr plan for 400 steps), stopped at 40 or finished
        seed_everything(0)
        model = nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        histories[steps] = fit(model, Batches(x, y, 64, seed=0), opt, steps=steps, eval_every=10,
                               scheduler=CIFAR.scheduler(opt, steps=400, eval_every=10), schedule_steps=400,
                               show_progress=False)
    early, finished = histories[40], histories[400]
    assert early.error == finished.error[:40]
    assert not early.converged and not early.convergence.finished, early.convergence
    assert "stopped at step 40 of 400" in early.convergence.reason
    assert finished.converged, finished.convergence
    assert finished.final_train_error < 0.05 and abs(finished.train_error_change) <= 0.01
    with pytest.raises(ValueError, match="schedule_steps"):
        fit(nn.Linear(2, 2), Batches(x, y, 64), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), steps=50,
            schedule_steps=40, show_progress=False)
    assert "NOT converged" in str(early.convergence) and str(finished.convergence).startswith("converged")
