"""Property tests of the from-scratch image transforms of notebooks/dl/09_data_augmentation.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/dl/09_data_augmentation.py")

ATOL = 1e-12  # float64; every output is a sum of at most four products of O(1) numbers


@pytest.fixture(autouse=True)
def float64_default() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


image_shapes = st.tuples(
    st.integers(1, 4), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)
)  # (B, C, H, W)


def random_images(shape: tuple[int, int, int, int], seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=40, deadline=None)
@given(image_shapes, st.integers(0, 2**16))
def test_flip_is_an_involution_and_keeps_values(shape: tuple[int, ...], seed: int) -> None:
    images = random_images(shape, seed)
    flipped = ch.hflip(images)
    assert flipped.shape == images.shape
    assert torch.equal(ch.hflip(flipped), images)
    assert torch.equal(flipped.sort(-1).values, images.sort(-1).values)  # rows permuted only
    torch.manual_seed(seed)
    randomly = ch.random_hflip(images)
    for b in range(shape[0]):  # each image is either itself or its mirror image
        assert torch.equal(randomly[b], images[b]) or torch.equal(randomly[b], flipped[b])


@settings(max_examples=40, deadline=None)
@given(image_shapes, st.integers(0, 3), st.integers(0, 2**16))
def test_random_crop_is_a_window_of_the_padded_image(
    shape: tuple[int, ...], padding: int, seed: int
) -> None:
    images = random_images(shape, seed)
    torch.manual_seed(seed)
    cropped = ch.random_crop(images, padding, fill=-1.0)
    assert cropped.shape == images.shape
    padded = F.pad(images, (padding,) * 4, value=-1.0)
    _, _, H, W = shape
    windows = [
        padded[..., t : t + H, s : s + W]
        for t in range(2 * padding + 1)
        for s in range(2 * padding + 1)
    ]
    for b in range(shape[0]):
        assert any(torch.equal(cropped[b], window[b]) for window in windows)


@settings(max_examples=30, deadline=None)
@given(image_shapes, st.integers(-3, 3), st.integers(-3, 3), st.integers(0, 2**16))
def test_translate_moves_content(shape: tuple[int, ...], down: int, right: int, seed: int) -> None:
    images = random_images(shape, seed)
    moved = ch.translate(images, down, right, fill=0.5)
    _, _, H, W = shape
    for i in range(H):
        for j in range(W):
            source_i, source_j = i - down, j - right
            inside = 0 <= source_i < H and 0 <= source_j < W
            expected = images[..., source_i, source_j] if inside else torch.full(shape[:2], 0.5)
            assert torch.equal(moved[..., i, j], expected)


@settings(max_examples=30, deadline=None)
@given(image_shapes, st.integers(1, 6), st.integers(1, 6), st.booleans(), st.integers(0, 2**16))
def test_grid_sample_matches_torch(
    shape: tuple[int, ...], out_h: int, out_w: int, align: bool, seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(shape, generator=generator)
    theta = torch.randn(shape[0], 2, 3, generator=generator)
    size = (shape[0], shape[1], out_h, out_w)
    if align and (out_h == 1 or out_w == 1):
        return  # a single pixel has no corners to align
    grid = ch.affine_grid(theta, size, align)
    torch.testing.assert_close(
        grid, F.affine_grid(theta, list(size), align_corners=align), atol=ATOL, rtol=0
    )
    if align and (shape[2] == 1 or shape[3] == 1):
        return
    torch.testing.assert_close(
        ch.grid_sample_bilinear(images, grid, align),
        F.grid_sample(images, grid, align_corners=align),
        atol=ATOL,
        rtol=0,
    )


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 8), st.integers(0, 3), st.integers(0, 2**16))
def test_rotations_by_quarter_turns_permute_pixels(
    batch: int, side: int, quarter_turns: int, seed: int
) -> None:
    images = random_images((batch, 2, side, side), seed)
    rotated = ch.affine(
        images, torch.full((batch,), 90.0 * quarter_turns), torch.ones(batch), torch.zeros(batch, 2)
    )
    expected = torch.rot90(images, quarter_turns, dims=(-2, -1))
    torch.testing.assert_close(rotated, expected, atol=ATOL, rtol=0)


@settings(max_examples=30, deadline=None)
@given(image_shapes, st.integers(0, 2**16))
def test_colour_transforms_stay_in_range(shape: tuple[int, ...], seed: int) -> None:
    rgb = random_images((shape[0], 3, shape[2], shape[3]), seed)
    torch.manual_seed(seed)
    jittered = ch.color_jitter(rgb, 0.9, 0.9, 0.9)
    assert jittered.shape == rgb.shape
    assert float(jittered.min()) >= 0.0 and float(jittered.max()) <= 1.0
    for adjust in (ch.adjust_brightness, ch.adjust_contrast, ch.adjust_saturation):
        assert torch.equal(adjust(rgb, 1.0), rgb)
    grey = ch.adjust_saturation(rgb, 0.0)
    torch.testing.assert_close(grey, ch.luminance(rgb).expand_as(rgb), atol=ATOL, rtol=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.integers(2, 6), st.floats(0.05, 5.0), st.integers(0, 2**16))
def test_mixup_labels_are_distributions(batch: int, classes: int, alpha: float, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 1, 3, 3, generator=generator)
    labels = torch.randint(0, classes, (batch,), generator=generator)
    targets = F.one_hot(labels, classes).double()
    torch.manual_seed(seed)
    mixed, soft, lam, partner = ch.mixup(images, targets, alpha)
    assert mixed.shape == images.shape and soft.shape == targets.shape
    assert bool(((lam >= 0) & (lam <= 1)).all())
    torch.testing.assert_close(soft.sum(1), torch.ones(batch), atol=ATOL, rtol=0)
    assert sorted(partner.tolist()) == list(range(batch))  # a permutation
    low = torch.minimum(images, images[partner]) - ATOL
    high = torch.maximum(images, images[partner]) + ATOL
    assert bool(((mixed >= low) & (mixed <= high)).all())  # a convex combination


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**16))
def test_cutmix_label_weight_is_the_pasted_area(
    batch: int, height: int, width: int, seed: int
) -> None:
    tags = torch.arange(1, batch + 1).double()[:, None, None, None].expand(batch, 1, height, width)
    torch.manual_seed(seed)
    mixed, soft, lam, partner = ch.cutmix(tags, torch.eye(batch), alpha=1.0)
    from_partner = (mixed == tags[partner]).flatten(1).double().mean(1)
    other = partner != torch.arange(batch)
    torch.testing.assert_close((1 - lam)[other], from_partner[other], atol=ATOL, rtol=0)
    torch.testing.assert_close(soft.sum(1), torch.ones(batch), atol=ATOL, rtol=0)
    torch.testing.assert_close(
        soft[torch.arange(batch), partner][other], from_partner[other], atol=ATOL, rtol=0
    )


@given(st.integers(-10, 40), st.integers(-10, 40), st.integers(0, 40), st.integers(0, 40))
def test_box_mask_area_is_the_clipped_box(top: int, left: int, height: int, width: int) -> None:
    mask = ch.box_mask(
        torch.tensor([top]),
        torch.tensor([left]),
        torch.tensor([height]),
        torch.tensor([width]),
        32,
        32,
    )
    rows = max(0, min(top + height, 32) - max(top, 0))
    cols = max(0, min(left + width, 32) - max(left, 0))
    assert int(mask.sum()) == rows * cols


def test_errata_cutmix_example() -> None:
    mask = ch.box_mask(
        torch.tensor([8]), torch.tensor([8]), torch.tensor([16]), torch.tensor([16]), 32, 32
    )
    pair = torch.stack([torch.zeros(1, 32, 32), torch.ones(1, 32, 32)])
    lam = ch.paste_box(pair, torch.eye(2), mask.expand(2, 32, 32), torch.tensor([1, 0]))[2]
    assert lam.tolist() == [0.75, 0.75]
