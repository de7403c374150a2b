"""RDS: a dict that survives crashes, kills and power cuts.

Every modification of an ``RDSDict`` is written to a checksummed, redundant journal and synced before the call
returns; reopening after any crash restores the state after the last completed modification, with its ID.
"""

from ._codec import Codec, MsgpackCodec, PickleCodec, register_type
from ._dict import RDSDict
from ._fs import FileSystem
from ._ids import IDGenerator
from ._list import RDSList
from .errors import (
    CodecMismatchError,
    CorruptionError,
    DetachedError,
    FormatVersionError,
    LockedError,
    NotAStoreError,
    RDSError,
    ReadOnlyError,
    StoreClosedError,
    StoreFailedError,
    TurnTimeoutError,
    UnsupportedTypeError,
)
from .rds_subtypes import RDSSubBase, registerRDSSubType

__version__ = "0.1.0"

__all__ = [
    "Codec",
    "CodecMismatchError",
    "CorruptionError",
    "DetachedError",
    "FileSystem",
    "FormatVersionError",
    "IDGenerator",
    "LockedError",
    "MsgpackCodec",
    "NotAStoreError",
    "PickleCodec",
    "RDSDict",
    "RDSError",
    "RDSList",
    "RDSSubBase",
    "ReadOnlyError",
    "StoreClosedError",
    "StoreFailedError",
    "TurnTimeoutError",
    "UnsupportedTypeError",
    "registerRDSSubType",
    "register_type",
]
