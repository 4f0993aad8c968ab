"""The 24-hour borrower assistant (智能客服, issue 14): a front end like the web app, the CLI
and the dispatcher. It understands a message (:mod:`.nlu`), keeps a small explicit
conversation state machine with forms (:mod:`.dialogue`), holds its guardrails whatever
the model says (:mod:`.guardrails`), and acts only through the use cases every other front
end calls (:mod:`forbear.services.portal`, :mod:`forbear.services.assistant`). One engine
(:class:`forbear.assistant.engine.Assistant`) serves the portal chat, inbound SMS and app
messages, the API for the lender's app and ``forbear assistant chat``.

It imports services, domain and the composition root; never the store, the web app, the
CLI or the channels (``.importlinter``).
"""
