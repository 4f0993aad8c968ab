"""Documents of the legal area (issue 6): the demand letter (催告函) and the litigation
package, rendered to PDF (fpdf2, with Noto Sans CJK embedded) and CSV.

- :mod:`.pdf`: the page builder and the CJK font (from the ``noto-cjk-sans-otc`` package,
  SIL Open Font License; subset into each PDF, so nothing is downloaded or needed on the
  reader's machine).
- :mod:`.letter`: the demand letter from its templates (``letter_templates.yaml``), in
  Chinese with an English version, checked by the content filter before it is rendered.
- :mod:`.package`: the litigation package (parties, contract, amounts, payments, demands,
  contact summary, case history) as one PDF and CSV files.

Rendering is pure (data in, bytes out); :mod:`forbear.services.legal` gathers the data,
unmasks what the legal role may see, records the documents and audits it all.
"""
