"""Arrays and volumes through the scorer: .npy, .npz, NIfTI; feature maps; bad arrays.

References: a period-2 lattice of known amplitude (the score reads its peak-to-peak), the
channel rule (lattice power averaged over channels: a pattern in 1 channel of C reads
1/sqrt(C) of its amplitude), and per-channel scores computed one channel at a time.
"""

from __future__ import annotations

import io
import pickle
import re

import numpy as np
import pytest
import torch

from checkerfree.errors import InputFileError
from checkerfree.score.batch import ImageScorer
from checkerfree.score.checkerboard import checkerboard_score
from checkerfree.signals import read_signal_bytes, read_signals
from checkerfree.sniff import sniff

from signal_fixtures import smooth_volume

# 64, not 32: on an axis of 32 the period-2 stripe floor (a line of radius 16 around the
# Nyquist bin) reaches the lowest frequencies, whose smooth power cancels a real lattice.
N = 64
AMPLITUDE = 0.02  # peak-to-peak of the +-0.01 lattice, in the volume's units (range ~1)


def _lattice3(n: int) -> np.ndarray:
    return (AMPLITUDE / 2) * (-1.0) ** np.indices((n, n, n)).sum(0)


def _nifti(path, volume):
    nibabel = pytest.importorskip("nibabel")
    nibabel.save(nibabel.Nifti1Image(volume.astype(np.float32), np.diag([1.5, 1.5, 2.0, 1])),
                 path)
    return path


@pytest.mark.parametrize("suffix", [".npy", ".nii", ".nii.gz"])
def test_volume_with_period_two_lattice_is_flagged(tmp_path, suffix):
    clean, patterned = smooth_volume(N), smooth_volume(N) + _lattice3(N)
    paths = []
    for name, volume in (("clean", clean), ("lattice", patterned)):
        path = tmp_path / (name + suffix)
        if suffix == ".npy":
            np.save(path, volume.astype(np.float32))
        else:
            _nifti(path, volume)
        paths.append(path)
    scorer = ImageScorer(spatial_dims=3) if suffix == ".npy" else ImageScorer()
    clean_row, row = scorer(paths)
    assert clean_row["error"] is None and clean_row["flagged"] is False, clean_row
    assert row["flagged"] is True and row["periods"]["2"] == pytest.approx(AMPLITUDE, rel=0.02)
    assert row["size"] == [N, N, N] and row["spatial_dims"] == 3 and row["kind"] == "array"
    assert row["format"] == ("NPY" if suffix == ".npy" else "NIFTI")
    assert len(row["hotspot"]) == 3
    span = float(patterned.max() - patterned.min())
    assert row["threshold"] == pytest.approx(0.55 / 255 * span, rel=1e-4)


def test_npy_3d_without_spatial_dims_is_refused_and_5d_is_inferred(tmp_path):
    np.save(tmp_path / "v.npy", smooth_volume(16).astype(np.float32))
    np.save(tmp_path / "b.npy", smooth_volume(16)[None, None].astype(np.float32))
    ambiguous, batch = ImageScorer()([tmp_path / "v.npy", tmp_path / "b.npy"])
    assert "pass --spatial-dims 1, 2 or 3" in ambiguous["error"]
    assert batch["error"] is None and batch["spatial_dims"] == 3


def test_nifti_time_axis_becomes_channels(tmp_path):
    volume = smooth_volume(N)[..., None] + np.zeros(3)
    volume[..., 1] += _lattice3(N)
    [row] = ImageScorer()([_nifti(tmp_path / "t.nii.gz", volume)])
    assert row["channels"] == 3 and row["size"] == [N, N, N]
    assert row["periods"]["2"] == pytest.approx(AMPLITUDE / np.sqrt(3), rel=0.02)


def test_feature_map_channels_combine_as_root_mean_square(tmp_path):
    """(768, 32, 32) features: the value is the RMS over channels of per-channel values."""
    rng = np.random.default_rng(0)
    channels, n = 768, 32
    features = rng.standard_normal((channels, n, n)).astype(np.float32)
    i, j = np.indices((n, n))
    amplitudes = rng.uniform(0, 2, channels)
    features += (amplitudes[:, None, None] / 2 * (-1.0) ** (i + j)).astype(np.float32)
    np.save(tmp_path / "f.npy", features)
    [row] = ImageScorer(periods=(2,), spatial_dims=2)([tmp_path / "f.npy"])
    assert row["channels"] == channels and row["size"] == [n, n]
    each = checkerboard_score(torch.from_numpy(features)[:, None], periods=(2,), hotspot=False)
    per_channel = each.periods[2].numpy()
    assert row["periods"]["2"] == pytest.approx(float(np.sqrt(np.mean(per_channel**2))),
                                                rel=0.01)
    assert row["periods"]["2"] == pytest.approx(float(np.sqrt(np.mean(amplitudes**2))),
                                                rel=0.05)
    assert row["channel"] == int(np.argmax(each.score.numpy()))
    assert row["channel_score"] == pytest.approx(float(each.score.max()), rel=1e-5)


