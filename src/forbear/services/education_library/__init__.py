"""Financial-education articles (YAML, Chinese and English), one file per article."""
