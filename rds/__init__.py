"""RDS: a dict that survives crashes, kills and power cuts.

Every modification of an ``RDSDict`` is written to a checksummed, redundant journal and synced before the call
returns; reopening after any crash restores the state after the last completed modification, with its ID.
"""

from ._codec import Codec, MsgpackCodec, PickleCodec
from ._dict import RDSDict
from ._fs import FileSystem
from ._ids import IDGenerator
from .errors import (
    CodecMismatchError,
    CorruptionError,
    FormatVersionError,
    LockedError,
    NotAStoreError,
    RDSError,
    ReadOnlyError,
    StoreClosedError,
    StoreFailedError,
    UnsupportedTypeError,
)

__version__ = "0.1.0"

__all__ = [
    "Codec",
    "CodecMismatchError",
    "CorruptionError",
    "FileSystem",
    "FormatVersionError",
    "IDGenerator",
    "LockedError",
    "MsgpackCodec",
    "NotAStoreError",
    "PickleCodec",
    "RDSDict",
    "RDSError",
    "ReadOnlyError",
    "StoreClosedError",
    "StoreFailedError",
    "UnsupportedTypeError",
]