def test_pattern_in_one_channel_of_many_reads_one_over_root_c(tmp_path):
    channels, n = 768, 32
    i, j = np.indices((n, n))
    rng = np.random.default_rng(1)
    features = (0.1 * rng.standard_normal((channels, n, n))).astype(np.float32)
    features[100] += 3.0 * (-1.0) ** (i + j)  # +-3: 6 peak-to-peak in one channel
    np.save(tmp_path / "f.npy", features)
    [row] = ImageScorer(periods=(2,), spatial_dims=2)([tmp_path / "f.npy"])
    assert row["periods"]["2"] == pytest.approx(6.0 / np.sqrt(channels), rel=0.03)
    assert row["channel"] == 100 and row["channel_score"] == pytest.approx(6.0, rel=0.03)


def test_npz_gives_one_row_per_array(tmp_path):
    i, j = np.indices((32, 32))
    np.savez(tmp_path / "a.npz", clean=np.zeros((32, 32)), cb=4.0 * (-1.0) ** (i + j),
             bad=np.ones((4, 4), complex), small=np.ones((4, 4)))
    rows = ImageScorer()([tmp_path / "a.npz"])
    names = [row["path"].split(":")[-1] for row in rows]
    assert names == ["clean", "cb", "bad", "small"]
    assert rows[0]["flagged"] is False and rows[1]["periods"]["2"] == pytest.approx(8.0)
    assert rows[2]["error"].startswith("complex dtype complex128")
    assert rows[3]["error"].startswith("too small")


def test_batch_npy_gives_one_row_per_item(tmp_path):
    i, j = np.indices((16, 16))
    batch = np.zeros((3, 1, 16, 16), np.float32)
    batch[1, 0] += 2.0 * (-1.0) ** (i + j)
    np.save(tmp_path / "b.npy", batch)
    rows = ImageScorer(periods=(2,))([tmp_path / "b.npy"])
    assert [row["path"][-6:] for row in rows] == ["npy[0]", "npy[1]", "npy[2]"]
    assert [row["flagged"] for row in rows] == [False, True, False]


class _Evil:
    def __reduce__(self):  # would run on unpickling
        return (print, ("unpickled!",))


@pytest.mark.parametrize("make, reason", [
    (lambda: np.array([_Evil()], dtype=object), "object dtype object: refused"),
    (lambda: np.ones((8, 8), np.complex64), "complex dtype complex64"),
    (lambda: np.array(3.0), "a 0-d array"),
    (lambda: np.zeros((0, 8)), "an empty array of shape (0, 8)"),
    (lambda: np.zeros((8, 8), bool), "dtype bool (boolean)"),
    (lambda: np.zeros((8, 8), "U3"), "dtype <U3 (text)"),
    (lambda: np.zeros(8, [("a", "f4"), ("b", "f4")]), "dtype [("),
])
def test_bad_npy_is_a_typed_row_error(tmp_path, capsys, make, reason):
    path = tmp_path / "bad.npy"
    np.save(path, make(), allow_pickle=True)
    with pytest.raises(InputFileError, match=re.escape(reason)):
        read_signals(path)
    [row] = ImageScorer()([path])
    assert row["error"].startswith(reason) and row["score"] is None
    assert "unpickled" not in capsys.readouterr().out


def test_a_pickle_named_npy_is_refused(tmp_path):
    path = tmp_path / "p.npy"
    path.write_bytes(pickle.dumps(_Evil()))
    [row] = ImageScorer()([path])
    assert row["error"].startswith("not a PNG, JPEG, WebP or TIFF image, WAV")


