"""checkerboard_heatmap: amplitude in the score's unit, where the pattern is, layouts, errors."""

from __future__ import annotations

import pytest
import torch

from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.score.heatmap import checkerboard_heatmap


def _grid(h, w):
    return torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")


def test_uniform_checkerboard_reads_its_amplitude_everywhere():
    i, j = _grid(96, 128)
    x = 80 + 0.2 * i + 3.0 * (-1.0) ** (i + j)  # +-3: 6 levels
    heat = checkerboard_heatmap(x.double(), periods=(2, 4))
    assert heat.shape == (1, 96, 128)
    assert heat[0, 20:-20, 20:-20].mean().item() == pytest.approx(6.0, rel=0.05)


def test_local_pattern_is_where_it_was_put():
    i, j = _grid(192, 160)
    x = (100 + 0.3 * j).double()
    x[100:164, 40:104] += 4.0 * (-1.0) ** (i[100:164, 40:104] // 2 + j[100:164, 40:104] // 2)
    heat = checkerboard_heatmap(x, periods=(2, 4, 8), window=8)[0]
    inside = heat[120:144, 60:84].mean()
    assert inside.item() == pytest.approx(8.0, rel=0.25)
    assert heat[10:40, 10:40].max().item() < 0.1 * inside.item()
    row, col = divmod(heat.argmax().item(), 160)
    assert 100 <= row < 164 and 40 <= col < 104


def test_noise_reads_low():
    torch.manual_seed(0)
    heat = checkerboard_heatmap(torch.randn(2, 1, 128, 128) * 20)
    assert heat.mean().item() < 2.0  # 20-level noise: a tenth of it on average


def test_batched_equals_per_item_and_dtype():
    x = torch.rand(3, 2, 40, 48, dtype=torch.float64) * 255
    batch = checkerboard_heatmap(x)
    assert batch.dtype == torch.float64 and batch.device == x.device
    for k in range(3):
        torch.testing.assert_close(batch[k : k + 1], checkerboard_heatmap(x[k : k + 1]))


@pytest.mark.parametrize(
    "shape, dims, expected",
    [((2, 1, 96), 1, (2, 96)), ((1, 1, 24, 24, 24), None, (1, 24, 24, 24)),
     ((33, 35), None, (1, 33, 35)), ((3, 33, 35), 2, (1, 33, 35))],
)
def test_layouts(shape, dims, expected):
    heat = checkerboard_heatmap(torch.rand(shape), periods=(2, 4), spatial_dims=dims)
    assert tuple(heat.shape) == expected


def test_errors():
    with pytest.raises(InvalidArgumentError):
        checkerboard_heatmap(torch.rand(1, 1, 32, 32), window=0)
    with pytest.raises(InvalidArgumentError):
        checkerboard_heatmap(torch.rand(1, 1, 32, 32), periods=(1,))
    with pytest.raises(ShapeError):
        checkerboard_heatmap(torch.rand(3, 32, 32))
