"""What the people app tells the apps above it (connected in their AppConfig.ready())."""

from django.dispatch import Signal

# Someone may now take more work than before: more capacity, back from away, skills or time
# off edited. Sent after the change committed. Arguments: user.
availability_changed = Signal()
