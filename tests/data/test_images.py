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
