"""The article's settings (issue 13 item 3): the GAN, the in-image colour statistic, the
high-frequency fidelity measure, each against an independent reference or a known answer."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree.errors import InvalidArgumentError
from checkerfree.experiments import gan
from checkerfree.experiments.context import Context
from checkerfree.experiments.fidelity import high_frequency_ratio, high_pass_psnr, radial_ratio
from checkerfree.experiments.local_colour import (
    colour_distance,
    paired_correlation,
    saturation,
)

# --- the GAN ---------------------------------------------------------------------------


def test_gan_trains_a_few_steps_and_its_images_are_scored():
    runs = {k: gan.train_gan_run(k, 1, seed=0, steps=3, batch=4, samples=16)
            for k in ("deconv-k3", "resize-nearest")}
    tables = {k: gan.score_table(r.samples) for k, r in runs.items()}
    for r in runs.values():
        assert r.samples.shape == (16, 3, 32, 32)
        assert float(r.samples.abs().max()) <= 1.0
    # Three steps leave the init pattern: k=3 s=2 deconvolutions paint tens of grey
    # levels of checkerboard, nearest resize-convolution almost none (init-artifacts).
    d, r = tables["deconv-k3"]["score"]["mean"], tables["resize-nearest"]["score"]["mean"]
    assert d > 1.0 and d > 10 * r
    assert set(tables["deconv-k3"]["periods"]) == {"2", "4", "8"}


def test_gan_is_seeded():
    a = gan.train_gan_run("subpixel-icnr", 2, seed=3, steps=2, batch=4, samples=4)
    b = gan.train_gan_run("subpixel-icnr", 2, seed=3, steps=2, batch=4, samples=4)
    c = gan.train_gan_run("subpixel-icnr", 2, seed=4, steps=2, batch=4, samples=4)
    assert torch.equal(a.samples, b.samples)
    assert not torch.equal(a.samples, c.samples)


def test_gan_runs_trains_each_model_once_per_run(monkeypatch, tmp_path):
    calls = []

    def fake(kind, stride, seed, steps, batch, samples, progress=None):
        calls.append((kind, stride, seed))
        return gan.GANRun(kind, stride, seed, None, None, torch.zeros(1, 3, 32, 32))

    monkeypatch.setattr(gan, "train_gan_run", fake)
    ctx = Context(tmp_path, quick=True)
    first = gan.gan_runs(ctx, "deconv-k3", 1)
    again = gan.gan_runs(ctx, "deconv-k3", 1)
    gan.gan_runs(ctx, "resize-nearest", 1)
    seeds = gan.gan_settings(ctx).seeds
    assert first is again
    assert calls == [("deconv-k3", 1, s) for s in seeds] + [("resize-nearest", 1, s)
                                                             for s in seeds]


def test_gan_crops_mix_colour_and_grey_images():
    x = gan.gan_crops(64, 16, seed=1)
    grey = (x[:, 0] == x[:, 1]).flatten(1).all(1) & (x[:, 1] == x[:, 2]).flatten(1).all(1)
    assert 0 < int(grey.sum()) < 64  # textures and camera are grey, astronaut/coffee colour


def test_critic_gradient_has_unit_spread():
    from checkerfree.experiments.discriminator import Critic, critic_gradient

    torch.manual_seed(0)
    g = critic_gradient(Critic(2, width=8, channels=3), torch.rand(3, 3, 32, 32))
    assert g.shape == (3, 3, 32, 32)
    assert torch.allclose(g.flatten(1).std(1), torch.ones(3), atol=1e-5)


# --- bright-colours: the paired correlation ----------------------------------------------


def _spearman(a, b):
    from scipy.stats import spearmanr

    return spearmanr(a, b).statistic


def test_paired_correlation_matches_scipy_per_image():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(6, 8, 8, generator=g), torch.rand(6, 8, 8, generator=g)
    b[0] = a[0] ** 2  # one image with a perfect monotone relation
    r = paired_correlation(a, b, permutations=50)
    ref = [_spearman(a[i].flatten().numpy(), b[i].flatten().numpy()) for i in range(6)]
    assert np.allclose(r["per_image"], ref)
    assert r["mean"] == pytest.approx(np.mean(ref))
    assert r["per_image"][0] == pytest.approx(1.0)


def test_paired_correlation_p_value_by_brute_force():
    """With 5 images, every one of the 120 re-pairings can be listed: the p-value's
    Monte-Carlo estimate is close to the exact share."""
    import itertools

    g = torch.Generator().manual_seed(2)
    b = torch.rand(5, 6, 6, generator=g)
    a = b + 2.0 * torch.rand(5, 6, 6, generator=g)
    r = paired_correlation(a, b, permutations=4000)
    per = np.array([[_spearman(a[i].flatten().numpy(), b[j].flatten().numpy())
                     for j in range(5)] for i in range(5)])
    exact = np.mean([per[range(5), list(p)].mean() >= r["mean"] - 1e-12
                     for p in itertools.permutations(range(5))])
    assert r["p_value"] == pytest.approx(exact, abs=0.03)


def _coloured_images(n, seed, amplitude_of):
    """Smooth random colour fields plus a period-2 checkerboard whose local amplitude is
    ``amplitude_of(distance map, generator)`` grey levels (images in [-1, 1])."""
    from checkerfree.experiments.local_colour import smooth

    g = torch.Generator().manual_seed(seed)
    base = smooth(torch.rand(n, 3, 32, 32, generator=g) * 255, 3.0)
    base = 128 + (base - base.mean()) * 4  # stretch the smooth field to strong colours
    dist = colour_distance(base, 4.0)
    amp = amplitude_of(dist, g)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    checker = ((-1.0) ** (yy + xx)).expand(n, 1, 32, 32)
    x = (base + amp[:, None] / 2 * checker).clamp(0, 255)
    return x / 127.5 - 1


def test_artifact_amplitude_proportional_to_colour_distance_is_found():
    from checkerfree.experiments.colour_claims import _local

    images = _coloured_images(24, 0, lambda d, g: 0.3 * d)
    res = _local(images)
    r = res["distance_from_mean"]
    assert r["mean"] > 0.5 and r["ci95"][0] > 0.3 and r["p_value"] < 0.01


def test_artifact_independent_of_colour_gives_no_small_p_value():
    from checkerfree.experiments.colour_claims import _local
    from checkerfree.experiments.local_colour import smooth

    def independent(d, g):
        return 40 * smooth(torch.rand(d.shape[0], 1, 32, 32, generator=g), 3.0)[:, 0] * 4

    res = _local(_coloured_images(24, 1, independent))
    r = res["distance_from_mean"]
    assert r["p_value"] > 0.05 and r["ci95"][0] < 0 < r["ci95"][1]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_independent_maps_interval_is_honest(seed):
    """Independent maps: the interval covers 0 (it may miss at the 5% level; a seed range
    where it missed more than rarely would be a broken interval, so demand it of most)."""
    g = torch.Generator().manual_seed(seed)
    r = paired_correlation(torch.rand(30, 6, 6, generator=g), torch.rand(30, 6, 6, generator=g),
                           permutations=200, seed=seed)
    assert abs(r["mean"]) < 0.2
    assert r["ci95"][0] < r["mean"] < r["ci95"][1]


def test_colour_maps():
    x = torch.zeros(2, 3, 8, 8)
    x[:, 0, :, :4] = 255.0
    assert float(saturation(x, 0.3)[0, 0, 0]) == pytest.approx(255.0)
    assert float(saturation(x, 0.3)[0, 0, 7]) == pytest.approx(0.0, abs=1e-3)
    d = colour_distance(x, 0.3)
    assert float(d[0, 0, 0]) == pytest.approx(127.5, rel=1e-3)  # mean red is 127.5
    with pytest.raises(InvalidArgumentError, match="RGB"):
        saturation(torch.zeros(1, 1, 8, 8), 1.0)
    with pytest.raises(InvalidArgumentError, match="N >= 3"):
        paired_correlation(torch.zeros(2, 4, 4), torch.zeros(2, 4, 4))


# --- nn-vs-bilinear: high-frequency fidelity -------------------------------------------


def _numpy_reference(x, y, cut):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    h, w = x.shape[-2:]
    win = np.outer(np.hanning(h), np.hanning(w))
    fx, fy = np.fft.fft2(x * win), np.fft.fft2(y * win)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    band = f > cut
    ratio = (np.abs(fx) ** 2)[..., band].sum() / (np.abs(fy) ** 2)[..., band].sum()
    mse = (np.abs(fx - fy) ** 2)[..., band].sum() / (win ** 2).sum() / (h * w)
    mse /= x.shape[0] * x.shape[1]
    return ratio, 10 * math.log10(1 / mse)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.1, 0.25, 0.4]),
       st.integers(8, 24), st.integers(8, 24))
def test_high_frequency_measures_match_numpy_fft(seed, cut, h, w):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(2, 3, h, w, generator=g), torch.rand(2, 3, h, w, generator=g)
    ratio, psnr = _numpy_reference(x.numpy(), y.numpy(), cut)
    assert high_frequency_ratio(x, y, cut) == pytest.approx(ratio, rel=1e-9)
    assert high_pass_psnr(x, y, cut) == pytest.approx(psnr, rel=1e-9)


def test_blur_loses_high_frequencies_and_a_checkerboard_adds_them():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 1, 64, 64, generator=g)
    blurred = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    checker = y + 0.2 * (-1.0) ** (torch.arange(64)[:, None] + torch.arange(64)[None, :])
    assert high_frequency_ratio(blurred, y) < 0.3
    assert high_frequency_ratio(checker, y) > 1.2
    assert high_pass_psnr(blurred, y) < high_pass_psnr(y + 0.001, y)
    # A pure low-frequency error leaves the high band untouched.
    low = y + 0.1 * torch.cos(2 * math.pi * torch.arange(64.0) / 64)[None, None, None, :]
    assert high_pass_psnr(low, y) > high_pass_psnr(blurred, y) + 10
    centres, ratios = radial_ratio(blurred, y)
    assert ratios[0] == pytest.approx(1.0, abs=0.05) and ratios[-1] < 0.1
    assert centres == sorted(centres)


def test_high_frequency_refuses_mismatched_images():
    with pytest.raises(InvalidArgumentError, match="one shape"):
        high_frequency_ratio(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(InvalidArgumentError, match="cut"):
        high_pass_psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), cut=0.9)


# --- the figure helper -----------------------------------------------------------------


def test_heat_figure_shares_one_colour_scale():
    from checkerfree.experiments.heat_figures import samples_with_heat

    g = torch.Generator().manual_seed(0)
    flat = torch.full((2, 3, 16, 16), 0.5)
    checker = flat + 0.1 * (-1.0) ** (torch.arange(16)[:, None] + torch.arange(16)[None, :])
    fig = samples_with_heat({"clean": flat, "checker": checker + 0.01 * torch.rand(
        2, 3, 16, 16, generator=g)}, periods=(2,), window=4)
    heat_axes = [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name
                 == "inferno"]
    assert len(heat_axes) == 4
    assert len({ax.images[0].get_clim() for ax in heat_axes}) == 1
    assert heat_axes[0].images[0].get_clim()[1] == pytest.approx(51.0, rel=0.1)
