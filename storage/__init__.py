"""Storage engine: disks (real and simulated), write-ahead log, B-tree, key-value state machine.

This layer knows nothing of consensus; the harness connects the two.
"""

from storage.btree import BTree as BTree
from storage.disk import Disk as Disk
from storage.errors import CorruptionError as CorruptionError
from storage.errors import DiskIOError as DiskIOError
from storage.errors import SimulatedCrash as SimulatedCrash
from storage.errors import StorageClosedError as StorageClosedError
from storage.errors import StorageError as StorageError
from storage.filedisk import FileDisk as FileDisk
from storage.kv import Command as Command
from storage.kv import KVStore as KVStore
from storage.kv import Result as Result
from storage.simdisk import SimDisk as SimDisk
from storage.simdisk import SimDiskFaults as SimDiskFaults
from storage.wal import WAL as WAL
