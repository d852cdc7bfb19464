from click.testing import CliRunner

from dnncost.cli import cli


def test_config_file_sets_defaults_and_options_win(iiswc_store_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dnncost.toml").write_text(f'store = "{iiswc_store_path}"\n')
    result = CliRunner().invoke(cli, ["data", "info"])
    assert result.exit_code == 0 and "84 devices" in result.output
    result = CliRunner().invoke(cli, ["data", "info", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_section_per_command(iiswc_store_path, tmp_path, monkeypatch):
    config = tmp_path / "other.toml"
    config.write_text(f'[data.info]\nstore = "{iiswc_store_path}"\nas_json = true\n')
    monkeypatch.setenv("DNNCOST_CONFIG", str(config))
    result = CliRunner().invoke(cli, ["data", "info"])
    assert result.exit_code == 0 and '"devices": 84' in result.output


def test_bad_config_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dnncost.toml").write_text("store = [unclosed\n")
    result = CliRunner().invoke(cli, ["data", "info"])
    assert result.exit_code == 2 and "dnncost.toml: not valid TOML" in result.output
    (tmp_path / "dnncost.toml").write_text("[data.info]\nbogus = 1\n")
    result = CliRunner().invoke(cli, ["data", "info"])
    assert result.exit_code == 2 and "unknown option(s) bogus" in result.output
    monkeypatch.setenv("DNNCOST_CONFIG", str(tmp_path / "missing.toml"))
    result = CliRunner().invoke(cli, ["data", "info"])
    assert result.exit_code == 2 and "missing.toml does not exist" in result.output


def test_config_keys_are_the_options_long_names_and_values_are_checked(tmp_path, monkeypatch):
    from dnncost.config import default_map

    monkeypatch.chdir(tmp_path)
    mapping = default_map(cli, {"store": "a.sqlite", "bench": {
        "adb": ["10.0.0.5:5037"], "local-profile": "t1", "runs": 7}})
    assert mapping["bench"]["adb_servers"] == ["10.0.0.5:5037"]
    assert mapping["bench"]["local_profiles"] == "t1" and mapping["bench"]["runs"] == 7
    assert mapping["bench"]["store_path"] == "a.sqlite"
    mapping = default_map(cli, {"predict": {"model": "dev"}, "data": {"store": "d.sqlite"}})
    assert mapping["predict"]["model"] == "dev"  # an argument, as click's default_map takes
    assert mapping["data"]["info"]["store_path"] == "d.sqlite"
    for text, message in [("store = 5\n", "config store: 5 is not a path"),
                          ("[predict]\nstore = 5\n", "config [predict] store: 5 is not a path"),
                          ("[bench]\nruns = [5]\n", "runs: [5] must be one value"),
                          ("[bench]\nruns = 'many'\n", "'many' is not a valid integer"),
                          ("stroe = 'x.sqlite'\n", "unknown top-level key(s) stroe"),
                          ("[data.info]\nbogus = 1\n", "config [data.info] has unknown option(s)"
                           " bogus: see `dnncost data info --help`"),
                          ("[data]\nbogus = 1\n", "config [data] has unknown key(s) bogus")]:
        (tmp_path / "dnncost.toml").write_text(text)
        result = CliRunner().invoke(cli, ["data", "info"])
        assert result.exit_code == 2 and message in result.output, (text, result.output)
        assert len(result.output.strip().splitlines()) == 1
