"""The local index's old front door: its public names, now at home in index.generations (the CURRENT pointer,
locks, clean-up), index.builder (writing a generation) and index.local (the searchable index), importable
from here as before."""

from ..errors import (  # noqa: F401  (importable from here as before)
    EmbedderMismatchError,
    IndexBusyError,
    IndexCorruptedError,
    IndexNotFoundError,
    IndexNotWritableError,
    IndexUnavailableError,
)
from .builder import (  # noqa: F401
    BUILD_BATCH_CHUNKS,
    FAISS_KINDS,
    OUTSIZED_CHUNKS,
    BuildReport,
    Progress,
    _GenerationWriter,
    build_index,
    passage_text,
    plan_chunks,
    spare_workers,
)
from .generations import (  # noqa: F401
    BUILD_LOCK,
    CURRENT,
    _remove_abandoned,
    _sha256,
    build_lock,
    current_generation,
    index_in_use,
)
from .local import EAGER_CHUNKS, FORMAT_VERSION, Index  # noqa: F401
