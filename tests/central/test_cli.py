"""`doorline-central` maintenance commands, run as a user runs them (real processes, real database)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

CSV = """id,name,address,road,area,business_type,owner,phone,agreement_signed,footprint,zones
S1,Fresh Fruit,1 Main Road,Main Road,North,fruit,Wang,555,yes,,cam-1:z1
S2,Noodles,2 Main Road,Main Road,North,small restaurant,Li,556,no,,cam-1:z2
,No Id,3 Main Road,Main Road,North,,,,,,
"""


def central(args: list[str], db_url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOORLINE_DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "central.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_import_reports_bad_rows_grades_good_ones_and_audit_verifies(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    shops = tmp_path / "shops.csv"
    shops.write_text(CSV)

    run = central(["import-shops", str(shops)], db)
    assert run.returncode == 1, run.stderr  # one bad row: reported, and the exit code says so
    assert "line 4" in run.stdout

    engine = create_engine(db)
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("select id from shops"))}
        grades = dict(conn.execute(text("select id, grade from shops")).all())
    engine.dispose()
    assert ids == {"S1", "S2"}
    assert grades == {"S1": "green", "S2": "green"}  # counts rule set, no violations yet: graded at import

    verify = central(["audit-verify"], db)
    assert verify.returncode == 0 and "intact" in verify.stdout


def test_bad_settings_are_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, DOORLINE_PORT="not-a-port")
    run = subprocess.run([sys.executable, "-m", "central.cli", "migrate"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert "bad settings" in run.stderr and "port" in run.stderr
    assert "Traceback" not in run.stderr


def test_rule_set_and_policies_come_from_the_config_file(tmp_path: Path, monkeypatch) -> None:
    """The grade rule set is chosen in config (YAML named by DOORLINE_CONFIG): with business_type the
    fruit shop starts red and the small restaurant yellow, where counts graded both green."""
    from central.settings import CentralSettings

    cfg = tmp_path / "central.yaml"
    cfg.write_text("grade_rules: business_type\nstrike_window_days: 90\nlenient_self_rectified: false\n"
                   "self_rectify_window_s: 600\ninspection_days: {red: 2, yellow: 7, green: 30}\n")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    shops = tmp_path / "shops.csv"
    shops.write_text(CSV)
    env = dict(os.environ, DOORLINE_DATABASE_URL=db, DOORLINE_CONFIG=str(cfg))
    run = subprocess.run([sys.executable, "-m", "central.cli", "import-shops", str(shops)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "line 4" in run.stdout, run.stderr
    engine = create_engine(db)
    with engine.connect() as conn:
        grades = dict(conn.execute(text("select id, grade from shops")).all())
        reasons = [r[0] for r in conn.execute(text("select reason from grade_changes where shop_id = 'S1'"))]
        rule_sets = {r[0] for r in conn.execute(text("select rule_set from grade_changes"))}
    engine.dispose()
    assert grades == {"S1": "red", "S2": "yellow"}
    assert rule_sets == {"business_type"} and "business type 'fruit' (水果店 fruit shop) starts red" in reasons[0]

    monkeypatch.setenv("DOORLINE_CONFIG", str(cfg))
    s = CentralSettings()
    assert (s.strike_window_days, s.lenient_self_rectified, s.self_rectify_window_s) == (90, False, 600)
    assert s.inspection_days["red"] == 2


def test_serve_with_a_missing_accounts_file_stops_with_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, DOORLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
               DOORLINE_EDGE_ACCOUNTS=str(tmp_path / "missing.yaml"), DOORLINE_PORT="18999",
               DOORLINE_SECRET_KEY=secrets.token_urlsafe(48))
    run = subprocess.run([sys.executable, "-m", "central.cli", "serve"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert "cannot read accounts file" in run.stderr and "missing.yaml" in run.stderr
    assert "Traceback" not in run.stderr


def test_import_of_a_chinese_excel_csv(tmp_path: Path) -> None:
    """GB18030 (what Chinese Excel writes for CSV) imports without naming it; a wrong --encoding is one clear
    line naming the bad line, not a traceback, and writes nothing."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    shops = tmp_path / "商户.csv"
    shops.write_bytes("id,name,address,business_type\nS1,鲜果铺,人民路 1 号,水果店\n".encode("gb18030"))
    wrong = central(["import-shops", str(shops), "--encoding", "utf-8"], db)
    assert wrong.returncode == 2 and "line 2 is not valid utf-8" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    run = central(["import-shops", str(shops)], db)
    assert run.returncode == 0, run.stderr + run.stdout
    engine = create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(text("select name, address from shops")).all() == [("鲜果铺", "人民路 1 号")]
    engine.dispose()


def _users(db: str) -> dict[str, str]:
    engine = create_engine(db)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("select username, role from users")).all())
    engine.dispose()
    return rows


def test_create_user_reads_the_password_from_a_file_or_the_environment_never_argv(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    secret_file = tmp_path / "pw.txt"
    secret_file.write_text("file-password-123\n")
    run = central(["create-user", "alice", "--role", "admin", "--password-file", str(secret_file)], db)
    assert run.returncode == 0, run.stderr
    env = dict(os.environ, DOORLINE_DATABASE_URL=db, DOORLINE_USER_PASSWORD="env-password-456")
    run = subprocess.run([sys.executable, "-m", "central.cli", "create-user", "bob"], env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert _users(db) == {"alice": "admin", "bob": "viewer"}

    from central.auth import verify_password

    engine = create_engine(db)
    with engine.connect() as conn:
        hashes = dict(conn.execute(text("select username, password_hash from users")).all())
    engine.dispose()
    assert verify_password(hashes["alice"], "file-password-123")
    assert verify_password(hashes["bob"], "env-password-456")

    # the old flag is gone; without a file, variable or terminal: one clear line, nothing created
    old = central(["create-user", "carol", "--password", "on-the-command-line"], db)
    assert old.returncode == 2 and "unrecognized arguments: --password" in old.stderr
    env.pop("DOORLINE_USER_PASSWORD")
    none = subprocess.run([sys.executable, "-m", "central.cli", "create-user", "carol"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert none.returncode == 2 and "DOORLINE_USER_PASSWORD" in none.stderr and "Traceback" not in none.stderr
    assert "carol" not in _users(db)


def test_serve_has_no_admin_password_flag() -> None:
    from central.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--admin-password", "visible-in-ps"])
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()  # noqa: SLF001
    assert "--admin-password-file" in help_text and "DOORLINE_ADMIN_PASSWORD" in help_text
