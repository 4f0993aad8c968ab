"""Outreach use cases (issue 13): the outbox's messages claimed, asked about again at the
moment of sending, rendered, recorded as contacts; receipts, replies and real-time payments
coming back; messages an agent sends from the workbench. Import the submodules directly."""
