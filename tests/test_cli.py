"""The command line: every option documented; user errors are one line, exit 2, nothing written."""

import re

import click
import pytest
import typer
from typer.testing import CliRunner

from hybridsplit.cli import app

runner = CliRunner()


def _commands():
    group = typer.main.get_command(app)
    return group, sorted(group.commands)


def test_every_command_and_option_has_help():
    group, names = _commands()
    assert {"train", "export", "verify", "list"} <= set(names)
    for name in names:
        cmd = group.commands[name]
        assert cmd.help, f"command {name} has no help"
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name == "help":
                continue
            assert getattr(param, "help", None), f"{name}: option {param.name} has no help"
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output


def _every_command(cmd: click.Command, path: tuple[str, ...] = ()):
    """(argv to the command, command) for the root, every group and every leaf command."""
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _every_command(sub, (*path, name))


def _flat(text: str) -> str:
    """Help as one line of words: Rich's box borders and line wrapping removed."""
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def test_help_texts_keep_their_bracketed_words():
    """`[defence]` in a help string is a word to show, not Rich markup to swallow."""
    root = typer.main.get_command(app)
    checked = 0
    for path, cmd in _every_command(root):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        words = {w for t in texts for w in re.findall(r"\[[^\]\s]+\]", t)}
        result = runner.invoke(app, [*path, "--help"], terminal_width=400)
        assert result.exit_code == 0, result.output
        shown = _flat(result.output)
        for word in words:
            assert word in shown, f"`hybridsplit {' '.join(path)} --help` lost {word!r}:\n{result.output}"
            checked += 1
    assert checked >= 1  # the defend command's "[defence]" at least


def test_defend_help_names_the_defence_section():
    result = runner.invoke(app, ["defend", "--help"], terminal_width=400)
    assert "Recipe with a [defence] section." in _flat(result.output)


def _one_error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    return lines[0]


@pytest.mark.slow
def test_export_with_a_corrupt_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x00garbage" * 100)
    out = tmp_path / "bundle"
    result = runner.invoke(app, ["export", "--run", str(run), "--out", str(out)])
    assert result.exit_code == 2
    assert "corrupt" in _one_error_line(result)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
def test_export_with_an_unknown_cut(tmp_path, trained_run):
    out = tmp_path / "bundle"
    result = runner.invoke(app, ["export", "--run", str(trained_run), "--out", str(out), "--cut", "blokc2"])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "Unknown cut 'blokc2'" in line and "block2" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_export_with_a_missing_run(tmp_path):
    result = runner.invoke(app, ["export", "--run", str(tmp_path / "none"), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "hybridsplit train" in _one_error_line(result)


def test_train_with_a_bad_override(tmp_path):
    result = runner.invoke(app, ["train", "--set", "train.epochs=-1", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "train.epochs" in _one_error_line(result)
    assert not (tmp_path / "r").exists()


def test_list_split_points_and_backbones():
    result = runner.invoke(app, ["list", "split-points", "imu_cnn"])
    assert result.exit_code == 0 and "block3" in result.output and "[64, 12]" in result.output
    result = runner.invoke(app, ["list", "backbones"])
    assert result.exit_code == 0 and "vgg_small" in result.output and "mobilenet_small" in result.output


def test_export_summary_shows_balanced_accuracy_and_warns_on_a_collapsed_class(default_bundle, capsys):
    """A model that drops a class keeps a high accuracy; the summary shows the balanced column and says so."""
    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.cli.export import print_bundle_summary

    m = load_manifest(default_bundle)
    recall = list(m.class_recall["torch_fp32"])
    assert len(recall) == len(m.labels) and all(r is not None and r > 0.5 for r in recall)
    print_bundle_summary(m, default_bundle)
    out = capsys.readouterr().out
    assert "balanced" in out and f"{m.balanced_accuracy['tflite_int8']:.4f}" in out and "collapsed" not in out
    dropped = [*recall[:-1], 0.25]
    print_bundle_summary(m.model_copy(update={"class_recall": {**m.class_recall, "tflite_int8": dropped}}), default_bundle)
    out = capsys.readouterr().out
    assert f"tflite_int8: primary recall collapsed on {m.labels[-1]} 0.250 (torch_fp32 {recall[-1]:.3f})" in out
