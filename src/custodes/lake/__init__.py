"""The lake: ingestion that never loses a row, tamper-evident storage, status and verify.

Library API (the CLI is a thin layer over it)::

    ingest(workspace, dataset, paths, fmt=None, mapping=None) -> IngestReport
    status(workspace) -> dict             # CONTRACT.md §3 shape plus "seals"
    verify(workspace) -> VerifyReport     # .ok is False on any altered/deleted/inserted file
    quarantined(workspace, dataset=None) -> pyarrow.Table
    seq_high_water(workspace) -> int      # highest committed _seq, for incremental readers
"""

from custodes.lake.ingest import FileReport, IngestReport, ingest
from custodes.lake.status import quarantined, seq_high_water, status
from custodes.lake.verify import VerifyReport, verify

__all__ = ["FileReport", "IngestReport", "VerifyReport", "ingest", "quarantined", "seq_high_water",
           "status", "verify"]
