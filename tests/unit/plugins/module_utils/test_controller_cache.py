import os
import re
import time

import pytest

from ansible_collections.webstack.circus.plugins.module_utils import controller_cache

NAMES = re.compile(r"[0-9a-f]{16}\.tar")
OLD = "0123456789abcdef.tar"
RECENT = "fedcba9876543210.tar"


def aged(path, days):
    path.write_text("x")
    stamp = time.time() - days * controller_cache.DAY
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def cache(tmp_path):
    aged(tmp_path / OLD, 31)
    aged(tmp_path / RECENT, 29)
    # Not the cache's: another name, a directory, a symlink to an old archive.
    aged(tmp_path / "notes.txt", 400)
    (tmp_path / "1111111111111111.tar").mkdir()
    os.symlink(tmp_path / OLD, tmp_path / "2222222222222222.tar")
    return tmp_path


def test_archives_unused_for_longer_than_the_age_are_removed(cache):
    assert controller_cache.prune(str(cache), NAMES, 30) == [OLD]
    left = sorted(os.listdir(cache))
    assert left == ["1111111111111111.tar", "2222222222222222.tar", RECENT, "notes.txt"]


def test_a_used_archive_is_kept_however_old(cache):
    controller_cache.mark_used(str(cache / OLD))
    assert controller_cache.prune(str(cache), NAMES, 30) == []


def test_the_archive_a_run_uses_is_kept(cache):
    kept = [str(cache / OLD)]
    assert controller_cache.prune(str(cache), NAMES, 30, keep=kept) == []
    assert controller_cache.prune(str(cache), NAMES, 1, keep=kept) == [RECENT]


def test_age_0_keeps_everything_and_a_negative_one_is_refused(cache):
    assert controller_cache.prune(str(cache), NAMES, 0) == []
    with pytest.raises(controller_cache.CacheError, match="max_age_days must be 0"):
        controller_cache.prune(str(cache), NAMES, -1)
    assert (cache / OLD).exists()


def test_a_missing_cache_has_nothing_to_remove(tmp_path):
    assert controller_cache.prune(str(tmp_path / "none"), NAMES, 30) == []
