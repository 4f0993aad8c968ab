"""The borrower assistant's use cases (issue 14): its conversations, their transcripts,
identity checks and the handoff to a person. The assistant front end
(:mod:`forbear.assistant`) calls these and, for what a borrower may do (promises, plans,
disputes, complaints, opt-outs), the very use cases of the portal
(:mod:`forbear.services.portal`), so nothing the assistant does can differ from them.

Transcripts are personal data: every turn's text is encrypted (its own key context),
masked by role when staff read it, covered by retention, the borrower's export and key
rotation; the compliance console reads one with an audited purpose.
"""
