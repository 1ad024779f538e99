"""Writing notifications, delivering them and what people do with them, one module a verb
family: `outbox` (writing rows and enqueueing them), `delivery` (claiming, sending, retrying,
sweeping), `emails` (what an e-mail says) and `inbox` (marking read, saving preferences).

Nothing is re-exported here: callers import from the module that defines a name, so a test
that patches `outbox.enqueue_delivery` patches the very name the code calls.
"""
