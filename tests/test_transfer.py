"""Transfer strategies: features, probes and fine-tuning behave as their docstrings say."""
from __future__ import annotations

import numpy as np
import torch

from cnnlessons.experiments import transfer
from cnnlessons.models.cifar_resnet import cifar_resnet


def _model():
    torch.manual_seed(0)
    return cifar_resnet(8, num_classes=4).eval()


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


def test_linear_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    f = torch.randn(60, 8, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 8).float() * 3
    r = transfer.linear_probe(f[:30], y[:30], f[30:], y[30:], 3, steps=50)
    assert r.accuracy == 1.0 and r.train_error == 0.0


def test_fine_tuning_leaves_the_zoo_model_untouched():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 2
    maps = transfer.extract(model, x).last_input
    transfer.finetune_last(model, maps, y, maps, y, 2, steps=2)
    transfer.finetune_all(model, x, y, x, y, 2, steps=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_summarise_and_best_strategy():
    rows = [{"target": "t", "labels_per_class": 5, "strategy": s, "seed": i, "accuracy": a}
            for s, accs in (("scratch", [0.2, 0.4]), ("linear_probe", [0.8, 0.9])) for i, a in enumerate(accs)]
    summary = transfer.summarise(rows)
    s = summary[("t", 5, "scratch")]
    assert np.isclose(s.mean, 0.3) and np.isclose(s.std, np.std([0.2, 0.4])) and (s.low, s.high) == (0.2, 0.4)
    assert transfer.best_strategy(summary, "t", 5) == "linear_probe"
    assert transfer.steps_for(40, 3, batch_size=32) == 6
