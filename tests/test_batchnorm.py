"""BatchNorm statistics recomputed from the current weights (dmr.train.batchnorm)."""

from __future__ import annotations

import torch
from torch import nn

from dmr.train.batchnorm import refresh_batchnorm_statistics

CPU = torch.device("cpu")


def _network() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())


def _batches(read: list[int], n: int = 4, size: int = 4):
    """``n`` batches of ``size`` slices as (images, labels); ``read`` records which were read."""
    generator = torch.Generator().manual_seed(1)
    for index in range(n):
        read.append(index)
        images = torch.randn(size, 1, 8, 8, generator=generator) * (index + 1) + index
        yield images, torch.zeros(size, 8, 8, dtype=torch.int64)


def test_statistics_are_the_average_over_the_first_batches_that_cover_max_slices():
    network = _network()
    network.train()
    network(torch.randn(4, 1, 8, 8) * 50)  # running averages far from the data's statistics
    network.eval()
    read: list[int] = []
    used = refresh_batchnorm_statistics(network, _batches(read), max_slices=6, device=CPU)
    assert used == 8 and read == [0, 1]  # two batches of 4 cover 6 slices; the third is unread
    with torch.no_grad():
        features = [network[0](images) for images, _ in _batches([], n=2)]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in features])
    variances = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in features])
    norm = network[1]
    torch.testing.assert_close(norm.running_mean, means.mean(dim=0))
    torch.testing.assert_close(norm.running_var, variances.mean(dim=0))
    assert norm.momentum == 0.1 and not network.training  # what update_bn changed is restored


def test_zero_slices_keeps_the_running_averages_and_reads_nothing():
    network = _network()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    read: list[int] = []
    assert refresh_batchnorm_statistics(network, _batches(read), max_slices=0, device=CPU) == 0
    assert read == []
    torch.testing.assert_close(network.state_dict(), before, rtol=0, atol=0)


def test_a_network_without_batchnorm_is_left_alone():
    network = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1))
    read: list[int] = []
    assert refresh_batchnorm_statistics(network, _batches(read), max_slices=8, device=CPU) == 0
    assert read == []
