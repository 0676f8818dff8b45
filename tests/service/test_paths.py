"""Where Syllabus writes: ``var/`` in a checkout, the user's folders anywhere else."""

from __future__ import annotations

from pathlib import Path

from service.paths import PROJECT_ROOT, cache_home, data_home
from service.settings import Settings


def test_a_checkout_keeps_everything_under_its_var_folder() -> None:
    assert data_home() == cache_home() == PROJECT_ROOT / "var"
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["data_dir"] == PROJECT_ROOT / "var" / "collections"
    models = PROJECT_ROOT / "var" / "models"
    assert defaults["model_cache_dir"] == defaults["embedding_cache_dir"] == models


def test_an_install_outside_a_checkout_writes_to_the_users_folders(tmp_path: Path) -> None:
    site_packages = tmp_path / "site-packages"  # no pyproject.toml beside the packages
    site_packages.mkdir()
    env = {"XDG_DATA_HOME": "/srv/data", "XDG_CACHE_HOME": "/srv/cache"}
    assert data_home(env, site_packages) == Path("/srv/data/syllabus")
    assert cache_home(env, site_packages) == Path("/srv/cache/syllabus")
    # Unset or relative XDG folders are ignored, as the XDG specification says.
    home = Path.home()
    assert data_home({"XDG_DATA_HOME": "rel"}, site_packages) == home / ".local/share/syllabus"
    assert cache_home({}, site_packages) == home / ".cache/syllabus"
