from .selectors import unread_count


def inbox(request):
    """The header's unread count, lazily: pages that never show it never query it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": lambda: unread_count(user=user)}
