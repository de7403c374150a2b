"""CPython's own list tests (Lib/test/list_tests.py), run against RDSList: every list each test makes is a store.

As in test_cpython_mapping.py, the stores use a by-reference test codec, since CPython's tests store objects
no serialising codec can hold; the list semantics are what is under test.
"""

import itertools
import tempfile
import unittest

import pytest
from test_cpython_mapping import ReferenceCodec

from rds import RDSList

list_tests = pytest.importorskip("test.list_tests", reason="this Python ships without its test package")

_folder = tempfile.TemporaryDirectory()
_names = itertools.count()


class StoreList(RDSList):
    """What CPython's tests call ``type2test``: ``StoreList(iterable)`` is a new store holding the items."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        return list.__new__(cls)

    def __init__(self, *args):
        if getattr(self, "_store", None) is None:
            RDSList.__init__(
                self, _folder.name, f"l{next(_names)}", redundancy=1, durability="flush", codec=ReferenceCodec()
            )
        else:  # list.__init__ on an existing list replaces its contents
            self.clear()
        if args:
            self.extend(args[0])


class TestRDSListAgainstCPython(list_tests.CommonTest):
    type2test = StoreList

    def test_repr(self):
        # CPython appends a list to itself; RDS refuses that (a store holds values, not references).
        a = self.type2test([1, 2])
        self.assertEqual(repr(a), "[1, 2]")
        self.assertRaises(ValueError, a.append, a)
        self.assertEqual(a, [1, 2])

    def test_print(self):
        # Python 3.9's version of this test appends the list to itself too.
        d = self.type2test(range(200))
        self.assertRaises(ValueError, d.append, d)
        self.assertEqual(str(d), repr(list(range(200))))

    def test_exhausted_iterator(self):
        # An RDSList iterator walks a snapshot taken when it starts (threads may change the list meanwhile), so
        # an item appended later is not seen, where a list's own iterator would still pick it up.
        a = self.type2test([1, 2, 3])
        exhausted, started = iter(a), iter(a)
        for _ in exhausted:
            next(started)
        a.append(9)
        self.assertEqual(list(exhausted), [])
        self.assertEqual(list(started), [])
        self.assertEqual(list(iter(a)), [1, 2, 3, 9])

    @unittest.skip("builds one store per nesting level, exhausting file descriptors; repr is list's own")
    def test_repr_deep(self):
        pass
