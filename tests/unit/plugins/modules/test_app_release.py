"""app_release: the digest of the workers' secret values, keyed by the host."""

import hashlib
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.webstack.circus.plugins.modules import app_release


def read(capsys, tmp_path, check_mode=False, **args):
    args = dict(
        args,
        path=str(tmp_path / "home"),
        digest_key=str(tmp_path / "records" / ".digest-key"),
        _ansible_check_mode=check_mode,
    )
    with patch_module_args(args), pytest.raises(SystemExit):
        app_release.main()
    return json.loads(capsys.readouterr().out)


SECRETS = {"DJANGO_SECRET_KEY": "s3cret", "DATABASE_PASSWORD": "hunter22"}


def test_the_secrets_digest_follows_the_values_and_is_keyed(capsys, tmp_path):
    (tmp_path / "home").mkdir()
    assert read(capsys, tmp_path, check_mode=True, secrets=SECRETS)["secrets_digest"] == ""
    assert not (tmp_path / "records").exists()
    digest = read(capsys, tmp_path, secrets=SECRETS)["secrets_digest"]
    assert len(digest) == 64
    assert read(capsys, tmp_path, secrets=SECRETS)["secrets_digest"] == digest
    rotated = dict(SECRETS, DATABASE_PASSWORD="hunter23")
    assert read(capsys, tmp_path, secrets=rotated)["secrets_digest"] != digest
    plain = json.dumps(SECRETS, sort_keys=True, separators=(",", ":")).encode()
    assert digest != hashlib.sha256(plain).hexdigest()
    # Another host, another key: another digest of the same values.
    (tmp_path / "records" / ".digest-key").unlink()
    assert read(capsys, tmp_path, secrets=SECRETS)["secrets_digest"] != digest


def test_without_secrets_no_key_is_made(capsys, tmp_path):
    (tmp_path / "home").mkdir()
    assert read(capsys, tmp_path)["secrets_digest"] == ""
    assert not (tmp_path / "records").exists()
