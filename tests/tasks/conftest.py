# The migration tests' fixture: whatever a test migrated to, the latest migrations after it.
from ..migrations import latest  # noqa: F401
