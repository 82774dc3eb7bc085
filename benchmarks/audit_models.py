"""Audit real third-party models and the built-in examples, fix them, audit again: one table.

Each row: the model (random init from seed 0, nothing downloaded), its verdict, the culprits the audit
named (``name:kind``), what ``--fix auto`` applied, and the verdict after the fix. This is the
table the audit's docs quote; the models are the ones issue 9 lists (MONAI and diffusers).
Prints a text table, or one JSON document with ``--json``.

    python benchmarks/audit_models.py [--json] [--only NAME ...] [--seeds 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import torch
import torch.nn as nn

from checkerfree.audit import audit
from checkerfree.audit.fixing import fix_and_reaudit


def _monai(name, **kw):
    import monai.networks.nets as nets

    return getattr(nets, name)(**kw)


def _first(module: nn.Module) -> nn.Module:
    """Wrap a model whose forward returns a tuple or an object: keep its first tensor."""

    class First(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            y = self.inner(x)
            if hasattr(y, "sample"):
                return y.sample
            return y[0] if isinstance(y, (tuple, list)) else y

    return First(module)


def _diffusers_block(cls_name, **kw):
    import diffusers.models.upsampling as up

    return getattr(up, cls_name)(**kw)


def _diffusers_autoencoder_kl():
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2,
                        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4)

    class Decode(nn.Module):
        def __init__(self):
            super().__init__()
            self.vae = vae

        def forward(self, z):
            return self.vae.decode(z).sample

    return Decode()


def _diffusers_autoencoder_dc():
    from diffusers import AutoencoderDC

    return _first(AutoencoderDC(
        in_channels=3, latent_channels=4, encoder_block_out_channels=(8, 16),
        decoder_block_out_channels=(8, 16), encoder_layers_per_block=(1, 1),
        decoder_layers_per_block=(1, 1), encoder_block_types="ResBlock",
        decoder_block_types="ResBlock", encoder_qkv_multiscales=((), ()),
        decoder_qkv_multiscales=((), ()), decoder_norm_types="rms_norm",
        decoder_act_fns="silu", upsample_block_type="pixel_shuffle",
        downsample_block_type="pixel_unshuffle"))


def _models():
    """name -> (factory, input shape); factories build lazily so --only stays fast."""
    from checkerfree.zoo import EXAMPLES

    rows = {
        "monai AutoEncoder": (lambda: _monai(
            "AutoEncoder", spatial_dims=2, in_channels=1, out_channels=1, channels=(4, 8),
            strides=(2, 2)), (2, 1, 32, 32)),
        "monai UNet": (lambda: _monai(
            "UNet", spatial_dims=2, in_channels=1, out_channels=1, channels=(4, 8, 16),
            strides=(2, 2)), (2, 1, 32, 32)),
        "monai BasicUNet deconv": (lambda: _monai(
            "BasicUNet", spatial_dims=2, in_channels=1, out_channels=1,
            features=(4, 4, 8, 8, 16, 4), upsample="deconv"), (2, 1, 32, 32)),
        "monai BasicUNet pixelshuffle": (lambda: _monai(
            "BasicUNet", spatial_dims=2, in_channels=1, out_channels=1,
            features=(4, 4, 8, 8, 16, 4), upsample="pixelshuffle"), (2, 1, 32, 32)),
        "monai BasicUNet nontrainable": (lambda: _monai(
            "BasicUNet", spatial_dims=2, in_channels=1, out_channels=1,
            features=(4, 4, 8, 8, 16, 4), upsample="nontrainable"), (2, 1, 32, 32)),
        "monai SegResNet 3D deconv": (lambda: _monai(
            "SegResNet", spatial_dims=3, init_filters=8, in_channels=1, out_channels=1,
            blocks_down=(1, 2), blocks_up=(1,), upsample_mode="deconv"), (1, 1, 32, 32, 32)),
        "monai UNETR 2D": (lambda: _monai(
            "UNETR", in_channels=1, out_channels=1, img_size=(32, 32), spatial_dims=2,
            feature_size=4, hidden_size=32, mlp_dim=64, num_heads=2), (1, 1, 32, 32)),
        "monai SubpixelUpsample": (lambda: _monai_block(
            "SubpixelUpsample", spatial_dims=2, in_channels=8, out_channels=8,
            apply_pad_pool=False), (2, 8, 16, 16)),
        "monai SubpixelUpsample pad-pool": (lambda: _monai_block(
            "SubpixelUpsample", spatial_dims=2, in_channels=8, out_channels=8,
            apply_pad_pool=True), (2, 8, 16, 16)),
        "monai DynUNet deep supervision (train)": (lambda: _monai(
            "DynUNet", spatial_dims=2, in_channels=1, out_channels=1, kernel_size=[3, 3, 3],
            strides=[1, 2, 2], upsample_kernel_size=[2, 2], deep_supervision=True,
            deep_supr_num=1).train(), (2, 1, 32, 32)),
        "monai SwinUNETR 2D": (lambda: _monai(
            "SwinUNETR", in_channels=1, out_channels=1, feature_size=12, spatial_dims=2,
            depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1)), (1, 1, 64, 64)),
        "monai VQVAE (train)": (lambda: _first(_monai(
            "VQVAE", spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 8),
            num_res_channels=8, num_res_layers=1,
            downsample_parameters=((2, 4, 1, 1), (2, 4, 1, 1)),
            upsample_parameters=((2, 4, 1, 1, 0), (2, 4, 1, 1, 0)),
            num_embeddings=16, embedding_dim=8)).train(), (2, 1, 32, 32)),
        "monai AutoencoderKL": (lambda: _first(_monai(
            "AutoencoderKL", spatial_dims=2, in_channels=1, out_channels=1, channels=(16, 32),
            latent_channels=2, num_res_blocks=1, norm_num_groups=4,
            attention_levels=(False, False), with_encoder_nonlocal_attn=False,
            with_decoder_nonlocal_attn=False)), (2, 1, 64, 64)),
        "diffusers AutoencoderKL decoder": (_diffusers_autoencoder_kl, (1, 4, 16, 16)),
        "diffusers AutoencoderDC": (_diffusers_autoencoder_dc, (1, 3, 32, 32)),
        "diffusers KUpsample2D": (lambda: _diffusers_block("KUpsample2D"), (2, 4, 16, 16)),
        "diffusers Upsample2D conv-transpose": (lambda: _diffusers_block(
            "Upsample2D", channels=8, use_conv_transpose=True), (2, 8, 16, 16)),
        "diffusers FirUpsample2D": (lambda: _diffusers_block(
            "FirUpsample2D", channels=8, use_conv=True), (2, 8, 16, 16)),
        "pixel-unshuffle encoder": (lambda: nn.Sequential(
            nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1), nn.Conv2d(8, 1, 1)),
            (2, 3, 32, 32)),
    }
    for name in ("dcgan", "espcn", "unet", "audio-decoder", "volume-decoder",
                 "classifier-strided", "dcgan-resize"):
        ex = EXAMPLES[name]
        rows[f"built-in {name}"] = (ex.factory, tuple(ex.input_shape))
    return rows


def _monai_block(name, **kw):
    import monai.networks.blocks as blocks

    return getattr(blocks, name)(**kw)


def _culprits(report) -> list[str]:
    return [f"{f.site.name}:{f.site.kind}" for f in report.layers if f.culprit]


def _short(applied: dict) -> str:
    """``site -> replacement`` from a fix summary's row (its text up to the explanation)."""
    text = applied["fix"].split(" -> ", 1)[-1].split(" (", 1)[0]
    return f"{applied['site']} -> {text}"


