"""Figures in outputs compared as images: decoded pixels, not encoded bytes.

Pillow decodes the PNG or JPEG and numpy compares the pixels. Pillow is the well-kept standard
image library of Python (matplotlib itself depends on it), and numpy makes the comparison one
vectorised step; an image-diff library would add a dependency for what is ten lines here.

Two figures agree when they have the same size and at most :data:`CHANGED_FRACTION` of their
pixels differ by more than :data:`PIXEL_THRESHOLD` (of 255) in some channel. Encoder noise
(compression level, metadata chunks, a software tag) leaves decoded pixels untouched; anti-aliasing
differences move a few edge pixels a little; a changed curve moves the whole line, which on a
matplotlib figure is well above 0.1 % of its pixels.
"""

from __future__ import annotations

import base64
import binascii
import io

__all__ = ["compare_figures", "figure_difference", "IMAGE_TYPES", "PIXEL_THRESHOLD", "CHANGED_FRACTION"]

IMAGE_TYPES = ("image/png", "image/jpeg")
PIXEL_THRESHOLD = 32  # a channel moved by more than this (of 255) is a changed pixel
CHANGED_FRACTION = 0.001  # more than 0.1 % changed pixels is a different figure


def _images(outputs: list) -> list[tuple[str, str]]:
    found = []
    for out in outputs:
        data = out.get("data") or {}
        for mime in IMAGE_TYPES:
            if mime in data:
                value = data[mime]
                found.append((mime, "".join(value) if isinstance(value, list) else str(value)))
    return found


def _decode(text: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(base64.b64decode(text))) as image:
            return np.asarray(image.convert("RGBA"), dtype=np.int16)
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return None


def figure_difference(expected: str, got: str) -> str | None:
    """None when two base64 images show the same figure; else how they differ."""
    import numpy as np

    a, b = _decode(expected), _decode(got)
    if a is None or b is None:
        which = "stored" if a is None else "new"
        return None if a is None and b is None and expected == got else f"the {which} figure cannot be decoded as an image"
    if a.shape != b.shape:
        return f"the figure's size changed from {a.shape[1]}x{a.shape[0]} to {b.shape[1]}x{b.shape[0]} pixels"
    changed = float(np.mean(np.abs(a - b).max(axis=2) > PIXEL_THRESHOLD))
    if changed > CHANGED_FRACTION:
        return f"the figure differs from the stored one: {changed:.1%} of its pixels changed (at most {CHANGED_FRACTION:.1%} may)"
    return None


def compare_figures(reference: list, new: list) -> str | None:
    """None when a cell's figures agree with the stored ones; else one sentence saying how they differ."""
    stored, made = _images(reference), _images(new)
    if len(stored) != len(made):
        return (f"the cell made {len(made)} figure{'s' if len(made) != 1 else ''} where the stored notebook has "
                f"{len(stored)}")
    for i, ((_, expected), (_, got)) in enumerate(zip(stored, made), start=1):
        why = figure_difference(expected, got)
        if why is not None:
            label = f"figure {i}: " if len(stored) > 1 else ""
            return label + why
    return None
