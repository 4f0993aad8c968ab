"""Outbound channels: the outbox dispatcher and the adapters that hand messages to
providers (SMTP e-mail, SMS gateways, signed webhooks for app push and AI voice, the print
house's letter batch, and the sandbox that only writes them down).

A front end beside ``web`` and ``cli`` (DESIGN.md "Layers"): it calls services
(:mod:`forbear.services.outreach`) and never imports ``forbear.store``.
"""