def run(name, factory, shape, seeds: int) -> dict:
    t0 = time.perf_counter()
    torch.manual_seed(0)  # each row's random init is its own, whichever rows run
    model = factory()
    kwargs = dict(input_shape=shape, seeds=seeds)
    report = audit(model, **kwargs)
    row = {"model": name, "input_shape": list(shape), "verdict": report.verdict,
           "score": report.forward.score, "gradient_score": report.gradient.score,
           "culprits": _culprits(report)}
    if report.verdict == "artifacts":
        _, summary, after = fix_and_reaudit(model, report, "auto", kwargs)
        row["fix"] = [_short(a) for a in summary["applied"]]
        row["fix_message"] = summary["message"]
        row["verdict_after"] = after.verdict if after is not None else None
    else:
        row["fix"], row["fix_message"], row["verdict_after"] = [], "nothing to fix", None
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--only", nargs="*", help="model names (substring match)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    rows = []
    for name, (factory, shape) in _models().items():
        if args.only and not any(o in name for o in args.only):
            continue
        try:
            rows.append(run(name, factory, shape, args.seeds))
        except Exception as exc:  # a row per model, the run goes on
            rows.append({"model": name, "error": f"{type(exc).__name__}: {exc}"})
        if not args.json:
            print(f"... {name}", file=sys.stderr)
    if args.json:
        print(json.dumps({"models": rows}, indent=1))
        return
    print("| model | verdict | culprits | fix --fix auto applied | verdict after |")
    print("|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | error: {r['error']} | | | |")
            continue
        print(f"| {r['model']} | {r['verdict']} | {', '.join(r['culprits']) or '-'} | "
              f"{'; '.join(r['fix']) or r['fix_message'] or '-'} | {r['verdict_after'] or '-'} |")


if __name__ == "__main__":
    main()