def test_truncated_npy_and_nonfinite_are_row_errors(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((32, 32), np.float32))
    data = (tmp_path / "full.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 100])
    nan = np.zeros((32, 32), np.float32)
    nan[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cut, bad = ImageScorer()([tmp_path / "cut.npy", tmp_path / "nan.npy"])
    assert cut["error"].startswith("truncated .npy")
    assert "NaN" in bad["error"] and bad["flagged"] is None


@pytest.mark.parametrize("shape, dims, message", [
    ((32, 32), 3, "expected 3 to 5 axes"),
    ((2, 2, 2, 32, 32), 1, "expected 1 to 3 axes"),
])
def test_wrong_spatial_dims_is_a_row_error(tmp_path, shape, dims, message):
    np.save(tmp_path / "a.npy", np.zeros(shape, np.float32))
    [row] = ImageScorer(spatial_dims=dims)([tmp_path / "a.npy"])
    assert message in row["error"] and f"--spatial-dims {dims}" in row["error"]


def test_spatial_dims_is_for_arrays_images_stay_two_dimensional(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "a.png")
    np.save(tmp_path / "v.npy", np.zeros((16, 16, 16), np.float32))
    image, volume = ImageScorer(spatial_dims=3)([tmp_path / "a.png", tmp_path / "v.npy"])
    assert image["error"] is None and image["spatial_dims"] == 2 and image["size"] == [32, 32]
    assert volume["error"] is None and volume["size"] == [16, 16, 16]


def test_sniff_reads_content_not_names(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(64, np.float32))
    (tmp_path / "renamed.png").write_bytes(buffer.getvalue())
    [item] = read_signals(tmp_path / "renamed.png")
    assert item.format == "NPY" and item.values.shape == (1, 64)
    assert [s.name for s in read_signal_bytes(buffer.getvalue())] == ["-"]
    gz = tmp_path / "v.nii.gz"
    _nifti(gz, smooth_volume(8))
    assert sniff(gz.read_bytes()[:4096]) == "NIFTI"
    assert sniff(b"\x1f\x8b" + bytes(100)) is None and sniff(b"") is None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from checkerfree.array_io import read_npy  # noqa: E402

_DTYPES = st.sampled_from(["<i1", "<u2", ">i4", "<u8", "<f2", ">f4", "<f8", "|u1"])


@settings(max_examples=60, deadline=None)
@given(array=hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)),
       fortran=st.booleans(), version=st.sampled_from([(1, 0), (2, 0), (3, 0)]))
def test_read_npy_equals_numpy_load(tmp_path_factory, array, fortran, version):
    """Any real array, any byte order and memory order, any header version: the values and
    dtype numpy's own (pickle-free) loader gives back."""
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    array = np.asfortranarray(array) if fortran else array
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, array, version=version)
    got = read_npy(path)
    want = np.load(path, allow_pickle=False)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(head=st.binary(max_size=600))
def test_sniff_never_raises_and_names_a_known_format(head):
    assert sniff(head) in (None, "PNG", "JPEG", "WEBP", "TIFF", "WAV", "FLAC", "OGG", "NPY",
                           "NPZ", "NIFTI")


def test_nifti_from_bytes_renamed_and_cut(tmp_path):
    gz = _nifti(tmp_path / "v.nii.gz", smooth_volume(N) + _lattice3(N))
    data = gz.read_bytes()
    [item] = read_signal_bytes(data)
    assert item.format == "NIFTI" and item.values.shape == (1, N, N, N)
    assert item.spacing == (1.5, 1.5, 2.0)
    import gzip

    raw = gzip.decompress(data)
    (tmp_path / "renamed.bin").write_bytes(raw)
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "cut.nii").write_bytes(raw[: len(raw) // 2])
    renamed, cut_gz, cut = ImageScorer()([tmp_path / "renamed.bin", tmp_path / "cut.nii.gz",
                                          tmp_path / "cut.nii"])
    assert renamed["flagged"] is True and renamed["format"] == "NIFTI"
    assert cut_gz["error"] == "truncated gzip stream (it ends before its end marker)"
    assert cut["error"].startswith("cannot read NIfTI data") and "\n" not in cut["error"]


def test_value_limits_are_checked_from_headers(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((64, 64), np.float32))
    _nifti(tmp_path / "big.nii", np.zeros((16, 16, 16)))
    _nifti(tmp_path / "bomb.nii.gz", np.zeros((64, 64, 64)))  # 1 MB of zeros, 1 kB of gzip
    rows = ImageScorer(max_pixels=512)([tmp_path / "big.npy", tmp_path / "big.nii",
                                        tmp_path / "bomb.nii.gz"])
    assert rows[0]["error"].startswith("refused: shape (64, 64) has 4096 values > limit 2048")
    assert rows[1]["error"].startswith("refused: shape (16, 16, 16) has 4096 values")
    assert rows[2]["error"].startswith("refused: the gzip stream expands past 81920 bytes")
