"""Outgoing mail: messages stored with the transaction that caused them, sent by the task queue.

`services.queue_mail` renders a message (text and HTML, in the recipient's language) into an
`outgoing_mail` row and, once the transaction commits, enqueues its delivery (`tasks.py`); the
delivery claims the row, sends it through the transport `MAIL_URL` names (`transport.py`) and
marks it sent, or schedules a retry with back-off. A message is sent once: its key is unique, and
a row already sent or claimed by another consumer is left alone.
"""
