import random

import numpy as np
import pytest
import torch

from cnnlessons import seed_everything


def draw():
    return random.random(), float(np.random.rand()), torch.randn(3)


def test_same_seed_same_numbers_everywhere():
    seed_everything(7)
    a = draw()
    seed_everything(7)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    seed_everything(8)
    assert not torch.equal(draw()[2], a[2])


def test_returns_a_seeded_generator():
    g1, g2 = seed_everything(3), seed_everything(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(bad)
