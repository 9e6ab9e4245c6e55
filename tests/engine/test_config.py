"""Config: defaults, TOML, env overrides, credentials, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import Config, ConfigError, load_config, reload_changes

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_no_file_gives_working_defaults() -> None:
    config = load_config(env={})
    assert config.health.port == 8787
    assert config.health.host == "127.0.0.1"
    assert not config.database.dsn
    assert config.marketdata.source == "replay"


def test_default_toml_documents_exactly_the_defaults() -> None:
    assert load_config(REPO / "config" / "default.toml", env={}) == load_config(env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\nfoo = 1\n", "engine.foo: unknown key"),
        ("[nosuch]\nx = 1\n", "nosuch: unknown key"),
        ("[health]\nport = \"x\"\n", "health.port: expected int, got str"),
        ("[health]\nport = 70000\n", "health.port: expected int <= 65535, got 70000"),
        ("[store]\nbatch_size = -3\n", "store.batch_size: expected int >= 1, got -3"),
        ("[engine]\nmode = \"yolo\"\n", "engine.mode: invalid enum value 'yolo'"),
        ("[[strategies]]\nname = \"a\"\n[[strategies]]\nname = \"a\"\n",
         "strategies[1].name: duplicate strategy name 'a'"),
        ("[database]\npool_min_size = 5\npool_max_size = 2\n",
         "database.pool_min_size: must be <= pool_max_size (2), got 5"),
        ("[health\n", "not valid TOML"),
        # a section's own checks name their key like the others (it read "marketdata:
        # timeframes[1]: ...", and [marketdata] timeframes was not checked at all)
        ("[marketdata]\ntimeframes = [\"1m\", \"7m\"]\n",
         "marketdata.timeframes[1]: timeframe '7m': bars are built from 1m bars"),
        ("[replay]\nstart = \"2019-10-12\"\nend = \"2019-10-11\"\n",
         "replay.start: must be before end ('2019-10-11'), got '2019-10-12'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert message in str(info.value)


def test_env_overrides_typed_values_and_nested_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[health]\nport = 9000\n")
    config = load_config(path, env={
        "TRADEENGINE_HEALTH__PORT": "9100",
        "TRADEENGINE_ENGINE__STATE_DIR": "/tmp/x",
        "TRADEENGINE_MARKETDATA__SYMBOLS": '["BTC/USDT", "ETH/USDT"]',
        "TRADEENGINE_EXCHANGE__URLS__API": "http://127.0.0.1:1",
        "UNRELATED": "1",
    })
    assert config.health.port == 9100
    assert config.engine.state_dir == "/tmp/x"
    assert config.marketdata.symbols == ["BTC/USDT", "ETH/USDT"]
    assert config.exchange.urls == {"api": "http://127.0.0.1:1"}


def test_env_override_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"health\.port: expected int"):
        load_config(env={"TRADEENGINE_HEALTH__PORT": "abc"})
    with pytest.raises(ConfigError, match="TRADEENGINE_NOPE__X: unknown override"):
        load_config(env={"TRADEENGINE_NOPE__X": "1"})


def test_variables_of_the_scripts_and_the_native_build_are_not_overrides() -> None:
    env = {"TRADEENGINE_CONFIG": "x.toml", "TRADEENGINE_VENV": "/v", "TRADEENGINE_NATIVE": "0",
           "TRADEENGINE_NATIVE_DIR": "/n"}
    assert load_config(env=env) == load_config(env={})


def test_secrets_are_redacted_in_repr_and_str() -> None:
    config = load_config(env={"TRADEENGINE_DATABASE__DSN": "postgresql://u:hunter22@db/x",
                              "TRADEENGINE_EXCHANGE__SECRET": "s3cr3t-key"})
    assert config.database.dsn.reveal() == "postgresql://u:hunter22@db/x"
    for text in (repr(config), str(config), f"{config.database.dsn}", repr(config.exchange)):
        assert "hunter22" not in text
        assert "s3cr3t-key" not in text
    assert len(config.secrets()) == 2


def test_secrets_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "database.dsn").write_text("postgresql://u:credpw@db/x\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_config(env={}).database.dsn.reveal() == "postgresql://u:credpw@db/x"


def test_reload_changes_split_live_and_restart(tmp_path: Path) -> None:
    old = load_config(env={})
    new = load_config(write(tmp_path, "[engine]\nlog_level = \"debug\"\n[health]\nport = 1\n"),
                      env={})
    live, restart = reload_changes(old, new)
    assert live == ["engine.log_level"]
    assert restart == ["health.port"]
    assert isinstance(new, Config)


@pytest.mark.parametrize("text", ["[engine]\nfoo = 1\n", "[health]\nport = -1\n"])
def test_cli_exits_78_naming_the_key(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    result = subprocess.run([sys.executable, "-m", "engine.cli", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 78
    key = "engine.foo" if "foo" in text else "health.port"
    assert key in result.stderr


def test_cli_check_config_checks_the_strategies_too(tmp_path: Path) -> None:
    """What ``run`` would refuse, ``check-config`` refuses: a strategy key that does not
    exist (it said ok and the daemon then exited 78)."""
    path = write(tmp_path, '[[strategies]]\nname = "ema"\nclass = "ema_cross"\n'
                           'symbol = "BTC/USD"\nfsat = 5\n')
    result = subprocess.run([sys.executable, "-m", "engine.cli", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 78, result.stderr
    assert "strategies[0].fsat: unknown key (strategy 'ema')" in result.stderr


def test_cli_check_config_accepts_the_shipped_configs() -> None:
    for name in ("default.toml", "paper.toml"):
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "check-config", str(REPO / "config" / name)],
            capture_output=True, text=True, timeout=60, cwd=REPO)
        assert result.returncode == 0, result.stderr


def test_cli_exits_70_on_an_internal_error(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A bug in a command is sysexits' 70 with its traceback, not Python's 1."""
    from engine import cli

    def broken(_args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_strategies", broken)
    assert cli.main(["strategies"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.rstrip().endswith("tradeengine: internal error: RuntimeError: a bug")


def test_cli_exits_130_when_interrupted(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C in a backtest is not a success a script may go on from."""
    from engine import cli

    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_strategies", interrupted)
    assert cli.main(["strategies"]) == 130
    assert capsys.readouterr().err == "tradeengine: interrupted\n"
