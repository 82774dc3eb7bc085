"""audit(): verdicts and culprits on architectures with and without artifacts."""

from __future__ import annotations

import json

import pytest
import torch

from checkerfree import convert
from checkerfree.audit import ArtifactAudit, audit
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.zoo import EXAMPLES, classifier, decoder, dcgan_generator, espcn


def culprits(report, direction="up"):
    return [f.site.name for f in report.layers if f.culprit and f.site.direction == direction]


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_deconvolution_decoder_flagged_with_its_layers(dims):
    model = decoder(dims=dims, width=8, layers=2)
    size = {1: 32, 2: 8, 3: 4}[dims]
    report = audit(model, input_shape=(2, 16, *([size] * dims)), seeds=2)
    assert report.forward.verdict == "artifacts"
    assert set(culprits(report)) <= {"0", "2"} and culprits(report)
    assert report.verdict == "artifacts"
    assert all("ResizeConv" in a for a in report.advice)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_resize_decoder_is_not_blamed(dims):
    """Resize layers are never uneven by construction and score far below deconvolutions.

    (At random init with ReLU and no normalisation the 1D resize decoder shows a real, weak
    periodic pattern: phase-dependent variance through a nonlinearity, turned into a periodic
    mean by the next layer. Blame is by measurement, so there its resize layers may be named;
    in 2D and 3D nothing is measured and nothing is blamed.)
    """
    size = {1: 32, 2: 8, 3: 4}[dims]
    shape = (2, 16, *([size] * dims))
    torch.manual_seed(0)
    resize = audit(decoder(dims=dims, width=8, layers=2, upsample="resize"), input_shape=shape,
                   seeds=2)
    torch.manual_seed(0)
    deconv = audit(decoder(dims=dims, width=8, layers=2), input_shape=shape, seeds=2)
    assert all(not f.site.uneven for f in resize.layers)
    assert resize.forward.score < deconv.forward.score / 2
    if dims > 1:
        assert resize.forward.verdict == "clean" and not culprits(resize)
    else:
        assert not culprits(resize) or resize.forward.verdict == "artifacts"


def test_dcgan_train_mode_flagged_and_converted_clean():
    g = dcgan_generator(width=8, kernel_size=3).train()
    report = audit(g, input_shape=(4, 100, 1, 1), seeds=2)
    assert report.mode == "train" and report.forward.verdict == "artifacts"
    assert set(culprits(report)) <= {"3", "6", "9", "12"} and "12" in culprits(report)
    fixed = audit(convert(g, to="resize"), input_shape=(4, 100, 1, 1), seeds=2)
    assert fixed.verdict == "clean" and fixed.forward.score == 0.0


def test_icnr_subpixel_clean_default_init_flagged():
    bad = audit(espcn(init="default"), input_shape=(2, 3, 32, 32), seeds=1)
    good = audit(espcn(init="icnr"), input_shape=(2, 3, 32, 32), seeds=1)
    assert bad.forward.verdict == "artifacts" and culprits(bad) == ["4"]
    assert 3 in bad.forward.periods and bad.forward.periods[3] > good.forward.periods[3]
    assert good.forward.verdict == "clean" and not culprits(good)


def test_gradient_of_strided_classifier_flagged_pooling_clean():
    strided = audit(classifier(), input_shape=(2, 3, 64, 64), seeds=1)
    pooled = audit(classifier(downsample="pool"), input_shape=(2, 3, 64, 64), seeds=1)
    assert strided.forward.verdict == "n/a"
    assert strided.gradient.verdict == "artifacts" and culprits(strided, "down")
    assert pooled.gradient.verdict == "clean" and pooled.verdict == "clean"


def test_monai_basicunet_upsample_modes():
    from monai.networks.nets import BasicUNet

    found = {}
    for mode in ("deconv", "pixelshuffle", "nontrainable"):
        net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=1,
                        features=(8, 8, 16, 16, 32, 8), upsample=mode)
        found[mode] = audit(net, input_shape=(2, 1, 64, 64), seeds=1)
    deconv_culprits = culprits(found["deconv"])
    assert found["deconv"].forward.verdict == "artifacts"
    assert deconv_culprits and all(n.endswith("upsample.deconv") for n in deconv_culprits)
    assert found["pixelshuffle"].forward.verdict == "clean"  # MONAI's ICNR sub-pixel
    assert not culprits(found["pixelshuffle"]) and not culprits(found["nontrainable"])


