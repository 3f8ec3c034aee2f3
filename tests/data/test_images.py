import numpy as np
import pytest

from hybridsplit.data import build_data
from hybridsplit.data.synthetic import make_image_folder
from hybridsplit.errors import DataError
from hybridsplit.recipe import DataConfig


def test_generated_image_folder_loads_with_stratified_split(tmp_path):
    root = make_image_folder(tmp_path / "imgs", n=60, size=16)
    d = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16))
    assert d.input_shape == (3, 16, 16) and d.input_layout == "NCHW"
    assert len(d.train) + len(d.test) == 60
    assert not set(d.train.group) & set(d.test.group)
    assert d.primary_names == sorted(d.primary_names) and len(d.sensitive_names) == 3
    np.testing.assert_allclose(d.train.x.mean(axis=(0, 2, 3)), 0, atol=1e-4)


def test_image_folder_errors(tmp_path):
    root = make_image_folder(tmp_path / "imgs", n=10, size=8)
    cfg = DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=8)
    with pytest.raises(DataError, match="recordings"):
        build_data(cfg.model_copy(update={"protocol": "time"}))
    (root / "img0003.png").unlink()
    with pytest.raises(DataError, match="img0003.png"):
        build_data(cfg)
    (root / "attributes.csv").write_text("file,label\nimg0001.png,a\n")
    with pytest.raises(DataError, match="lacks column"):
        build_data(cfg)


def _gray_folder(root, n=12):
    from PIL import Image

    root.mkdir()
    rng = np.random.default_rng(0)
    lines = ["file,primary,sensitive"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), mode="L").save(root / f"g{i}.png")
        lines.append(f"g{i}.png,p{i % 2},s{i % 3}")
    (root / "attributes.csv").write_text("\n".join(lines) + "\n")
    return root


def test_grayscale_folder_stays_one_channel(tmp_path):
    root = _gray_folder(tmp_path / "gray")
    d = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16), 0)
    assert d.input_shape == (1, 16, 16) and d.info["channels"] == ["gray"]
    rgb = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16,
                                color="rgb"), 0)
    assert rgb.input_shape == (3, 16, 16)
    # the three RGB planes of a gray image are equal: the same pixels tripled (3x the raw bytes)
    assert np.allclose(rgb.train.x[:, 0] * rgb.norm.std[0] + rgb.norm.mean[0],
                       rgb.train.x[:, 2] * rgb.norm.std[2] + rgb.norm.mean[2], atol=1e-5)


def test_colour_folder_stays_rgb(tmp_path):
    root = make_image_folder(tmp_path / "colour", n=12, size=16)
    d = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16), 0)
    assert d.input_shape == (3, 16, 16)
    gray = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16,
                                 color="gray"), 0)
    assert gray.input_shape == (1, 16, 16)
