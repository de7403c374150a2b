"""I/O errors: the failing modification raises and changes nothing, the store then refuses writes until it is
reopened (a failed fsync is never retried), and the reopened store has lost nothing acknowledged."""

import errno

import pytest

from rds import FileSystem, RDSDict, StoreFailedError


class FailingFS(FileSystem):
    """Fails the ``nth`` call of ``method`` (counting from 1) with ``code``; every later call too if ``sticky``."""

    def __init__(self, method, nth, code=errno.EIO, sticky=False):
        self.method, self.nth, self.code, self.sticky = method, nth, code, sticky
        self.calls = 0
        self.armed = False

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name == object.__getattribute__(self, "method") and object.__getattribute__(self, "armed"):

            def failing(*args, **kwargs):
                self.calls += 1
                if self.calls == self.nth or (self.sticky and self.calls > self.nth):
                    raise OSError(self.code, f"injected {errno.errorcode[self.code]}")
                return attr(*args, **kwargs)

            return failing
        return attr


@pytest.mark.parametrize(
    "method,code", [("fdatasync", errno.EIO), ("write", errno.ENOSPC), ("write", errno.EIO), ("fsync_dir", errno.EIO)]
)
def test_a_failed_modification_changes_nothing_and_poisons_the_store(where, method, code):
    fs = FailingFS(method, 1, code)
    d = RDSDict(where, "s", fs=fs, compact_min_bytes=0 if method == "fsync_dir" else 1 << 20)
    d["kept"] = 1
    fs.armed = True
    with pytest.raises(OSError) as info:
        d["lost"] = 2
    assert info.value.errno == code
    assert d == {"kept": 1} and d.last_id == 1
    # Never retried: even though the next call would succeed, the store refuses until reopened.
    with pytest.raises(StoreFailedError, match="reopen"):
        d["again"] = 3
    with pytest.raises(StoreFailedError):
        d.sync()
    assert d == {"kept": 1}
    d.close()
    with RDSDict(where, "s") as e:
        # The failed record may have reached the disk whole (then it is the one in flight), never half.
        assert e in ({"kept": 1}, {"kept": 1, "lost": 2})
        assert e.last_id == len(e)
        e["after"] = 4
        assert e.last_id == len(e)


def test_a_failed_open_releases_the_lock(where):
    RDSDict(where, "s").close()
    fs = FailingFS("listdir", 1)
    fs.armed = True
    with pytest.raises(OSError):
        RDSDict(where, "s", fs=fs)
    with RDSDict(where, "s") as d:  # not locked out by the failed attempt
        d["x"] = 1


def test_flush_mode_syncs_on_sync_and_close(where):
    class CountingFS(FileSystem):
        syncs = 0

        def fdatasync(self, fd):
            CountingFS.syncs += 1
            super().fdatasync(fd)

    fs = CountingFS()
    d = RDSDict(where, "s", durability="flush", fs=fs, redundancy=2)
    created = CountingFS.syncs
    for i in range(10):
        d[i] = i
    assert CountingFS.syncs == created  # no sync per modification
    d.sync()
    assert CountingFS.syncs == created + 2  # one per copy
    d.sync()
    assert CountingFS.syncs == created + 2  # nothing new to sync
    d[10] = 10
    d.close()
    assert CountingFS.syncs == created + 4
    with RDSDict(where, "s") as e:
        assert e == {i: i for i in range(11)}


def test_fsync_mode_syncs_every_copy_before_returning(where):
    log = []

    class LoggingFS(FileSystem):
        def write(self, fd, data):
            log.append("write")
            return super().write(fd, data)

        def fdatasync(self, fd):
            log.append("sync")
            super().fdatasync(fd)

    d = RDSDict(where, "s", fs=LoggingFS(), redundancy=3)
    log.clear()
    d["x"] = 1
    assert log == ["write"] * 3 + ["sync"] * 3
    d.close()


@pytest.mark.parametrize("bad", [0, 17, "2", True])
def test_bad_arguments_are_typed_errors(where, bad):
    with pytest.raises(ValueError):
        RDSDict(where, "s", redundancy=bad)
    with pytest.raises(ValueError):
        RDSDict(where, "s", durability="sometimes")
    for name in ["", "a/b", ".."]:
        with pytest.raises(ValueError):
            RDSDict(where, name)
    assert list(where.iterdir()) == []