@pytest.mark.parametrize("seed", [0, 3])
def test_diffusers_vae_decoder_blamed_only_when_measured(seed):
    """Its upsampler (nearest resize + convolution) is named exactly when a pattern is measured.

    Seed 0 gives a measured forward pattern, seed 3 none (random init): blame by measurement
    names the one upsampling site in the first case and nothing in the second.
    """
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
                        latent_channels=2)
    report = audit(vae, input_shape=(1, 3, 32, 32), seeds=1)
    kinds = {f.site.kind for f in report.layers}
    assert {"strided_conv", "interpolate"} <= kinds
    if report.forward.verdict == "artifacts":
        assert culprits(report) == ["decoder.up_blocks.0.upsamplers.0"]
    else:
        assert not culprits(report)
    assert (report.forward.verdict == "artifacts") == (seed == 0)


def test_report_json_contract_and_text():
    report = audit(decoder(dims=1, width=4, layers=2), input_shape=(1, 16, 32), seeds=1)
    doc = json.loads(report.to_json())
    assert {"layers", "forward", "gradient", "verdict", "advice"} <= set(doc)
    assert {"name", "kind", "kernel", "stride", "uneven", "culprit"} <= set(doc["layers"][0])
    assert doc["forward"]["verdict"] in ("artifacts", "clean")
    assert doc["verdict"] in ("artifacts", "clean")
    text = str(report)
    assert "verdict:" in text and "ConvTranspose1d" in text and "eval" in text or "train" in text


def test_model_left_untouched():
    g = dcgan_generator(width=8, kernel_size=3).train()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    audit(g, input_shape=(2, 100, 1, 1), seeds=1)
    after = g.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert g.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in g.modules())


def test_example_input_is_probed():
    model = decoder(dims=1, width=4, layers=1)
    report = audit(model, torch.randn(2, 16, 32), seeds=1)
    assert "given" in report.forward.inputs


def test_float64_model():
    report = audit(decoder(dims=1, width=4, layers=1).double(), input_shape=(1, 16, 32), seeds=1)
    assert report.dtype == "float64"


def test_exceptions():
    with pytest.raises(InvalidTypeError):
        audit(lambda x: x, input_shape=(1, 1, 8))
    with pytest.raises(InvalidArgumentError):
        audit(decoder())
    with pytest.raises(ShapeError, match="rejected an input of shape"):
        audit(decoder(), input_shape=(1, 3, 32))


def test_artifact_audit_context_manager():
    from checkerfree.audit.probes import probe_inputs

    torch.manual_seed(0)
    model = decoder(dims=1, width=8, layers=2)
    # Structured inputs (smooth fields): zero-mean white noise hides the phases' gain
    # differences (DESIGN section 4), and one 1-D noise signal cannot show a significant peak.
    with ArtifactAudit(model) as rec:
        for p in probe_inputs((2, 16, 32), seeds=2, kind="smooth")[:2]:
            model(p.tensor).sum().backward()
    report = rec.report()
    assert report.forward.verdict == "artifacts" and report.forward.items == 4
    assert report.gradient.items == 4
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(InvalidArgumentError):
        ArtifactAudit(model).report()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_builtin_examples_match_their_label(name):
    ex = EXAMPLES[name]
    torch.manual_seed(0)
    model = ex.factory()
    report = audit(model, input_shape=ex.input_shape, seeds=2, attribute=False)
    probe = report.gradient if name.startswith("classifier") else report.forward
    assert (probe.verdict == "artifacts") == ex.artifacts, (name, str(report))


def test_diffusers_unet_with_forward_kwargs():
    from diffusers import UNet2DModel

    net = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
                      block_out_channels=(8, 16), down_block_types=("DownBlock2D",) * 2,
                      up_block_types=("UpBlock2D",) * 2, norm_num_groups=4)
    report = audit(net, input_shape=(2, 3, 32, 32), seeds=1, forward_kwargs={"timestep": 10})
    assert report.forward.verdict == "clean" and not culprits(report)
    # Its strided-convolution downsampler is what the gradient probe can blame, nothing else.
    assert set(culprits(report, "down")) <= {"down_blocks.0.downsamplers.0.conv"}
